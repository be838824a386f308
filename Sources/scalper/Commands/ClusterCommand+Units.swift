import Backtest
import Dispatch
import Foundation
import Model
import ScalperCore
import Trading

/// One symbol over one calendar month: the unit `scalper cluster` optimises on its own.
struct ClusterUnit: Sendable, Hashable {
    /// The pair, e.g. `FILUSDT`.
    var symbol: String
    /// `YYYY-MM`.
    var month: String
    /// The month's first millisecond (UTC).
    var from: Int64
    /// The next month's first millisecond.
    var to: Int64

    /// `FILUSDT 2023-08`.
    var name: String { "\(symbol) \(month)" }

    /// The unit of `symbol` in `month` (`YYYY-MM`), or nil when the month is not one.
    init?(symbol: String, month: String) {
        let parts = month.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let y = Int(parts[0]), let m = Int(parts[1]),
            (1970...2100).contains(y), (1...12).contains(m), !symbol.isEmpty,
            let from = UTC.milliseconds(year: y, month: m, day: 1)
        else { return nil }
        self.symbol = symbol
        self.month = month
        self.from = from
        to = UTC.startOfNextMonth(from)
    }
}

/// The per-unit split and selection rules, as the command's options set them.
struct UnitPlan: Sendable {
    /// Percent of the unit's span that trains (its last 15 % the early-stopping and calibration tail).
    var trainPercent: Int
    /// Percent after it on which the grid is replayed and the parameters chosen.
    var validationPercent: Int
    /// The grid: keys in order and each key's values.
    var grid: [SweepParameter]
    /// Every combination's settings, in ``Sweep/combinations(_:)`` order.
    var combinations: [(values: [Double], settings: BacktestSettings)]
    /// Fewest validation trades a chosen combination needs.
    var minimumTrades: Int
    /// Fewest bars a unit needs.
    var minimumBars: Int
    /// Model settings (threads already set for one unit of several running at once).
    var model: ModelConfiguration
    /// Bars the feature kernel sees before each traded span.
    var warmupBars: Int
    /// Where each unit's bundle is written.
    var modelsDirectory: URL
    /// The commit recorded in the bundles.
    var gitCommit: String
    /// Bars' interval (1m).
    var interval: KlineInterval
}

/// What one unit gave: its chosen parameters and their validation and out-of-sample figures, or
/// why it stays out of the clustering.
struct UnitOutcome: Sendable {
    var unit: ClusterUnit
    /// Bars of the month in the store.
    var bars: Int
    /// Why the unit is left out of the clustering (nil: it is in).
    var excluded: String?
    /// The split instants (ms): training from `start` to `trainEnd` (early stopping from
    /// `earlyStopStart`), validation trades from `validationStart` to `validationEnd`,
    /// out-of-sample trades from `outOfSampleStart` to `end`.
    var start: Int64 = 0
    var earlyStopStart: Int64 = 0
    var trainEnd: Int64 = 0
    var validationStart: Int64 = 0
    var validationEnd: Int64 = 0
    var outOfSampleStart: Int64 = 0
    var end: Int64 = 0
    /// The model's AUC on the validation span's rows (raw scores; reported, never used to choose).
    var validationAUC: Double = .nan
    /// The bundle's folder.
    var bundle: String = ""
    /// The chosen combination's values, in grid order.
    var chosen: [Double] = []
    /// Combinations replayed on validation, and how many had the fewest trades needed.
    var combinationsTried = 0
    var combinationsEligible = 0
    /// Every combination's validation trades and total return, in grid order (grid.csv).
    var gridResults: [(trades: Int, totalReturn: Double)] = []
    /// The chosen combination's index in the grid.
    var chosenIndex: Int?
    /// Validation and out-of-sample figures of the chosen combination.
    var validation: BacktestMetrics?
    var outOfSample: BacktestMetrics?
    /// Seconds: training, the validation grid, the out-of-sample replay.
    var trainSeconds = 0.0
    var gridSeconds = 0.0

    init(unit: ClusterUnit, bars: Int, excluded: String? = nil) {
        self.unit = unit
        self.bars = bars
        self.excluded = excluded
    }

    /// Days of validation trading.
    var validationDays: Double { Double(validationEnd - validationStart) / 86_400_000 }
    /// Days of out-of-sample trading.
    var outOfSampleDays: Double { Double(end - outOfSampleStart) / 86_400_000 }
    /// Validation return a day (fraction).
    var validationPerDay: Double { (validation?.totalReturn ?? .nan) / validationDays }
    /// Out-of-sample return a day (fraction).
    var outOfSamplePerDay: Double { (outOfSample?.totalReturn ?? .nan) / outOfSampleDays }
    /// Walk-forward efficiency: out-of-sample return a day over validation return a day; nil when
    /// the validation return is not positive (a ratio over a loss or zero says nothing).
    var efficiency: Double? {
        let v = validationPerDay
        let o = outOfSamplePerDay
        guard v > 0, o.isFinite else { return nil }
        return o / v
    }
}

/// Runs units on all cores, one unit per core.
enum UnitOptimiser {
    /// Optimises every unit whose bars are given (in parallel, one unit per core), calling
    /// `finished` as each ends (on the worker's thread); outcomes come back in input order.
    static func run(
        _ jobs: [(unit: ClusterUnit, klines: [Kline], filters: SymbolFilters?)],
        plan: UnitPlan,
        workers: Int,
        finished: @Sendable (UnitOutcome) -> Void
    ) -> [UnitOutcome] {
        let slots = ClaimedSlots<UnitOutcome>(count: jobs.count)
        DispatchQueue.concurrentPerform(iterations: max(1, min(workers, jobs.count))) { _ in
            while let i = slots.claim() {
                let job = jobs[i]
                let outcome = optimise(job.unit, klines: job.klines, filters: job.filters, plan: plan)
                slots.set(i, outcome)
                finished(outcome)
            }
        }
        return slots.all()
    }

    /// One unit: train on the first part, choose the grid combination with the best validation
    /// return among those with enough trades, and replay it once out of sample.
    static func optimise(_ unit: ClusterUnit, klines: [Kline], filters: SymbolFilters?, plan: UnitPlan) -> UnitOutcome {
        var o = UnitOutcome(unit: unit, bars: klines.count)
        guard !klines.isEmpty else {
            o.excluded = "no bars stored for this month"
            return o
        }
        guard klines.count >= plan.minimumBars else {
            o.excluded = "\(klines.count) bars, fewer than --min-bars \(plan.minimumBars)"
            return o
        }
        let step = plan.interval.milliseconds
        func minute(_ t: Int64) -> Int64 { t / step * step }
        let start = klines[0].openTime
        let end = klines[klines.count - 1].openTime + step
        let span = end - start
        o.start = start
        o.end = end
        o.trainEnd = minute(start + span * Int64(plan.trainPercent) / 100)
        o.earlyStopStart = minute(start + (o.trainEnd - start) * 85 / 100)
        o.validationEnd = minute(start + span * Int64(plan.trainPercent + plan.validationPercent) / 100)

        let clock = ContinuousClock()
        var started = clock.now
        let predictor: Predictor
        do {
            // Rows of the training and validation spans only: nothing after the validation span
            // reaches the model, not even as test rows.
            let (rows, gaps) = try DatasetBuilder.rows(from: [(unit.symbol, klines)], interval: plan.interval, configuration: plan.model)
            let indices = rows.openTimes.indices.filter { rows.openTimes[$0] < o.validationEnd }
            let dataset = try DatasetBuilder.split(
                rows.subset(indices),
                trainEnd: o.earlyStopStart,
                validationEnd: o.trainEnd,
                testEnd: o.validationEnd,
                interval: plan.interval,
                configuration: plan.model,
                gapCount: gaps
            )
            let outcome = try TrainingPipeline.train(
                dataset,
                request: TrainingRequest(
                    series: [(unit.symbol, [])],
                    interval: plan.interval,
                    configuration: plan.model,
                    windowFrom: start,
                    windowTo: o.trainEnd,
                    name: "\(unit.symbol)-\(unit.month)",
                    modelsDirectory: plan.modelsDirectory,
                    gitCommit: plan.gitCommit
                )
            )
            o.validationAUC = outcome.model.testRaw.auc
            // The label's horizon as the bundle records it, purged before each traded part: no
            // training label looks into validation, no validation trade's label into the rest.
            let purge = Int64(outcome.metadata.labelHorizon) * step
            o.validationStart = o.trainEnd + purge
            o.outOfSampleStart = o.validationEnd + purge
            o.bundle = outcome.bundle.path
            predictor = try ModelBundle.load(outcome.bundle.path)
            try predictor.setThreads(plan.model.effectiveThreads)
        } catch {
            o.excluded = "training: \(error)"
            return o
        }
        o.trainSeconds = Trainer.seconds(clock.now - started)

        // The bars from `from` to `to`, with the kernel's warm-up bars of the month before them.
        func prepared(from: Int64, to: Int64, minimumProbability: Double) throws -> PreparedBacktest {
            let first = klines.partitionPoint { $0.openTime < from }
            let last = klines.partitionPoint { $0.openTime < to }
            var p = try BacktestEngine.prepare(
                series: [(unit.symbol, Array(klines[max(0, first - plan.warmupBars)..<last]))],
                predictor: predictor,
                interval: plan.interval,
                minimumProbability: minimumProbability,
                tradableFrom: from,
                warmupBars: plan.warmupBars
            )
            if let filters { p.filters[unit.symbol] = filters }
            return p
        }

        started = clock.now
        var best: (index: Int, value: Double, metrics: BacktestMetrics)?
        var mostTrades = 0
        do {
            // Features and predictions once for the whole grid, from the lowest min_probability it tries.
            let floor = plan.combinations.map(\.settings.signals.minProbability).min() ?? 0
            let validation = try prepared(from: o.validationStart, to: o.validationEnd, minimumProbability: floor)
            for (i, combination) in plan.combinations.enumerated() {
                let m = BacktestEngine.replay(validation, settings: combination.settings).metrics
                o.combinationsTried += 1
                o.gridResults.append((m.trades, m.totalReturn))
                mostTrades = max(mostTrades, m.trades)
                guard m.trades >= plan.minimumTrades else { continue }
                o.combinationsEligible += 1
                let value = m.totalReturn.isNaN ? -Double.infinity : m.totalReturn
                if best.map({ value > $0.value }) ?? true { best = (i, value, m) }
            }
        } catch {
            o.excluded = "validation backtest: \(error)"
            return o
        }
        o.gridSeconds = Trainer.seconds(clock.now - started)
        guard let best else {
            o.excluded = "no grid combination made --min-trades \(plan.minimumTrades) validation trades (most: \(mostTrades))"
            return o
        }
        let chosen = plan.combinations[best.index]
        o.chosen = chosen.values
        o.chosenIndex = best.index
        o.validation = best.metrics
        do {
            let oos = try prepared(from: o.outOfSampleStart, to: end, minimumProbability: chosen.settings.signals.minProbability)
            o.outOfSample = BacktestEngine.replay(oos, settings: chosen.settings).metrics
        } catch {
            o.excluded = "out-of-sample backtest: \(error)"
        }
        return o
    }
}
