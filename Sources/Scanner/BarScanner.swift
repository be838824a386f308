import Foundation
public import ScalperCore

/// How a session's scanner picks its candidates (the `scanner:` section of the config).
public struct BarScannerSettings: Sendable, Equatable {
    /// Candidates the model scores each minute, at most.
    public var candidates = 10
    /// A pair whose spread at the bar's close is wider than this, percent of the mid, is not a
    /// candidate (unknown without a synced book: then not filtered).
    public var maxSpreadPct = 0.1
    /// The volatility floor: a pair whose 1 m log returns over the window have a smaller standard
    /// deviation, percent, is not a candidate.
    public var minVolatilityPct = 0.02
    /// Score weights for [change 1 m %, change 5 m %, change over the window %, range position in
    /// the window − 0.5, log10(1 + quote volume per 24 h at the window's pace / 1e6)].
    public var weights = [3.0, 1.0, 0.1, 2.0, 0.25]

    /// The defaults.
    public init() {}
}

/// One pair as the scanner judged it at a minute's close.
public struct BarScannerPick: Sendable, Equatable {
    /// The pair.
    public var symbol: String
    /// Its score (higher ranks first).
    public var score: Double
    /// Close-to-close change over the last minute, over 5 minutes and over the window, percent.
    public var change1m: Double
    /// Change over 5 minutes, percent.
    public var change5m: Double
    /// Change over the window, percent.
    public var changeWindow: Double
    /// Standard deviation of the window's 1 m log returns, percent.
    public var volatilityPct: Double
    /// Spread at the close, percent of the mid (nil: no synced book).
    public var spreadPct: Double?
    /// Why it is not a candidate (nil: it passed the filters).
    public var refusal: String?
    /// What stands out at this close, by the rules `scalper scan` uses on its ticks, over the
    /// hour's bars: VOLUME_SPIKE (the last bar's quote volume at least ``alertRules``'s ratio times
    /// the hour's average per bar), MOMENTUM (|change over 1 m| at least its percent), BREAKOUT
    /// (the close within its fraction of the hour's high, or above it).
    public var alerts: [ScannerAlert] = []

    /// The thresholds of ``alerts``: the scanner's defaults.
    public static let alertRules = ScannerConfiguration()
}

/// A session's scanner over closed 1 m bars: at each minute's close it ranks the followed universe
/// by a score of momentum, range position and volume, drops pairs below the volatility floor or
/// above the spread ceiling, and keeps the best ``BarScannerSettings/candidates`` as the pairs the
/// model scores that minute.
///
/// Every figure is a function of the last ``window`` + 1 closed bars of each pair, so a session that
/// restarts (and refeeds its warm-up) picks exactly the candidates it would have picked: the choice
/// is reproducible, like everything else a session decides.
public struct BarScanner: Sendable {
    /// Bars in the window (an hour).
    public static let window = 60
    /// Settings.
    public let settings: BarScannerSettings
    private var history: [String: [Kline]] = [:]

    /// A scanner with no history.
    public init(settings: BarScannerSettings) {
        precondition(settings.weights.count == 5, "the scanner scores five figures")
        self.settings = settings
    }

    /// Adds `symbol`'s closed bar (bars of one symbol in time order; an older or repeated one is ignored).
    public mutating func add(symbol: String, bar: Kline) {
        var bars = history[symbol, default: []]
        if let last = bars.last, bar.openTime <= last.openTime { return }
        bars.append(bar)
        if bars.count > 2 * (Self.window + 1) { bars.removeFirst(bars.count - (Self.window + 1)) }
        history[symbol] = bars
    }

    /// The pairs with a bar at `openTime` and a full window behind it, judged and ranked (best
    /// first, ties by symbol); those without `refusal` are candidates, the first
    /// ``BarScannerSettings/candidates`` of them chosen.
    ///
    /// - Parameter spreadPct: a pair's spread at the bar's close, percent of the mid (nil: unknown).
    public func rank(openTime: Int64, symbols: [String], spreadPct: (String) -> Double?) -> [BarScannerPick] {
        var picks: [BarScannerPick] = []
        for symbol in symbols {
            guard let bars = history[symbol], let end = bars.lastIndex(where: { $0.openTime == openTime }),
                end >= Self.window
            else { continue }
            let window = bars[(end - Self.window)...end]
            let close = bars[end].close
            func change(_ back: Int) -> Double {
                let before = bars[end - back].close
                return before > 0 ? (close / before - 1) * 100 : 0
            }
            var high = -Double.infinity
            var low = Double.infinity
            var quoteVolume = 0.0
            var returns: [Double] = []
            returns.reserveCapacity(Self.window)
            var previous: Double?
            for bar in window {
                if let p = previous, p > 0, bar.close > 0 { returns.append(log(bar.close / p)) }
                previous = bar.close
            }
            for bar in window.dropFirst() {
                high = max(high, bar.high)
                low = min(low, bar.low)
                quoteVolume += bar.quoteVolume
            }
            let mean = returns.isEmpty ? 0 : returns.reduce(0, +) / Double(returns.count)
            let variance = returns.isEmpty ? 0 : returns.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(returns.count)
            let volatility = variance.squareRoot() * 100
            let range = high > low ? (close - low) / (high - low) - 0.5 : 0
            let perDay = quoteVolume * Double(24 * 60) / Double(Self.window)
            let figures = [change(1), change(5), change(Self.window), range, log10(1 + perDay / 1e6)]
            let score = zip(settings.weights, figures).reduce(0) { $0 + $1.0 * $1.1 }
            let spread = spreadPct(symbol)
            let rules = BarScannerPick.alertRules
            let averageVolume = quoteVolume / Double(Self.window)
            var alerts: [ScannerAlert] = []
            if averageVolume > 0, bars[end].quoteVolume >= rules.volumeSpikeRatio * averageVolume { alerts.append(.volumeSpike) }
            if abs(figures[0]) >= rules.momentumPct1m { alerts.append(.momentum) }
            if high > 0, close >= high * (1 - rules.breakoutDistance) { alerts.append(.breakout) }
            var refusal: String?
            if volatility < settings.minVolatilityPct {
                refusal = "volatility \(String(format: "%.4f", volatility)) % < \(settings.minVolatilityPct) %"
            } else if let spread, spread > settings.maxSpreadPct {
                refusal = "spread \(String(format: "%.4f", spread)) % > \(settings.maxSpreadPct) %"
            }
            picks.append(
                BarScannerPick(
                    symbol: symbol,
                    score: score,
                    change1m: figures[0],
                    change5m: figures[1],
                    changeWindow: figures[2],
                    volatilityPct: volatility,
                    spreadPct: spread,
                    refusal: refusal,
                    alerts: alerts
                )
            )
        }
        picks.sort { $0.score != $1.score ? $0.score > $1.score : $0.symbol < $1.symbol }
        return picks
    }

    /// The candidates among ranked picks: the first ``BarScannerSettings/candidates`` without a refusal.
    public func candidates(_ ranked: [BarScannerPick]) -> [BarScannerPick] {
        Array(ranked.lazy.filter { $0.refusal == nil }.prefix(settings.candidates))
    }
}
