import ArgumentParser
import Backtest
import Features
import Foundation
import MarketData
import Model
import ScalperCore
import Trading

/// What every window of a walk-forward needs besides its bars: the same whether the window runs in
/// `scalper walk-forward` or on a worker that claimed it from the queue, so both give the same
/// models and trades.
struct WalkForwardPlan: Codable, Equatable {
    var symbols: [String]
    /// The walk-forward's whole span [from, to) (ms): features are computed over it, so a window's
    /// rows are the same whichever machine computes them.
    var from: Int64
    var to: Int64
    var interval: String
    /// The options as given (`30d`, `7d`), for the report.
    var train: String
    var test: String
    /// The `model:` section (with `threads: 1` for a queued job: one compute thread per job).
    var model: ModelConfiguration
    /// `retrain.calibration_days` and `retrain.early_stopping_fraction`.
    var calibrationDays: Double
    var earlyStoppingFraction: Double
    /// Capital, signals (as configured: `min_probability: model` is resolved per window), risk, execution.
    var trading: BacktestSettings
    var warmupBars: Int
    /// Bundle names are `<baseName>-w<n>`.
    var baseName: String

    var klineInterval: KlineInterval {
        get throws {
            guard let i = KlineInterval(interval) else { throw ValidationError("unknown interval \(interval)") }
            return i
        }
    }
}

extension WalkForwardPlan {
    /// A window's backtest as a run: the same fields whether written here or by a worker.
    func runConfig(
        id: String, window w: WalkForwardBounds, label: String, backtest b: WalkForwardBacktest, bundlePath: String, bundleName: String,
        settings: BacktestSettings, store: String, createdAt: Int64
    ) -> BacktestRunConfig {
        BacktestRunConfig(
            id: id, model: bundlePath, modelName: bundleName, symbols: symbols,
            from: UTC.isoString(b.from), to: UTC.isoString(b.to), interval: interval,
            store: store, settings: settings, createdAt: UTC.isoString(createdAt), gitCommit: gitCommit(),
            description: "walk-forward window \(w.index + 1) \(label)"
        )
    }
}

/// One window's span: fit and calibrate on [trainStart, trainEnd), trade out of sample on [trainEnd, testEnd).
struct WalkForwardBounds: Codable, Equatable {
    /// 0-based.
    var index: Int
    var trainStart: Int64
    var trainEnd: Int64
    var testEnd: Int64

    /// The windows of [start, end): `train` long, each followed by `test`, moved by `step`.
    static func all(start: Int64, end: Int64, train: Int64, test: Int64, step: Int64) -> [WalkForwardBounds] {
        var out: [WalkForwardBounds] = []
        var s = start
        while s + train + test <= end {
            out.append(WalkForwardBounds(index: out.count, trainStart: s, trainEnd: s + train, testEnd: s + train + test))
            s += step
        }
        return out
    }
}

/// One backtest of a window's model: the replay and its reliability table.
struct WalkForwardBacktest {
    var from: Int64
    var to: Int64
    var result: BacktestResult
    var reliability: [Backtest.ReliabilityBin]
}

/// A window that ran: its bundle (written under the models folder given), test AUC and both backtests.
struct WalkForwardWindowRun {
    var bounds: WalkForwardBounds
    var outcome: TrainingOutcome
    var predictor: Predictor
    /// The trading settings the window traded with (its own threshold under `min_probability: model`).
    var settings: BacktestSettings
    var inSample: WalkForwardBacktest
    var outOfSample: WalkForwardBacktest
}

enum WalkForwardWindowRunner {
    /// Features and labels over the plan's whole span (a worker computes them once per batch).
    static func rows(
        _ plan: WalkForwardPlan, series: [(symbol: String, klines: [Kline])]
    ) throws -> (rows: LabeledRows, gaps: Int) {
        let r = try DatasetBuilder.rows(from: series, interval: try plan.klineInterval, configuration: plan.model)
        return (r.0, r.1)
    }

    /// The minimum train span `plan` allows: the calibration days and two purges take at most half.
    static func checkLayout(_ plan: WalkForwardPlan, trainSpan: Int64) throws {
        let interval = try plan.klineInterval
        let purge = Int64(plan.model.labelHorizonBars(interval: interval)) * interval.milliseconds
        let calibrationSpan = Int64(plan.calibrationDays * 86_400_000)
        guard calibrationSpan + 2 * purge < trainSpan / 2 else {
            throw fail("--train \(plan.train) leaves too little to fit on beside retrain.calibration_days (\(Sweep.format(plan.calibrationDays)) d): the calibration days may take at most half of it")
        }
    }

    /// Trains window `w` as the retraining pipeline does and backtests its model in and out of sample.
    ///
    /// The retraining pipeline's layout inside the train span (retrain: calibration_days,
    /// early_stopping_fraction): fit | early-stopping tail | purge | calibration days | purge | test.
    ///
    /// - Throws: ``ModelError`` when the window has too little data to train (the caller skips it).
    static func run(
        _ w: WalkForwardBounds,
        plan: WalkForwardPlan,
        series: [(symbol: String, klines: [Kline])],
        rows: LabeledRows,
        gaps: Int,
        filters: [String: SymbolFilters],
        modelsFolder: URL,
        gitCommit: String,
        progress: (TrainingProgress) -> Void
    ) throws -> WalkForwardWindowRun {
        let interval = try plan.klineInterval
        let purge = Int64(plan.model.labelHorizonBars(interval: interval)) * interval.milliseconds
        let calibrationSpan = Int64(plan.calibrationDays * 86_400_000)
        let calibrationStart = w.trainEnd - purge - calibrationSpan
        let fitEnd = calibrationStart - purge
        let earlyStopStart = w.trainStart + Int64(Double(fitEnd - w.trainStart) * (1 - plan.earlyStoppingFraction))
        // Rows to fit and stop on, and the test days; the calibration days apart (DatasetBuilder
        // purges the label horizon between fit, tail and test).
        let fitAndTest = rows.openTimes.indices.filter {
            let t = rows.openTimes[$0]
            return (t >= w.trainStart && t < fitEnd) || (t >= w.trainEnd && t < w.testEnd)
        }
        let calibration = rows.openTimes.indices.filter { rows.openTimes[$0] >= calibrationStart && rows.openTimes[$0] < w.trainEnd - purge }
        let dataset = try DatasetBuilder.split(
            rows.subset(fitAndTest), trainEnd: earlyStopStart, validationEnd: fitEnd, testEnd: w.testEnd,
            interval: interval, configuration: plan.model, gapCount: gaps
        )
        let outcome = try TrainingPipeline.train(
            dataset,
            calibrationRows: rows.subset(calibration),
            request: TrainingRequest(
                series: series.map { ($0.symbol, []) }, interval: interval, configuration: plan.model,
                windowFrom: w.trainStart, windowTo: w.trainEnd, name: "\(plan.baseName)-w\(w.index + 1)",
                modelsDirectory: modelsFolder, gitCommit: gitCommit
            ),
            progress: progress
        )
        let predictor = try ModelBundle.load(outcome.bundle.path)
        try predictor.setThreads(plan.model.effectiveThreads)
        var settings = plan.trading
        // Each window's model trades at its own threshold when `signals.min_probability: model`.
        settings.signals = plan.trading.signals.resolved(for: predictor.metadata)
        // The same series cut to a span, with the kernel's warm-up bars before it.
        func backtest(from: Int64, to: Int64) throws -> WalkForwardBacktest {
            let cut = series.map { symbol, klines in
                let first = klines.partitionPoint { $0.openTime < from }
                let last = klines.partitionPoint { $0.openTime < to }
                return (symbol: symbol, klines: Array(klines[max(0, first - plan.warmupBars)..<last]))
            }
            var prepared = try BacktestEngine.prepare(
                series: cut, predictor: predictor, interval: interval, minimumProbability: settings.signals.minProbability,
                tradableFrom: from, warmupBars: plan.warmupBars
            )
            prepared.filters = filters
            let result = BacktestEngine.replay(prepared, settings: settings)
            return WalkForwardBacktest(
                from: from, to: to, result: result,
                reliability: BacktestEngine.reliability(prepared, label: predictor.metadata.labelSpec)
            )
        }
        let inSample = try backtest(from: w.trainStart, to: w.trainEnd)
        let outOfSample = try backtest(from: w.trainEnd, to: w.testEnd)
        return WalkForwardWindowRun(
            bounds: w, outcome: outcome, predictor: predictor, settings: settings, inSample: inSample, outOfSample: outOfSample
        )
    }
}
