/// A download from Binance (a REST request or a Vision file) that could not be completed, naming
/// the URL.
public struct DownloadError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Sendable, Equatable {
        case transport(String)
        case http(status: Int, body: String)
        case retriesExhausted(attempts: Int, last: String)
        case checksumMismatch(expected: String, actual: String)
        case badChecksumFile(String)
        case unknownSymbol(String)
        case malformedResponse(String)
    }

    /// The URL that failed.
    public var url: String
    /// What went wrong.
    public var reason: Reason

    /// Creates an error for `url`.
    public init(url: String, reason: Reason) {
        self.url = url
        self.reason = reason
    }

    /// `url: reason`.
    public var description: String {
        switch reason {
        case .transport(let why): "\(url): connection failed: \(why)"
        case .http(let status, let body): "\(url): HTTP \(status)\(body.isEmpty ? "" : ": \(body)")"
        case .retriesExhausted(let attempts, let last): "\(url): gave up after \(attempts) attempts (last: \(last))"
        case .checksumMismatch(let expected, let actual):
            "\(url): SHA-256 mismatch: .CHECKSUM says \(expected), the file hashes to \(actual); nothing imported"
        case .badChecksumFile(let text): "\(url): cannot read a SHA-256 from the .CHECKSUM file: '\(text)'"
        case .unknownSymbol(let why): "\(url): \(why)"
        case .malformedResponse(let why): "\(url): malformed response: \(why)"
        }
    }
}
