import Features
import Foundation
import LinearAlgebra
import ScalperCore
import ScalperTestSupport
import Testing

@Suite("Features match the TA-Lib golden file")
struct GoldenParityTests {
    static let golden: GoldenFeatures? = try? GoldenFeatures.load()

    @Test("Every feature matches the golden on every row, NaN pattern included (strict mode)", arguments: FeatureSpec.names)
    func feature(name: String) throws {
        let golden = try #require(Self.golden, "cannot read \(GoldenFeatures.bundledPath.path)")
        let table = try BatchFeatures.compute(golden.klines, label: .default)
        let column = try #require(FeatureSpec.names.firstIndex(of: name))
        let expected = try #require(golden.columns[name])
        var mismatches: [String] = []
        for row in 0..<expected.count where !GoldenFeatures.matches(table.features[row, column], expected[row]) {
            mismatches.append("row \(row): got \(table.features[row, column]), golden \(expected[row])")
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) rows differ; first: \(mismatches.prefix(5))")
    }

    @Test("The label matches the golden exactly, including the last H rows left empty")
    func label() throws {
        let golden = try #require(Self.golden)
        let table = try BatchFeatures.compute(golden.klines, label: .default)
        let labels = try #require(table.labels)
        let expected = try #require(golden.columns["label"])
        var differing = 0
        for (a, g) in zip(labels, expected) where !(a == g || (a.isNaN && g.isNaN)) { differing += 1 }
        #expect(differing == 0)
        #expect(labels.suffix(3).allSatisfy { $0.isNaN })
        #expect(labels.filter { $0 == 1 }.count == expected.filter { $0 == 1 }.count)
    }

    @Test("The bundled golden is the shared golden file byte for byte", .enabled(if: Fixtures.hasShared, "needs ../shared/reference"))
    func bundledCopyIsExact() throws {
        let shared = try Data(contentsOf: GoldenFeatures.path)
        let bundled = try GoldenFeatures.csvData()
        #expect(bundled.count == shared.count && bundled == shared)
        let golden = try #require(Self.golden)
        #expect(golden.klines.count == 5_000 && golden.columns.count == 11 + 42 + 1, "\(golden.columns.keys.sorted())")
    }
}
