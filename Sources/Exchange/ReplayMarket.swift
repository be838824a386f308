import Foundation
public import MarketData
public import ScalperCore

/// Recorded bars of one base series, with what the replay needs precomputed: prefix sums of the
/// volumes and sparse tables of highs and lows, so any 24 h window is O(1).
final class BaseSeries: Sendable {
    let symbol: String
    let bars: [Kline]
    let prefixVolume: [Double]
    let prefixQuoteVolume: [Double]
    let prefixTrades: [Double]
    private let maxTable: [[Double]]
    private let minTable: [[Double]]

    init(symbol: String, bars: [Kline]) {
        self.symbol = symbol
        self.bars = bars
        var v = [0.0]
        var q = [0.0]
        var n = [0.0]
        for b in bars {
            v.append(v[v.count - 1] + (b.volume.isNaN ? 0 : b.volume))
            q.append(q[q.count - 1] + (b.quoteVolume.isNaN ? b.volume * b.close : b.quoteVolume))
            n.append(n[n.count - 1] + (b.tradeCount.isNaN ? 0 : b.tradeCount))
        }
        prefixVolume = v
        prefixQuoteVolume = q
        prefixTrades = n
        var maxT = [bars.map(\.high)]
        var minT = [bars.map(\.low)]
        var width = 1
        while width * 2 <= bars.count {
            let prevMax = maxT[maxT.count - 1]
            let prevMin = minT[minT.count - 1]
            maxT.append((0..<(bars.count - width * 2 + 1)).map { max(prevMax[$0], prevMax[$0 + width]) })
            minT.append((0..<(bars.count - width * 2 + 1)).map { min(prevMin[$0], prevMin[$0 + width]) })
            width *= 2
        }
        maxTable = maxT
        minTable = minT
    }

    /// Highest high and lowest low of bars `range` (non-empty).
    func extremes(_ range: Range<Int>) -> (high: Double, low: Double) {
        let n = range.count
        var k = 0
        while (2 << k) <= n { k += 1 }
        let a = range.lowerBound
        let b = range.upperBound - (1 << k)
        return (max(maxTable[k][a], maxTable[k][b]), min(minTable[k][a], minTable[k][b]))
    }
}

/// A pair as the exchange shows it: a base series, possibly shifted in time and rescaled.
public struct ReplayPair: Sendable {
    /// The symbol served.
    public let symbol: String
    /// The real series it comes from.
    public let source: String
    let base: BaseSeries
    /// Added to the base's bar times.
    let shift: Int64
    /// Prices multiplied by this.
    let scale: Double
    /// Tick, step and minimum notional: every price served lies on the tick, the book model's
    /// quantities on the step.
    public let filters: SymbolFilters
}

/// What the market looks like for one pair at one instant.
public struct TickerState: Equatable, Sendable {
    /// Sim time, ms.
    public var time: Int64
    /// Last price.
    public var price: Double
    /// Price 24 h ago.
    public var open24: Double
    /// 24 h high.
    public var high24: Double
    /// 24 h low.
    public var low24: Double
    /// 24 h base volume.
    public var volume24: Double
    /// 24 h quote volume.
    public var quoteVolume24: Double
    /// 24 h trades.
    public var trades24: Int
    /// The bar in progress, as far as it has gone (its open time, open, high, low, close, volume so far).
    public var bar: Kline
    /// The base volume of the bar in progress up to now.
    public var barFraction: Double
}

/// Recorded bars served as a live market at a simulated time.
///
/// Within a bar the price walks open → first extreme → second extreme → close in thirds of the
/// minute; which extreme comes first is a seeded coin per (symbol, bar), so a fixed seed gives the
/// same stream. When more pairs are asked for than the store holds, further pairs are derived from
/// the real series: each is the base series shifted by k × 97 minutes (wrapping round the recorded
/// span) and scaled by 1 + 0.013 k, under the name `<BASE>D<k>USDT` (for example `FILD3USDT`).
///
/// Each pair has ``SymbolFilters``: a real symbol those given (the store's, see
/// `MarketStore.symbolFilters(symbol:market:)`), else ``SymbolFilters/derived(from:)`` of its
/// series (the store's whole series, as the CLI loads it); a derived pair
/// ``SymbolFilters/derived(price:)`` of its base's reference price times its scale. Every price
/// served (bars, the price within a bar, 24 h figures, the book model) is put on the pair's tick.
public final class ReplayMarket: Sendable {
    /// Pairs by symbol.
    public let pairs: [String: ReplayPair]
    /// Symbols in order (real ones first).
    public let symbols: [String]
    /// First instant with data in every real series.
    public let start: Int64
    /// Last instant with data.
    public let end: Int64
    /// Seed of the within-bar paths and the book model.
    public let seed: UInt64
    /// Recorded streams of real symbols: their books, book tickers and trades are replayed where
    /// the recording covers the sim time.
    public let recorded: [String: RecordedBook]

    /// Builds a market from real series and, if `pairCount` exceeds them, derived pairs; `recordings`
    /// (of real symbols) replace the book model and the modelled trades where they cover the time.
    /// `filters` are the real symbols' filters; one not given is derived from its series.
    public init(
        series: [(symbol: String, klines: [Kline])],
        recordings: [RecordedStreams] = [],
        pairCount: Int? = nil,
        filters: [String: SymbolFilters] = [:],
        seed: UInt64 = 42
    ) throws {
        let usable = series.filter { $0.klines.count >= 2 }
        guard !usable.isEmpty else {
            throw ExchangeError("the exchange needs at least one symbol with 1m bars in the store")
        }
        let bases = usable.map { BaseSeries(symbol: $0.symbol, bars: $0.klines) }
        let commonStart = bases.map { $0.bars[0].openTime }.max() ?? 0
        let commonEnd = bases.map { $0.bars[$0.bars.count - 1].closeTime + 1 }.min() ?? 0
        guard commonStart < commonEnd else {
            let spans = bases.map { "\($0.symbol) \(UTC.minuteString($0.bars[0].openTime))…\(UTC.minuteString($0.bars[$0.bars.count - 1].openTime))" }
            throw ExchangeError("the symbols' 1m bars do not overlap in time, so one clock cannot replay them all: \(spans.joined(separator: ", "))")
        }
        var pairs: [String: ReplayPair] = [:]
        var symbols: [String] = []
        var reference: [String: Double] = [:]
        for b in bases {
            guard let own = filters[b.symbol] ?? SymbolFilters.derived(from: b.bars) else {
                throw ExchangeError("\(b.symbol): no filters given and its middle bar has no positive close to derive them from")
            }
            reference[b.symbol] = b.bars[b.bars.count / 2].close
            pairs[b.symbol] = ReplayPair(symbol: b.symbol, source: b.symbol, base: b, shift: 0, scale: 1, filters: own)
            symbols.append(b.symbol)
        }
        let target = max(pairCount ?? bases.count, bases.count)
        var k = 1
        while symbols.count < target {
            for b in bases where symbols.count < target {
                let root = b.symbol.hasSuffix("USDT") ? String(b.symbol.dropLast(4)) : b.symbol
                let name = "\(root)D\(k)USDT"
                let scale = 1 + 0.013 * Double(k)
                guard let price = reference[b.symbol], price > 0, price.isFinite else {
                    throw ExchangeError("\(b.symbol): its middle bar has no positive close to derive \(name)'s filters from")
                }
                pairs[name] = ReplayPair(
                    symbol: name, source: b.symbol, base: b, shift: Int64(k) * 97 * 60_000, scale: scale,
                    filters: SymbolFilters.derived(price: price * scale)
                )
                symbols.append(name)
            }
            k += 1
        }
        self.pairs = pairs
        self.symbols = symbols
        start = commonStart
        end = commonEnd
        self.seed = seed
        var recorded: [String: RecordedBook] = [:]
        for r in recordings where pairs[r.symbol] != nil {
            recorded[r.symbol] = RecordedBook(r)
        }
        self.recorded = recorded
    }

    /// The base time a pair's time maps to (derived pairs wrap round the recorded span).
    private func baseTime(_ pair: ReplayPair, _ time: Int64) -> Int64 {
        guard pair.shift != 0 else { return time }
        let first = pair.base.bars[0].openTime
        let span = pair.base.bars[pair.base.bars.count - 1].closeTime + 1 - first
        var t = time - pair.shift - first
        t %= span
        if t < 0 { t += span }
        return first + t
    }

    private func barIndex(_ base: BaseSeries, _ time: Int64) -> Int {
        var lo = 0
        var hi = base.bars.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if base.bars[mid].openTime <= time { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// The market for `symbol` at sim time `time`.
    public func state(_ symbol: String, at time: Int64) -> TickerState? {
        guard let pair = pairs[symbol] else { return nil }
        let base = pair.base
        let t = baseTime(pair, time)
        let i = barIndex(base, t)
        let bar = base.bars[i]
        let fraction = min(1, max(0, Double(t - bar.openTime) / Double(bar.closeTime + 1 - bar.openTime)))
        let highFirst = (mix(seed ^ UInt64(bitPattern: bar.openTime) ^ symbol.stableHash) & 1) == 0
        let (first, second) = highFirst ? (bar.high, bar.low) : (bar.low, bar.high)
        let price: Double
        var high = bar.open
        var low = bar.open
        if fraction < 1.0 / 3 {
            price = bar.open + (first - bar.open) * fraction * 3
        } else if fraction < 2.0 / 3 {
            price = first + (second - first) * (fraction * 3 - 1)
        } else {
            price = second + (bar.close - second) * (fraction * 3 - 2)
        }
        if fraction >= 1.0 / 3 {
            high = max(high, first)
            low = min(low, first)
        }
        if fraction >= 2.0 / 3 {
            high = max(high, second)
            low = min(low, second)
        }
        high = max(high, price)
        low = min(low, price)
        var partial = (
            open: bar.open, high: high, low: low, close: price, volume: bar.volume * fraction,
            quote: bar.quoteVolume * fraction, trades: (bar.tradeCount * fraction).rounded(.down),
            takerBase: bar.takerBuyBaseVolume * fraction, takerQuote: bar.takerBuyQuoteVolume * fraction
        )
        if pair.shift == 0, let tape = recorded[symbol]?.trades, let first = tape.first, let last = tape.last,
            first.time <= bar.openTime, bar.openTime <= t, t <= last.time, t <= bar.closeTime
        {
            // A recorded tape covers the bar: the bar so far is exactly its trades up to now.
            let before = tape.partitionPoint { $0.time < bar.openTime }
            let upToNow = tape[before..<tape.partitionPoint { $0.time <= t }]
            if let so = Kline.aggregating(upToNow, openTime: bar.openTime, closeTime: bar.closeTime, previousClose: before > 0 ? tape[before - 1].price : bar.open) {
                partial = (
                    so.open, so.high, so.low, so.close, so.volume, so.quoteVolume, so.tradeCount, so.takerBuyBaseVolume, so.takerBuyQuoteVolume
                )
            }
        }
        let from = max(0, i - 1_439)
        var high24 = partial.high
        var low24 = partial.low
        if from < i {
            let e = base.extremes(from..<i)
            high24 = max(high24, e.high)
            low24 = min(low24, e.low)
        }
        let volume24 = base.prefixVolume[i] - base.prefixVolume[from] + partial.volume
        let quote24 = base.prefixQuoteVolume[i] - base.prefixQuoteVolume[from] + partial.quote
        let trades24 = base.prefixTrades[i] - base.prefixTrades[from] + partial.trades
        let open24 = i >= 1_440 ? base.bars[i - 1_440].close : base.bars[0].open
        // Scaled, then put on the tick (monotone, so low ≤ price ≤ high still holds).
        let s = pair.scale
        let grid = pair.filters
        let shift = time - t
        let shown = Kline(
            openTime: bar.openTime + shift, open: grid.onTick(partial.open * s), high: grid.onTick(partial.high * s),
            low: grid.onTick(partial.low * s), close: grid.onTick(partial.close * s), volume: partial.volume,
            closeTime: bar.closeTime + shift, quoteVolume: partial.quote * s, tradeCount: partial.trades,
            takerBuyBaseVolume: partial.takerBase, takerBuyQuoteVolume: partial.takerQuote * s
        )
        return TickerState(
            time: time, price: shown.close, open24: grid.onTick(open24 * s), high24: grid.onTick(high24 * s),
            low24: grid.onTick(low24 * s), volume24: volume24, quoteVolume24: quote24 * s, trades24: Int(trades24), bar: shown,
            barFraction: fraction
        )
    }

    /// Closed bars of `symbol` with open time in `[from, to]` and closed before `now`, at most `limit`.
    public func klines(_ symbol: String, from: Int64, to: Int64, limit: Int, now: Int64) -> [Kline] {
        guard let pair = pairs[symbol] else { return [] }
        var out: [Kline] = []
        let step: Int64 = 60_000
        var t = max(from, start) / step * step
        if t < from { t += step }
        while t <= to && out.count < limit {
            guard t + step <= now else { break }
            let bt = baseTime(pair, t)
            let i = barIndex(pair.base, bt)
            let b = pair.base.bars[i]
            if b.openTime == bt {
                let s = pair.scale
                let grid = pair.filters
                let shift = t - bt
                out.append(
                    Kline(
                        openTime: b.openTime + shift, open: grid.onTick(b.open * s), high: grid.onTick(b.high * s),
                        low: grid.onTick(b.low * s), close: grid.onTick(b.close * s),
                        volume: b.volume, closeTime: b.closeTime + shift, quoteVolume: b.quoteVolume * s,
                        tradeCount: b.tradeCount, takerBuyBaseVolume: b.takerBuyBaseVolume,
                        takerBuyQuoteVolume: b.takerBuyQuoteVolume * s
                    )
                )
            }
            t += step
        }
        return out
    }

    /// The book of `symbol` at sim time `rawTime`: the recorded book where a recording covers the
    /// time (rebuilt from its snapshot and diff events, real update ids), otherwise a seeded
    /// synthetic book around the current price: at most 20 levels a side, spread and depth scaled by
    /// the bar's range and volume.
    ///
    /// The model's book changes once per sim second (its update id is that second's first
    /// millisecond, or for a recorded symbol outside its recording, ids that count up to and on from
    /// the recorded ones), so a snapshot and the diffs between seconds compose exactly.
    public func book(_ symbol: String, at rawTime: Int64, levels: Int = 20) -> (bids: [(Double, Double)], asks: [(Double, Double)], updateID: Int64)? {
        if let recordedBook = recorded[symbol]?.book(at: rawTime) {
            return (
                recordedBook.bids.prefix(levels).map { ($0.price, $0.quantity) }, recordedBook.asks.prefix(levels).map { ($0.price, $0.quantity) },
                recordedBook.lastUpdateID
            )
        }
        return modelBook(symbol, at: rawTime, levels: levels)
    }

    /// The seeded model's book (see ``book(_:at:levels:)``), whatever is recorded. Its prices lie
    /// on the pair's tick and its quantities on its step: levels are counted in whole ticks.
    func modelBook(_ symbol: String, at rawTime: Int64, levels: Int = 20) -> (bids: [(Double, Double)], asks: [(Double, Double)], updateID: Int64)? {
        let time = rawTime / 1_000 * 1_000
        guard let pair = pairs[symbol], let s = state(symbol, at: time) else { return nil }
        let grid = pair.filters
        let tick = grid.tickSize
        let range = max(s.bar.high - s.bar.low, tick)
        // In ticks: the gap between levels, the spread, and the best bid and ask around the price.
        let gap = max(1, Int64((range * 0.02 / tick).rounded()))
        let spread = max(1, Int64((range * 0.05 / tick).rounded()))
        let bestBid = Int64((s.price / tick).rounded()) - spread / 2
        let bestAsk = bestBid + spread
        let perLevel = (s.volume24 / 1_440) * 0.05
        var bids: [(Double, Double)] = []
        var asks: [(Double, Double)] = []
        var h = mix(seed ^ UInt64(bitPattern: time / 1_000) ^ symbol.stableHash)
        // The model is 20 levels deep: diffs are computed over those, so a snapshot never holds a
        // level the diffs would not keep up to date.
        for k in 0..<Int64(min(levels, 20)) {
            h = mix(h)
            let noise = 0.5 + Double(h % 1_000) / 1_000
            let bid = grid.onTick(Double(max(1, bestBid - k * gap)) * tick)
            bids.append((bid, grid.onStep(perLevel * (1 + Double(k) * 0.15) * noise)))
            h = mix(h)
            let noise2 = 0.5 + Double(h % 1_000) / 1_000
            asks.append((grid.onTick(Double(bestAsk + k * gap) * tick), grid.onStep(perLevel * (1 + Double(k) * 0.15) * noise2)))
        }
        return (bids, asks, recorded[symbol]?.modelUpdateID(second: time) ?? time)
    }
}

/// A request the exchange cannot serve.
public struct ExchangeError: Error, CustomStringConvertible, Sendable {
    /// The message.
    public var description: String
    init(_ description: String) { self.description = description }
}

/// SplitMix64 finaliser: a well-mixed 64-bit hash step.
@inline(__always)
func mix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

extension String {
    /// FNV-1a over the UTF-8 bytes: stable across runs, unlike `hashValue`.
    var stableHash: UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01B3
        }
        return h
    }
}
