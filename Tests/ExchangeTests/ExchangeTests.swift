import Exchange
import Features
import Foundation
import HummingbirdWSClient
import Logging
import MarketData
import NIOWebSocket
import Scanner
import ScalperCore
import ScalperTestSupport
import Synchronization
import Testing

/// Runs a local exchange over the sample for the duration of `body`.
private func withExchange<R: Sendable>(
    pairs: Int? = nil,
    speed: Double = 60,
    forcedDisconnect: Double? = nil,
    dropProbability: Double = 0,
    startDay: Int = 1,
    _ body: @Sendable (ExchangeServer, Int) async throws -> R
) async throws -> R {
    let series = [
        ("FILUSDT", try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")),
        ("NEARUSDT", try Fixtures.sampleKlines("NEARUSDT-1m-2023-08.zip")),
    ].map { (symbol: $0.0, klines: $0.1) }
    var settings = ExchangeSettings()
    settings.speed = speed
    settings.forcedDisconnectSeconds = forcedDisconnect
    settings.dropProbability = dropProbability
    settings.startTime = 1_690_848_000_000 + Int64(startDay) * 86_400_000  // 2023-08-01 + startDay
    return try await withExchange(market: try ReplayMarket(series: series, pairCount: pairs), settings: settings, body)
}

private func withExchange<R: Sendable>(
    market: ReplayMarket,
    settings: ExchangeSettings,
    _ body: @Sendable (ExchangeServer, Int) async throws -> R
) async throws -> R {
    let server = ExchangeServer(market: market, settings: settings)
    let logger = { () -> Logger in
        var l = Logger(label: "test.exchange")
        l.logLevel = .critical
        return l
    }()
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    return try await withThrowingTaskGroup(of: R?.self) { group in
        group.addTask {
            try await server.run(port: 0, logger: logger) { port in continuation.yield(port) }
            return nil
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        let result = try await body(server, port)
        group.cancelAll()
        return result
    }
}

@Suite("The local exchange and the scanner over loopback", .serialized)
struct ExchangeTests {
    @Test("scalper download's REST path works against the exchange and stores the very bars it replays")
    func downloadFromExchange() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try MarketStore(path: dir.path("m.sqlite"))
        try await withExchange(startDay: 3) { server, port in
            let client = RetryingClient(fetcher: URLSessionFetcher(timeoutSeconds: 10), policy: RetryPolicy(maxRetries: 2))
            let end = server.now / 60_000 * 60_000 - 60_000
            let start = end - 2_500 * 60_000
            let report = try await RESTKlineDownloader(
                store: store,
                client: client,
                options: .init(baseURL: URL(string: "http://127.0.0.1:\(port)")!)
            ).download(symbol: "FILUSDT", interval: .oneMinute, from: start, to: end)
            #expect(report.inserted == 2_500 && report.requests == 3)
            let original = try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").filter { $0.openTime >= start && $0.openTime < end }
            let stored = try store.klines(symbol: "FILUSDT", interval: .oneMinute, from: start, to: end)
            #expect(stored.count == original.count && zip(stored, original).allSatisfy { $0.isSameBar(as: $1) })
        }
    }

    @Test("WebSocket: combined streams, SUBSCRIBE / LIST_SUBSCRIPTIONS / UNSUBSCRIBE with ids, Binance payloads")
    func webSocket() async throws {
        try await withExchange(pairs: 10) { _, port in
            let frames = Mutex<[String]>([])
            try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/stream?streams=filusdt@miniTicker", logger: Logger(label: "t")) { inbound, outbound, _ in
                try await outbound.write(.text(#"{"method":"SUBSCRIBE","params":["nearusdt@kline_1m","fild1usdt@depth20@100ms"],"id":7}"#))
                try await outbound.write(.text(#"{"method":"LIST_SUBSCRIPTIONS","id":8}"#))
                try await outbound.write(.text(#"{"method":"SUBSCRIBE","params":["nosuchusdt@kline_1m"],"id":9}"#))
                var count = 0
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message else { continue }
                    frames.withLock { $0.append(text) }
                    count += 1
                    if count == 60 {
                        try await outbound.write(.text(#"{"method":"UNSUBSCRIBE","params":["filusdt@miniticker"],"id":10}"#))
                    }
                    if count >= 200 { break }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
            let all = frames.withLock { $0 }
            #expect(all.contains(#"{"result":null,"id":7}"#))
            #expect(all.contains { $0.hasPrefix(#"{"result":["#) && $0.contains("nearusdt@kline_1m") && $0.hasSuffix(#""id":8}"#) })
            #expect(all.contains { $0.contains("Invalid stream nosuchusdt@kline_1m") && $0.contains(#""id":9"#) })
            let tickers = all.filter { $0.hasPrefix(#"{"stream":"filusdt@miniticker""#) }
            #expect(!tickers.isEmpty)
            for t in tickers {
                let parsed = try MiniTickerParser.parse(t)
                #expect(parsed.symbol == "FILUSDT" && parsed.close > 0)
            }
            let klines = all.filter { $0.contains(#""stream":"nearusdt@kline_1m""#) }
            #expect(klines.contains { $0.contains(#""x":true"#) } || klines.count > 3)
            #expect(all.contains { $0.contains(#""stream":"fild1usdt@depth20@100ms""#) && $0.contains(#""bids":[["#) })
            // After UNSUBSCRIBE (frame 60) no miniTicker for FILUSDT arrives.
            let afterUnsubscribe = all.dropFirst(70)
            #expect(!afterUnsubscribe.contains { $0.hasPrefix(#"{"stream":"filusdt@miniticker""#) })
        }
    }

    @Test("150 pairs at 60x: the scanner ranks candidates, follows them, survives forced disconnects and loses no closed bar")
    func scannerEndToEnd() async throws {
        // Connections are both cut every 6 s and dropped at random (0.3 % a sim second each).
        try await withExchange(pairs: 150, speed: 60, forcedDisconnect: 6, dropProbability: 0.003) { server, port in
            var settings = ScannerServiceSettings(restURL: URL(string: "http://127.0.0.1:\(port)")!, webSocketURL: "ws://127.0.0.1:\(port)")
            settings.candidates = 8
            settings.backoffInitialSeconds = 0.2
            settings.backoffMaxSeconds = 1
            var logger = Logger(label: "test.scanner")
            logger.logLevel = .critical
            let service = ScannerService(settings: settings, logger: logger)
            let reports = Mutex<[ScannerReport]>([])
            try await service.run(duration: 20) { report in reports.withLock { $0.append(report) } }
            let stats = await service.currentStatistics
            let last = try #require(reports.withLock { $0.last })
            #expect(last.pairs == 150)
            #expect(last.top.count == 8 && zip(last.top, last.top.dropFirst()).allSatisfy { $0.score >= $1.score })
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
                let served = server.market.klines(symbol, from: first, to: last, limit: 10_000, now: .max).map(\.openTime)
                #expect(served == times, "\(symbol)")
            }
        }
    }
}

@Suite("The exchange's order-book streams")
struct ExchangeBookTests {
    @Test("A book synced from /api/v3/depth plus depth@100ms diffs matches depth20 and never crosses")
    func diffDepthSyncs() async throws {
        try await withExchange(pairs: 4, speed: 30) { _, port in
            let snapshotURL = URL(string: "http://127.0.0.1:\(port)/api/v3/depth?symbol=FILUSDT&limit=20")!
            let frames = Mutex<[String]>([])
            try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/stream?streams=filusdt@depth@100ms/filusdt@trade", logger: Logger(label: "t")) { inbound, outbound, _ in
                var count = 0
                var tradeFrames = 0
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message else { continue }
                    frames.withLock { $0.append(text) }
                    count += 1
                    if text.contains("@trade") { tradeFrames += 1 }
                    if count == 3 {
                        let response = try await URLSessionFetcher().get(snapshotURL, headers: [:])
                        frames.withLock { $0.append(String(decoding: response.body, as: UTF8.self)) }
                    }
                    // Trades come once per tick however loaded the machine is: stop on them, not on a count.
                    if tradeFrames >= 15 || count >= 20_000 { break }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
            var book = OrderBook()
            var outcomes: [OrderBook.Outcome] = []
            var trades = 0
            for text in frames.withLock({ $0 }) {
                switch try MarketMessageParser.parse(Data(text.utf8)) {
                case .depthUpdate(_, let event): outcomes.append(book.apply(event))
                case .depthSnapshot(_, let snapshot): outcomes += book.applySnapshot(snapshot)
                case .trade: trades += 1
                default: break
                }
                #expect(!book.isCrossed)
            }
            #expect(book.isSynced && book.statistics.gaps == 0)
            #expect(outcomes.filter { $0 == .applied }.count >= 5)
            #expect(book.bids.count == 20 && book.asks.count == 20)
            #expect(trades > 10)
        }
    }
}

/// The bundled recording of Binance spot BTCUSDT streams, and a market of its trade-built bars
/// replaying it.
private func recordedMarket() throws -> (ReplayMarket, RecordedStreams) {
    let recording = try StreamRecording.read(Fixtures.sample.appendingPathComponent("ws-stream/btcusdt_20240808.gz"))
    let streams = try #require(recording.streams.first)
    let bars = streams.minuteBars(covered: recording.span)
    return (try ReplayMarket(series: [(symbol: "BTCUSDT", klines: bars)], recordings: [streams]), streams)
}

/// The recorded book after the event whose final update id is `id`, rebuilt line by line from the
/// recording with nothing of the exchange's code but the order book itself.
private func recordedBook(_ streams: RecordedStreams, through id: Int64) -> OrderBook {
    var book = OrderBook()
    book.applySnapshot(streams.snapshots[0].snapshot)
    for e in streams.updates where e.finalUpdateID <= id { book.apply(e) }
    return book
}

@Suite("The exchange replays recorded order books", .serialized)
struct RecordedExchangeTests {
    @Test("At any instant the served book is the recording's own, with its ids; outside it the model's ids lead to and on from them")
    func booksAtInstants() throws {
        let (market, streams) = try recordedMarket()
        let book = try #require(market.recorded["BTCUSDT"])
        let span = try #require(book.bookSpan)
        // Every 97th instant at which the recorded book changes.
        let times = Array(Set(streams.updates.map(\.eventTime).filter { span.contains($0) })).sorted()
        var checked = 0
        for t in stride(from: 0, to: times.count, by: 97).map({ times[$0] }) {
            let served = try #require(market.book("BTCUSDT", at: t, levels: 100_000))
            let truth = recordedBook(streams, through: served.updateID)
            #expect(truth.lastUpdateID == served.updateID)
            #expect(served.bids.map(\.0) == truth.bids.map(\.price) && served.bids.map(\.1) == truth.bids.map(\.quantity))
            #expect(served.asks.map(\.0) == truth.asks.map(\.price) && served.asks.map(\.1) == truth.asks.map(\.quantity))
            // Nothing recorded after t is in it.
            #expect(streams.updates.first { $0.finalUpdateID == served.updateID }.map { $0.eventTime <= t } == true)
            checked += 1
        }
        #expect(checked >= 25)
        // Before the recording: the model, ids below the first event's and counting up by one a second.
        let firstU = try #require(streams.updates.first { $0.finalUpdateID > streams.snapshots[0].snapshot.lastUpdateID }).firstUpdateID
        let before = try #require(market.book("BTCUSDT", at: span.lowerBound - 5_000))
        let beforeNext = try #require(market.book("BTCUSDT", at: span.lowerBound - 4_000))
        #expect(before.updateID < firstU - 1 && beforeNext.updateID == before.updateID + 1 && before.bids.count == 20)
        let after = try #require(market.book("BTCUSDT", at: span.upperBound + 3_000))
        let lastU = try #require(streams.updates.last).finalUpdateID
        #expect(after.updateID > lastU + 1)
    }

    @Test("The bar in progress is the recorded trades so far: at each minute's last instant it is the stored bar")
    func barsFromTrades() throws {
        let (market, streams) = try recordedMarket()
        let recording = try StreamRecording.read(Fixtures.sample.appendingPathComponent("ws-stream/btcusdt_20240808.gz"))
        let bars = streams.minuteBars(covered: recording.span)
        #expect(bars.count == 5)
        for bar in bars {
            let state = try #require(market.state("BTCUSDT", at: bar.closeTime))
            #expect(state.bar == bar && state.price == bar.close)
            // Half-way through the minute: only the trades up to then.
            let half = bar.openTime + 30_000
            let sofar = streams.trades.filter { $0.time >= bar.openTime && $0.time <= half }
            let mid = try #require(market.state("BTCUSDT", at: half))
            #expect(Int(mid.bar.tradeCount) == sofar.count && mid.price == sofar.last?.price)
        }
    }

    @Test("Over loopback: a client synced from /api/v3/depth and depth@100ms holds the recorded book; book tickers and trades come as recorded")
    func streamsOverLoopback() async throws {
        let (market, streams) = try recordedMarket()
        var settings = ExchangeSettings()
        // 5×: the recording's six minutes last 72 s, so even a machine slowed for many seconds
        // stays inside it.
        settings.speed = 5
        settings.startTime = 1_723_161_290_000  // 2024-08-08 23:54:50, inside the recording, 9.4 s before its largest event
        let frames = try await withExchange(market: market, settings: settings) { _, port in
            let collected = Mutex<[String]>([])
            let url = "ws://127.0.0.1:\(port)/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker/btcusdt@trade"
            // Recorded diff events reach 19 KB: above the client's 16 KB default frame size.
            try await WebSocketClient.connect(url: .init(url), configuration: .init(maxFrameSize: 1 << 20), logger: Logger(label: "t")) { inbound, outbound, _ in
                // The book is kept live so the test stops once enough events were applied on the
                // snapshot: on a loaded machine the stream can lag the snapshot by many events.
                var live = OrderBook()
                var count = 0
                let started = ContinuousClock.now
                for try await message in inbound.messages(maxSize: 1 << 22) {
                    guard case .text(let text) = message else { continue }
                    collected.withLock { $0.append(text) }
                    count += 1
                    if text.contains("depthUpdate"), case .depthUpdate(_, let e) = try MarketMessageParser.parse(Data(text.utf8)) {
                        live.apply(e)
                    }
                    if count == 5 {
                        let snapshot = URL(string: "http://127.0.0.1:\(port)/api/v3/depth?symbol=BTCUSDT&limit=5000")!
                        let response = try await URLSessionFetcher().get(snapshot, headers: [:])
                        let body = String(decoding: response.body, as: UTF8.self)
                        collected.withLock { $0.append(body) }
                        if case .depthSnapshot(_, let snapshot) = try MarketMessageParser.parse(Data(body.utf8)) { live.applySnapshot(snapshot) }
                    }
                    if live.statistics.applied >= 80 || ContinuousClock.now - started > .seconds(60) { break }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
            return collected.withLock { $0 }
        }
        var client = OrderBook()
        var tickers: [BookTicker] = []
        var trades: [Trade] = []
        for text in frames {
            switch try MarketMessageParser.parse(Data(text.utf8)) {
            case .depthUpdate(_, let e): client.apply(e)
            case .depthSnapshot(_, let snapshot): client.applySnapshot(snapshot)
            case .bookTicker(_, let t): tickers.append(t)
            case .trade(_, let t): trades.append(t)
            default: break
            }
        }
        #expect(client.isSynced && client.statistics.gaps == 0 && client.statistics.applied >= 50)
        // The diff event of 23:54:59.429 is 19 KB: when the stream spanned it (the connection can
        // open later on a loaded machine), it came whole.
        let times = frames.compactMap { text -> Int64? in
            guard case .depthUpdate(_, let e)? = try? MarketMessageParser.parse(Data(text.utf8)) else { return nil }
            return e.eventTime
        }
        if let first = times.min(), let last = times.max(), first < 1_723_161_299_429, 1_723_161_299_429 <= last {
            #expect(frames.contains { $0.utf8.count > 16_384 && $0.contains("depthUpdate") })
        }
        let truth = recordedBook(streams, through: client.lastUpdateID)
        #expect(client.lastUpdateID == truth.lastUpdateID)
        #expect(client.bids == truth.bids && client.asks == truth.asks)
        // Book tickers and trades: each one recorded, in order, none of the recorded ones skipped.
        let recordedTickers = Dictionary(streams.bookTickers.map { ($0.ticker.updateID, $0.ticker) }, uniquingKeysWith: { a, _ in a })
        #expect(tickers.count > 100 && tickers.allSatisfy { recordedTickers[$0.updateID] == $0 })
        let recordedTrades = streams.trades.filter { t in trades.first.map { t.id >= $0.id } == true && trades.last.map { t.id <= $0.id } == true }
        #expect(trades.count > 20 && trades == recordedTrades)
    }
}
