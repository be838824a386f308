import Exchange
import Foundation
import HummingbirdWSClient
import MarketData
import NIOWebSocket
import ScalperCore
import ScalperTestSupport
import Synchronization
import Testing

@Suite("The exchange replays recorded order books", .serialized, .timeLimit(.minutes(10)))
struct RecordedExchangeTests {
    @Test(
        "At any instant the served book is the recording's own, with its ids; outside it the model's ids lead to and on from them"
    )
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
            #expect(
                served.bids.map(\.0) == truth.bids.map(\.price) && served.bids.map(\.1) == truth.bids.map(\.quantity)
            )
            #expect(
                served.asks.map(\.0) == truth.asks.map(\.price) && served.asks.map(\.1) == truth.asks.map(\.quantity)
            )
            // Nothing recorded after t is in it.
            #expect(streams.updates.first { $0.finalUpdateID == served.updateID }.map { $0.eventTime <= t } == true)
            checked += 1
        }
        #expect(checked >= 25)
        // Before the recording: the model, ids below the first event's and counting up by one a second.
        let firstU = try #require(
            streams.updates.first { $0.finalUpdateID > streams.snapshots[0].snapshot.lastUpdateID }
        ).firstUpdateID
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
        let recording = try StreamRecording.read(
            Fixtures.sample.appendingPathComponent("ws-stream/btcusdt_20240808.gz")
        )
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

    @Test(
        "Over loopback, a quarter sim second at a time: a client synced from /api/v3/depth and depth@100ms holds the recorded book after every step; every book ticker and trade of the span comes as recorded"
    )
    func streamsOverLoopback() async throws {
        let (market, streams) = try recordedMarket()
        // 2024-08-08 23:54:50, inside the recording, 9.4 s before its largest (19 KB) diff event.
        let start: Int64 = 1_723_161_290_000
        let times = (1...80).map { start + Int64($0) * 250 }
        let end = start + 20_000
        let span = try #require(market.recorded["BTCUSDT"]?.bookSpan)
        #expect(span.contains(start) && span.contains(end))
        let clock = ManualClock(start: start)
        let snapshotAfter = 2
        let (steps, snapshotBody) = try await withExchange(market: market, clock: clock) { server, port in
            let steps = Mutex<[(time: Int64, frames: [String])]>([])
            let snapshotBody = Mutex("")
            let url = "ws://127.0.0.1:\(port)/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker/btcusdt@trade"
            // Recorded diff events reach 19 KB: above the client's 16 KB default frame size.
            try await connectWebSocket(
                url: url,
                configuration: .init(maxFrameSize: 1 << 20),
                logger: quietLogger
            ) { inbound, outbound, _ in
                var client = StreamSession(inbound, outbound)
                _ = try await client.drain()
                for (k, time) in times.enumerated() {
                    if k == snapshotAfter {
                        let snapshot = URL(string: "http://127.0.0.1:\(port)/api/v3/depth?symbol=BTCUSDT&limit=5000")!
                        let body = String(
                            decoding: try await URLSessionFetcher().get(snapshot, headers: [:]).body,
                            as: UTF8.self
                        )
                        snapshotBody.withLock { $0 = body }
                    }
                    try await step(server, clock, to: time)
                    let frames = try await client.drain()
                    steps.withLock { $0.append((time, frames)) }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
            return (steps.withLock { $0 }, snapshotBody.withLock { $0 })
        }
        #expect(steps.map(\.time) == times)
        guard case .depthSnapshot(_, let snapshot) = try MarketMessageParser.parse(Data(snapshotBody.utf8)) else {
            Issue.record("not a depth snapshot: \(snapshotBody.prefix(200))")
            return
        }
        // The snapshot is the recorded book at the time it was asked for.
        let atSnapshot = try #require(market.book("BTCUSDT", at: times[snapshotAfter - 1], levels: 5_000))
        #expect(snapshot.lastUpdateID == atSnapshot.updateID && snapshot.bids.map(\.price) == atSnapshot.bids.map(\.0))
        var client = OrderBook()
        var tickers: [BookTicker] = []
        var trades: [Trade] = []
        var largest = 0
        for (k, step) in steps.enumerated() {
            if k == snapshotAfter { client.applySnapshot(snapshot) }
            for text in step.frames {
                switch try MarketMessageParser.parse(Data(text.utf8)) {
                case .depthUpdate(_, let e):
                    largest = max(largest, text.utf8.count)
                    #expect(e.eventTime <= step.time)
                    let outcome = client.apply(e)
                    #expect(outcome == .applied || outcome == .buffered, "\(e.eventTime): \(outcome)")
                case .bookTicker(_, let t): tickers.append(t)
                case .trade(_, let t): trades.append(t)
                default: Issue.record("unexpected frame \(text.prefix(200))")
                }
            }
            guard k >= snapshotAfter else { continue }
            // After each step the client's book is the exchange's at that instant, level for level.
            let served = try #require(market.book("BTCUSDT", at: step.time, levels: 100_000))
            #expect(client.isSynced && client.lastUpdateID == served.updateID, "at \(step.time)")
            #expect(
                client.bids.map(\.price) == served.bids.map(\.0) && client.bids.map(\.quantity) == served.bids.map(\.1),
                "at \(step.time)"
            )
            #expect(
                client.asks.map(\.price) == served.asks.map(\.0) && client.asks.map(\.quantity) == served.asks.map(\.1),
                "at \(step.time)"
            )
        }
        // And the exchange's book is the recording's, rebuilt from the file without the exchange.
        let truth = recordedBook(streams, through: client.lastUpdateID)
        #expect(client.statistics.gaps == 0 && client.statistics.applied >= 100)
        #expect(client.lastUpdateID == truth.lastUpdateID && client.bids == truth.bids && client.asks == truth.asks)
        // The 19 KB event of 23:54:59.429 came whole.
        #expect(largest > 16_384)
        // Every book ticker and trade recorded in (start, end], in order, and nothing else.
        let recordedTickers = streams.bookTickers.filter { start < $0.time && $0.time <= end }
            .sorted { ($0.time, $0.ticker.updateID) < ($1.time, $1.ticker.updateID) }.map(\.ticker)
        let recordedTrades = streams.trades.filter { start < $0.time && $0.time <= end }.sorted {
            ($0.time, $0.id) < ($1.time, $1.id)
        }
        #expect(tickers.count > 100 && tickers == recordedTickers)
        #expect(trades.count > 20 && trades == recordedTrades)
    }
}
