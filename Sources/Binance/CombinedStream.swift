import HummingbirdWSClient
public import Logging
public import ScalperCore
import Synchronization

/// One Binance combined-stream connection (`<ws>/stream?streams=a/b/…`) kept open: connected
/// again after every end with ``backoff``, and handed to the caller's session, which reads the
/// text frames itself (the scanner's own fast parser) and sends SUBSCRIBE and UNSUBSCRIBE on it.
///
/// The stream names are the caller's (`btcusdt@miniTicker`, `btcusdt@kline_1m`, …); this type
/// knows the URL, the frame limits, the request format and the reconnect rule. (``KlineFeed``
/// reads its frames itself: it parses them, follows several connections and the lock-step
/// protocol.)
public struct CombinedStream: Sendable {
    /// WebSocket base URL (`wss://stream.binance.com:9443`, `ws://127.0.0.1:<port>`); combined
    /// streams are at `/stream`.
    public let webSocketURL: String
    /// Streams a connection's URL names at most (Binance: 1,024); further ones are left out.
    public let maxStreamsPerConnection: Int
    /// The wait before each reconnect: attempt 0 after a connection that ended by itself, one
    /// more per connection in a row that failed.
    public let backoff: Backoff
    private let logger: Logger

    /// Creates a stream client of `webSocketURL`.
    public init(webSocketURL: String, maxStreamsPerConnection: Int = 1_024, backoff: Backoff, logger: Logger) {
        self.webSocketURL = webSocketURL
        self.maxStreamsPerConnection = maxStreamsPerConnection
        self.backoff = backoff
        self.logger = logger
    }

    /// `<webSocketURL>/stream?streams=a/b/…` with the first ``maxStreamsPerConnection`` of `streams`.
    public func url(streams: [String]) -> String {
        webSocketURL + "/stream?streams=" + streams.prefix(maxStreamsPerConnection).joined(separator: "/")
    }

    /// Connects, runs `session` on the connection, and connects again after it ends, until
    /// `deadline` (nil: until cancelled).
    ///
    /// Each connection asks for the streams `streams()` names at that moment. A session that
    /// returns ends its connection normally; one that throws (or a connection that fails) is
    /// logged as `connection lost`. Before each new connection `reconnecting()` is called, then
    /// the backoff waits: attempt 0 after a normal end, counting up while connections fail.
    ///
    /// - Throws: `CancellationError` when the task is cancelled; nothing else (failures reconnect).
    public func run(
        until deadline: ContinuousClock.Instant?,
        streams: @Sendable () async -> [String],
        reconnecting: @Sendable () async -> Void,
        session: @escaping @Sendable (Connection) async throws -> Void
    ) async throws {
        var attempt = 0
        while deadline.map({ ContinuousClock.now < $0 }) ?? true {
            try Task.checkCancellation()
            do {
                try await connect(streams: await streams(), session: session)
                attempt = 0
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning("connection lost", metadata: ["error": "\(error)"])
            }
            guard deadline.map({ ContinuousClock.now < $0 }) ?? true else { break }
            await reconnecting()
            let wait = backoff.seconds(attempt: attempt)
            attempt += 1
            try await Task.sleep(for: .milliseconds(Int(wait * 1000)))
        }
    }

    /// One connection asking for `streams`, open while `session` runs.
    ///
    /// - Throws: what connecting or `session` throws.
    public func connect(
        streams: [String],
        session: @escaping @Sendable (Connection) async throws -> Void
    ) async throws {
        let url = url(streams: streams)
        let lastFrame = LastFrameTime()
        // Frames up to 1 MB: the client's 16 KB default is below real Binance frames such as a busy
        // depth diff or an all-market array.
        try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 20), logger: logger) {
            inbound,
            outbound,
            _ in
            try await session(Connection(url: url, inbound: inbound, outbound: outbound, lastFrame: lastFrame))
        }
    }

    /// A subscription request as Binance reads it: `{"method":"SUBSCRIBE","params":["a","b"],"id":1}`.
    static func request(_ method: String, _ params: [String], id: Int) -> String {
        #"{"method":"\#(method)","params":[\#(params.map { "\"\($0)\"" }.joined(separator: ","))],"id":\#(id)}"#
    }
}

extension CombinedStream {
    /// An open connection, as ``CombinedStream/run(until:streams:reconnecting:session:)`` hands it
    /// to the session.
    public struct Connection: Sendable {
        /// The URL connected to.
        public let url: String
        private let inbound: WebSocketInboundStream
        private let outbound: WebSocketOutboundWriter
        private let lastFrame: LastFrameTime

        fileprivate init(
            url: String,
            inbound: WebSocketInboundStream,
            outbound: WebSocketOutboundWriter,
            lastFrame: LastFrameTime
        ) {
            self.url = url
            self.inbound = inbound
            self.outbound = outbound
            self.lastFrame = lastFrame
        }

        /// Reads frames until the connection closes, handing each text frame to `body` in the order
        /// received (messages up to 4 MB; binary frames only count as a sign of life). Call once.
        ///
        /// - Throws: what the connection throws (a frame too large, a dropped connection).
        public func receive(_ body: (String) async -> Void) async throws {
            for try await message in inbound.messages(maxSize: 1 << 22) {
                lastFrame.touch()
                guard case .text(let text) = message else { continue }
                await body(text)
            }
        }

        /// Time since the last frame arrived (or since the connection was asked for, before the first).
        public var silence: Duration { ContinuousClock.now - lastFrame.value }

        /// Sends SUBSCRIBE for `streams` with request id `id` (Binance echoes it in the reply).
        public func subscribe(_ streams: [String], id: Int) async throws {
            try await outbound.write(.text(CombinedStream.request("SUBSCRIBE", streams, id: id)))
        }

        /// Sends UNSUBSCRIBE for `streams` with request id `id`.
        public func unsubscribe(_ streams: [String], id: Int) async throws {
            try await outbound.write(.text(CombinedStream.request("UNSUBSCRIBE", streams, id: id)))
        }
    }
}

/// When the last frame arrived, shared by the reader and whoever watches for silence.
private final class LastFrameTime: Sendable {
    private let instant = Mutex<ContinuousClock.Instant>(.now)
    func touch() { instant.withLock { $0 = .now } }
    var value: ContinuousClock.Instant { instant.withLock { $0 } }
}
