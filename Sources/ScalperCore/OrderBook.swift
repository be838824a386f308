/// A local order book kept in sync from Binance diff-depth events.
///
/// Follows Binance's documented procedure: buffer events until a snapshot arrives; drop events
/// the snapshot already covers (`u` below its `lastUpdateId`); the first event applied must
/// straddle the snapshot (`U ≤ lastUpdateId + 1 ≤ u` on spot, `U ≤ lastUpdateId ≤ u` on futures);
/// after that every event must continue the previous one (`U = previous u + 1` on spot,
/// `pu = previous u` on futures). A break is a sequence gap: the book stops and waits for a new
/// snapshot. A partial-depth (`depth20`) message replaces the book outright. Every event ends in
/// exactly one ``Outcome`` and is counted.
public struct OrderBook: Sendable {
    /// What happened to one event.
    public enum Outcome: Equatable, Sendable {
        /// Applied to the book.
        case applied
        /// Held until a snapshot arrives.
        case buffered
        /// Already covered by the snapshot (or older than the book); dropped.
        case stale
        /// Did not continue the previous event: the book needs a new snapshot.
        case gap(expected: Int64, found: Int64)
        /// Dropped because the book is waiting for a snapshot after a gap (or the buffer is full).
        case awaitingSnapshot
    }

    /// Counts of outcomes since the book was created.
    public struct Statistics: Equatable, Sendable {
        /// Events applied.
        public var applied = 0
        /// Events dropped as already covered.
        public var stale = 0
        /// Sequence gaps detected.
        public var gaps = 0
        /// Events dropped while waiting for a snapshot.
        public var droppedAwaitingSnapshot = 0
        /// Snapshots (REST or partial) taken in.
        public var snapshots = 0
    }

    /// Whether the book is usable.
    public private(set) var isSynced = false
    /// The update id the book reflects.
    public private(set) var lastUpdateID: Int64 = 0
    /// Bids, best (highest) first.
    public private(set) var bids: [PriceLevel] = []
    /// Asks, best (lowest) first.
    public private(set) var asks: [PriceLevel] = []
    /// Outcome counts.
    public private(set) var statistics = Statistics()

    private var buffer: [DepthUpdate] = []
    private var awaitingFirstEvent = false
    private let bufferLimit: Int

    /// Creates an empty book that buffers at most `bufferLimit` events while awaiting a snapshot.
    public init(bufferLimit: Int = 10_000) { self.bufferLimit = bufferLimit }

    /// Best bid, if any.
    public var bestBid: PriceLevel? { bids.first }
    /// Best ask, if any.
    public var bestAsk: PriceLevel? { asks.first }
    /// Whether the best bid is at or above the best ask (never true for a correctly kept book).
    public var isCrossed: Bool {
        guard let b = bestBid, let a = bestAsk else { return false }
        return b.price >= a.price
    }

    /// Takes in a REST snapshot, then replays buffered events on top of it.
    ///
    /// - Returns: the outcomes of the buffered events replayed, in order.
    @discardableResult
    public mutating func applySnapshot(_ snapshot: DepthSnapshot) -> [Outcome] {
        bids = snapshot.bids.filter { $0.quantity > 0 }.sorted { $0.price > $1.price }
        asks = snapshot.asks.filter { $0.quantity > 0 }.sorted { $0.price < $1.price }
        lastUpdateID = snapshot.lastUpdateID
        isSynced = true
        awaitingFirstEvent = true
        statistics.snapshots += 1
        let pending = buffer
        buffer.removeAll()
        return pending.map { apply($0) }
    }

    /// Replaces the book with a partial-depth (`depth20`) snapshot; it is complete by itself.
    public mutating func replace(withPartial snapshot: DepthSnapshot) {
        bids = snapshot.bids.filter { $0.quantity > 0 }.sorted { $0.price > $1.price }
        asks = snapshot.asks.filter { $0.quantity > 0 }.sorted { $0.price < $1.price }
        lastUpdateID = snapshot.lastUpdateID
        isSynced = true
        awaitingFirstEvent = false
        buffer.removeAll()
        statistics.snapshots += 1
    }

    /// Applies (or buffers, or rejects) one diff-depth event.
    @discardableResult
    public mutating func apply(_ event: DepthUpdate) -> Outcome {
        guard isSynced else {
            if statistics.snapshots == 0 && buffer.count < bufferLimit {
                buffer.append(event)
                return .buffered
            }
            statistics.droppedAwaitingSnapshot += 1
            return .awaitingSnapshot
        }
        let isFutures = event.previousFinalUpdateID != nil
        if awaitingFirstEvent {
            // Spot: drop u ≤ lastUpdateId; futures: drop u < lastUpdateId.
            if event.finalUpdateID < lastUpdateID || (!isFutures && event.finalUpdateID == lastUpdateID) {
                statistics.stale += 1
                return .stale
            }
            let limit = isFutures ? lastUpdateID : lastUpdateID + 1
            guard event.firstUpdateID <= limit else {
                return breakSequence(expected: limit, found: event.firstUpdateID)
            }
            awaitingFirstEvent = false
        } else if let pu = event.previousFinalUpdateID {
            guard pu == lastUpdateID else { return breakSequence(expected: lastUpdateID, found: pu) }
        } else {
            if event.finalUpdateID <= lastUpdateID {
                statistics.stale += 1
                return .stale
            }
            guard event.firstUpdateID == lastUpdateID + 1 else {
                return breakSequence(expected: lastUpdateID + 1, found: event.firstUpdateID)
            }
        }
        for level in event.bids { Self.set(level, in: &bids, descending: true) }
        for level in event.asks { Self.set(level, in: &asks, descending: false) }
        lastUpdateID = event.finalUpdateID
        statistics.applied += 1
        return .applied
    }

    private mutating func breakSequence(expected: Int64, found: Int64) -> Outcome {
        isSynced = false
        statistics.gaps += 1
        return .gap(expected: expected, found: found)
    }

    /// Sets (or removes, at quantity 0) one level, keeping the side sorted: binary search, O(log n)
    /// to find and O(n) worst case to move.
    private static func set(_ level: PriceLevel, in side: inout [PriceLevel], descending: Bool) {
        var lo = 0
        var hi = side.count
        while lo < hi {
            let mid = (lo + hi) / 2
            let p = side[mid].price
            if descending ? p > level.price : p < level.price { lo = mid + 1 } else { hi = mid }
        }
        if lo < side.count && side[lo].price == level.price {
            if level.quantity == 0 { side.remove(at: lo) } else { side[lo].quantity = level.quantity }
        } else if level.quantity > 0 {
            side.insert(level, at: lo)
        }
    }
}
