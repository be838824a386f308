import Exchange
import Foundation
import HummingbirdWSClient
import Logging
import MarketData
import ScalperCore
import ScalperTestSupport
import Testing

/// 2023-08-01 00:00 UTC plus `days` days: the sample's bars start on 2023-08-01.
func sampleDay(_ days: Int) -> Int64 { 1_690_848_000_000 + Int64(days) * 86_400_000 }

/// A logger that keeps quiet.
let quietLogger: Logger = {
    var logger = Logger(label: "test.exchange")
    logger.logLevel = .critical
    return logger
}()

/// The sample's two real series (FILUSDT, NEARUSDT), and derived pairs up to `pairs`.
func sampleMarket(pairs: Int? = nil) throws -> ReplayMarket {
    let series = [
        ("FILUSDT", try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")),
        ("NEARUSDT", try Fixtures.sampleKlines("NEARUSDT-1m-2023-08.zip")),
    ].map { (symbol: $0.0, klines: $0.1) }
    return try ReplayMarket(series: series, pairCount: pairs)
}

/// Runs a local exchange over `market` on `clock` for the duration of `body`.
func withExchange<R: Sendable>(
    market: ReplayMarket,
    settings: ExchangeSettings = ExchangeSettings(),
    clock: any SimClock,
    logger: Logger = quietLogger,
    _ body: @Sendable (ExchangeServer, Int) async throws -> R
) async throws -> R {
    let server = ExchangeServer(market: market, settings: settings, clock: clock)
    return try await server.serving(logger: logger) { port in try await body(server, port) }
}

/// Moves `clock` to `time` and waits until every connection to `server` has written its frames
/// due through it.
func step(_ server: ExchangeServer, _ clock: ManualClock, to time: Int64) async throws {
    clock.advance(to: time)
    try await server.waitUntilSent(through: time)
}

/// The connection ended before the reply to a request came.
struct ConnectionEnded: Error, CustomStringConvertible {
    /// The request's id.
    var id: Int
    /// Frames received after the request was sent.
    var frames: [String]
    var description: String {
        "the connection closed before the reply to request \(id) (\(frames.count) frames after it)"
    }
}

/// A test's end of a WebSocket connection to the exchange: requests out, frames in.
///
/// The exchange sends a connection's replies and frames through one ordered queue, so the frames
/// that come before the reply to a request are exactly those queued before the request arrived.
struct StreamSession {
    private var messages: WebSocketInboundMessageStream.AsyncIterator
    private let outbound: WebSocketOutboundWriter
    private var nextID = 1_000

    init(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter) {
        messages = inbound.messages(maxSize: 1 << 22).makeAsyncIterator()
        self.outbound = outbound
    }

    /// Sends a request and returns the frames received before its reply, and the reply.
    mutating func request(
        _ method: String,
        _ params: [String] = [],
        id: Int
    ) async throws -> (frames: [String], reply: String) {
        let list = params.map { "\"\($0)\"" }.joined(separator: ",")
        try await outbound.write(.text(#"{"method":"\#(method)","params":[\#(list)],"id":\#(id)}"#))
        var frames: [String] = []
        while let message = try await messages.next() {
            guard case .text(let text) = message else { continue }
            if text.hasPrefix(#"{"result""#) || text.hasPrefix(#"{"error""#), text.hasSuffix(#""id":\#(id)}"#) {
                return (frames, text)
            }
            frames.append(text)
        }
        throw ConnectionEnded(id: id, frames: frames)
    }

    /// Every frame the exchange has queued for this connection so far: asks for the subscriptions
    /// and returns what came before the reply. After ``step(_:_:to:)`` that is every frame up to
    /// the clock's time.
    mutating func drain() async throws -> [String] {
        nextID += 1
        return try await request("LIST_SUBSCRIPTIONS", id: nextID).frames
    }

    /// The frames left until the exchange closes the connection.
    mutating func rest() async throws -> [String] {
        var frames: [String] = []
        while let message = try await messages.next() {
            if case .text(let text) = message { frames.append(text) }
        }
        return frames
    }
}

/// Whether a client's book side is the exchange's, level for level, up to the 8 decimals sent.
func sameLevels(_ client: [PriceLevel], _ served: [(Double, Double)]) -> Bool {
    func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(1, abs(b)) }
    return client.count == served.count
        && zip(client, served).allSatisfy { close($0.price, $1.0) && close($0.quantity, $1.1) }
}

/// The bundled recording of Binance spot BTCUSDT streams, and a market of its trade-built bars
/// replaying it.
func recordedMarket() throws -> (ReplayMarket, RecordedStreams) {
    let recording = try StreamRecording.read(Fixtures.sample.appendingPathComponent("ws-stream/btcusdt_20240808.gz"))
    let streams = try #require(recording.streams.first)
    let bars = streams.minuteBars(covered: recording.span)
    return (try ReplayMarket(series: [(symbol: "BTCUSDT", klines: bars)], recordings: [streams]), streams)
}

/// The recorded book after the event whose final update id is `id`, rebuilt line by line from the
/// recording with nothing of the exchange's code but the order book itself.
func recordedBook(_ streams: RecordedStreams, through id: Int64) -> OrderBook {
    var book = OrderBook()
    book.applySnapshot(streams.snapshots[0].snapshot)
    for e in streams.updates where e.finalUpdateID <= id { book.apply(e) }
    return book
}
