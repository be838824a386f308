import Foundation

/// Silhouettes (Rousseeuw 1987) of a partition under the Euclidean distance, and the number of
/// k-means clusters they choose.
///
/// For a point i in cluster A: a(i) is its mean distance to the other points of A, b(i) the
/// smallest mean distance to the points of another cluster, and s(i) = (b − a) / max(a, b)
/// (0 when both are 0). A point alone in its cluster has s(i) = 0, Rousseeuw's convention. The
/// mean silhouette is the mean of s(i) over all points, in [−1, 1].
public enum Silhouette {
    /// The mean silhouette below which a partition counts as no structure: Kaufman & Rousseeuw
    /// (*Finding Groups in Data*, 1990, ch. 2) read an overall silhouette ≤ 0.25 as "no substantial
    /// structure has been found" (0.26–0.50 weak, 0.51–0.70 reasonable, > 0.70 strong).
    public static let noStructureCutoff = 0.25

    /// Each point's silhouette.
    ///
    /// - Precondition: as many labels as points; labels 0..<k with k ≥ 2 clusters present.
    public static func values(_ points: [[Double]], labels: [Int]) -> [Double] {
        precondition(points.count == labels.count, "one label per point")
        let k = (labels.max() ?? 0) + 1
        precondition(Set(labels).count >= 2, "a silhouette needs at least two clusters")
        var sizes = [Int](repeating: 0, count: k)
        for label in labels { sizes[label] += 1 }
        return points.indices.map { i in
            guard sizes[labels[i]] > 1 else { return 0 }
            var sums = [Double](repeating: 0, count: k)
            for j in points.indices where j != i {
                sums[labels[j]] += KMeans.squaredDistance(points[i], points[j]).squareRoot()
            }
            let a = sums[labels[i]] / Double(sizes[labels[i]] - 1)
            var b = Double.infinity
            for c in 0..<k where c != labels[i] && sizes[c] > 0 { b = min(b, sums[c] / Double(sizes[c])) }
            let scale = max(a, b)
            return scale > 0 ? (b - a) / scale : 0
        }
    }

    /// The mean silhouette of a partition.
    public static func mean(_ points: [[Double]], labels: [Int]) -> Double {
        let s = values(points, labels: labels)
        return s.reduce(0, +) / Double(s.count)
    }

    /// One candidate number of clusters and its mean silhouette.
    public struct Score: Equatable, Sendable {
        /// Clusters.
        public var k: Int
        /// Mean silhouette of the k-means partition with `k` clusters.
        public var silhouette: Double
    }

    /// The number of clusters chosen, why, and the partition.
    public struct Choice: Equatable, Sendable {
        /// The chosen number of clusters (1: no structure).
        public var k: Int
        /// Every candidate tried, in order of k (empty when none could be tried).
        public var scores: [Score]
        /// The candidate with the highest mean silhouette (nil when none was tried).
        public var best: Score?
        /// The cut-off the best silhouette had to reach.
        public var cutoff: Double
        /// The k-means partition with ``k`` clusters.
        public var clustering: KMeans.Result
        /// Why this k, in words.
        public var reason: String
    }

    /// Chooses the number of k-means clusters of `points` by the mean silhouette.
    ///
    /// The rule: every k from 2 to min(`kMax`, n − 1, distinct points) is clustered with
    /// ``KMeans/fit(_:k:restarts:maxIterations:seed:)`` (same `restarts` and `seed`); the k with the
    /// highest mean silhouette wins (the smaller k on a tie). If that silhouette is below `cutoff`
    /// (default ``noStructureCutoff``), or no k could be tried (fewer than 3 points, or fewer than
    /// 2 distinct ones), k = 1: one cluster holding every point.
    public static func chooseClusterCount(
        _ points: [[Double]],
        kMax: Int,
        cutoff: Double = noStructureCutoff,
        restarts: Int = 10,
        seed: UInt64 = 1
    ) -> Choice {
        precondition(!points.isEmpty, "clustering needs points")
        let distinct = KMeans.distinctCount(points)
        let top = min(kMax, points.count - 1, distinct)
        var scores: [Score] = []
        var partitions: [Int: KMeans.Result] = [:]
        if top >= 2 {
            for k in 2...top {
                let result = KMeans.fit(points, k: k, restarts: restarts, seed: seed)
                partitions[k] = result
                scores.append(Score(k: k, silhouette: mean(points, labels: result.labels)))
            }
        }
        var best: Score?
        for s in scores where best == nil || s.silhouette > best!.silhouette { best = s }
        let one = KMeans.fit(points, k: 1, restarts: 1, seed: seed)
        guard let best else {
            let why =
                points.count < 3
                ? "\(points.count) units: at least 3 are needed to compare k ≥ 2 by silhouette"
                : "every unit chose the same parameters"
            return Choice(k: 1, scores: [], best: nil, cutoff: cutoff, clustering: one, reason: why)
        }
        let shown = Self.format(best.silhouette)
        if best.silhouette < cutoff {
            return Choice(
                k: 1,
                scores: scores,
                best: best,
                cutoff: cutoff,
                clustering: one,
                reason:
                    "the best mean silhouette, \(shown) at k = \(best.k), is below \(Self.format(cutoff)) (no substantial structure, Kaufman & Rousseeuw)"
            )
        }
        return Choice(
            k: best.k,
            scores: scores,
            best: best,
            cutoff: cutoff,
            clustering: partitions[best.k]!,
            reason:
                "the highest mean silhouette, \(shown) at k = \(best.k), reaches the cut-off \(Self.format(cutoff))"
        )
    }

    /// Three decimals.
    static func format(_ x: Double) -> String { String(format: "%.3f", x) }
}
