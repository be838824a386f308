import Foundation
import Research
import Testing

/// A deterministic normal generator for test data (SplitMix64 bits, Box–Muller).
private struct Normals {
    var state: UInt64

    mutating func bits() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform() -> Double { (Double(bits() >> 11) + 0.5) * 0x1p-53 }

    mutating func next() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()) }
}

/// Labels renumbered by first appearance, so two labellings of one partition compare equal.
private func canonical(_ labels: [Int]) -> [Int] {
    var map: [Int: Int] = [:]
    return labels.map { label in
        if let m = map[label] { return m }
        map[label] = map.count
        return map.count - 1
    }
}

@Suite("Clustering: standardisation, k-means, silhouettes, partition agreement")
struct ClusteringTests {
    /// Three tight blobs far apart in the plane, interleaved in the input; the truth per point.
    private static func blobs() -> (points: [[Double]], truth: [Int]) {
        let centres: [[Double]] = [[0, 0], [10, 10], [-10, 10]]
        var normals = Normals(state: 11)
        var points: [[Double]] = []
        var truth: [Int] = []
        for i in 0..<24 {
            let c = (i * 7) % 3
            points.append([centres[c][0] + 0.3 * normals.next(), centres[c][1] + 0.3 * normals.next()])
            truth.append(c)
        }
        return (points, truth)
    }

    @Test("Z-scores: a column of 1, 2, 3 becomes −√1.5, 0, √1.5 (population SD); a constant column stays 0")
    func standardisation() {
        let rows: [[Double]] = [[1, 5], [2, 5], [3, 5]]
        let s = Standardization(fitting: rows)
        #expect(s.means == [2, 5])
        #expect(abs(s.deviations[0] - (2.0 / 3).squareRoot()) < 1e-15)
        #expect(s.deviations[1] == 0)
        let z = s.apply(rows: rows)
        #expect(abs(z[0][0] + 1.5.squareRoot()) < 1e-12 && z[1][0] == 0 && abs(z[2][0] - 1.5.squareRoot()) < 1e-12)
        #expect(z.allSatisfy { $0[1] == 0 })
    }

    @Test("Three well-separated blobs are recovered exactly by k-means with k = 3, and the silhouette picks k = 3")
    func blobsRecovered() {
        let (points, truth) = Self.blobs()
        let result = KMeans.fit(points, k: 3, restarts: 5, seed: 3)
        #expect(result.labels == canonical(truth))
        #expect(result.sizes == [8, 8, 8])
        for (label, centre) in result.centroids.enumerated() {
            let members = points.indices.filter { result.labels[$0] == label }
            let mean = [0, 1].map { j in members.map { points[$0][j] }.reduce(0, +) / Double(members.count) }
            #expect(abs(centre[0] - mean[0]) < 1e-12 && abs(centre[1] - mean[1]) < 1e-12)
        }
        let choice = Silhouette.chooseClusterCount(points, kMax: 6, seed: 3)
        #expect(choice.k == 3)
        #expect(choice.scores.map(\.k) == [2, 3, 4, 5, 6])
        #expect(choice.best?.k == 3 && (choice.best?.silhouette ?? 0) > 0.9)
        #expect(choice.clustering.labels == canonical(truth))
    }

    @Test("Silhouette by hand on 0, 1, 5, 7 split {0, 1} {5, 7}: 5/6, 4/5, 5/9, 9/13; with 7 alone: 4/7, 7/12, −5/9, 0")
    func silhouetteByHand() {
        let points: [[Double]] = [[0], [1], [5], [7]]
        let s = Silhouette.values(points, labels: [0, 0, 1, 1])
        let want = [5.0 / 6, 4.0 / 5, 5.0 / 9, 9.0 / 13]
        for (a, b) in zip(s, want) { #expect(abs(a - b) < 1e-12) }
        #expect(abs(Silhouette.mean(points, labels: [0, 0, 1, 1]) - want.reduce(0, +) / 4) < 1e-12)
        let t = Silhouette.values(points, labels: [0, 0, 0, 1])
        let wantSingleton = [4.0 / 7, 7.0 / 12, -5.0 / 9, 0]
        for (a, b) in zip(t, wantSingleton) { #expect(abs(a - b) < 1e-12) }
    }

    @Test("One blob gives k = 1: points all equally far apart (silhouette 0 at every k), and a Gaussian blob in 8 dimensions")
    func oneBlob() {
        let simplex = (0..<6).map { i in (0..<6).map { $0 == i ? 1.0 : 0.0 } }
        let flat = Silhouette.chooseClusterCount(simplex, kMax: 6, seed: 1)
        #expect(flat.k == 1)
        #expect(flat.scores.allSatisfy { abs($0.silhouette) < 1e-12 })
        #expect(flat.clustering.labels == [Int](repeating: 0, count: 6))
        #expect(flat.reason.contains("below 0.250"))

        var normals = Normals(state: 5)
        let blob = (0..<40).map { _ in (0..<8).map { _ in normals.next() } }
        let choice = Silhouette.chooseClusterCount(blob, kMax: 6, seed: 1)
        #expect(choice.k == 1, "best \(String(describing: choice.best))")
        #expect((choice.best?.silhouette ?? 1) < Silhouette.noStructureCutoff)
    }

    @Test("Too few points or one distinct point: k = 1 without candidates, and the reason says which")
    func degenerate() {
        let two = Silhouette.chooseClusterCount([[0, 0], [5, 5]], kMax: 6)
        #expect(two.k == 1 && two.scores.isEmpty && two.reason.contains("at least 3"))
        let same = Silhouette.chooseClusterCount([[1, 2], [1, 2], [1, 2], [1, 2]], kMax: 6)
        #expect(same.k == 1 && same.scores.isEmpty && same.reason.contains("same parameters"))
        #expect(same.clustering.centroids == [[1, 2]])
        // k may not exceed the distinct points: two distinct values allow k = 2 only.
        let duplicates: [[Double]] = [[0], [0], [0], [9], [9], [9]]
        let d = Silhouette.chooseClusterCount(duplicates, kMax: 6)
        #expect(d.scores.map(\.k) == [2] && d.k == 2 && d.clustering.labels == [0, 0, 0, 1, 1, 1])
    }

    @Test("The same seed gives the same partition, centroids and inertia; several restarts never do worse than one")
    func deterministic() {
        var normals = Normals(state: 21)
        let points = (0..<30).map { _ in (0..<3).map { _ in normals.next() } }
        let a = KMeans.fit(points, k: 4, restarts: 8, seed: 42)
        let b = KMeans.fit(points, k: 4, restarts: 8, seed: 42)
        #expect(a == b)
        #expect(Silhouette.chooseClusterCount(points, kMax: 5, seed: 9) == Silhouette.chooseClusterCount(points, kMax: 5, seed: 9))
        let single = KMeans.fit(points, k: 4, restarts: 1, seed: 42)
        #expect(a.inertia <= single.inertia + 1e-12)
        #expect(a.labels.first == 0 && Set(a.labels) == [0, 1, 2, 3])
    }

    @Test("Adjusted Rand index by hand: {0,0,1,1} against {0,0,1,2} is 4/7, against {0,1,0,1} is −1/2; renamed labels give 1")
    func adjustedRandByHand() {
        #expect(abs(PartitionAgreement.adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 2]) - 4.0 / 7) < 1e-12)
        #expect(abs(PartitionAgreement.adjustedRandIndex([0, 0, 1, 1], [0, 1, 0, 1]) + 0.5) < 1e-12)
        #expect(PartitionAgreement.adjustedRandIndex([0, 0, 1, 2], ["b", "b", "a", "c"]) == 1)
        #expect(PartitionAgreement.adjustedRandIndex([0, 0, 0], ["x", "x", "x"]) == 1)
        // One cluster against a factor that splits: the pairs agree only as chance predicts.
        #expect(PartitionAgreement.adjustedRandIndex([0, 0, 0, 0], ["a", "a", "b", "b"]) == 0)
    }

    @Test("The permutation test: clusters that are the factor have a small p; clusters crossing it a large one")
    func permutationTest() {
        let clusters = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
        let same = PartitionAgreement.test(clusters, against: ["F", "F", "F", "F", "N", "N", "N", "N", "A", "A", "A", "A"], permutations: 999, seed: 1)
        #expect(same.ari == 1 && same.pValue < 0.01)
        let crossing = PartitionAgreement.test(clusters, against: [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3], permutations: 999, seed: 1)
        #expect(crossing.ari < 0 && crossing.pValue > 0.5)
        #expect(crossing == PartitionAgreement.test(clusters, against: [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3], permutations: 999, seed: 1))
    }

    @Test("The reading: one cluster, neither factor, one of them, both with the stronger first")
    func reading() {
        let strong = PartitionAgreement.Agreement(ari: 0.6, pValue: 0.001, permutations: 999)
        let weaker = PartitionAgreement.Agreement(ari: 0.3, pValue: 0.02, permutations: 999)
        let none = PartitionAgreement.Agreement(ari: 0.02, pValue: 0.4, permutations: 999)
        #expect(PartitionAgreement.reading(clusters: 1, symbol: strong, period: none).hasPrefix("One cluster"))
        #expect(PartitionAgreement.reading(clusters: 2, symbol: none, period: none).contains("follow neither"))
        #expect(PartitionAgreement.reading(clusters: 2, symbol: strong, period: none).hasPrefix("The clusters follow the symbol"))
        #expect(PartitionAgreement.reading(clusters: 3, symbol: none, period: strong).hasPrefix("The clusters follow the period"))
        #expect(PartitionAgreement.reading(clusters: 3, symbol: weaker, period: strong).contains("both, the period more"))
    }
}
