import Foundation
public import LinearAlgebra

/// Thresholds and weights of the scanner (the `scanner:` section of the config).
public struct ScannerConfiguration: Codable, Equatable, Sendable {
    /// Score weights for [change 1 m %, change 5 m %, change 24 h %, range position − 0.5, log10(1 + quote volume / 1e6)].
    public var weights = [3.0, 1.0, 0.1, 2.0, 0.25]
    /// VOLUME_SPIKE when the last minute's volume is this many times the 24 h average per minute.
    public var volumeSpikeRatio = 3.0
    /// MOMENTUM when |change over 1 m| reaches this, percent.
    public var momentumPct1m = 0.5
    /// BREAKOUT when the price is within this fraction of the 24 h high (or above it).
    public var breakoutDistance = 0.001
    /// Candidates kept in the top list.
    public var topN = 10

    enum CodingKeys: String, CodingKey {
        case weights
        case volumeSpikeRatio = "volume_spike_ratio"
        case momentumPct1m = "momentum_pct_1m"
        case breakoutDistance = "breakout_distance"
        case topN = "top_n"
    }

    /// The defaults (the reference scanner's weights).
    public init() {}
}

/// An alert raised for a pair.
public enum ScannerAlert: String, Codable, Sendable, CaseIterable {
    /// Volume over the last minute well above its 24 h per-minute average.
    case volumeSpike = "VOLUME_SPIKE"
    /// A large move over the last minute.
    case momentum = "MOMENTUM"
    /// Price at or through the 24 h high.
    case breakout = "BREAKOUT"
}

/// One pair's state as the scanner shows it.
public struct PairSnapshot: Equatable, Sendable {
    /// Symbol.
    public var symbol: String
    /// Last price.
    public var price: Double
    /// Change over the last minute, percent.
    public var change1m: Double
    /// Change over the last five minutes, percent.
    public var change5m: Double
    /// Change over 24 h, percent.
    public var change24h: Double
    /// Best bid/ask spread, percent of mid (NaN without a book ticker).
    public var spreadPct: Double
    /// Last minute's base volume over the 24 h per-minute average.
    public var volumeRatio: Double
    /// The quick score.
    public var score: Double
    /// Alerts now in force.
    public var alerts: [ScannerAlert]
    /// Ticks within the last minute and last five minutes.
    public var ticks1m: Int
    /// Ticks within the last five minutes.
    public var ticks5m: Int
}

/// The scanner's state over every pair: one row per pair in a state matrix, scored by one
/// matrix–vector product against the weights.
///
/// Per message the pair's price history (1 m and 5 m windows, evicted by event time: a tick older
/// than E − window leaves) and its row of the state matrix are updated in O(1) amortised.
public struct ScannerState: Sendable {
    /// Settings.
    public let configuration: ScannerConfiguration
    /// Pair index by symbol.
    public private(set) var index: [String: Int] = [:]
    private var keyIndex = SymbolTable()
    /// Event time of the last update applied (ms).
    public private(set) var lastEventTime: Int64 = 0
    /// Symbols by index.
    public private(set) var symbols: [String] = []
    /// Row-major pairs × 5 score features, updated in place per message (a plain array: the hot
    /// path stays free of generic calls); ``features`` wraps it as a matrix for scoring.
    private var featureRows: [Double] = []

    /// rows = pairs, columns = the five score features.
    public var features: Matrix<Double> { Matrix(rows: symbols.count, columns: 5, storage: featureRows) }
    /// Score of each pair as of its last update.
    public private(set) var scores: [Double] = []
    private var pairs: [PairHistory] = []
    private let weights: [Double]

    /// Creates an empty state.
    public init(configuration: ScannerConfiguration = ScannerConfiguration()) {
        precondition(configuration.weights.count == 5, "five weights")
        self.configuration = configuration
        weights = configuration.weights
    }

    /// Number of pairs seen.
    public var count: Int { symbols.count }

    /// Parses a combined-stream miniTicker frame and applies it: the hot path, which creates no
    /// string for pairs already known.
    @discardableResult
    public mutating func apply(frame bytes: UnsafeBufferPointer<UInt8>) throws(StreamMessageError) -> Double {
        let raw = try MiniTickerParser.parseRaw(bytes)
        let k = keyIndex.find(raw.symbol) ?? addPair(String(decoding: UnsafeBufferPointer(rebasing: bytes[raw.symbolRange]), as: UTF8.self), raw.symbol)
        return update(k, time: raw.eventTime, close: raw.close, open: raw.open, high: raw.high, low: raw.low, baseVolume: raw.baseVolume, quoteVolume: raw.quoteVolume)
    }

    /// Applies one miniTicker update; returns the pair's new score.
    @discardableResult
    public mutating func apply(_ t: MiniTicker) -> Double {
        let k = index[t.symbol] ?? addPair(t.symbol, SymbolKey(t.symbol))
        return update(k, time: t.eventTime, close: t.close, open: t.open, high: t.high, low: t.low, baseVolume: t.baseVolume, quoteVolume: t.quoteVolume)
    }

    private mutating func addPair(_ symbol: String, _ key: SymbolKey?) -> Int {
        let k = symbols.count
        index[symbol] = k
        if let key { keyIndex.insert(key, k) }
        symbols.append(symbol)
        pairs.append(PairHistory())
        featureRows.append(contentsOf: [0, 0, 0, 0, 0])
        scores.append(0)
        return k
    }

    @inline(__always)
    private mutating func update(
        _ k: Int,
        time: Int64,
        close: Double,
        open: Double,
        high: Double,
        low: Double,
        baseVolume: Double,
        quoteVolume: Double
    ) -> Double {
        let t = (close: close, open: open, high: high, low: low, quoteVolume: quoteVolume)
        lastEventTime = time
        let (c1, c5) = pairs[k].record(time: time, price: close, baseVolume: baseVolume)
        pairs[k].last = LastTicker(close: close, open: open, high: high, low: low, baseVolume: baseVolume)
        let c24 = t.open != 0 ? (t.close / t.open - 1) * 100 : 0
        let range = t.high > t.low ? (t.close - t.low) / (t.high - t.low) : 0.5
        let row = (c1, c5, c24, range - 0.5, log10(1 + t.quoteVolume / 1e6))
        let base = k * 5
        featureRows[base] = row.0
        featureRows[base + 1] = row.1
        featureRows[base + 2] = row.2
        featureRows[base + 3] = row.3
        featureRows[base + 4] = row.4
        // The row's own score, in the same order as the reference sum, so scores match it exactly.
        let score = weights[0] * row.0 + weights[1] * row.1 + weights[2] * row.2 + weights[3] * row.3 + weights[4] * row.4
        scores[k] = score
        return score
    }

    /// Applies a best bid/ask update (for the spread).
    public mutating func applyBookTicker(symbol: String, bid: Double, ask: Double) {
        guard let k = index[symbol] else { return }
        pairs[k].bid = bid
        pairs[k].ask = ask
    }

    /// Every pair rescored at once: state matrix × weights (BLAS gemv).
    public func rescoreAll() -> [Double] { features.multiplied(by: weights) }

    /// The `n` best pairs by score (ties by symbol), scored with ``rescoreAll()``.
    public func topOpportunities(_ n: Int) -> [PairSnapshot] {
        let all = rescoreAll()
        let order = all.indices.sorted { all[$0] != all[$1] ? all[$0] > all[$1] : symbols[$0] < symbols[$1] }
        return order.prefix(n).map { snapshot($0, score: all[$0]) }
    }

    /// The state of one pair.
    public func snapshot(_ symbol: String) -> PairSnapshot? {
        index[symbol].map { snapshot($0, score: scores[$0]) }
    }

    private func snapshot(_ k: Int, score: Double) -> PairSnapshot {
        let p = pairs[k]
        let t = p.last
        let row = featureRows[(k * 5)..<(k * 5 + 5)]
        let b = row.startIndex
        let perMinute = (t?.baseVolume ?? 0) / 1_440
        let ratio = perMinute > 0 ? p.volumeLastMinute / perMinute : .nan
        var alerts: [ScannerAlert] = []
        if ratio >= configuration.volumeSpikeRatio { alerts.append(.volumeSpike) }
        if abs(row[b]) >= configuration.momentumPct1m { alerts.append(.momentum) }
        if let t, t.high > 0, t.close >= t.high * (1 - configuration.breakoutDistance) { alerts.append(.breakout) }
        let mid = (p.bid + p.ask) / 2
        return PairSnapshot(
            symbol: symbols[k],
            price: t?.close ?? .nan,
            change1m: row[b],
            change5m: row[b + 1],
            change24h: row[b + 2],
            spreadPct: p.bid > 0 && p.ask > 0 ? (p.ask - p.bid) / mid * 100 : .nan,
            volumeRatio: ratio,
            score: score,
            alerts: alerts,
            ticks1m: p.window1.count,
            ticks5m: p.window5.count
        )
    }
}

/// The latest 24 h figures of a pair.
struct LastTicker: Sendable {
    var close: Double
    var open: Double
    var high: Double
    var low: Double
    var baseVolume: Double
}

/// One pair's recent ticks: (time, price, 24 h base volume) in two windows.
struct PairHistory: Sendable {
    var window1 = TickWindow(span: 60_000)
    var window5 = TickWindow(span: 300_000)
    var last: LastTicker?
    var bid = 0.0
    var ask = 0.0

    /// Records a tick and returns the 1 m and 5 m changes, percent, against the oldest tick still
    /// inside each window (the tick itself on the first update).
    mutating func record(time: Int64, price: Double, baseVolume: Double) -> (Double, Double) {
        window1.append(time: time, price: price, volume: baseVolume)
        window5.append(time: time, price: price, volume: baseVolume)
        return ((price / window1.oldestPrice - 1) * 100, (price / window5.oldestPrice - 1) * 100)
    }

    /// Base volume traded over the last minute, from the 24 h rolling volume (≥ 0).
    var volumeLastMinute: Double { max(0, window1.newestVolume - window1.oldestVolume) }
}

/// A queue of ticks evicted by age: a ring of power-of-two capacity that doubles when full, so an
/// append is O(1) amortised and never moves the live ticks.
struct TickWindow: Sendable {
    struct Tick: Sendable {
        var time: Int64
        var price: Double
        var volume: Double
    }

    let span: Int64
    private var ring: [Tick]
    private var head = 0
    private(set) var count = 0

    init(span: Int64) {
        self.span = span
        ring = Array(repeating: Tick(time: 0, price: 0, volume: 0), count: 64)
    }

    var oldestPrice: Double { ring[head].price }
    var oldestVolume: Double { ring[head].volume }
    var newestVolume: Double { ring[(head + count - 1) & (ring.count - 1)].volume }

    @inline(__always)
    mutating func append(time: Int64, price: Double, volume: Double) {
        if count == ring.count { grow() }
        let mask = ring.count - 1
        ring.withUnsafeMutableBufferPointer { r in
            r[(head + count) & mask] = Tick(time: time, price: price, volume: volume)
            count += 1
            let limit = time - span
            while r[head].time < limit {
                head = (head + 1) & mask
                count -= 1
            }
        }
    }

    private mutating func grow() {
        var bigger: [Tick] = []
        bigger.reserveCapacity(ring.count * 2)
        for k in 0..<count { bigger.append(ring[(head + k) & (ring.count - 1)]) }
        bigger.append(contentsOf: repeatElement(Tick(time: 0, price: 0, volume: 0), count: ring.count * 2 - count))
        ring = bigger
        head = 0
    }
}

/// Pair index by symbol key: open addressing with linear probing and a multiplicative hash, cheaper
/// per message than the standard dictionary's seeded SipHash (the keys are exchange symbols, not
/// adversarial input: an unknown symbol costs one probe sequence and is then added).
struct SymbolTable: Sendable {
    private var keys: [SymbolKey] = []
    private var slots: [Int32] = Array(repeating: -1, count: 256)
    private var values: [Int] = []

    @inline(__always)
    private func slot(_ key: SymbolKey) -> Int {
        let h = (key.low &* 0x9E37_79B9_7F4A_7C15) ^ (key.high &* 0xC2B2_AE3D_27D4_EB4F) ^ UInt64(key.length)
        return Int(truncatingIfNeeded: (h ^ (h >> 29)) & UInt64(slots.count - 1))
    }

    /// The value stored for `key`.
    @inline(__always)
    func find(_ key: SymbolKey) -> Int? {
        let mask = slots.count - 1
        var s = slot(key)
        while true {
            let e = Int(slots[s])
            if e < 0 { return nil }
            if keys[e] == key { return values[e] }
            s = (s + 1) & mask
        }
    }

    /// Stores `value` for a key not yet present.
    mutating func insert(_ key: SymbolKey, _ value: Int) {
        if (keys.count + 1) * 2 > slots.count {
            slots = Array(repeating: -1, count: slots.count * 2)
            for (e, k) in keys.enumerated() { place(k, Int32(e)) }
        }
        keys.append(key)
        values.append(value)
        place(key, Int32(keys.count - 1))
    }

    private mutating func place(_ key: SymbolKey, _ entry: Int32) {
        let mask = slots.count - 1
        var s = slot(key)
        while slots[s] >= 0 { s = (s + 1) & mask }
        slots[s] = entry
    }
}
