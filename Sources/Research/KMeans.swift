/// k-means on points in ℝᵈ under the Euclidean distance: k-means++ seeding, Lloyd iterations, the
/// best of several restarts.
///
/// - Seeding (Arthur & Vassilvitskii 2007): the first centre is a point drawn uniformly; each next
///   one is a point drawn with probability proportional to its squared distance to the nearest
///   centre chosen so far. With at least `k` distinct points the `k` centres are distinct points.
/// - Lloyd: assign every point to its nearest centre (the lowest index on an exact tie), move each
///   centre to the mean of its points, repeat until no assignment changes (or `maxIterations`). A
///   cluster left empty takes the point farthest from its own centre among clusters of two or more.
/// - Restarts: `restarts` seedings from one ``SplitMix64`` stream seeded with `seed`; the result with
///   the lowest inertia (sum of squared distances to the own centre) wins, the earliest on a tie.
///
/// The same points, `k`, `restarts` and `seed` give the same result on every platform. Labels are
/// numbered by first appearance in the input (point 0 is in cluster 0), so equal partitions print
/// equally.
public enum KMeans {
    /// A partition of the points.
    public struct Result: Equatable, Sendable {
        /// Clusters.
        public var k: Int
        /// Each point's cluster, 0..<k, numbered by first appearance.
        public var labels: [Int]
        /// Each cluster's centre (the mean of its points), indexed by label.
        public var centroids: [[Double]]
        /// Sum over points of the squared distance to their centre.
        public var inertia: Double
        /// Lloyd iterations of the winning restart.
        public var iterations: Int

        /// Each cluster's size, indexed by label.
        public var sizes: [Int] {
            var sizes = [Int](repeating: 0, count: k)
            for label in labels { sizes[label] += 1 }
            return sizes
        }
    }

    /// Distinct points (exact equality) among `points`: the largest `k` that can give `k`
    /// non-empty clusters.
    public static func distinctCount(_ points: [[Double]]) -> Int { Set(points).count }

    /// Clusters `points` into `k` groups.
    ///
    /// - Precondition: every point has the same length; 1 ≤ `k` ≤ ``distinctCount(_:)``;
    ///   `restarts` ≥ 1; `maxIterations` ≥ 1.
    public static func fit(
        _ points: [[Double]],
        k: Int,
        restarts: Int = 10,
        maxIterations: Int = 100,
        seed: UInt64 = 1
    ) -> Result {
        precondition(!points.isEmpty, "k-means needs points")
        let d = points[0].count
        precondition(points.allSatisfy { $0.count == d }, "every point must have the same length")
        precondition(k >= 1 && k <= distinctCount(points), "k must lie in 1…(distinct points)")
        precondition(restarts >= 1 && maxIterations >= 1, "restarts and maxIterations must be ≥ 1")
        var random = SplitMix64(seed: seed)
        var best = lloyd(points, centres: seedPlusPlus(points, k: k, random: &random), maxIterations: maxIterations)
        for _ in 1..<restarts {
            let result = lloyd(points, centres: seedPlusPlus(points, k: k, random: &random), maxIterations: maxIterations)
            if result.inertia < best.inertia { best = result }
        }
        return canonical(best)
    }

    /// Squared Euclidean distance.
    @inline(__always)
    static func squaredDistance(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for j in 0..<a.count {
            let t = a[j] - b[j]
            s += t * t
        }
        return s
    }

    /// A uniform double in [0, 1) from the top 53 bits.
    static func unit(_ random: inout SplitMix64) -> Double { Double(random.next() >> 11) * 0x1p-53 }

    /// k-means++ seeding: `k` distinct points as centres.
    static func seedPlusPlus(_ points: [[Double]], k: Int, random: inout SplitMix64) -> [[Double]] {
        var centres = [points[random.below(points.count)]]
        var nearest = points.map { squaredDistance($0, centres[0]) }
        while centres.count < k {
            let total = nearest.reduce(0, +)
            // Points at distance 0 (a centre or its duplicate) have no chance; at least one point is
            // farther, since there are at least k distinct points.
            let target = unit(&random) * total
            var cumulative = 0.0
            var chosen = nearest.lastIndex { $0 > 0 }!
            for (i, w) in nearest.enumerated() where w > 0 {
                cumulative += w
                if cumulative > target {
                    chosen = i
                    break
                }
            }
            centres.append(points[chosen])
            for i in points.indices { nearest[i] = min(nearest[i], squaredDistance(points[i], points[chosen])) }
        }
        return centres
    }

    /// Lloyd iterations from `centres` until no assignment changes.
    static func lloyd(_ points: [[Double]], centres start: [[Double]], maxIterations: Int) -> Result {
        let k = start.count
        let d = points[0].count
        var centres = start
        var labels = [Int](repeating: -1, count: points.count)
        var iterations = 0
        while iterations < maxIterations {
            iterations += 1
            var changed = false
            for (i, p) in points.enumerated() {
                var bestLabel = 0
                var bestDistance = squaredDistance(p, centres[0])
                for c in 1..<k {
                    let dist = squaredDistance(p, centres[c])
                    if dist < bestDistance {
                        bestDistance = dist
                        bestLabel = c
                    }
                }
                if labels[i] != bestLabel {
                    labels[i] = bestLabel
                    changed = true
                }
            }
            // An empty cluster takes the point farthest from its centre among clusters of two or more.
            var sizes = [Int](repeating: 0, count: k)
            for label in labels { sizes[label] += 1 }
            for c in 0..<k where sizes[c] == 0 {
                var far = -1
                var farDistance = -1.0
                for (i, p) in points.enumerated() where sizes[labels[i]] > 1 {
                    let dist = squaredDistance(p, centres[labels[i]])
                    if dist > farDistance {
                        farDistance = dist
                        far = i
                    }
                }
                guard far >= 0 else { break }
                sizes[labels[far]] -= 1
                labels[far] = c
                sizes[c] = 1
                changed = true
            }
            var sums = [[Double]](repeating: [Double](repeating: 0, count: d), count: k)
            for (i, p) in points.enumerated() {
                for j in 0..<d { sums[labels[i]][j] += p[j] }
            }
            for c in 0..<k where sizes[c] > 0 {
                centres[c] = sums[c].map { $0 / Double(sizes[c]) }
            }
            if !changed { break }
        }
        var inertia = 0.0
        for (i, p) in points.enumerated() { inertia += squaredDistance(p, centres[labels[i]]) }
        return Result(k: k, labels: labels, centroids: centres, inertia: inertia, iterations: iterations)
    }

    /// The same partition with labels numbered by first appearance.
    static func canonical(_ result: Result) -> Result {
        var map = [Int](repeating: -1, count: result.k)
        var next = 0
        for label in result.labels where map[label] < 0 {
            map[label] = next
            next += 1
        }
        // Every cluster is non-empty, so every old label is mapped; an unmapped one would keep its order after the rest.
        for c in 0..<result.k where map[c] < 0 {
            map[c] = next
            next += 1
        }
        var centroids = result.centroids
        for c in 0..<result.k { centroids[map[c]] = result.centroids[c] }
        var out = result
        out.labels = result.labels.map { map[$0] }
        out.centroids = centroids
        return out
    }
}
