import Foundation
import Research
import Testing

/// Normal draws from a seeded stream (Box–Muller), the same every run.
private struct Noise {
    var state: UInt64
    mutating func uniform() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (Double((z ^ (z >> 31)) >> 11) + 0.5) / Double(1 << 53)
    }
    mutating func normal() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform()) }
}

@Suite("Probabilistic and deflated Sharpe ratios")
struct SharpeStatisticsTests {
    @Test("The deflated Sharpe ratio of Bailey & López de Prado's numerical example: SR 2.5 a year over 1,250 days, 100 trials of variance 0.5, skew −3, kurtosis 10 → SR₀ 0.1132, DSR 0.9004 (scipy gives 0.11317200186513 and 0.90039683444939)")
    func publishedExample() {
        let sharpe = 2.5 / 250.0.squareRoot()
        let sr0 = SharpeStatistics.expectedMaximumSharpe(trials: 100, variance: 0.5 / 250)
        #expect(abs(sr0 - 0.113_172_001_865_132_14) < 1e-12)
        let dsr = SharpeStatistics.deflatedSharpe(
            sharpe: sharpe, observations: 1_250, skewness: -3, kurtosis: 10, trials: 100, trialSharpeVariance: 0.5 / 250
        )
        #expect(abs(dsr - 0.900_396_834_449_390_3) < 1e-9)
        // Against zero the same track record looks near certain: deflation is what tempers it.
        let psr = SharpeStatistics.probabilisticSharpe(sharpe: sharpe, benchmark: 0, observations: 1_250, skewness: -3, kurtosis: 10)
        #expect(abs(psr - 0.999_996_859_507_897_6) < 1e-9)
    }

    @Test("The normal quantile is scipy's to 1e-12, in the tails too")
    func quantile() {
        #expect(abs(SharpeStatistics.inverseNormalCDF(0.975) - 1.959_963_984_540_054) < 1e-12)
        #expect(abs(SharpeStatistics.inverseNormalCDF(0.3) - -0.524_400_512_708_040_9) < 1e-12)
        #expect(abs(SharpeStatistics.inverseNormalCDF(1e-10) - -6.361_340_902_404_056) < 1e-9)
    }

    @Test("The best of 50 noise strategies looks significant alone (PSR against 0) but its deflated Sharpe ratio is not; a real edge stays significant after deflation")
    func noiseSweep() throws {
        var noise = Noise(state: 2026)
        let observations = 1_000
        let trials = (0..<50).map { _ in (0..<observations).map { _ in 0.01 * noise.normal() } }
        let moments = try trials.map { try #require(SharpeStatistics.moments($0)) }
        let sharpes = moments.map(\.sharpe)
        let best = try #require(moments.max { $0.sharpe < $1.sharpe })
        let mean = sharpes.reduce(0, +) / Double(sharpes.count)
        let variance = sharpes.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(sharpes.count - 1)
        let psr = SharpeStatistics.probabilisticSharpe(
            sharpe: best.sharpe, benchmark: 0, observations: observations, skewness: best.skewness, kurtosis: best.kurtosis
        )
        let dsr = SharpeStatistics.deflatedSharpe(
            sharpe: best.sharpe, observations: observations, skewness: best.skewness, kurtosis: best.kurtosis,
            trials: 50, trialSharpeVariance: variance
        )
        #expect(psr > 0.95, "the luckiest of 50 passes a naive test: \(psr)")
        #expect(dsr < 0.95, "deflated: \(dsr)")

        // The same sweep with one strategy that has an edge (mean 0.2 standard deviations).
        let edge = (0..<observations).map { _ in 0.01 * (0.2 + noise.normal()) }
        let e = try #require(SharpeStatistics.moments(edge))
        let withEdge = sharpes + [e.sharpe]
        let m = withEdge.reduce(0, +) / Double(withEdge.count)
        let v = withEdge.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(withEdge.count - 1)
        let real = SharpeStatistics.deflatedSharpe(
            sharpe: e.sharpe, observations: observations, skewness: e.skewness, kurtosis: e.kurtosis, trials: 51, trialSharpeVariance: v
        )
        #expect(real > 0.95, "a real edge: \(real)")
    }

    @Test("Moments of a known series; too short a series has none")
    func moments() throws {
        let m = try #require(SharpeStatistics.moments([1, 2, 3, 4, 10]))
        #expect(m.mean == 4)
        #expect(abs(m.standardDeviation - 12.5.squareRoot()) < 1e-12)
        // numpy/scipy: skew([1,2,3,4,10]) = 1.1384199576606167, kurtosis(fisher=False) = 2.788
        #expect(abs(m.skewness - 1.138_419_957_660_616_7) < 1e-12)
        #expect(abs(m.kurtosis - 2.788) < 1e-12)
        #expect(SharpeStatistics.moments([1]) == nil)
    }
}
