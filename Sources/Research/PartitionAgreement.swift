import Foundation

/// How far one partition of a set follows another: the adjusted Rand index (Hubert & Arabie
/// 1985) and a permutation test of it.
///
/// Used to say whether clusters of symbol-months follow the symbol (units of one symbol together)
/// or the period (units of one month together): the ARI of the cluster labels against the symbol
/// labels, and against the month labels. The ARI is chosen over purity because it is corrected for
/// chance: 0 is what random labels with the same cluster sizes give on average, 1 is the same
/// partition, and a factor with many levels (every unit its own month) does not score high merely
/// by having small groups, as purity would.
public enum PartitionAgreement {
    /// The adjusted Rand index of two labellings of the same items.
    ///
    /// With n_ij the items labelled i in `a` and j in `b`, a_i and b_j the margins and C(x, 2) the
    /// pairs among x: ARI = (Σ C(n_ij, 2) − E) / (½ (Σ C(a_i, 2) + Σ C(b_j, 2)) − E), where
    /// E = Σ C(a_i, 2) · Σ C(b_j, 2) / C(n, 2). When the denominator is 0 both labellings put every
    /// item together, or every item apart: the same partition, ARI = 1 (scikit-learn's convention).
    ///
    /// - Precondition: the same number of labels, at least 2.
    public static func adjustedRandIndex<A: Hashable, B: Hashable>(_ a: [A], _ b: [B]) -> Double {
        precondition(a.count == b.count && a.count >= 2, "two labellings of the same ≥ 2 items")
        func pairs(_ x: Int) -> Double { Double(x) * Double(x - 1) / 2 }
        var cells: [Pair<A, B>: Int] = [:]
        var rows: [A: Int] = [:]
        var columns: [B: Int] = [:]
        for (x, y) in zip(a, b) {
            cells[Pair(first: x, second: y), default: 0] += 1
            rows[x, default: 0] += 1
            columns[y, default: 0] += 1
        }
        let index = cells.values.reduce(0) { $0 + pairs($1) }
        let sumA = rows.values.reduce(0) { $0 + pairs($1) }
        let sumB = columns.values.reduce(0) { $0 + pairs($1) }
        let expected = sumA * sumB / pairs(a.count)
        let maximum = (sumA + sumB) / 2
        guard maximum - expected != 0 else { return 1 }
        return (index - expected) / (maximum - expected)
    }

    /// An ARI and how often chance reaches it.
    public struct Agreement: Equatable, Sendable, Codable {
        /// The adjusted Rand index.
        public var ari: Double
        /// The permutation p-value: (1 + permutations whose ARI ≥ the observed one) / (1 + permutations).
        public var pValue: Double
        /// Permutations drawn.
        public var permutations: Int

        /// An agreement from its figures.
        public init(ari: Double, pValue: Double, permutations: Int) {
            self.ari = ari
            self.pValue = pValue
            self.permutations = permutations
        }
    }

    /// The ARI of `clusters` against `factor`, and a permutation test: `factor` shuffled over the
    /// items `permutations` times (Fisher–Yates from a ``SplitMix64`` seeded with `seed`), which
    /// keeps both partitions' group sizes and breaks only their link.
    public static func test<A: Hashable, B: Hashable>(
        _ clusters: [A],
        against factor: [B],
        permutations: Int = 9_999,
        seed: UInt64 = 1
    ) -> Agreement {
        precondition(permutations >= 1, "at least one permutation")
        let observed = adjustedRandIndex(clusters, factor)
        var random = SplitMix64(seed: seed)
        var shuffled = factor
        var atLeast = 0
        for _ in 0..<permutations {
            for i in stride(from: shuffled.count - 1, to: 0, by: -1) { shuffled.swapAt(i, random.below(i + 1)) }
            // A tolerance for ties: the same partition reached by another shuffle gives the same
            // ARI up to rounding.
            if adjustedRandIndex(clusters, shuffled) >= observed - 1e-12 { atLeast += 1 }
        }
        return Agreement(ari: observed, pValue: Double(1 + atLeast) / Double(1 + permutations), permutations: permutations)
    }

    /// One sentence on whether clusters follow the symbol or the period.
    ///
    /// The rule: with one cluster there is no structure to attribute. Otherwise a factor is
    /// followed when its ARI is positive and its permutation p-value is below `alpha`; with both
    /// followed, the one with the higher ARI is named first.
    public static func reading(clusters k: Int, symbol: Agreement, period: Agreement, alpha: Double = 0.05) -> String {
        guard k > 1 else {
            return "One cluster: the chosen parameters show no structure, so they follow neither the symbol nor the period."
        }
        func figures(_ a: Agreement) -> String { String(format: "ARI %.2f, p = %.3f", a.ari, a.pValue) }
        let followsSymbol = symbol.ari > 0 && symbol.pValue < alpha
        let followsPeriod = period.ari > 0 && period.pValue < alpha
        switch (followsSymbol, followsPeriod) {
        case (false, false):
            return
                "The clusters follow neither the symbol (\(figures(symbol))) nor the period (\(figures(period))): membership is no closer to either than chance."
        case (true, false):
            return "The clusters follow the symbol (\(figures(symbol))), not the period (\(figures(period)))."
        case (false, true):
            return "The clusters follow the period (\(figures(period))), not the symbol (\(figures(symbol)))."
        case (true, true):
            let (first, firstA, second, secondA) =
                period.ari >= symbol.ari
                ? ("period", period, "symbol", symbol) : ("symbol", symbol, "period", period)
            return
                "The clusters follow both, the \(first) more (\(figures(firstA))) than the \(second) (\(figures(secondA)))."
        }
    }
}

/// Two labels as one dictionary key.
private struct Pair<A: Hashable, B: Hashable>: Hashable {
    var first: A
    var second: B
}
