import Foundation
import Model
import Testing

@Suite("Isotonic calibration and metrics")
struct CalibrationAndMetricsTests {
    @Test("Pool-adjacent-violators matches hand-computed fits")
    func pav() {
        // 1, 3, 2 → the violating pair pools to 2.5.
        #expect(IsotonicCalibration.poolAdjacentViolators(values: [1, 3, 2], weights: [1, 1, 1]) == [1, 2.5, 2.5])
        // A violation that cascades back: 4, 5, 1 → (4+5+1)/3 everywhere.
        let cascade = IsotonicCalibration.poolAdjacentViolators(values: [4, 5, 1], weights: [1, 1, 1])
        #expect(cascade.allSatisfy { abs($0 - 10.0 / 3) < 1e-15 })
        // Weights: 3 (w 1), 1 (w 3) → (3 + 3) / 4 = 1.5.
        #expect(IsotonicCalibration.poolAdjacentViolators(values: [3, 1], weights: [1, 3]) == [1.5, 1.5])
        // Already monotone input is returned unchanged.
        #expect(IsotonicCalibration.poolAdjacentViolators(values: [0, 0.2, 0.2, 0.9], weights: [1, 1, 1, 1]) == [0, 0.2, 0.2, 0.9])
    }

    @Test("A fitted calibration is monotone, stays in [0, 1], pools equal scores and clips outside its knots")
    func fittedCalibration() {
        var rng = SystemRandomNumberGenerator()
        let scores = (0..<2_000).map { _ in Double.random(in: 0...1, using: &rng) }
        let labels = scores.map { Double.random(in: 0...1, using: &rng) < $0 * $0 ? 1.0 : 0.0 }
        let c = IsotonicCalibration.fit(scores: scores, labels: labels)
        #expect(zip(c.x, c.x.dropFirst()).allSatisfy { $0 < $1 })
        #expect(zip(c.y, c.y.dropFirst()).allSatisfy { $0 <= $1 })
        let grid = stride(from: -0.5, through: 1.5, by: 0.001).map { c.apply($0) }
        #expect(zip(grid, grid.dropFirst()).allSatisfy { $0 <= $1 + 1e-15 })
        #expect(grid.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(c.apply(-1) == c.y.first && c.apply(2) == c.y.last)
        // Equal scores are pooled: two points at 0.5 with labels 0 and 1 give 0.5 there.
        let tie = IsotonicCalibration.fit(scores: [0.2, 0.5, 0.5, 0.8], labels: [0, 0, 1, 1])
        #expect(tie.apply(0.5) == 0.5 && tie.apply(0.2) == 0 && tie.apply(0.8) == 1)
        // Interpolation between knots is linear.
        #expect(abs(tie.apply(0.35) - 0.25) < 1e-15)
    }

    @Test("AUC equals the brute-force count of correctly ordered pairs (ties count one half)")
    func aucBruteForce() {
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<20 {
            let n = 50 + trial * 7
            // Coarse scores so that ties occur.
            let p = (0..<n).map { _ in (Double.random(in: 0...1, using: &rng) * 20).rounded() / 20 }
            let y = p.map { Double.random(in: 0...1, using: &rng) < $0 ? 1.0 : 0.0 }
            var pairs = 0.0
            var good = 0.0
            for i in 0..<n where y[i] == 1 {
                for j in 0..<n where y[j] == 0 {
                    pairs += 1
                    good += p[i] > p[j] ? 1 : (p[i] == p[j] ? 0.5 : 0)
                }
            }
            guard pairs > 0 else { continue }
            #expect(abs(Metrics.auc(p, y) - good / pairs) < 1e-12)
        }
        #expect(Metrics.auc([0.1, 0.2], [1, 1]).isNaN)
    }

    @Test("ECE, Brier and log-loss on a hand-checked case")
    func smallMetrics() {
        let p = [0.05, 0.15, 0.95, 0.95]
        let y = [0.0, 1.0, 1.0, 0.0]
        // Bins: 0 → {0.05|0}, 1 → {0.15|1}, 9 → {0.95, 0.95 | 1, 0}.
        let ece = 0.25 * 0.05 + 0.25 * 0.85 + 0.5 * 0.45
        #expect(abs(Metrics.ece(p, y) - ece) < 1e-15)
        #expect(abs(Metrics.brier(p, y) - (0.0025 + 0.7225 + 0.0025 + 0.9025) / 4) < 1e-15)
        let ll = -(log(0.95) + log(0.15) + log(0.95) + log(0.05)) / 4
        #expect(abs(Metrics.logLoss(p, y) - ll) < 1e-12)
        let (precision, count) = Metrics.precisionAt(p, y, threshold: 0.65)
        #expect(precision == 0.5 && count == 2)
    }
}
