import Foundation
import Model
import Testing

@Suite("Diebold–Mariano with a Newey–West variance")
struct ForecastComparisonTests {
    /// Two deterministic loss series with autocorrelated differences.
    private var losses: (challenger: [Double], champion: [Double]) {
        let t = (0..<500).map(Double.init)
        let a = t.map { 0.3 + 0.2 * sin($0 * 0.37) + 0.05 * Double(Int($0) * 7 % 11) / 11 }
        let b = t.map { 0.31 + 0.2 * sin($0 * 0.37 + 0.1) + 0.04 * Double(Int($0) * 5 % 13) / 13 }
        return (a, b)
    }

    @Test(
        "Mean, long-run variance, statistic and p-value equal statsmodels' HAC (Bartlett, no small-sample correction) at 0, 3 and 10 lags",
        arguments: [
            // lag, long-run variance, statistic, p — from statsmodels 0.15 OLS(d, 1).fit(cov_type="HAC",
            // cov_kwds={"maxlags": lag, "use_correction": False}) and scipy's norm.cdf, on the same series.
            (0, 0.0005361064113458549, -5.592447943855141, 1.1194514588189708e-08),
            (3, 0.00080995518298952, -4.5498487146572435, 2.6842249280669646e-06),
            (10, 0.0004415953783052667, -6.161907733363698, 3.593686420033769e-10),
        ]
    )
    func matchesReference(lag: Int, variance: Double, statistic: Double, p: Double) throws {
        let (a, b) = losses
        let result = try #require(DieboldMariano.compare(challenger: a, champion: b, lag: lag))
        #expect(result.count == 500 && result.lag == lag)
        #expect(abs(result.meanDifference - -0.00579085177358498) < 1e-15)
        #expect(abs(result.longRunVariance / variance - 1) < 1e-10)
        #expect(abs(result.statistic / statistic - 1) < 1e-10)
        #expect(abs(result.pValue / p - 1) < 1e-8)
    }

    @Test("The sign follows who is better; equal losses, a length mismatch or a non-finite loss give no test")
    func edges() throws {
        let (a, b) = losses
        let reversed = try #require(DieboldMariano.compare(challenger: b, champion: a, lag: 3))
        #expect(reversed.statistic > 4 && reversed.pValue > 0.99999)
        #expect(DieboldMariano.compare(challenger: a, champion: a, lag: 3) == nil)
        #expect(DieboldMariano.compare(challenger: a, champion: Array(b.dropLast()), lag: 3) == nil)
        var broken = a
        broken[7] = .infinity
        #expect(DieboldMariano.compare(challenger: broken, champion: b, lag: 3) == nil)
        // More lags than rows: capped at n − 1.
        #expect(DieboldMariano.compare(challenger: [0.1, 0.5, 0.2], champion: [0.2, 0.1, 0.3], lag: 10)?.lag == 2)
    }

    @Test("Per-row log-loss clips probabilities as the metrics do")
    func logLoss() {
        let l = DieboldMariano.logLosses([0.9, 0.2, 0, 1], labels: [1, 0, 1, 0])
        #expect(abs(l[0] - -log(0.9)) < 1e-15 && abs(l[1] - -log(0.8)) < 1e-15)
        // 0 becomes 1e-15 and 1 becomes 1 − 1e-15 (whose complement in binary is ≈ 1.11e-15).
        #expect(l[2] == -log(1e-15) && l[3] == -log(1 - (1 - 1e-15)))
    }
}
