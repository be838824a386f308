import LinearAlgebra
@testable import Model
import Testing

@Suite("Drift reference")
struct FeatureReferenceTests {
    /// A column mixing missing values, ties, negatives, both zeros and infinities.
    private func awkwardMatrix(rows: Int, columns: Int, seed: UInt64) -> Matrix<Float> {
        var state = seed
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        var values: [Float] = []
        for _ in 0..<(rows * columns) {
            switch next() % 10 {
            case 0: values.append(.nan)
            case 1: values.append(Float(Int(next() % 7)) - 3)  // ties
            case 2: values.append(next() % 2 == 0 ? 0 : -0.0)
            case 3: values.append(next() % 2 == 0 ? .infinity : -.infinity)
            default: values.append(Float(Double(next() % 2_000_001) / 1_000 - 1_000) * 1.37)
            }
        }
        return Matrix(rows: rows, columns: columns, storage: values)
    }

    @Test("The radix-sorted column is the comparison sort of its present values, so the deciles are the same order statistics")
    func radixSortMatchesComparisonSort() {
        let m = awkwardMatrix(rows: 5_003, columns: 5, seed: 11)
        for c in 0..<m.columns {
            let want = (0..<m.rows).map { m.storage[$0 * m.columns + c] }.filter { !$0.isNaN }.sorted()
            let got = FeatureReference.sortedPresent(m, c)
            #expect(got.count == want.count)
            #expect(zip(got, want).allSatisfy { $0 == $1 }, "column \(c)")
        }
        let reference = FeatureReference.fit(m)
        for c in 0..<m.columns {
            let present = (0..<m.rows).map { Double(m.storage[$0 * m.columns + c]) }.filter { !$0.isNaN }.sorted()
            var edges: [Double] = []
            for k in 1..<10 {
                let q = present[min(present.count - 1, present.count * k / 10)]
                if edges.last.map({ q > $0 }) ?? true { edges.append(q) }
            }
            #expect(reference.edges[c] == edges, "column \(c)")
        }
    }

    @Test("A column with no present value has no edges and every row in the missing bin")
    func allMissing() {
        let m = Matrix<Float>(rows: 4, columns: 1, storage: [.nan, .nan, .nan, .nan])
        #expect(FeatureReference.sortedPresent(m, 0).isEmpty)
        let reference = FeatureReference.fit(m)
        #expect(reference.edges[0].isEmpty)
        #expect(reference.bin(feature: 0, value: .nan) == 1)
    }
}
