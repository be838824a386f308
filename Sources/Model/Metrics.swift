import Foundation

/// One bin of a reliability table: predictions with p in [lower, upper).
public struct ReliabilityBin: Codable, Equatable, Sendable {
    /// Lower edge of the bin.
    public var lower: Double
    /// Upper edge of the bin.
    public var upper: Double
    /// Rows in the bin.
    public var count: Int
    /// Mean predicted probability in the bin (NaN when empty).
    public var meanPredicted: Double
    /// Observed positive rate in the bin (NaN when empty).
    public var observedRate: Double
}

/// Classification metrics of probabilities against 0/1 labels.
public struct ClassificationMetrics: Codable, Equatable, Sendable {
    /// Area under the ROC curve (ties count one half).
    public var auc: Double
    /// Mean negative log-likelihood, p clipped to [1e-15, 1 − 1e-15].
    public var logLoss: Double
    /// Mean squared error of p.
    public var brier: Double
    /// Expected calibration error over 10 equal-width bins.
    public var ece: Double
    /// Precision among rows with p ≥ threshold (NaN when none).
    public var precisionAtThreshold: Double
    /// Rows with p ≥ threshold.
    public var countAtThreshold: Int
    /// The threshold used.
    public var threshold: Double
    /// Rows.
    public var count: Int
    /// Share of positive labels.
    public var positiveRate: Double
    /// The 10-bin reliability table.
    public var reliability: [ReliabilityBin]
}

/// Metric functions over probabilities `p` and labels `y` ∈ {0, 1}.
public enum Metrics {
    /// All metrics at once.
    public static func classification(_ p: [Double], _ y: [Double], threshold: Double = 0.65) -> ClassificationMetrics {
        let (precision, count) = precisionAt(p, y, threshold: threshold)
        let table = reliability(p, y)
        return ClassificationMetrics(
            auc: auc(p, y),
            logLoss: logLoss(p, y),
            brier: brier(p, y),
            ece: ece(table, total: p.count),
            precisionAtThreshold: precision,
            countAtThreshold: count,
            threshold: threshold,
            count: p.count,
            positiveRate: y.isEmpty ? .nan : y.reduce(0, +) / Double(y.count),
            reliability: table
        )
    }

    /// ROC AUC by the rank-sum (Mann–Whitney) formula with average ranks for ties: O(n log n).
    public static func auc(_ p: [Double], _ y: [Double]) -> Double {
        precondition(p.count == y.count, "one label per prediction")
        let order = p.indices.sorted { p[$0] < p[$1] }
        var rankSumPositive = 0.0
        var positives = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && p[order[j + 1]] == p[order[i]] { j += 1 }
            let averageRank = Double(i + j) / 2 + 1
            for k in i...j where y[order[k]] == 1 {
                rankSumPositive += averageRank
                positives += 1
            }
            i = j + 1
        }
        let negatives = Double(p.count) - positives
        guard positives > 0, negatives > 0 else { return .nan }
        return (rankSumPositive - positives * (positives + 1) / 2) / (positives * negatives)
    }

    /// Mean log-loss with p clipped to [1e-15, 1 − 1e-15].
    public static func logLoss(_ p: [Double], _ y: [Double]) -> Double {
        guard !p.isEmpty else { return .nan }
        var total = 0.0
        for (pi, yi) in zip(p, y) {
            let q = min(max(pi, 1e-15), 1 - 1e-15)
            total -= yi == 1 ? log(q) : log(1 - q)
        }
        return total / Double(p.count)
    }

    /// Mean squared error of the probabilities.
    public static func brier(_ p: [Double], _ y: [Double]) -> Double {
        guard !p.isEmpty else { return .nan }
        var total = 0.0
        for (pi, yi) in zip(p, y) { total += (pi - yi) * (pi - yi) }
        return total / Double(p.count)
    }

    /// The reliability table over `bins` equal-width bins; bin = min(⌊bins·p⌋, bins − 1).
    public static func reliability(_ p: [Double], _ y: [Double], bins: Int = 10) -> [ReliabilityBin] {
        var counts = [Int](repeating: 0, count: bins)
        var sumP = [Double](repeating: 0, count: bins)
        var sumY = [Double](repeating: 0, count: bins)
        for (pi, yi) in zip(p, y) {
            let b = min(max(Int((pi * Double(bins)).rounded(.down)), 0), bins - 1)
            counts[b] += 1
            sumP[b] += pi
            sumY[b] += yi
        }
        return (0..<bins).map { b in
            ReliabilityBin(
                lower: Double(b) / Double(bins),
                upper: Double(b + 1) / Double(bins),
                count: counts[b],
                meanPredicted: counts[b] > 0 ? sumP[b] / Double(counts[b]) : .nan,
                observedRate: counts[b] > 0 ? sumY[b] / Double(counts[b]) : .nan
            )
        }
    }

    /// ECE: Σ n_b/N · |observed_b − predicted_b| over a reliability table.
    public static func ece(_ table: [ReliabilityBin], total: Int) -> Double {
        guard total > 0 else { return .nan }
        var sum = 0.0
        for bin in table where bin.count > 0 {
            sum += Double(bin.count) / Double(total) * abs(bin.observedRate - bin.meanPredicted)
        }
        return sum
    }

    /// ECE of probabilities against labels.
    public static func ece(_ p: [Double], _ y: [Double]) -> Double { ece(reliability(p, y), total: p.count) }

    /// Precision and count of rows with p ≥ threshold.
    public static func precisionAt(_ p: [Double], _ y: [Double], threshold: Double) -> (Double, Int) {
        var selected = 0
        var hits = 0.0
        for (pi, yi) in zip(p, y) where pi >= threshold {
            selected += 1
            hits += yi
        }
        return (selected > 0 ? hits / Double(selected) : .nan, selected)
    }
}
