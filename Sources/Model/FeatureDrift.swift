import Dispatch
public import Features
import Foundation
public import LinearAlgebra
public import ScalperCore

/// Each feature's distribution in the training window, as bins: the reference a population
/// stability index (PSI) compares recent rows with. Stored in a bundle as `drift.json`.
///
/// Bins are the reference's deciles (its distinct quantiles: (−∞, e₀), [e₀, e₁), …, [e_last, ∞)),
/// plus one bin for missing values. PSI = Σ (aᵢ − eᵢ)·ln(aᵢ / eᵢ) over bins, shares floored at
/// 1e-4. Conventional reading: below 0.1 stable, 0.1–0.25 moved, above 0.25 shifted.
public struct FeatureReference: Codable, Equatable, Sendable {
    /// Per feature, the bin edges (at most 9, increasing).
    public var edges: [[Double]]
    /// Per feature, the reference share of each bin (edges + 1 value bins, then missing).
    public var shares: [[Double]]
    /// Rows the reference was measured on.
    public var rows: Int

    /// The reference of the rows of `matrix` (rows × features, NaN = missing).
    public static func fit(_ matrix: Matrix<Float>, bins: Int = 10) -> FeatureReference {
        // Columns are independent: each core sorts its share of them (a 123k-row column took
        // about 10 ms through the standard library's sort, 42 of them 0.45 s on one core; the
        // radix sort below takes a few).
        let slots = ColumnSlots(count: matrix.columns)
        ComputeThreads.perform(iterations: matrix.columns) { column in
            let values = Self.column(matrix, column)
            let present = Self.sortedPresent(matrix, column)
            var e: [Double] = []
            if !present.isEmpty {
                for k in 1..<bins {
                    let q = Double(present[min(present.count - 1, present.count * k / bins)])
                    if e.last.map({ q > $0 }) ?? true { e.append(q) }
                }
            }
            slots.set(column, edges: e, shares: Self.shares(Self.counts(values, edges: e), total: values.count))
        }
        let (edges, shares) = slots.all
        return FeatureReference(edges: edges, shares: shares, rows: matrix.rows)
    }

    /// The reference as JSON (`drift.json` of a bundle).
    public func jsonText() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }

    /// The reference of the bundle at `path` (nil: the bundle predates `drift.json`, or it is unreadable).
    public static func load(bundle path: String) -> FeatureReference? {
        guard let data = FileManager.default.contents(atPath: URL(fileURLWithPath: path).appendingPathComponent("drift.json").path) else { return nil }
        return try? JSONDecoder().decode(FeatureReference.self, from: data)
    }

    /// The bin of `value` for feature `feature` (the last bin is the missing one).
    public func bin(feature: Int, value: Double) -> Int {
        let e = edges[feature]
        if value.isNaN { return e.count + 1 }
        var lo = 0
        var hi = e.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if e[mid] <= value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Bins per feature (value bins and the missing bin).
    public func binCount(feature: Int) -> Int { edges[feature].count + 2 }

    /// PSI per feature of recent rows given as counts per bin (``bin(feature:value:)``).
    public func psi(counts: [[Int]]) -> [Double] {
        zip(shares, counts).map { reference, recent in
            let total = recent.reduce(0, +)
            guard total > 0 else { return .nan }
            let a = Self.shares(recent, total: total)
            var sum = 0.0
            for (ai, ei) in zip(a, reference) where ai > 1e-4 || ei > 1e-4 { sum += (ai - ei) * log(ai / ei) }
            return sum
        }
    }

    /// PSI per feature of the rows of `recent` against this reference.
    public func psi(_ recent: Matrix<Float>) -> [Double] {
        psi(counts: (0..<recent.columns).map { Self.counts(Self.column(recent, $0), edges: edges[$0]) })
    }

    static func counts(_ values: [Double], edges: [Double]) -> [Int] {
        let reference = FeatureReference(edges: [edges], shares: [[]], rows: 0)
        var counts = [Int](repeating: 0, count: edges.count + 2)
        for x in values { counts[reference.bin(feature: 0, value: x)] += 1 }
        return counts
    }

    static func shares(_ counts: [Int], total: Int) -> [Double] {
        counts.map { max(Double($0) / Double(max(total, 1)), 1e-4) }
    }

    /// The values of `column` that are not NaN, ascending (−0 read as +0), by a radix sort of
    /// their order-preserving 32-bit keys (four passes of a byte): the order statistics a
    /// comparison sort gives, without its log n comparisons.
    static func sortedPresent(_ m: Matrix<Float>, _ column: Int) -> [Float] {
        var keys = [UInt32]()
        keys.reserveCapacity(m.rows)
        m.storage.withUnsafeBufferPointer { all in
            var at = column
            for _ in 0..<m.rows {
                let x = all[at]
                // x + 0 turns −0 into +0: both compare equal, so either may stand at a rank.
                if !x.isNaN { keys.append(sortKey(x + 0)) }
                at += m.columns
            }
        }
        var spare = [UInt32](repeating: 0, count: keys.count)
        for shift in stride(from: UInt32(0), to: 32, by: 8) {
            keys.withUnsafeBufferPointer { from in
                spare.withUnsafeMutableBufferPointer { to in
                    var start = [Int](repeating: 0, count: 257)
                    for k in from { start[Int((k &>> shift) & 0xff) + 1] += 1 }
                    for b in 1...256 { start[b] += start[b - 1] }
                    for k in from {
                        let b = Int((k &>> shift) & 0xff)
                        to[start[b]] = k
                        start[b] += 1
                    }
                }
            }
            swap(&keys, &spare)
        }
        return keys.map(value(ofSortKey:))
    }

    /// A key whose unsigned order is the float's order (negatives flipped, positives above them).
    static func sortKey(_ x: Float) -> UInt32 {
        let bits = x.bitPattern
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }

    /// The float of a ``sortKey(_:)``.
    static func value(ofSortKey key: UInt32) -> Float {
        Float(bitPattern: key & 0x8000_0000 != 0 ? key & 0x7fff_ffff : ~key)
    }

    static func column(_ m: Matrix<Float>, _ column: Int) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(m.rows)
        for r in 0..<m.rows { out.append(Double(m.storage[r * m.columns + column])) }
        return out
    }
}

/// Per column, the edges and shares one worker of ``FeatureReference/fit(_:bins:)`` found.
private final class ColumnSlots: @unchecked Sendable {
    // @unchecked: every access holds the lock.
    private var edges: [[Double]]
    private var shares: [[Double]]
    private let lock = NSLock()

    init(count: Int) {
        edges = Array(repeating: [], count: count)
        shares = Array(repeating: [], count: count)
    }

    func set(_ column: Int, edges e: [Double], shares s: [Double]) {
        lock.withLock {
            edges[column] = e
            shares[column] = s
        }
    }

    var all: ([[Double]], [[Double]]) { lock.withLock { (edges, shares) } }
}

/// The live calibration of a session: its predictions against the labels the following bars
/// realise by the model's own label (``Labels/outcome(close:following:spec:tickSize:)``: the forward
/// high, or the triple-barrier trade on the tick derived from the bar's price; a gap in those bars
/// leaves the prediction unlabelled, as in training), over the most recent ``capacity`` realised
/// predictions. Bars and predictions may come in any order (a catch-up feeds a symbol's bars
/// before the minutes are decided): each is matched by open time.
public struct LiveCalibration: Sendable {
    /// Realised predictions kept.
    public let capacity: Int
    private let label: LabelSpec
    private let intervalMs: Int64
    private var recent: [String: [Kline]] = [:]
    private var waiting: [String: [(time: Int64, p: Double, close: Double)]] = [:]
    private var realised: [(p: Double, y: Double)] = []
    private var next = 0

    /// A tracker for the forward-high label of `horizon` bars of `intervalMs` and `threshold` (fraction).
    public init(horizon: Int, threshold: Double, intervalMs: Int64 = 60_000, capacity: Int = 1_440) {
        self.init(label: LabelSpec(horizon: horizon, threshold: threshold), intervalMs: intervalMs, capacity: capacity)
    }

    /// A tracker for `label` (a model's ``ModelMetadata/labelSpec``) on bars of `intervalMs`.
    public init(label: LabelSpec, intervalMs: Int64 = 60_000, capacity: Int = 1_440) {
        self.label = label
        self.intervalMs = intervalMs
        self.capacity = capacity
    }

    /// A prediction `p` made at the close `close` of `symbol`'s bar opening at `openTime`.
    public mutating func predicted(_ symbol: String, openTime: Int64, p: Double, close: Double) {
        guard p.isFinite else { return }
        let w = (time: openTime, p: p, close: close)
        if !resolve(w, bars: recent[symbol] ?? []) { waiting[symbol, default: []].append(w) }
    }

    /// `symbol`'s bar (the forward-high label reads only its high; a triple barrier all of it).
    public mutating func bar(_ symbol: String, _ bar: Kline) {
        var bars = recent[symbol] ?? []
        bars.append(bar)
        let keep = 4 * label.horizon + 8
        if bars.count > keep { bars.removeFirst(bars.count - keep) }
        recent[symbol] = bars
        guard let list = waiting[symbol], !list.isEmpty else { return }
        var kept: [(time: Int64, p: Double, close: Double)] = []
        for w in list where !resolve(w, bars: bars) {
            // Else dropped without a label: a gap in its horizon (its last bar's time has passed unseen).
            if bar.openTime < w.time + Int64(label.horizon) * intervalMs { kept.append(w) }
        }
        waiting[symbol] = kept
    }

    /// `symbol`'s bar opening at `openTime` with its high, for a forward-high tracker.
    public mutating func bar(_ symbol: String, openTime: Int64, high: Double) {
        precondition(label.barriers == nil, "a triple-barrier tracker needs whole bars: bar(_:_:)")
        bar(symbol, Kline(
            openTime: openTime, open: high, high: high, low: high, close: high, volume: 0, closeTime: openTime + intervalMs - 1,
            quoteVolume: 0, tradeCount: 0, takerBuyBaseVolume: 0, takerBuyQuoteVolume: 0
        ))
    }

    /// Labels `w` when `bars` hold every bar of its horizon; whether it did.
    private mutating func resolve(_ w: (time: Int64, p: Double, close: Double), bars: [Kline]) -> Bool {
        let end = w.time + Int64(label.horizon) * intervalMs
        let following = bars.filter { $0.openTime > w.time && $0.openTime <= end }.sorted { $0.openTime < $1.openTime }
        guard following.count >= label.horizon else { return false }
        let tick = SymbolFilters.derived(price: w.close > 0 && w.close.isFinite ? w.close : 1).tickSize
        add(p: w.p, y: Labels.outcome(close: w.close, following: following, spec: label, tickSize: tick))
        return true
    }

    private mutating func add(p: Double, y: Double) {
        if realised.count < capacity {
            realised.append((p, y))
        } else {
            realised[next] = (p, y)
            next = (next + 1) % capacity
        }
    }

    /// Realised predictions in the window.
    public var count: Int { realised.count }

    /// ECE of the realised predictions (NaN with none).
    public var ece: Double { realised.isEmpty ? .nan : Metrics.ece(realised.map(\.p), realised.map(\.y)) }

    /// The window's reliability: `bins` equal-width probability bins, each with its count, mean
    /// prediction and realised rate (empty bins included, with NaN means).
    public func reliability(bins: Int = 10) -> [(lower: Double, upper: Double, count: Int, meanPredicted: Double, realisedRate: Double)] {
        var sums = [(n: Int, p: Double, y: Double)](repeating: (0, 0, 0), count: bins)
        for r in realised {
            let b = min(bins - 1, max(0, Int(r.p * Double(bins))))
            sums[b].n += 1
            sums[b].p += r.p
            sums[b].y += r.y
        }
        return sums.enumerated().map { b, s in
            let n = Double(s.n)
            return (Double(b) / Double(bins), Double(b + 1) / Double(bins), s.n, s.n > 0 ? s.p / n : .nan, s.n > 0 ? s.y / n : .nan)
        }
    }

    /// Mean prediction and realised positive rate in the window.
    public var meanAndRate: (mean: Double, rate: Double) {
        guard !realised.isEmpty else { return (.nan, .nan) }
        let n = Double(realised.count)
        return (realised.reduce(0) { $0 + $1.p } / n, realised.reduce(0) { $0 + $1.y } / n)
    }
}

/// The feature drift of a session: per feature, the bins of its most recent ``capacity`` scored
/// rows, against the model's training reference.
public struct LiveDrift: Sendable {
    /// The training reference.
    public let reference: FeatureReference
    /// Rows kept.
    public let capacity: Int
    private var ring: [[UInt8]] = []
    private var next = 0
    private var counts: [[Int]]

    /// A tracker against `reference`.
    public init(reference: FeatureReference, capacity: Int = 1_440) {
        self.reference = reference
        self.capacity = capacity
        counts = (0..<reference.edges.count).map { [Int](repeating: 0, count: reference.binCount(feature: $0)) }
    }

    /// A scored row.
    public mutating func observe(_ row: ArraySlice<Float>) {
        guard row.count == reference.edges.count else { return }
        let bins = row.enumerated().map { UInt8(reference.bin(feature: $0.offset, value: Double($0.element))) }
        if ring.count < capacity {
            ring.append(bins)
        } else {
            for (f, b) in ring[next].enumerated() { counts[f][Int(b)] -= 1 }
            ring[next] = bins
            next = (next + 1) % capacity
        }
        for (f, b) in bins.enumerated() { counts[f][Int(b)] += 1 }
    }

    /// Rows in the window.
    public var count: Int { ring.count }

    /// PSI per feature over the window.
    public var psi: [Double] { reference.psi(counts: counts) }
}
