@testable import Features
import Foundation
import LinearAlgebra
import ScalperCore
import ScalperTestSupport
import Testing

private let month: [Kline] = (try? Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")) ?? []

/// Bit-for-bit equality of two tables (NaN equals NaN): the parallel paths must not change a value.
private func identical(_ a: FeatureTable, _ b: FeatureTable) -> Bool {
    func same(_ x: [Double], _ y: [Double]) -> Bool {
        x.count == y.count && zip(x, y).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
    }
    let labelsMatch: Bool
    switch (a.labels, b.labels) {
    case (nil, nil): labelsMatch = true
    case let (x?, y?): labelsMatch = same(x, y)
    default: labelsMatch = false
    }
    return a.features.rows == b.features.rows && same(a.features.storage, b.features.storage) && labelsMatch
        && a.openTimes == b.openTimes && a.gapCount == b.gapCount && a.segmentStarts == b.segmentStarts
}

/// `max(high[t+1 … t+h])` within t's segment, by brute force.
private func bruteForwardMax(_ bars: [Kline], horizon h: Int, segmentStarts: [Int]) -> [Double] {
    let bounds = segmentStarts + [bars.count]
    var out = [Double](repeating: .nan, count: bars.count)
    for s in 0..<(bounds.count - 1) {
        for t in bounds[s]..<bounds[s + 1] where t + h < bounds[s + 1] {
            out[t] = bars[(t + 1)...(t + h)].map(\.high).max()!
        }
    }
    return out
}

@Suite("Batch features on several threads")
struct ParallelBatchTests {
    @Test("Two threads (one half of the indicators each) give the single pass's bits, labels and open times, gaps included")
    func splitEqualsSinglePass() throws {
        var bars = month
        try #require(bars.count == 44_640)
        bars.removeSubrange(30_000..<30_007)  // a gap: both halves and the labels must restart there
        let single = try BatchFeatures.compute(bars, interval: .oneMinute, books: nil, label: .default, split: false)
        let split = try BatchFeatures.compute(bars, interval: .oneMinute, books: nil, label: .default, split: true)
        #expect(split.segmentStarts == [0, 30_000])
        #expect(identical(single, split))
    }

    @Test("compute(many:) returns each symbol's own table, in the order given")
    func manyEqualsOneByOne() throws {
        let histories = [Array(month.prefix(25_000)), Array(month.suffix(3_000)), Array(month[5_000..<35_000])]
        let tables = try BatchFeatures.compute(many: histories, label: .default)
        #expect(tables.count == histories.count)
        for (history, table) in zip(histories, tables) {
            #expect(identical(table, try BatchFeatures.compute(history, label: .default)))
        }
        #expect(try BatchFeatures.compute(many: []).isEmpty)
    }

    @Test("compute(many:) throws the error of the first invalid history in the order given")
    func manyThrowsFirstError() throws {
        var early = Array(month.prefix(4_000))
        early[100].close = -1
        var late = Array(month.suffix(4_000))
        late[200].volume = .nan
        let error = #expect(throws: FeatureError.self) {
            _ = try BatchFeatures.compute(many: [Array(month.prefix(2_000)), early, late])
        }
        #expect(error?.openTime == early[100].openTime)
    }

    @Test("Forward maxima and labels equal a brute-force scan, for the short-horizon loop and the deque", arguments: [1, 3, 16, 17, 45])
    func forwardMaximum(horizon: Int) throws {
        var bars = Array(month.prefix(5_000))
        bars.removeSubrange(2_000..<2_003)
        let starts = [0, 2_000]
        let expected = bruteForwardMax(bars, horizon: horizon, segmentStarts: starts)
        let found = Labels.forwardMaxHigh(bars, horizon: horizon, segmentStarts: starts)
        #expect(found.count == expected.count)
        #expect(zip(found, expected).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) })
        let spec = LabelSpec(horizon: horizon, threshold: 0.002)
        let labels = Labels.compute(bars, spec: spec, segmentStarts: starts)
        for t in bars.indices {
            let want = expected[t].isNaN ? Double.nan : (expected[t] >= bars[t].close * (1 + spec.threshold) ? 1 : 0)
            #expect(labels[t] == want || (labels[t].isNaN && want.isNaN), "row \(t)")
        }
        // The two-thread batch path gives the same labels.
        let table = try BatchFeatures.compute(bars, interval: .oneMinute, books: nil, label: spec, split: true)
        #expect(table.labels.map { zip($0, labels).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) } } == true)
    }
}
