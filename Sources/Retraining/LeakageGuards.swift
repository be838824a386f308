public import Features
import LinearAlgebra
public import Model
public import ScalperCore

/// What the truncation check found.
public struct TruncationCheck: Codable, Equatable, Sendable {
    /// Cut points checked (over all symbols).
    public var cuts: Int
    /// Feature values compared (each cut: every feature, truncated and perturbed).
    public var valuesCompared: Int
    /// The first difference, in words (nil: none, the check passed).
    public var firstDifference: String?
    /// Whether every row up to each cut was unchanged.
    public var passed: Bool { firstDifference == nil }
}

/// The leakage guards that block a promotion: the truncation check here; the shuffled-label
/// canary is ``Trainer/canary(_:configuration:seed:)``.
public enum LeakageGuards {
    /// Bars of history before each cut point both computations start from.
    public static let lookbackBars = 1_500
    /// Bars after each cut point that the full computation sees (and the perturbation changes).
    public static let lookaheadBars = 120

    /// At `cutsPerSymbol` cut points t of each series (spread evenly, offset by `seed`), computes
    /// the features of bars [t − lookback, t + lookahead] three ways: as they are, with every bar
    /// after t removed, and with every bar after t perturbed (prices ×1.37, volumes ×2.1). The row
    /// of bar t must be the same, value for value, in all three: a feature that reads a later bar
    /// (a leak, which would make the model look better than it can be live) fails here.
    public static func truncationCheck(
        series: [(symbol: String, klines: [Kline])],
        interval: KlineInterval,
        source: FeatureSource,
        label: LabelSpec? = nil,
        cutsPerSymbol: Int,
        seed: UInt64
    ) throws -> TruncationCheck {
        var cuts = 0
        var compared = 0
        for (s, (symbol, klines)) in series.enumerated() {
            let first = min(klines.count, lookbackBars / 3)
            let last = klines.count - lookaheadBars - 1
            guard last > first else { continue }
            let span = last - first
            let offset = Int((seed &+ UInt64(s) &* 7_919) % UInt64(max(1, span / max(1, cutsPerSymbol))))
            for k in 0..<cutsPerSymbol {
                let t = first + offset + span * k / cutsPerSymbol
                guard t <= last else { continue }
                let start = max(0, t - lookbackBars)
                let full = Array(klines[start...(t + lookaheadBars)])
                let truncated = Array(klines[start...t])
                var perturbed = full
                for i in (t - start + 1)..<perturbed.count {
                    perturbed[i].open *= 1.37
                    perturbed[i].high *= 1.37
                    perturbed[i].low *= 1.37
                    perturbed[i].close *= 1.37
                    perturbed[i].volume *= 2.1
                    perturbed[i].quoteVolume *= 2.1 * 1.37
                    perturbed[i].takerBuyBaseVolume *= 2.1
                    perturbed[i].takerBuyQuoteVolume *= 2.1 * 1.37
                }
                let row = t - start
                // With the label asked for as training asks for it (the label itself looks ahead by
                // definition and is not compared; the features next to it must not).
                let a = try source.compute(full, interval, label).features.row(row)
                let b = try source.compute(truncated, interval, label).features.row(row)
                let c = try source.compute(perturbed, interval, label).features.row(row)
                cuts += 1
                for (j, ((x, y), z)) in zip(zip(a, b), c).enumerated() {
                    compared += 2
                    let same = { (u: Double, v: Double) in u == v || (u.isNaN && v.isNaN) }
                    if !same(x, y) || !same(x, z) {
                        let name = j < FeatureSpec.names.count ? FeatureSpec.names[j] : "column \(j)"
                        let how = !same(x, y) ? "removing the later bars changed it to \(y)" : "perturbing the later bars changed it to \(z)"
                        return TruncationCheck(
                            cuts: cuts,
                            valuesCompared: compared,
                            firstDifference: "\(symbol) \(UTC.minuteString(klines[t].openTime)): feature \(name) = \(x) with the bars after it; \(how): it reads the future"
                        )
                    }
                }
            }
        }
        return TruncationCheck(cuts: cuts, valuesCompared: compared, firstDifference: nil)
    }
}
