import Backtest
import Features
import Foundation
import LinearAlgebra
import Model
import ScalperCore
import Testing
import Trading

@Suite("A live symbol computes what the backtest computes")
struct LiveParityTests {
    @Test("Bar by bar, the streaming scorer's rows equal the batch rows and its predictions the backtest's, from the first tradable bar, across a gap")
    func streamingEqualsBacktest() throws {
        let start: Int64 = 1_690_848_000_000
        let (predictor, configuration, folder) = try trainedPredictor(start: start)
        defer { try? FileManager.default.removeItem(at: folder) }
        // 3,000 bars with a 20-minute hole inside the window.
        let walk = randomWalk(count: 3_020, start: start + 5_000 * 60_000, seed: 31)
        let bars = Array(walk[..<2_200] + walk[2_220...])
        let windowStart = bars[1_500].openTime
        let warmup = 1_000
        let prepared = try BacktestEngine.prepare(
            series: [("AUSDT", bars)], predictor: predictor, minimumProbability: 0, tradableFrom: windowStart, warmupBars: warmup
        )
        // The session fetches exactly `warmup` bars of history before its first live bar.
        let fed = Array(bars[(1_500 - warmup)...])
        let batch = try BatchFeatures.compute(fed, interval: .oneMinute)
        var scorer = StreamingScorer(symbol: "AUSDT", tradingWarmupBars: warmup, trainingWarmupBars: configuration.warmupBars)
        var compared = 0
        var tradable = 0
        for (i, bar) in fed.enumerated() {
            let row = try scorer.update(bar)
            guard i >= warmup else {
                #expect(!row.tradable)
                continue
            }
            for j in 0..<FeatureSpec.count {
                let b = batch.features[i, j]
                #expect(row.values[j] == b || (row.values[j].isNaN && b.isNaN), "bar \(i) feature \(FeatureSpec.names[j])")
            }
            let expected = prepared.predictions[0][i - warmup]
            #expect(row.tradable == (expected != nil), "bar \(i)")
            guard row.tradable, let expected else { continue }
            tradable += 1
            let live = try predictor.predict(row: row.float32)
            #expect(live.probabilityUp == expected.probabilityUp && live.confidence == expected.confidence)
            #expect(live.predictedMovePct == expected.predictedMovePct)
            compared += 1
        }
        // Past the gap the training warm-up holds trading off for its 50 bars, in both.
        #expect(tradable == bars.count - 1_500 - configuration.warmupBars)
        #expect(compared == tradable && compared > 1_000)
    }
}
