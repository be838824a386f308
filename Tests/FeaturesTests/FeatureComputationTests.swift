import Features
import Foundation
import LinearAlgebra
import ScalperCore
import ScalperTestSupport
import Testing

/// Spec: streaming == batch within 1e-9 relative (1e-12 absolute near zero).
private func same(_ a: Double, _ b: Double) -> Bool {
    if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
    return abs(a - b) <= max(1e-12, 1e-9 * abs(b))
}

private let sampleBars: [Kline] = (try? Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")) ?? []

@Suite("Batch and streaming computations, gaps and causality")
struct FeatureComputationTests {
    @Test("Streaming equals batch on every row of a real month")
    func streamingEqualsBatch() throws {
        let bars = sampleBars
        try #require(bars.count == 44_640)
        let batch = try BatchFeatures.compute(bars)
        var stream = StreamingFeatures()
        var differing = 0
        for (i, bar) in bars.enumerated() {
            let row = try stream.update(bar)
            for j in 0..<FeatureSpec.count where !same(row[j], batch.features[i, j]) { differing += 1 }
        }
        #expect(differing == 0)
        // Past warm-up every kline feature is a number.
        for j in 0..<FeatureSpec.count where !FeatureSpec.orderBookRange.contains(j) {
            #expect(!batch.features[100, j].isNaN, "\(FeatureSpec.names[j]) is NaN after warm-up")
        }
    }

    @Test("A gap restarts warm-up on both sides and is counted; nothing blends across it")
    func gapRestarts() throws {
        var bars = Array(sampleBars.prefix(3_000))
        bars.removeSubrange(1_500..<1_510)  // ten missing minutes
        let table = try BatchFeatures.compute(bars, label: .default)
        #expect(table.gapCount == 1)
        #expect(table.segmentStarts == [0, 1_500])
        // After the gap the rows equal a fresh computation of the second segment alone.
        let alone = try BatchFeatures.compute(Array(bars[1_500...]), label: .default)
        for i in 0..<alone.features.rows {
            for j in 0..<FeatureSpec.count {
                #expect(same(table.features[1_500 + i, j], alone.features[i, j]))
            }
        }
        // Warm-up is NaN again: each feature's first valid row counts from the gap.
        for (j, first) in FeatureSpec.firstValidRow.enumerated() where first > 0 && !FeatureSpec.orderBookRange.contains(j) {
            #expect(table.features[1_500 + first - 1, j].isNaN, "\(FeatureSpec.names[j])")
            #expect(!table.features[1_500 + first, j].isNaN, "\(FeatureSpec.names[j])")
        }
        // No label window crosses the gap.
        let labels = try #require(table.labels)
        #expect(labels[1_497...1_499].allSatisfy { $0.isNaN })
        #expect(!labels[1_496].isNaN)
        var stream = StreamingFeatures()
        for bar in bars { _ = try stream.update(bar) }
        #expect(stream.gapCount == 1)
    }

    @Test("No look-ahead: rows up to t do not change when the data ends at t or the future is perturbed", arguments: [60, 777, 2_345, 4_999])
    func noLookAhead(cut: Int) throws {
        let bars = Array(sampleBars.prefix(5_000))
        let full = try BatchFeatures.compute(bars)
        let truncated = try BatchFeatures.compute(Array(bars[...cut]))
        var perturbed = bars
        var rng = SystemRandomNumberGenerator()
        for i in (cut + 1)..<perturbed.count {
            let k = Double.random(in: 0.9...1.1, using: &rng)
            perturbed[i].open *= k
            perturbed[i].close *= k
            perturbed[i].high = max(perturbed[i].high * k, perturbed[i].open, perturbed[i].close)
            perturbed[i].low = min(perturbed[i].low * k, perturbed[i].open, perturbed[i].close)
            perturbed[i].volume *= Double.random(in: 0...3, using: &rng)
        }
        let changed = try BatchFeatures.compute(perturbed)
        for i in 0...cut {
            for j in 0..<FeatureSpec.count {
                #expect(same(truncated.features[i, j], full.features[i, j]) && same(changed.features[i, j], full.features[i, j]))
            }
        }
    }

    @Test(
        "Invalid inputs are rejected before they reach a running sum, naming the field",
        arguments: [("close", Double.nan), ("close", -1.0), ("volume", Double.nan), ("open", 0.0), ("high", Double.infinity)]
    )
    func invalidInput(field: String, value: Double) throws {
        var stream = StreamingFeatures()
        let bars = Array(sampleBars.prefix(60))
        for bar in bars.prefix(40) { _ = try stream.update(bar) }
        var bad = bars[40]
        switch field {
        case "close": bad.close = value
        case "volume": bad.volume = value
        case "open": bad.open = value
        default: bad.high = value
        }
        let error = #expect(throws: FeatureError.self) { _ = try stream.update(bad) }
        #expect(error?.description.contains("\(field) = ") == true)
        // The state is untouched: the rest of the stream matches a clean batch run.
        let clean = try BatchFeatures.compute(bars)
        for i in 40..<60 {
            let row = try stream.update(bars[i])
            for j in 0..<FeatureSpec.count { #expect(same(row[j], clean.features[i, j])) }
        }
        #expect(throws: FeatureError.self) { _ = try stream.update(bars[10]) }
    }

    @Test("Labels on a hand-built path, including an exact tie on the tick grid")
    func labels() {
        func bar(_ i: Int, high: Double, close: Double) -> Kline {
            Kline(
                openTime: Int64(i) * 60_000, open: close, high: high, low: close * 0.99, close: close, volume: 1,
                closeTime: Int64(i) * 60_000 + 59_999, quoteVolume: 1, tradeCount: 1, takerBuyBaseVolume: 0.5,
                takerBuyQuoteVolume: 0.5
            )
        }
        // close 3.500 → threshold 3.507 (FIL's tick grid); the tie at bar 3 counts.
        let bars = [
            bar(0, high: 3.5, close: 3.5), bar(1, high: 3.506, close: 3.5), bar(2, high: 3.5, close: 3.5),
            bar(3, high: 3.507, close: 3.5), bar(4, high: 3.5, close: 3.5), bar(5, high: 3.6, close: 3.5),
            bar(6, high: 3.5, close: 3.5),
        ]
        let labels = Labels.compute(bars, spec: .default)
        #expect(3.5 * (1.0 + 0.002) == 3.507)
        #expect(labels[0] == 1)  // bar 3 within 1…3
        #expect(labels[1] == 1 && labels[2] == 1 && labels[3] == 1)
        #expect(labels[4].isNaN && labels[5].isNaN && labels[6].isNaN)
        let wide = Labels.compute(bars, spec: LabelSpec(horizon: 1, threshold: 0.002))
        #expect(wide[0] == 0 && wide[2] == 1 && wide[4] == 1 && wide[5] == 0 && wide[6].isNaN)
    }
}
