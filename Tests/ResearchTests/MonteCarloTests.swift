import Foundation
import Research
import Testing

@Suite("Monte Carlo on a run's trades")
struct MonteCarloTests {
    private let trades: [Double] = [120, -80, 45, -30, 200, -150, 60, -40, 15, -90, 130, -20, 70, -60, 10]

    @Test("The same seed gives the same bands and paths; another seed other paths")
    func reproducible() {
        for method in MonteCarlo.Method.allCases {
            let a = MonteCarlo.run(tradePnL: trades, capital: 10_000, method: method, paths: 2_000, seed: 7)
            let b = MonteCarlo.run(tradePnL: trades, capital: 10_000, method: method, paths: 2_000, seed: 7)
            let c = MonteCarlo.run(tradePnL: trades, capital: 10_000, method: method, paths: 2_000, seed: 8)
            #expect(a == b)
            #expect(a.drawdowns != c.drawdowns)
            #expect(a.totalReturn.p5 <= a.totalReturn.p50 && a.totalReturn.p50 <= a.totalReturn.p95)
            #expect(a.maxDrawdown.p5 <= a.maxDrawdown.p50 && a.maxDrawdown.p50 <= a.maxDrawdown.p95)
        }
    }

    @Test("A reshuffle keeps every path's return (the same trades) and varies only the drawdown; a bootstrap's median return is near the run's")
    func methods() {
        let total = trades.reduce(0, +) / 10_000
        let shuffled = MonteCarlo.run(tradePnL: trades, capital: 10_000, method: .reshuffle, paths: 1_000, seed: 3)
        #expect(shuffled.returns.allSatisfy { abs($0 - total) < 1e-12 })
        #expect(shuffled.maxDrawdown.p95 > shuffled.maxDrawdown.p5)
        let boot = MonteCarlo.run(tradePnL: trades, capital: 10_000, method: .bootstrap, paths: 20_000, seed: 3)
        #expect(abs(boot.totalReturn.p50 - total) < 0.01)
        #expect(boot.totalReturn.p5 < total && total < boot.totalReturn.p95)
    }

    @Test("Drawdowns by hand: over every order of +100, −300, +50, −100 from 1,000 the deepest fall is 400/1,000 (both losses first) and the mildest 300/1,050 (−100, +50, +100, then −300 from the peak of 1,050); percentiles interpolate as numpy's")
    func drawdownByHand() {
        // 24 orders; 5,000 reshuffles meet them all.
        let r = MonteCarlo.run(tradePnL: [100, -300, 50, -100], capital: 1_000, method: .reshuffle, paths: 5_000, seed: 1)
        #expect(abs((r.drawdowns.max() ?? 0) - 0.4) < 1e-12)
        #expect(abs((r.drawdowns.min() ?? 0) - 2.0 / 7) < 1e-12)
        #expect(MonteCarlo.bands([1, 2, 3, 4, 5]) == MonteCarlo.Bands(p5: 1.2, p50: 3, p95: 4.8))
    }
}
