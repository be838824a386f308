import Exchange
import Foundation
import HummingbirdWSClient
import MarketData
import NIOWebSocket
import ScalperCore
import ScalperTestSupport
import Synchronization
import Testing

@Suite("The exchange's order-book streams", .timeLimit(.minutes(10)))
struct ExchangeBookTests {
    /// The frames a client received after each advance of the clock, and the REST snapshot it took.
    private struct Session: Sendable {
        var steps: [(time: Int64, frames: [String])] = []
        var snapshot = ""
        /// Steps taken before the snapshot.
        var snapshotAfter = 0
    }

    @Test(
        "A book synced from /api/v3/depth plus depth@100ms diffs is, after every advance of the clock, the exchange's own book and its depth20 frame, level for level, and never crosses",
        arguments: ["FILUSDT", "NEARD1USDT"]
    )
    func diffDepthSyncs(symbol: String) async throws {
        let market = try sampleMarket(pairs: 4)
        // 30 s into a minute, so the run crosses two bar closes.
        let start = sampleDay(1) + 30_000
        let clock = ManualClock(start: start)
        // One second at a time, then jumps of 5 s, 2.5 s and 0.5 s (one diff event per second crossed).
        var times = (1...3).map { start + Int64($0) * 1_000 }
        times += (4...80).map { start + Int64($0) * 1_000 }
        times += [start + 85_000] + (86...90).map { start + Int64($0) * 1_000 } + [start + 92_500, start + 93_000]
        let stream = symbol.lowercased()
        let session = try await withExchange(market: market, clock: clock) { [times] server, port in
            let session = Mutex(Session())
            let url = "ws://127.0.0.1:\(port)/stream?streams=\(stream)@depth@100ms/\(stream)@depth20"
            try await connectWebSocket(url: url, logger: quietLogger) { inbound, outbound, _ in
                var client = StreamSession(inbound, outbound)
                _ = try await client.drain()
                for (k, time) in times.enumerated() {
                    try await step(server, clock, to: time)
                    let frames = try await client.drain()
                    session.withLock { $0.steps.append((time, frames)) }
                    if k == 2 {
                        // The snapshot at the third second, while the clock stands there.
                        let url = URL(string: "http://127.0.0.1:\(port)/api/v3/depth?symbol=\(symbol)&limit=20")!
                        let body = try await URLSessionFetcher(timeoutSeconds: 300).get(url, headers: [:]).body
                        session.withLock {
                            $0.snapshot = String(decoding: body, as: UTF8.self)
                            $0.snapshotAfter = k + 1
                        }
                    }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
            return session.withLock { $0 }
        }
        #expect(session.steps.map(\.time) == times)
        guard case .depthSnapshot(_, let snapshot) = try MarketMessageParser.parse(Data(session.snapshot.utf8)) else {
            Issue.record("not a depth snapshot: \(session.snapshot)")
            return
        }
        let atSnapshot = try #require(market.book(symbol, at: times[2]))
        #expect(
            snapshot.lastUpdateID == atSnapshot.updateID && sameLevels(snapshot.bids, atSnapshot.bids)
                && sameLevels(snapshot.asks, atSnapshot.asks)
        )
        var book = OrderBook()
        var compared = 0
        var applied = 0
        for (k, step) in session.steps.enumerated() {
            if k == session.snapshotAfter { book.applySnapshot(snapshot) }
            var depth20: [DepthSnapshot] = []
            var diffs = 0
            for text in step.frames {
                switch try MarketMessageParser.parse(Data(text.utf8)) {
                case .depthUpdate(_, let event):
                    diffs += 1
                    let outcome = book.apply(event)
                    if outcome == .applied { applied += 1 }
                    #expect(outcome == .applied || outcome == .buffered, "\(event.eventTime): \(outcome)")
                    #expect(!book.isCrossed)
                case .depthSnapshot(_, let partial): depth20.append(partial)
                default: Issue.record("unexpected frame \(text)")
                }
            }
            // One diff event per sim second crossed and one depth20 frame per advance.
            let previous = k == 0 ? start : session.steps[k - 1].time
            #expect(diffs == Int(step.time / 1_000 - previous / 1_000), "at \(step.time)")
            #expect(depth20.count == 1, "at \(step.time)")
            let served = try #require(market.book(symbol, at: step.time))
            if let frame = depth20.last {
                #expect(
                    frame.lastUpdateID == served.updateID && sameLevels(frame.bids, served.bids)
                        && sameLevels(frame.asks, served.asks)
                )
                if k >= session.snapshotAfter {
                    // The synced book is the exchange's book now, and exactly what depth20 says.
                    #expect(book.isSynced && book.lastUpdateID == served.updateID, "at \(step.time)")
                    #expect(book.bids == frame.bids && book.asks == frame.asks, "at \(step.time)")
                    #expect(sameLevels(book.bids, served.bids) && sameLevels(book.asks, served.asks), "at \(step.time)")
                    compared += 1
                }
            }
        }
        #expect(compared == times.count - 3)
        #expect(book.statistics.gaps == 0 && book.bids.count == 20 && book.asks.count == 20)
        // Every second after the snapshot's was applied: 93 seconds in all, 3 of them before it.
        #expect(applied == 90)
    }
}
