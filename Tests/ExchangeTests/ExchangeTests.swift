import Exchange
import Features
import Foundation
import HummingbirdWSClient
import Logging
import MarketData
import NIOWebSocket
import ScalperCore
import ScalperTestSupport
import Scanner
import Synchronization
import Testing

/// The frames one connection received for one advance of the clock, to the sim time `time`.
private struct Step: Sendable {
    var time: Int64
    var frames: [String]
}

@Suite("The local exchange and the scanner over loopback", .serialized, .timeLimit(.minutes(10)))
struct ExchangeTests {
    @Test("scalper download's REST path works against the exchange and stores the very bars it replays")
    func downloadFromExchange() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try MarketStore(path: dir.path("m.sqlite"))
        let clock = ManualClock(start: sampleDay(3) + 754_321)
        try await withExchange(market: try sampleMarket(), clock: clock) { server, port in
            let client = RetryingClient(
                fetcher: URLSessionFetcher(timeoutSeconds: 10),
                policy: RetryPolicy(maxRetries: 2)
            )
            let end = server.now / 60_000 * 60_000 - 60_000
            let start = end - 2_500 * 60_000
            let report = try await RESTKlineDownloader(
                store: store,
                client: client,
                options: .init(baseURL: URL(string: "http://127.0.0.1:\(port)")!)
            ).download(symbol: "FILUSDT", interval: .oneMinute, from: start, to: end)
            #expect(report.inserted == 2_500 && report.requests == 3)
            let original = try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").filter {
                $0.openTime >= start && $0.openTime < end
            }
            let stored = try store.klines(symbol: "FILUSDT", interval: .oneMinute, from: start, to: end)
            #expect(stored.count == original.count && zip(stored, original).allSatisfy { $0.isSameBar(as: $1) })
        }
    }

    @Test(
        "WebSocket: combined streams, SUBSCRIBE / LIST_SUBSCRIPTIONS / UNSUBSCRIBE with ids, Binance payloads, each sim second's frames and no others"
    )
    func webSocket() async throws {
        let market = try sampleMarket(pairs: 10)
        let start = sampleDay(1)
        let clock = ManualClock(start: start)
        let (replies, steps) = try await withExchange(market: market, clock: clock) { server, port in
            let replies = Mutex<[Int: (frames: [String], reply: String)]>([:])
            let steps = Mutex<[Step]>([])
            try await connectWebSocket(
                url: "ws://127.0.0.1:\(port)/stream?streams=filusdt@miniTicker",
                logger: quietLogger
            ) { inbound, outbound, _ in
                var session = StreamSession(inbound, outbound)
                func ask(_ method: String, _ params: [String] = [], id: Int) async throws {
                    let answer = try await session.request(method, params, id: id)
                    replies.withLock { $0[id] = answer }
                }
                try await ask("SUBSCRIBE", ["nearusdt@kline_1m", "fild1usdt@depth20@100ms"], id: 7)
                try await ask("LIST_SUBSCRIPTIONS", id: 8)
                try await ask("SUBSCRIBE", ["nosuchusdt@kline_1m"], id: 9)
                // Two minutes and a second, one sim second at a time; FILUSDT's miniTicker goes at 60 s.
                for second in 1...121 {
                    let time = start + Int64(second) * 1_000
                    try await step(server, clock, to: time)
                    let frames = try await session.drain()
                    steps.withLock { $0.append(Step(time: time, frames: frames)) }
                    if second == 60 { try await ask("UNSUBSCRIBE", ["filusdt@miniTicker"], id: 10) }
                }
                try await ask("LIST_SUBSCRIPTIONS", id: 11)
                try await outbound.close(.normalClosure, reason: nil)
            }
            return (replies.withLock { $0 }, steps.withLock { $0 })
        }
        // Replies, in order and with their ids; nothing else came while the clock stood still.
        #expect(replies[7]?.reply == #"{"result":null,"id":7}"#)
        #expect(
            replies[8]?.reply
                == #"{"result":["fild1usdt@depth20@100ms","filusdt@miniTicker","nearusdt@kline_1m"],"id":8}"#
        )
        #expect(replies[9]?.reply == #"{"error":{"code":2,"msg":"Invalid stream nosuchusdt@kline_1m"},"id":9}"#)
        #expect(replies[10]?.reply == #"{"result":null,"id":10}"#)
        #expect(replies[11]?.reply == #"{"result":["fild1usdt@depth20@100ms","nearusdt@kline_1m"],"id":11}"#)
        #expect([7, 8, 9, 10, 11].allSatisfy { replies[$0]?.frames.isEmpty == true })
        #expect(steps.count == 121)
        for (second, step) in zip(1..., steps) {
            let t = step.time
            let tickers = step.frames.filter { $0.hasPrefix(#"{"stream":"filusdt@miniTicker""#) }
            let books = step.frames.filter { $0.hasPrefix(#"{"stream":"fild1usdt@depth20@100ms""#) }
            let klines = step.frames.filter { $0.hasPrefix(#"{"stream":"nearusdt@kline_1m""#) }
            // Each sim second: FILUSDT's miniTicker until the UNSUBSCRIBE, FILD1USDT's book; NEARUSDT's
            // bar in progress every two seconds and its closed bar at each minute. Nothing else.
            #expect(tickers.count == (second <= 60 ? 1 : 0), "second \(second)")
            #expect(books.count == 1, "second \(second)")
            #expect(klines.count == (t % 2_000 == 0 ? 1 : 0) + (t % 60_000 == 0 ? 1 : 0), "second \(second)")
            #expect(step.frames.count == tickers.count + books.count + klines.count, "second \(second)")
            for text in tickers {
                let ticker = try MiniTickerParser.parse(text)
                let state = try #require(market.state("FILUSDT", at: t))
                #expect(
                    ticker.symbol == "FILUSDT" && ticker.eventTime == t
                        && abs(ticker.close - state.price) <= 1e-9 * state.price
                )
            }
            for text in books {
                guard case .depthSnapshot(_, let book) = try MarketMessageParser.parse(Data(text.utf8)) else {
                    Issue.record("not a book: \(text)")
                    continue
                }
                let served = try #require(market.book("FILD1USDT", at: t))
                #expect(
                    book.lastUpdateID == t && sameLevels(book.bids, served.bids) && sameLevels(book.asks, served.asks)
                )
            }
            for text in klines {
                let data = try #require(
                    (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["data"]
                        as? [String: Any]
                )
                let k = try #require(data["k"] as? [String: Any])
                #expect((data["E"] as? NSNumber)?.int64Value == t)
                if k["x"] as? Bool == true {
                    let bar = try #require(
                        market.klines("NEARUSDT", from: t - 60_000, to: t - 60_000, limit: 1, now: t).first
                    )
                    #expect(
                        (k["t"] as? NSNumber)?.int64Value == bar.openTime
                            && (k["c"] as? String).flatMap(Double.init).map { abs($0 - bar.close) <= 1e-9 * bar.close }
                                == true
                    )
                } else {
                    #expect((k["t"] as? NSNumber)?.int64Value == t / 60_000 * 60_000)
                }
            }
        }
    }

    @Test(
        "Stream names match whatever their case; frames and LIST_SUBSCRIPTIONS carry each name as the connection subscribed it"
    )
    func streamNamesAsSubscribed() async throws {
        let start = sampleDay(2)
        let clock = ManualClock(start: start)
        let (replies, steps) = try await withExchange(market: try sampleMarket(), clock: clock) { server, port in
            let replies = Mutex<[Int: String]>([:])
            let steps = Mutex<[Step]>([])
            // Binance's own camel case, an upper-case symbol, and the first stream again in other
            // cases (already subscribed: changes nothing).
            try await connectWebSocket(
                url: "ws://127.0.0.1:\(port)/stream?streams=filusdt@aggTrade/FILUSDT@bookTicker/filusdt@AGGTRADE",
                logger: quietLogger
            ) { inbound, outbound, _ in
                var session = StreamSession(inbound, outbound)
                func ask(_ method: String, _ params: [String] = [], id: Int) async throws {
                    let answer = try await session.request(method, params, id: id)
                    replies.withLock { $0[id] = answer.reply }
                }
                try await ask("SUBSCRIBE", ["!miniTicker@arr", "nearusdt@kline_1m", "filusdt@aggtrade"], id: 1)
                try await ask("LIST_SUBSCRIPTIONS", id: 2)
                for second in 1...4 {
                    let time = start + Int64(second) * 1_000
                    try await step(server, clock, to: time)
                    let frames = try await session.drain()
                    steps.withLock { $0.append(Step(time: time, frames: frames)) }
                    if second == 2 { try await ask("UNSUBSCRIBE", ["filusdt@BOOKTICKER"], id: 3) }
                }
                try await ask("LIST_SUBSCRIPTIONS", id: 4)
                try await outbound.close(.normalClosure, reason: nil)
            }
            return (replies.withLock { $0 }, steps.withLock { $0 })
        }
        #expect(replies[1] == #"{"result":null,"id":1}"#)
        #expect(
            replies[2]
                == #"{"result":["!miniTicker@arr","filusdt@aggTrade","FILUSDT@bookTicker","nearusdt@kline_1m"],"id":2}"#
        )
        #expect(replies[3] == #"{"result":null,"id":3}"#)
        #expect(replies[4] == #"{"result":["!miniTicker@arr","filusdt@aggTrade","nearusdt@kline_1m"],"id":4}"#)
        var names: [String: Int] = [:]
        for (second, step) in zip(1..., steps) {
            var perSecond: [String: Int] = [:]
            for text in step.frames {
                let envelope = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
                let name = try #require(envelope["stream"] as? String)
                perSecond[name, default: 0] += 1
                names[name, default: 0] += 1
            }
            // One book ticker and one all-symbols mini ticker array a second, the book ticker only
            // until its UNSUBSCRIBE (in its other case).
            #expect(perSecond["!miniTicker@arr"] == 1, "second \(second)")
            #expect(perSecond["FILUSDT@bookTicker"] == (second <= 2 ? 1 : nil), "second \(second)")
        }
        // Every frame under a name as subscribed, and every stream subscribed sent frames.
        #expect(Set(names.keys) == ["!miniTicker@arr", "filusdt@aggTrade", "FILUSDT@bookTicker", "nearusdt@kline_1m"])
    }

    @Test(
        "A connection is cut once forcedDisconnectSeconds × speed sim seconds have passed on it, whatever the real time"
    )
    func forcedDisconnect() async throws {
        var settings = ExchangeSettings()
        settings.speed = 60
        settings.forcedDisconnectSeconds = 0.1  // 6 sim seconds
        let start = sampleDay(1)
        let clock = ManualClock(start: start)
        let (steps, rest, close, open) = try await withExchange(
            market: try sampleMarket(),
            settings: settings,
            clock: clock
        ) { server, port in
            let steps = Mutex<[Step]>([])
            let rest = Mutex<[String]>([])
            let close = try await connectWebSocket(
                url: "ws://127.0.0.1:\(port)/ws/filusdt@miniTicker",
                logger: quietLogger
            ) { inbound, outbound, _ in
                var session = StreamSession(inbound, outbound)
                _ = try await session.drain()
                for second in 1...5 {
                    let time = start + Int64(second) * 1_000
                    try await step(server, clock, to: time)
                    let frames = try await session.drain()
                    steps.withLock { $0.append(Step(time: time, frames: frames)) }
                }
                // The sixth sim second: the exchange closes instead of sending.
                clock.advance(to: start + 6_000)
                let left = try await session.rest()
                rest.withLock { $0 = left }
            }
            // Once gone, the connection holds no one up.
            try await server.waitUntilSent(through: start + 6_000)
            return (steps.withLock { $0 }, rest.withLock { $0 }, close, server.openConnections)
        }
        #expect(steps.map(\.frames.count) == [1, 1, 1, 1, 1])
        #expect(
            steps.allSatisfy { step in
                step.frames.first.flatMap { try? MiniTickerParser.parse($0).eventTime } == step.time
            }
        )
        #expect(rest.isEmpty)
        #expect(close?.closeCode == .goingAway && close?.reason == "forced disconnect")
        #expect(open == 0)
    }

    @Test("Random drops are drawn once per sim second crossed: none within a second, a certain one at the next")
    func dropsPerSimSecond() async throws {
        var settings = ExchangeSettings()
        settings.dropProbability = 1
        let start = sampleDay(1)
        let clock = ManualClock(start: start)
        let (within, close) = try await withExchange(market: try sampleMarket(), settings: settings, clock: clock) {
            server,
            port in
            let within = Mutex<[String]?>(nil)
            let close = try await connectWebSocket(
                url: "ws://127.0.0.1:\(port)/ws/filusdt@trade",
                logger: quietLogger
            ) { inbound, outbound, _ in
                var session = StreamSession(inbound, outbound)
                _ = try await session.drain()
                try await step(server, clock, to: start + 999)
                let frames = try await session.drain()
                within.withLock { $0 = frames }
                clock.advance(to: start + 1_000)
                _ = try await session.rest()
            }
            return (within.withLock { $0 }, close)
        }
        // Within the first sim second the connection stays, and no second changed, so no trade.
        #expect(within == [])
        #expect(close?.closeCode == .goingAway && close?.reason == "random drop")
    }

    @Test(
        "150 pairs over 20 sim minutes: the scanner ranks candidates, follows them, survives forced disconnects and drops, and loses no closed bar"
    )
    func scannerEndToEnd() async throws {
        // Each connection is cut after 3 s at 60× (180 sim s) and dropped at random (0.3 % a sim second).
        var settings = ExchangeSettings()
        settings.speed = 60
        settings.forcedDisconnectSeconds = 3
        settings.dropProbability = 0.003
        let start = sampleDay(1)
        let clock = ManualClock(start: start)
        try await withExchange(market: try sampleMarket(pairs: 150), settings: settings, clock: clock) { server, port in
            var scannerSettings = ScannerServiceSettings(
                restURL: URL(string: "http://127.0.0.1:\(port)")!,
                webSocketURL: "ws://127.0.0.1:\(port)"
            )
            scannerSettings.candidates = 8
            scannerSettings.backoffInitialSeconds = 0.2
            scannerSettings.backoffMaxSeconds = 1
            var logger = Logger(label: "test.scanner")
            logger.logLevel = .critical
            let service = ScannerService(settings: scannerSettings, logger: logger)
            let reports = Mutex<[ScannerReport]>([])
            let scanner = Task {
                try await service.run(duration: nil) { report in reports.withLock { $0.append(report) } }
            }
            defer { scanner.cancel() }
            // The scanner runs on the wall clock (refresh 1 s, backoff, silence 10 s), so the sim
            // clock goes at most 60 sim seconds a real second, as `--speed 60` would, and never
            // catches up after a slow step; and it never moves before every connection has written
            // the previous second. A loaded machine only makes the run longer: the exchange sends
            // the same 1,200 sim seconds.
            var next = ContinuousClock.now
            for second in 1...1_200 {
                next += .microseconds(16_667)
                try await step(server, clock, to: start + Int64(second) * 1_000)
                try await Task.sleep(until: next)
                next = max(next, ContinuousClock.now)
            }
            // A hole the scanner found in its last seconds is being backfilled over REST: give it
            // the time a loaded machine needs.
            let settle = ContinuousClock.now + .seconds(60)
            while await service.missingBarsWhileFollowed > 0, ContinuousClock.now < settle {
                try await Task.sleep(for: .milliseconds(100))
            }
            scanner.cancel()
            if case .failure(let error) = await scanner.result {
                #expect(error is CancellationError, "the scanner stopped on its own: \(error)")
            }
            let stats = await service.currentStatistics
            let last = try #require(reports.withLock { $0.last })
            #expect(last.pairs == 150)
            #expect(last.top.count == 8 && zip(last.top, last.top.dropFirst()).allSatisfy { $0.score >= $1.score })
            // At least one cut for every 180 sim s a connection lives, and the scanner comes back.
            #expect(stats.reconnects >= 2)
            #expect(stats.malformed == 0)
            #expect(stats.subscribes >= 1)
            #expect(stats.klinesStreamed > 0)
            #expect(await service.followedBarCount > 20)
            #expect(await service.missingBarsWhileFollowed == 0)
            // Every bar the scanner holds is a bar the exchange has, at that very open time.
            let held = await service.closedBars
            let finished = await service.finishedStretches
            for (symbol, times) in Array(held) + finished.map({ ($0.symbol, $0.openTimes) }) {
                guard let first = times.first, let last = times.last else { continue }
                let served = server.market.klines(symbol, from: first, to: last, limit: 10_000, now: .max).map(
                    \.openTime
                )
                #expect(served == times, "\(symbol)")
            }
        }
    }
}
