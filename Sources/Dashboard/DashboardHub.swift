import Foundation
public import Session
import Synchronization
public import Trading

/// What a dashboard knows of one session: its latest snapshot, the history of its equity, trades
/// and fills, and its metrics. A session calls ``sessionUpdated(_:events:)`` on every commit;
/// browsers read ``update(after:)`` from their own position in that history.
public final class DashboardHub: SessionObserver {
    /// Where a browser is in the history: counts of each list it has been sent, and the version of
    /// the snapshot it has.
    public struct Cursor: Sendable, Equatable {
        /// Snapshot version.
        public var version = 0
        /// Equity points sent.
        public var equity = 0
        /// Trades sent.
        public var trades = 0
        /// Fills sent.
        public var fills = 0

        /// The start: nothing sent.
        public init() {}
    }

    /// One message to a browser.
    public struct Update: Encodable, Sendable {
        /// The state now.
        public var snapshot: SessionSnapshot
        /// The equity points, trades and fills after the browser's cursor.
        public var equity: [SessionEvents.EquityPoint]
        /// Trades.
        public var trades: [TradeRecord]
        /// Fills, with their slippage and delay.
        public var fills: [Fill]
        /// The last retrain's verdict (nil: none known).
        public var retrain: String?
    }

    /// A fill as the page shows it.
    public struct Fill: Encodable, Sendable {
        /// The fill.
        public var fill: ExecutedFill
        /// Slippage against the decision's price, bps (positive: it cost).
        public var slippageBps: Double?
        /// Event time from the decision to the fill, ms.
        public var delayMs: Int64?
        /// Wall time the session committed it (ms): the page measures how long it took to show.
        public var committedAt: Int64
    }

    private struct History {
        var snapshot: SessionSnapshot?
        var version = 0
        var equity: [SessionEvents.EquityPoint] = []
        var equityDropped = 0
        var trades: [TradeRecord] = []
        var tradesDropped = 0
        var fills: [(fill: ExecutedFill, committedAt: Int64)] = []
        var fillsDropped = 0
    }

    /// Points and rows kept (older ones are dropped; a browser opened later starts there).
    public static let keptEquityPoints = 100_000
    /// Trades and fills kept.
    public static let keptRows = 5_000

    /// The session's metrics.
    public let metrics = SessionMetrics()
    private let history = Mutex(History())
    private let retrainVerdict: @Sendable () -> String?

    /// A hub; `retrainVerdict` tells the last retrain's verdict (read from the model registry).
    public init(retrainVerdict: @escaping @Sendable () -> String? = { nil }) {
        self.retrainVerdict = retrainVerdict
    }

    public func sessionUpdated(_ snapshot: SessionSnapshot, events: SessionEvents) {
        metrics.update(snapshot, events: events)
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        history.withLock { h in
            h.snapshot = snapshot
            h.version += 1
            h.equity += events.equity
            h.trades += events.trades
            h.fills += events.fills.map { ($0, now) }
            Self.trim(&h.equity, dropped: &h.equityDropped, keep: Self.keptEquityPoints)
            Self.trim(&h.trades, dropped: &h.tradesDropped, keep: Self.keptRows)
            Self.trim(&h.fills, dropped: &h.fillsDropped, keep: Self.keptRows)
        }
    }

    /// The latest snapshot (nil before the session's first commit).
    public var snapshot: SessionSnapshot? { history.withLock { $0.snapshot } }

    /// What a browser at `cursor` has not been sent, and its new cursor; nil when nothing changed.
    public func update(after cursor: Cursor) -> (Update, Cursor)? {
        let verdict = retrainVerdict()
        return history.withLock { h -> (Update, Cursor)? in
            guard let snapshot = h.snapshot, h.version != cursor.version else { return nil }
            func after<T>(_ list: [T], dropped: Int, sent: Int) -> [T] { Array(list[max(0, sent - dropped)...]) }
            let update = Update(
                snapshot: snapshot,
                equity: after(h.equity, dropped: h.equityDropped, sent: cursor.equity),
                trades: after(h.trades, dropped: h.tradesDropped, sent: cursor.trades),
                fills: after(h.fills, dropped: h.fillsDropped, sent: cursor.fills).map {
                    Fill(fill: $0.fill, slippageBps: $0.fill.slippageBps, delayMs: $0.fill.delayMs, committedAt: $0.committedAt)
                },
                retrain: verdict
            )
            var next = Cursor()
            next.version = h.version
            next.equity = h.equityDropped + h.equity.count
            next.trades = h.tradesDropped + h.trades.count
            next.fills = h.fillsDropped + h.fills.count
            return (update, next)
        }
    }

    private static func trim<T>(_ list: inout [T], dropped: inout Int, keep: Int) {
        guard list.count > keep + keep / 10 else { return }
        let excess = list.count - keep
        list.removeFirst(excess)
        dropped += excess
    }
}
