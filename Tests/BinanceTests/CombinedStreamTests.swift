import Binance
import Foundation
import Hummingbird
import HummingbirdWebSocket
import ScalperCore
import Synchronization
import Testing

/// A combined-stream endpoint on 127.0.0.1 (`/stream`) whose every connection runs a script; it
/// keeps each connection's `streams` parameter and the text requests it received.
private final class FakeStreamServer: Sendable {
    typealias Script = @Sendable (_ index: Int, _ requests: AsyncStream<String>, _ outbound: WebSocketOutboundWriter)
        async throws -> Void

    private let script: Script
    private let seen = Mutex<(streams: [String], requests: [[String]])>(([], []))

    init(script: @escaping Script) { self.script = script }

    /// Each connection's `streams` query parameter, in connection order.
    var streamsAsked: [String] { seen.withLock { $0.streams } }
    /// The text frames each connection received, in connection order.
    var requests: [[String]] { seen.withLock { $0.requests } }

    /// Runs the server for the duration of `body`, which gets its base URL (`ws://127.0.0.1:<port>`).
    func run<R: Sendable>(_ body: @Sendable (String) async throws -> R) async throws -> R {
        let router = Router(context: BasicWebSocketRequestContext.self)
        let wsRouter = Router(context: BasicWebSocketRequestContext.self)
        wsRouter.ws("/stream") { _, _ in
            .upgrade()
        } onUpgrade: { [self] inbound, outbound, context in
            let streams = context.request.uri.queryParameters["streams"].map(String.init) ?? ""
            let index = seen.withLock {
                $0.streams.append(streams)
                $0.requests.append([])
                return $0.streams.count - 1
            }
            let (texts, continuation) = AsyncStream.makeStream(of: String.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { [self] in
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message else { continue }
                        seen.withLock { $0.requests[index].append(text) }
                        continuation.yield(text)
                    }
                    continuation.finish()
                }
                try await script(index, texts, outbound)
                group.cancelAll()
            }
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: wsRouter),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) },
            logger: quietLogger
        )
        return try await withThrowingTaskGroup(of: R?.self) { group in
            group.addTask {
                try await app.runService()
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            let result = try await body("ws://127.0.0.1:\(port)")
            group.cancelAll()
            return result
        }
    }
}

/// What a client saw: each connection's text frames, the reconnects, the calls for stream names.
private final class ClientLog: Sendable {
    private let state = Mutex<(frames: [[String]], reconnects: Int, streamCalls: Int)>(([], 0, 0))

    var frames: [[String]] { state.withLock { $0.frames } }
    var reconnects: Int { state.withLock { $0.reconnects } }

    /// A new connection; returns its index.
    func connected() -> Int {
        state.withLock {
            $0.frames.append([])
            return $0.frames.count - 1
        }
    }

    func received(_ text: String, on index: Int) { state.withLock { $0.frames[index].append(text) } }
    func reconnecting() { state.withLock { $0.reconnects += 1 } }

    /// Counts a call for stream names; returns its number, from 1.
    func streamCall() -> Int {
        state.withLock {
            $0.streamCalls += 1
            return $0.streamCalls
        }
    }
}

/// Waits up to 20 s for `condition`, polling.
private func eventually(_ condition: () -> Bool) async throws -> Bool {
    // Generous: a loaded 2-core machine running the whole suite can stall these tasks for seconds.
    let end = ContinuousClock.now + .seconds(120)
    while !condition() {
        guard ContinuousClock.now < end else { return false }
        try await Task.sleep(for: .milliseconds(10))
    }
    return true
}

@Suite("CombinedStream over loopback", .serialized, .timeLimit(.minutes(5)))
struct CombinedStreamTests {
    private static let backoff = Backoff(initialSeconds: 0.01, maxSeconds: 0.05)

    @Test("The URL names the first maxStreamsPerConnection streams under /stream")
    func url() {
        let stream = CombinedStream(
            webSocketURL: "wss://stream.binance.com:9443",
            maxStreamsPerConnection: 2,
            backoff: Self.backoff,
            logger: quietLogger
        )
        #expect(stream.url(streams: ["btcusdt@miniTicker", "ethusdt@miniTicker", "filusdt@miniTicker"]) == "wss://stream.binance.com:9443/stream?streams=btcusdt@miniTicker/ethusdt@miniTicker")
        #expect(stream.url(streams: ["btcusdt@kline_1m"]) == "wss://stream.binance.com:9443/stream?streams=btcusdt@kline_1m")
    }

    @Test(
        "Text frames reach the session in order (binary ones do not), SUBSCRIBE goes out as Binance reads it, and a closed connection is opened again with the streams named then"
    )
    func framesSubscribeAndReconnect() async throws {
        let reply = #"{"result":null,"id":5}"#
        let server = FakeStreamServer { index, requests, outbound in
            if index == 0 {
                try await outbound.write(.text("one"))
                try await outbound.write(.binary(ByteBuffer(string: "not text")))
                try await outbound.write(.text("two"))
                var pending = requests.makeAsyncIterator()
                guard await pending.next() != nil else { return }
                try await outbound.write(.text(reply))
                // Returning closes the connection.
            } else {
                try await outbound.write(.text("three"))
                for await _ in requests {}
            }
        }
        let log = ClientLog()
        let (reconnectsBeforeSecond, outcome) = try await server.run { base in
            let stream = CombinedStream(webSocketURL: base, maxStreamsPerConnection: 2, backoff: Self.backoff, logger: quietLogger)
            let task = Task {
                try await stream.run(
                    until: nil,
                    streams: {
                        log.streamCall() == 1 ? ["a@miniTicker", "b@miniTicker", "c@miniTicker"] : ["d@miniTicker"]
                    },
                    reconnecting: { log.reconnecting() },
                    session: { connection in
                        let index = log.connected()
                        if index == 0 { try await connection.subscribe(["a@kline_1m", "a@depth20@100ms"], id: 5) }
                        try await connection.receive { text in log.received(text, on: index) }
                    }
                )
            }
            let arrived = try await eventually { log.frames.count == 2 && log.frames[1] == ["three"] }
            let before = log.reconnects
            task.cancel()
            #expect(arrived, "frames so far: \(log.frames)")
            return (before, await task.result)
        }
        #expect(log.frames == [["one", "two", reply], ["three"]])
        #expect(server.streamsAsked == ["a@miniTicker/b@miniTicker", "d@miniTicker"])
        #expect(server.requests.first == [#"{"method":"SUBSCRIBE","params":["a@kline_1m","a@depth20@100ms"],"id":5}"#])
        #expect(reconnectsBeforeSecond == 1)
        guard case .failure(let error) = outcome else {
            Issue.record("run returned after cancellation")
            return
        }
        #expect(error is CancellationError)
    }

    @Test("A connection that cannot be made is tried again with backoff until the deadline, and the session never runs")
    func refusedUntilDeadline() async throws {
        // Port 1 on 127.0.0.1: nothing listens, the connection is refused at once.
        let stream = CombinedStream(webSocketURL: "ws://127.0.0.1:1", backoff: Self.backoff, logger: quietLogger)
        let log = ClientLog()
        try await stream.run(
            // Long enough for two attempts however loaded the machine (each is refused at once; a loaded suite once fit only one in 10 s).
            until: ContinuousClock.now + .seconds(60),
            streams: { ["a@miniTicker"] },
            reconnecting: { log.reconnecting() },
            session: { _ in _ = log.connected() }
        )
        #expect(log.reconnects >= 2)
        #expect(log.frames.isEmpty, "no session may run without a connection")
    }
}
