/// A Binance request or frame that failed, naming where: the URL of a REST call or the WebSocket
/// URL of a stream connection.
public struct BinanceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The URL the failure belongs to.
    public var url: String
    /// What went wrong.
    public var message: String

    /// Creates an error for `url`.
    public init(url: String, message: String) {
        self.url = url
        self.message = message
    }

    /// `url: message`.
    public var description: String { "\(url): \(message)" }
}
