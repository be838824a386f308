import Foundation

/// Whether one forecaster's losses are lower than another's by more than chance: the
/// Diebold–Mariano test on paired per-row losses, with a Newey–West (Bartlett) long-run variance,
/// since the losses of overlapping labels are correlated over the label horizon.
public struct DieboldMariano: Equatable, Sendable {
    /// Rows compared.
    public var count: Int
    /// Mean of the loss differences d_t = challenger − champion (negative: the challenger is better).
    public var meanDifference: Double
    /// Newey–West long-run variance of d_t (lags 1…``lag`` weighted 1 − k/(lag + 1)).
    public var longRunVariance: Double
    /// Lags in the long-run variance.
    public var lag: Int
    /// The statistic: mean / √(long-run variance / n).
    public var statistic: Double
    /// One-sided p-value of "the challenger's loss is lower": Φ(statistic).
    public var pValue: Double

    /// Compares `challenger` with `champion`, row by row (the same rows, in time order).
    ///
    /// - Parameter lag: lags of the long-run variance; at least the label horizon when labels overlap.
    /// - Returns: nil when there are fewer than two rows, the series differ in length, a loss is not
    ///   finite, or the differences do not vary (no test is possible).
    public static func compare(challenger: [Double], champion: [Double], lag: Int) -> DieboldMariano? {
        precondition(lag >= 0, "a negative number of lags")
        let n = challenger.count
        guard n >= 2, champion.count == n else { return nil }
        var d = [Double](repeating: 0, count: n)
        for t in 0..<n {
            let (a, b) = (challenger[t], champion[t])
            guard a.isFinite, b.isFinite else { return nil }
            d[t] = a - b
        }
        let mean = d.reduce(0, +) / Double(n)
        let centred = d.map { $0 - mean }
        func autocovariance(_ k: Int) -> Double {
            var sum = 0.0
            for t in k..<n { sum += centred[t] * centred[t - k] }
            return sum / Double(n)
        }
        let maxLag = min(lag, n - 1)
        var variance = autocovariance(0)
        if maxLag > 0 {
            for k in 1...maxLag { variance += 2 * (1 - Double(k) / Double(maxLag + 1)) * autocovariance(k) }
        }
        guard variance > 0, variance.isFinite else { return nil }
        let statistic = mean / (variance / Double(n)).squareRoot()
        return DieboldMariano(
            count: n,
            meanDifference: mean,
            longRunVariance: variance,
            lag: maxLag,
            statistic: statistic,
            pValue: 0.5 * erfc(-statistic / 2.0.squareRoot())
        )
    }

    /// Per-row log-loss of probabilities `p` against 0/1 `labels`, probabilities clipped to
    /// [1e-15, 1 − 1e-15] as the metrics clip them.
    public static func logLosses(_ p: [Double], labels: [Double]) -> [Double] {
        precondition(p.count == labels.count, "one label per probability")
        return zip(p, labels).map { q, y in
            let c = min(max(q, 1e-15), 1 - 1e-15)
            return y == 1 ? -log(c) : -log(1 - c)
        }
    }
}
