import Foundation

/// Sharpe ratios that say how much to trust them: the probabilistic Sharpe ratio (Bailey & López
/// de Prado, "The Sharpe Ratio Efficient Frontier", 2012) and the deflated Sharpe ratio (Bailey &
/// López de Prado, "The Deflated Sharpe Ratio: Correcting for Selection Bias, Backtest Overfitting
/// and Non-Normality", 2014).
///
/// Every Sharpe ratio here is per observation (not annualised): the mean of the returns over their
/// sample standard deviation. Kurtosis is the plain fourth standardised moment (3 for a normal
/// distribution), as in the papers.
public enum SharpeStatistics {
    /// Euler–Mascheroni constant, which enters the expected maximum of N Sharpe ratios.
    public static let eulerGamma = 0.577_215_664_901_532_9

    /// The moments of a series of returns.
    public struct Moments: Equatable, Sendable {
        /// Observations.
        public var count: Int
        /// Mean return.
        public var mean: Double
        /// Sample standard deviation (n − 1).
        public var standardDeviation: Double
        /// Third standardised moment.
        public var skewness: Double
        /// Fourth standardised moment (3 for a normal distribution).
        public var kurtosis: Double

        /// Mean over standard deviation (NaN for a constant series).
        public var sharpe: Double { standardDeviation > 0 ? mean / standardDeviation : .nan }
    }

    /// The moments of `returns`; nil with fewer than two observations.
    public static func moments(_ returns: [Double]) -> Moments? {
        let n = returns.count
        guard n >= 2 else { return nil }
        let mean = returns.reduce(0, +) / Double(n)
        var m2 = 0.0
        var m3 = 0.0
        var m4 = 0.0
        for r in returns {
            let d = r - mean
            let d2 = d * d
            m2 += d2
            m3 += d2 * d
            m4 += d2 * d2
        }
        let sd = (m2 / Double(n - 1)).squareRoot()
        // Skewness and kurtosis from the population moments, as the papers write them.
        let population = m2 / Double(n)
        let skewness = population > 0 ? (m3 / Double(n)) / pow(population, 1.5) : 0
        let kurtosis = population > 0 ? (m4 / Double(n)) / (population * population) : 3
        return Moments(count: n, mean: mean, standardDeviation: sd, skewness: skewness, kurtosis: kurtosis)
    }

    /// The probability that the true Sharpe ratio exceeds `benchmark`, given an observed `sharpe`
    /// over `observations` returns with this `skewness` and `kurtosis`:
    /// Φ((SR − SR*) √(n − 1) / √(1 − γ₃ SR + (γ₄ − 1)/4 SR²)).
    public static func probabilisticSharpe(
        sharpe: Double,
        benchmark: Double,
        observations: Int,
        skewness: Double,
        kurtosis: Double
    ) -> Double {
        guard observations >= 2, sharpe.isFinite else { return .nan }
        let variance = 1 - skewness * sharpe + (kurtosis - 1) / 4 * sharpe * sharpe
        guard variance > 0 else { return .nan }
        return normalCDF((sharpe - benchmark) * Double(observations - 1).squareRoot() / variance.squareRoot())
    }

    /// The Sharpe ratio the best of `trials` unskilled strategies reaches on average, when the
    /// trials' Sharpe ratios vary with `variance`:
    /// √V · ((1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e))), γ the Euler–Mascheroni constant.
    public static func expectedMaximumSharpe(trials: Int, variance: Double) -> Double {
        guard trials > 1, variance >= 0 else { return 0 }
        let n = Double(trials)
        return variance.squareRoot()
            * ((1 - eulerGamma) * inverseNormalCDF(1 - 1 / n) + eulerGamma * inverseNormalCDF(1 - 1 / (n * M_E)))
    }

    /// The deflated Sharpe ratio: the probabilistic Sharpe ratio of the chosen strategy against the
    /// expected maximum Sharpe ratio of `trials` unskilled ones. Above 0.95, the strategy beats what
    /// choosing the best of that many trials gives by luck, at 95 % confidence.
    public static func deflatedSharpe(
        sharpe: Double,
        observations: Int,
        skewness: Double,
        kurtosis: Double,
        trials: Int,
        trialSharpeVariance: Double
    ) -> Double {
        probabilisticSharpe(
            sharpe: sharpe,
            benchmark: expectedMaximumSharpe(trials: trials, variance: trialSharpeVariance),
            observations: observations,
            skewness: skewness,
            kurtosis: kurtosis
        )
    }

    /// The standard normal distribution function.
    public static func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// The standard normal quantile: Acklam's rational approximation (relative error below
    /// 1.2 × 10⁻⁹), refined by one Halley step on `normalCDF` to full double precision.
    public static func inverseNormalCDF(_ p: Double) -> Double {
        guard p > 0 else { return -.infinity }
        guard p < 1 else { return .infinity }
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.024_25
        var x: Double
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5
            let r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log(1 - p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let e = normalCDF(x) - p
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }
}
