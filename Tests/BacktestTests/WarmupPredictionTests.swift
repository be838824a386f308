import Backtest
import Features
import Foundation
import Model
import ScalperCore
import Testing
import XGBoost

/// A deterministic random walk of 1-minute bars (0.15 % moves), valid in every column.
private func randomWalk(count: Int, start: Int64, seed: UInt64) -> [Kline] {
    var state = seed
    func uniform() -> Double {
        // SplitMix64 step: the same bars every run.
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
    }
    var close = 100.0
    return (0..<count).map { i in
        let open = close
        close = open * (1 + (uniform() - 0.5) * 0.003)
        let high = max(open, close) * (1 + uniform() * 0.002)
        let low = min(open, close) * (1 - uniform() * 0.002)
        let volume = 10 + uniform() * 90
        let openTime = start + Int64(i) * 60_000
        return Kline(
            openTime: openTime, open: open, high: high, low: low, close: close, volume: volume,
            closeTime: openTime + 59_999, quoteVolume: volume * close, tradeCount: 20,
            takerBuyBaseVolume: volume * 0.5, takerBuyQuoteVolume: volume * 0.5 * close
        )
    }
}

@Suite("Backtest predictions and the warm-up")
struct WarmupPredictionTests {
    @Test("prepare predicts for exactly the rows training would keep: none within warmup_bars of a segment start")
    func noPredictionsInWarmup() throws {
        var configuration = ModelConfiguration()
        configuration.maxRounds = 5
        configuration.earlyStoppingRounds = 5
        configuration.threads = 1
        let start: Int64 = 1_690_848_000_000  // 2023-08-01
        let history = randomWalk(count: 3_000, start: start, seed: 11)
        let (rows, _) = try DatasetBuilder.rows(from: [("TESTUSDT", history)], interval: .oneMinute, configuration: configuration)
        let dataset = try DatasetBuilder.split(rows, interval: .oneMinute, configuration: configuration)
        let model = try Trainer.train(dataset, configuration: configuration)
        let metadata = ModelMetadata(
            name: "warmup", featureSpecVersion: FeatureSpec.version, featureNames: FeatureSpec.names, klineOnly: true,
            labelHorizon: configuration.labelHorizon, labelThreshold: configuration.labelThreshold, interval: "1m",
            symbols: ["TESTUSDT"], windowFrom: UTC.isoString(start), windowTo: UTC.isoString(start + 3_000 * 60_000),
            splits: dataset.splits, gapCount: 0, dataHash: dataset.dataHash, xgboostVersion: XGBoostLibrary.version,
            trainingThreads: 1, configuration: configuration, bestIteration: model.bestIteration,
            regressorBestIteration: model.regressorBestIteration, bestValidationAUC: model.bestValidationAUC,
            calibration: model.calibrationChoice, confidenceSlices: configuration.confidenceSlices,
            testRaw: model.testRaw, testCalibrated: model.testCalibrated, timings: [:], createdAt: "", gitCommit: ""
        )
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("warmup-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let bundle = try ModelBundle.write(model, metadata: metadata, report: "", svgs: [:], to: folder)
        let predictor = try ModelBundle.load(bundle.path)

        // Later bars with a 30-minute hole: segments start at 0 and 400.
        let later = randomWalk(count: 1_000, start: start + 4_000 * 60_000, seed: 12)
        let replayed = Array(later[..<400] + later[430...])
        let prepared = try BacktestEngine.prepare(series: [("TESTUSDT", replayed)], predictor: predictor, minimumProbability: 0)
        let predicted = prepared.predictions[0].indices.filter { prepared.predictions[0][$0] != nil }
        let warmup = configuration.warmupBars
        #expect(predicted == Array(warmup..<400) + Array((400 + warmup)..<replayed.count))
        let mask = try BatchFeatures.compute(replayed, interval: .oneMinute).isPastWarmup(warmupBars: warmup)
        #expect(predicted == mask.indices.filter { mask[$0] })
    }
}
