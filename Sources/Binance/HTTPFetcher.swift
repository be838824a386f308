public import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A response as the REST clients need it: status, headers (lower-cased names) and body.
public struct HTTPResponse: Sendable {
    /// HTTP status code.
    public var status: Int
    /// Header fields with lower-cased names.
    public var headers: [String: String]
    /// The body.
    public var body: Data

    /// Creates a response.
    public init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Something that performs one HTTP GET. Implemented over URLSession (libcurl on Linux).
public protocol HTTPFetching: Sendable {
    /// Performs one GET; a transport failure throws, any HTTP status returns.
    func get(_ url: URL, headers: [String: String]) async throws -> HTTPResponse
}

/// ``HTTPFetching`` over Foundation's `URLSession`.
public struct URLSessionFetcher: HTTPFetching {
    private let timeoutSeconds: Double

    /// Creates a fetcher whose requests time out after `timeoutSeconds`.
    public init(timeoutSeconds: Double = 30) {
        self.timeoutSeconds = timeoutSeconds
    }

    /// Performs one GET.
    public func get(_ url: URL, headers: [String: String]) async throws -> HTTPResponse {
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeoutSeconds)
        request.httpMethod = "GET"
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.setValue("CryptoScalper/0.1", forHTTPHeaderField: "User-Agent")
        // A completion-handler task rather than `data(for:)`: cancelling the awaiting Swift task
        // would cancel the URLSessionTask, and swift-corelibs-foundation can then trap ("a task
        // that is not in the registry") when that races with the task finishing — seen when the
        // scanner stops mid-backfill. The request instead runs to its end or its timeout, and a
        // cancelled caller gets CancellationError.
        let (data, response): (Data, URLResponse) = try await withCheckedThrowingContinuation { continuation in
            URLSession.shared.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else if let response {
                    continuation.resume(returning: (data ?? Data(), response))
                } else {
                    continuation.resume(throwing: URLError(.badServerResponse))
                }
            }.resume()
        }
        try Task.checkCancellation()
        guard let http = response as? HTTPURLResponse else {
            throw URLError(.badServerResponse)
        }
        var fields: [String: String] = [:]
        for (key, value) in http.allHeaderFields {
            if let k = key as? String, let v = value as? String { fields[k.lowercased()] = v }
        }
        return HTTPResponse(status: http.statusCode, headers: fields, body: data)
    }
}
