import Binance
import Exchange
import Foundation
import ScalperCore
import Testing

@Suite("KlineFeed against the local exchange in lock-step mode, over loopback", .serialized, .timeLimit(.minutes(10)))
struct KlineFeedTests {
    private let symbols = ["FILUSDT", "NEARUSDT"]

    /// Runs a session from `start` to `end` and checks every symbol's closed bars against the
    /// store's: equal in all 12 columns bit for bit, in order, none missing, none twice.
    private func replay(
        start: Int64,
        end: Int64,
        stepMs: Int64,
        exchange: ExchangeSettings = ExchangeSettings(),
        maxStreamsPerConnection: Int = 1_024
    ) async throws -> (SessionRecord, clients: [String]) {
        let market = try sampleMarket()
        let clock = LockStepClock(start: start, stepMs: stepMs)
        let (record, clients) = try await withExchange(market: market, settings: exchange, clock: clock) { _, port in
            var settings = KlineFeedSettings(webSocketURL: "ws://127.0.0.1:\(port)")
            settings.maxStreamsPerConnection = maxStreamsPerConnection
            settings.backoffInitialSeconds = 0.05
            settings.backoffMaxSeconds = 0.2
            let feed = KlineFeed(symbols: symbols, settings: settings, logger: quietLogger)
            let record = try await runLockStepSession(feed: feed, client: "paper", until: end)
            return (record, clock.clientNames)
        }
        let last = try #require(record.marks.last)
        #expect(record.marks == record.marks.sorted() && Set(record.marks).count == record.marks.count)
        let firstOpen = start / 60_000 * 60_000
        for symbol in symbols {
            // Bars close at their close time + 1 ms; the last mark has every close up to it.
            let stored = market.klines(symbol, from: firstOpen, to: last - 60_000, limit: 100_000, now: last)
            let got = record.bars[symbol] ?? []
            #expect(stored.count == Int((last - 60_000 - firstOpen) / 60_000) + 1, "\(symbol): the sample has a gap here")
            #expect(got.count == stored.count, "\(symbol): \(got.count) bars delivered, \(stored.count) stored")
            #expect(got.map(bits) == stored.map(bits), "\(symbol): a delivered bar differs from the stored one")
        }
        #expect(record.rejected.isEmpty, "\(record.rejected)")
        #expect(record.statistics.malformed == 0)
        return (record, clients)
    }

    @Test(
        "30 sim minutes, 1 s steps, two symbols on one connection: every stored closed bar once, bit for bit in all 12 columns, in order"
    )
    func oneSecondSteps() async throws {
        let start = sampleDay(2) + 30_000
        let (record, clients) = try await replay(start: start, end: start + 30 * 60_000, stepMs: 1_000)
        #expect(record.marks == (0...1_800).map { start + Int64($0) * 1_000 })
        #expect(record.bars.values.map(\.count) == [30, 30])
        // Bars in progress came every two sim seconds and were not delivered.
        #expect(record.statistics.barsInProgress > 1_000 && record.statistics.closedBars == 60)
        #expect(record.gaps.isEmpty && record.statistics.connections == 1)
        #expect(clients == ["paper"])
    }

    @Test("3 sim hours on two connections (one stream each): both register, the marks are both's, no bar lost or repeated")
    func twoConnections() async throws {
        let start = sampleDay(5) + 15_000
        let (record, clients) = try await replay(
            start: start,
            end: start + 3 * 3_600_000,
            stepMs: 60_000,
            maxStreamsPerConnection: 1
        )
        #expect(record.marks == (0...180).map { start + Int64($0) * 60_000 })
        #expect(record.bars.values.map(\.count) == [180, 180])
        #expect(record.statistics.connections == 2)
        #expect(clients == ["paper", "paper.1"])
    }

    @Test(
        "2 sim hours with the exchange closing the connection every 25 sim minutes: each reconnect reported with the last bars held, nothing lost or repeated"
    )
    func forcedDisconnects() async throws {
        let start = sampleDay(9) + 45_000
        var exchange = ExchangeSettings()
        exchange.forcedDisconnectSeconds = 25 * 60
        let (record, clients) = try await replay(
            start: start,
            end: start + 2 * 3_600_000,
            stepMs: 10_000,
            exchange: exchange
        )
        // Closed at 25, 50, 75 and 100 minutes after each connection opened.
        #expect(record.gaps.count == 4, "\(record.gaps.map(\.gap))")
        #expect(record.statistics.reconnects == 4 && record.statistics.connections == 5)
        for (gap, delivered) in record.gaps {
            #expect(gap.connection == 0 && gap.symbols == symbols)
            #expect(gap.lastClosedOpenTimes == delivered)
        }
        #expect(record.marks == (0...720).map { start + Int64($0) * 10_000 })
        #expect(clients == ["paper"])
    }

    @Test(
        "Detail streams follow the set given: trades and books of those symbols only, a change from the next step on, and a reconnect asks for the set of its moment"
    )
    func detailStreams() async throws {
        let start = sampleDay(2) + 30_000
        let switchAt = start + 5 * 60_000
        let end = start + 12 * 60_000
        var exchange = ExchangeSettings()
        exchange.forcedDisconnectSeconds = 8 * 60
        let clock = LockStepClock(start: start, stepMs: 10_000)
        struct Step { var mark: Int64; var detail: Set<String> }
        let (steps, statistics) = try await withExchange(market: try sampleMarket(), settings: exchange, clock: clock) { _, port in
            var settings = KlineFeedSettings(webSocketURL: "ws://127.0.0.1:\(port)")
            settings.tradeStreams = true
            settings.bookStreams = true
            settings.backoffInitialSeconds = 0.05
            settings.backoffMaxSeconds = 0.2
            let feed = KlineFeed(symbols: symbols, settings: settings, logger: quietLogger, detail: ["FILUSDT"])
            return try await withThrowingTaskGroup(of: ([Step], KlineFeedStatistics)?.self) { group in
                group.addTask {
                    try await feed.run()
                    return nil
                }
                group.addTask {
                    var steps: [Step] = []
                    var seen = Set<String>()
                    try await feed.register(client: "detail")
                    for await event in feed.events {
                        switch event {
                        case .trade(let symbol, _, _, _), .book(let symbol, _): seen.insert(symbol)
                        case .lockStepMark(let time):
                            steps.append(Step(mark: time, detail: seen))
                            seen = []
                            if time >= end { return (steps, await feed.statistics) }
                            if time == switchAt { await feed.follow(detail: ["NEARUSDT", "NOTFOLLOWED"]) }
                            try await feed.done(through: time)
                        default: break
                        }
                    }
                    return nil
                }
                while let result = try await group.next() {
                    if let result {
                        group.cancelAll()
                        return result
                    }
                }
                throw SessionEnded(marks: 0)
            }
        }
        #expect(steps.map(\.mark) == (0...72).map { start + Int64($0) * 10_000 })
        let before = steps.filter { $0.mark <= switchAt }
        let after = steps.filter { $0.mark > switchAt }
        #expect(before.allSatisfy { $0.detail.isSubset(of: ["FILUSDT"]) })
        #expect(after.allSatisfy { $0.detail.isSubset(of: ["NEARUSDT"]) }, "\(after.map(\.detail))")
        // Both sides saw prints or books most steps (the exchange models them every sim second).
        #expect(before.filter { $0.detail == ["FILUSDT"] }.count > before.count / 2)
        #expect(after.filter { $0.detail == ["NEARUSDT"] }.count > after.count / 2)
        // One UNSUBSCRIBE and one SUBSCRIBE; the reconnect at 8 sim minutes asked for NEARUSDT in its URL.
        #expect(statistics.subscriptionRequests == 2)
        #expect(statistics.reconnects == 1 && statistics.malformed == 0 && statistics.rejectedRequests == 0)
    }
}
