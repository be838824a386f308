import Binance
import ScalperCore

/// What a lock-step session saw through a ``KlineFeed``.
struct SessionRecord: Sendable {
    /// Closed bars per symbol, in the order delivered.
    var bars: [String: [Kline]] = [:]
    /// Marks, in order.
    var marks: [Int64] = []
    /// Reconnect reports, each with the open time of every symbol's last bar delivered before it.
    var gaps: [(gap: KlineFeedGap, deliveredBefore: [String: Int64])] = []
    /// Error replies.
    var rejected: [String] = []
    /// The feed's counters at the end.
    var statistics = KlineFeedStatistics()
}

/// The session the feed serves: registers as `client`, records every event and says DONE after
/// each mark, until a mark at or after `endTime`.
func runLockStepSession(feed: KlineFeed, client: String, until endTime: Int64) async throws -> SessionRecord {
    try await withThrowingTaskGroup(of: SessionRecord?.self) { group in
        group.addTask {
            try await feed.run()
            return nil
        }
        group.addTask {
            var record = SessionRecord()
            try await feed.register(client: client)
            for await event in feed.events {
                switch event {
                case .closedBar(let symbol, let bar):
                    record.bars[symbol, default: []].append(bar)
                case .trade, .book:
                    break
                case .lockStepMark(let time):
                    record.marks.append(time)
                    if time >= endTime {
                        record.statistics = await feed.statistics
                        return record
                    }
                    try await feed.done(through: time)
                case .reconnected(let gap):
                    record.gaps.append((gap, record.bars.compactMapValues { $0.last?.openTime }))
                case .requestRejected(let reply):
                    record.rejected.append(reply)
                }
            }
            throw SessionEnded(marks: record.marks.count)
        }
        while let result = try await group.next() {
            if let record = result {
                group.cancelAll()
                return record
            }
        }
        throw SessionEnded(marks: 0)
    }
}

/// The feed's events ended before the session's last mark.
struct SessionEnded: Error, CustomStringConvertible {
    var marks: Int
    var description: String { "the feed's events ended after \(marks) marks, before the session's end" }
}
