import Backtest
import Features
import Foundation
import Model
import ScalperCore
import Testing
import Trading
import XGBoost

/// A deterministic random walk of 1-minute bars (0.15 % moves), valid in every column.
func randomWalk(count: Int, start: Int64, seed: UInt64) -> [Kline] {
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

/// A small model trained on a random walk, saved and loaded as a bundle.
func trainedPredictor(start: Int64) throws -> (Predictor, ModelConfiguration, URL) {
    var configuration = ModelConfiguration()
    configuration.maxRounds = 5
    configuration.earlyStoppingRounds = 5
    configuration.threads = 1
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
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let bundle = try ModelBundle.write(model, metadata: metadata, report: "", svgs: [:], to: folder)
    let predictor = try ModelBundle.load(bundle.path)

    return (predictor, configuration, folder)
}

@Suite("Backtest predictions and the warm-up")
struct WarmupPredictionTests {
    @Test("prepare predicts for exactly the rows training would keep: none within warmup_bars of a segment start")
    func noPredictionsInWarmup() throws {
        let start: Int64 = 1_690_848_000_000  // 2023-08-01
        let (predictor, configuration, folder) = try trainedPredictor(start: start)
        defer { try? FileManager.default.removeItem(at: folder) }
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

    @Test("Trading paths warm up on history before the window: no bar before the window is replayed, and a symbol short of history starts trading later and says so")
    func tradingPathWarmup() throws {
        let start: Int64 = 1_690_848_000_000
        let (predictor, _, folder) = try trainedPredictor(start: start)
        defer { try? FileManager.default.removeItem(at: folder) }
        let bars = randomWalk(count: 2_000, start: start + 4_000 * 60_000, seed: 21)
        let windowStart = bars[1_200].openTime
        // Full history: 1,200 bars precede the window, 1,000 wanted.
        let full = try BacktestEngine.prepare(
            series: [("AUSDT", bars)], predictor: predictor, minimumProbability: 0, tradableFrom: windowStart, warmupBars: 1_000
        )
        #expect(full.series[0].klines.first?.openTime == windowStart && full.series[0].klines.count == 800)
        #expect(full.warmupNotes.isEmpty)
        #expect(full.predictions[0].allSatisfy { $0 != nil })
        // The same window's predictions equal those of a run whose kernel starts exactly 1,000 bars before it.
        let trimmed = try BacktestEngine.prepare(
            series: [("AUSDT", Array(bars[200...]))], predictor: predictor, minimumProbability: 0, tradableFrom: windowStart,
            warmupBars: 1_000
        )
        #expect(trimmed.predictions[0].map { $0?.probabilityUp } == full.predictions[0].map { $0?.probabilityUp })
        // Short history: only 300 bars before the window, so the first 700 bars of the window only warm up.
        let short = try BacktestEngine.prepare(
            series: [("AUSDT", Array(bars[900...]))], predictor: predictor, minimumProbability: 0, tradableFrom: windowStart,
            warmupBars: 1_000
        )
        #expect(short.series[0].klines.count == 800)
        let predicted = short.predictions[0].indices.filter { short.predictions[0][$0] != nil }
        #expect(predicted == Array(700..<800))
        #expect(short.warmupNotes == ["AUSDT: 300 bars before \(UTC.minuteString(windowStart)), 1000 wanted for warm-up; trading starts \(UTC.minuteString(bars[1_900].openTime))"])
    }
}
