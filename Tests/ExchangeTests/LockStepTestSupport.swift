import Exchange
import Foundation
import HummingbirdWSClient
import Logging
import MarketData
import NIOCore
import NIOWebSocket
import ScalperTestSupport
import Synchronization
import Testing

/// What a lock-step client received for one step: the frames, then the mark of time `time`.
struct LockStepStep: Sendable {
    /// The mark's sim time: everything due through it came before the mark.
    var time: Int64
    /// Stream frames since the previous mark.
    var frames: [String]
    /// Replies to requests since the previous mark.
    var replies: [String]
}

/// A lock-step client's end of a WebSocket connection: LOCKSTEP requests out, frames and marks in.
struct LockStepSession {
    private var messages: WebSocketInboundMessageStream.AsyncIterator
    private let outbound: WebSocketOutboundWriter
    private var nextID = 1
    /// The client's name.
    let name: String

    init(_ name: String, _ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter) {
        self.name = name
        messages = inbound.messages(maxSize: 1 << 22).makeAsyncIterator()
        self.outbound = outbound
    }

    /// Sends `{"method":…,"params":<params JSON>,"id":…}`; returns the id.
    @discardableResult
    mutating func send(_ method: String, params: String) async throws -> Int {
        nextID += 1
        try await outbound.write(.text(#"{"method":"\#(method)","params":\#(params),"id":\#(nextID)}"#))
        return nextID
    }

    /// Registers under ``name``; the catch-up frames and first mark come with ``nextStep()``.
    mutating func register() async throws {
        try await send("LOCKSTEP.REGISTER", params: #"{"client":"\#(name)"}"#)
    }

    /// Says the client is done through `time`.
    mutating func done(through time: Int64) async throws {
        try await send("LOCKSTEP.DONE", params: #"{"client":"\#(name)","through":\#(time)}"#)
    }

    /// Reads up to the reply to request `id` and returns it (frames and marks before it are dropped).
    mutating func reply(to id: Int) async throws -> String {
        while let message = try await messages.next() {
            guard case .text(let text) = message else { continue }
            if text.hasPrefix(#"{"result""#) || text.hasPrefix(#"{"error""#), text.hasSuffix(#""id":\#(id)}"#) {
                return text
            }
        }
        throw ConnectionEnded(id: id, frames: [])
    }

    /// Reads up to the next mark; nil when the connection ends first.
    mutating func nextStep() async throws -> LockStepStep? {
        var frames: [String] = []
        var replies: [String] = []
        while let message = try await messages.next() {
            guard case .text(let text) = message else { continue }
            if let time = Self.markTime(text) { return LockStepStep(time: time, frames: frames, replies: replies) }
            if text.hasPrefix(#"{"result""#) || text.hasPrefix(#"{"error""#) {
                replies.append(text)
            } else {
                frames.append(text)
            }
        }
        return nil
    }

    /// Closes the connection from the client's side.
    func close() async throws {
        try await outbound.close(.normalClosure, reason: nil)
    }

    private static func markTime(_ text: String) -> Int64? {
        guard text.hasPrefix(#"{"e":"lockStep""#),
            let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        else { return nil }
        return (object["E"] as? NSNumber)?.int64Value
    }
}

/// A combined-stream kline frame, the fields the lock-step tests check.
struct KlineFrame: Equatable, Sendable {
    var stream: String
    var eventTime: Int64
    var openTime: Int64
    var closed: Bool
    var close: String

    init(_ text: String) throws {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        stream = try #require(object["stream"] as? String)
        let data = try #require(object["data"] as? [String: Any])
        let k = try #require(data["k"] as? [String: Any])
        eventTime = try #require((data["E"] as? NSNumber)?.int64Value)
        openTime = try #require((k["t"] as? NSNumber)?.int64Value)
        closed = try #require(k["x"] as? Bool)
        close = try #require(k["c"] as? String)
    }
}

/// The exchange's `/api/v3/time`.
func restTime(port: Int) async throws -> Int64 {
    let body = try await URLSessionFetcher().get(URL(string: "http://127.0.0.1:\(port)/api/v3/time")!, headers: [:])
        .body
    let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
    return try #require((object["serverTime"] as? NSNumber)?.int64Value)
}

/// Log lines kept for a test to read.
final class CapturedLog: Sendable {
    let lines = Mutex<[String]>([])

    /// A logger that keeps its lines at `level` and above here.
    func logger(level: Logger.Level) -> Logger {
        var logger = Logger(label: "test.exchange") { _ in CapturingLogHandler(log: self) }
        logger.logLevel = level
        return logger
    }
}

/// Keeps each message in a ``CapturedLog``.
struct CapturingLogHandler: LogHandler {
    let log: CapturedLog
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        log.lines.withLock { $0.append("\(event.level): \(event.message)") }
    }
}

/// A value a test's concurrent tasks share (a class, so escaping closures can capture it).
final class Shared<Value: Sendable>: Sendable {
    private let state: Mutex<Value>
    init(_ value: Value) { state = Mutex(value) }
    /// Reads or changes the value under the lock.
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { state.withLock { body(&$0) } }
}

/// `WebSocketClient.connect`, tried again (up to three times) when the TCP connect itself timed out.
///
/// NIO gives a connect 10 s. On loopback that only runs out when the event loop that owns the socket did not run for
/// 10 s, which a 2-core machine running the whole suite (several `scalper` processes training at once) has shown.
/// Nothing reached the exchange then, so trying again changes nothing a test checks; any other error is thrown.
@discardableResult
func connectWebSocket(
    url: String,
    configuration: WebSocketClientConfiguration = .init(),
    logger: Logger,
    handler: @escaping WebSocketDataHandler<WebSocketClient.Context>
) async throws -> WebSocketCloseFrame? {
    var attempt = 1
    while true {
        do {
            return try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger, handler: handler)
        } catch ChannelError.connectTimeout where attempt < 3 {
            attempt += 1
        }
    }
}
