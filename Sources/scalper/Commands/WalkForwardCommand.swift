import ArgumentParser
import Backtest
import Dashboard
import Features
import Foundation
import JobQueue
import MarketData
import Model
import Registry
import Research
import Retraining
import ScalperCore
import Trading

/// `scalper walk-forward`: will this strategy hold out of sample? Retrain on rolling windows, trade
/// each model on the days that follow its window, and compare with what it made in sample.
struct WalkForwardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "walk-forward",
        abstract: "Rolling retrain-and-trade windows: each model trained on --train days, backtested on the --test days after them.",
        discussion: """
            Each window trains as the retraining pipeline does, inside its train span: the boosters fit on its first part and stop early on that part's last retrain.early_stopping_fraction (15 %), the calibration is fitted on its last retrain.calibration_days (7), each boundary purged by the label horizon; no leakage guards, no promotion. The test AUC is the next --test days'. It registers the bundle (origin walk-forward), and backtests it twice with the config's trading settings: in sample over its train span and out of sample over the next --test days (the feature kernel warmed on the bars before). Both are runs in the runs database. The table gives each window's trades, P&L, return, Sharpe, max drawdown and test AUC; walk-forward efficiency is the out-of-sample return a day over the in-sample one (and the same for Sharpe); the verdict needs 30 out-of-sample trades. The walk-forward as a whole gets a grade A–F (out-of-sample return, efficiency, DSR, Monte Carlo drawdown, trades; README), stored with every out-of-sample run.
            """
    )

    @OptionGroup var global: GlobalOptions

    @OptionGroup var window: SeriesWindowOptions

    @Option(help: "Training span of each window (Nd days or Nh hours).")
    var train = "30d"

    @Option(help: "Out-of-sample span after each training span.")
    var test = "7d"

    @Option(help: "How far each window moves (default: --test).")
    var step: String?

    @Option(help: "Bundle name prefix (default: wf-<symbols>-<from>-<to>-<timestamp>); windows are PREFIX-w1, -w2, ….")
    var name: String?

    @Option(help: "Folder for bundles (default: model.models_dir of the config).")
    var modelsDir: String?

    @Option(help: "Root folder of run folders (default: backtest.runs_dir of the config).")
    var runsDir: String?

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Flag(help: "Queue one job per window on the shared PostgreSQL database (--runs-db) instead of running them here: `scalper worker` on any machine runs them, `scalper queue status|results ID` follows and collects them.")
    var queue = false

    @OptionGroup var shared: SharedDatabaseOptions

    /// Out-of-sample trades below which no verdict is given.
    static let minimumTrades = 30

    /// `Nd` or `Nh` in milliseconds.
    static func duration(_ text: String, option: String) throws -> Int64 {
        let units: [Character: Int64] = ["d": 86_400_000, "h": 3_600_000]
        guard let unit = text.last.flatMap({ units[$0] }), let n = Int64(text.dropLast()), n > 0 else {
            throw ValidationError("\(option) '\(text)' is not a duration like 30d or 12h")
        }
        return n * unit
    }

    func validate() throws {
        _ = try Self.duration(train, option: "--train")
        _ = try Self.duration(test, option: "--test")
        if let step { _ = try Self.duration(step, option: "--step") }
        if queue && (runsDir != nil || modelsDir != nil || json) {
            throw ValidationError("--queue stores each window's model and runs in the database: --runs-dir, --models-dir and --json apply to a walk-forward run here (collect a queued one with scalper queue results ID [--runs-dir DIR] [--models-dir DIR] [--json])")
        }
        if !queue && shared.runsDB != nil { throw ValidationError("--runs-db goes with --queue") }
        if let name, name.isEmpty || name.contains("/") || name.hasPrefix(".") {
            throw ValidationError("--name must be a plain folder name")
        }
    }

    /// One window's figures.
    struct Window {
        var index: Int
        var trainStart: Int64
        var trainEnd: Int64
        var testEnd: Int64
        var bundle: String
        var testAUC: Double
        var inSample: BacktestMetrics
        var outOfSample: BacktestMetrics
        var inRun: String
        var outRun: String
    }

    func run() async throws {
        let settings = try global.loadConfiguration()
        let (start, end) = try parseWindow(from: window.from, to: window.to)
        let trainSpan = try Self.duration(train, option: "--train")
        let testSpan = try Self.duration(test, option: "--test")
        let stepSpan = try step.map { try Self.duration($0, option: "--step") } ?? testSpan
        let bounds = WalkForwardBounds.all(start: start, end: end, train: trainSpan, test: testSpan, step: stepSpan)
        guard !bounds.isEmpty else {
            throw fail("the window \(window.from) … \(window.to) is shorter than one --train \(train) + --test \(test)")
        }
        let list = symbolList(window.symbols)
        guard !list.isEmpty else { throw ValidationError("--symbols is empty") }
        let interval = KlineInterval.oneMinute
        var trading = BacktestSettings()
        trading.capital = settings.backtest.capital
        trading.signals = settings.signals
        trading.risk = settings.risk
        trading.execution = settings.execution
        let stamp = UTC.isoString(UTC.now()).replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
        let base = name ?? "wf-\(list.joined(separator: "+"))-\(UTC.dayString(start))-\(UTC.dayString(end))-\(stamp)"
        var plan = WalkForwardPlan(
            symbols: list, from: start, to: end, interval: interval.name, train: train, test: test, model: settings.model,
            calibrationDays: settings.retrain.calibrationDays, earlyStoppingFraction: settings.retrain.earlyStoppingFraction,
            trading: trading, warmupBars: settings.trading.warmupBars, baseName: base
        )
        try WalkForwardWindowRunner.checkLayout(plan, trainSpan: trainSpan)
        if queue {
            // One compute thread per job: a worker runs --concurrency jobs side by side.
            plan.model.threads = 1
            let url = try shared.url()
            let id = SweepQueueing.batchID(kind: "walkforward", name: name)
            let payloads = try bounds.map { try QueueJSON.encode($0) }
            let spec = try QueueJSON.encode(plan)
            do {
                try await JobQueue.with(url) { q in
                    try await q.enqueue(id: id, kind: "walkforward", owner: SweepQueueing.owner(), spec: spec, payloads: payloads)
                }
            } catch {
                throw fail("\(url): \(JobQueue.describe(error))")
            }
            print("queued \(id): \(bounds.count) jobs (walk-forward windows) on \(url)")
            note("run them with `scalper worker --runs-db URL --store <each machine's copy of the store>` (or deploy/), follow them with `scalper queue status \(id) --runs-db URL`, collect them (models, runs, table, grade) with `scalper queue results \(id) --runs-db URL`")
            return
        }
        let store = try MarketStore(path: global.storePath(settings))
        let series = try loadSeries(store, symbols: list, interval: interval, from: start, to: end)
        let (rows, gaps) = try WalkForwardWindowRunner.rows(plan, series: series)
        let modelsFolder = URL(fileURLWithPath: modelsDir ?? settings.model.modelsDir)
        let registry: ModelRegistry
        do {
            registry = try ModelRegistry(path: modelsFolder.appendingPathComponent("registry.sqlite").path)
        } catch {
            throw fail("\(error)")
        }
        let root = URL(fileURLWithPath: runsDir ?? settings.backtest.runsDir)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let database = try RunDatabase(path: root.appendingPathComponent("runs.sqlite").path)
        var filters: [String: SymbolFilters] = [:]
        for symbol in list { filters[symbol] = try store.symbolFilters(symbol: symbol) }
        let progress = TrainingProgressPrinter(quiet: json)
        var results: [Window] = []
        // The walk-forward's own folder, as a sweep has: status.json, progress.jsonl (a line per
        // window), a progress bar on a terminal, and a STOP file that stops it after the current window.
        let status = try SweepProgress(
            folder: root.appendingPathComponent(BacktestRunWriter.runID(createdAt: UTC.now(), description: "walk-forward", in: root)),
            total: bounds.count, parameters: ["window"]
        )
        note("walk-forward folder: \(status.path) (status.json, progress.jsonl; create a file named STOP there to stop after the current window)")
        var (endState, endDetail) = ("failed", "")
        defer { status.end(state: endState, detail: endDetail) }
        var skipped = 0
        var stopped = false
        for w in bounds {
            if status.stopRequested {
                stopped = true
                break
            }
            let ran: WalkForwardWindowRun
            do {
                ran = try WalkForwardWindowRunner.run(
                    w, plan: plan, series: series, rows: rows, gaps: gaps, filters: filters, modelsFolder: modelsFolder,
                    gitCommit: gitCommit()
                ) { progress.show($0) }
                progress.finish()
            } catch let error as ModelError {
                note("window \(w.index + 1) (\(UTC.dayString(w.trainStart)) … \(UTC.dayString(w.testEnd))): skipped: \(error)")
                skipped += 1
                continue
            }
            do {
                try registry.register(bundle: ran.outcome.bundle, origin: .walkForward)
            } catch {
                throw fail("window \(w.index + 1): the bundle is written at \(ran.outcome.bundle.path) but not registered: \(error)")
            }
            let window = try Self.record(
                ran.bounds, bundlePath: ran.outcome.bundle.path, bundleName: ran.outcome.metadata.name, testAUC: ran.outcome.model.testRaw.auc,
                settings: ran.settings, inSample: ran.inSample, outOfSample: ran.outOfSample, plan: plan,
                store: global.storePath(settings), root: root, database: database, runIDs: nil
            )
            results.append(window)
            status.finished(index: w.index, values: [Double(w.index + 1)], metrics: window.outOfSample)
        }
        if stopped {
            note("stopped by \(status.path)/STOP: \(bounds.count - results.count - skipped) windows never started; the table below holds the \(results.count) that ran")
        }
        guard !results.isEmpty else {
            endDetail = stopped ? "stopped before any window finished" : "no window had enough data"
            if stopped { endState = "stopped" }
            throw fail(stopped ? "stopped before any walk-forward window finished" : "no walk-forward window had enough data")
        }
        (endState, endDetail) = stopped
            ? ("stopped", "stopped by STOP after \(results.count) of \(bounds.count) windows")
            : ("done", skipped > 0 ? "\(skipped) of \(bounds.count) windows skipped for lack of data" : "")
        Self.report(results, train: train, test: test, json: json, trainDays: Double(trainSpan) / 86_400_000, testDays: Double(testSpan) / 86_400_000)
        let grade = try WalkForwardGrade.record(results, settings: trading, database: database)
        if !json { for line in grade.report { print(line) } }
    }

    /// Writes a window's two backtests as run folders (with their report pages) and records them in
    /// `database`; `runIDs` fixes the folders' ids (a queued walk-forward's, so collecting it twice
    /// writes nothing twice).
    static func record(
        _ w: WalkForwardBounds, bundlePath: String, bundleName: String, testAUC: Double, settings: BacktestSettings,
        inSample: WalkForwardBacktest, outOfSample: WalkForwardBacktest, plan: WalkForwardPlan, store: String,
        root: URL, database: RunDatabase, runIDs: (inSample: String, outOfSample: String)?
    ) throws -> Window {
        func write(_ b: WalkForwardBacktest, label: String, id fixed: String?) throws -> String {
            let now = UTC.now()
            let config = plan.runConfig(
                id: fixed ?? BacktestRunWriter.runID(createdAt: now, description: "\(plan.baseName)-w\(w.index + 1)-\(label)", in: root),
                window: w, label: label, backtest: b, bundlePath: bundlePath, bundleName: bundleName, settings: settings, store: store, createdAt: now
            )
            if fixed != nil, try database.run(config.id) != nil { return config.id }
            let folder = try BacktestRunWriter.write(b.result, config: config, to: root)
            try BacktestReportPage.write(b.result, config: config, reliability: b.reliability, to: folder)
            try database.record(config: config, result: b.result)
            return config.id
        }
        let inRun = try write(inSample, label: "in-sample", id: runIDs?.inSample)
        let outRun = try write(outOfSample, label: "out-of-sample", id: runIDs?.outOfSample)
        return Window(
            index: w.index + 1, trainStart: w.trainStart, trainEnd: w.trainEnd, testEnd: w.testEnd, bundle: bundleName,
            testAUC: testAUC, inSample: inSample.result.metrics, outOfSample: outOfSample.result.metrics, inRun: inRun, outRun: outRun
        )
    }

    /// The table, the efficiencies and the verdict.
    static func report(_ results: [Window], train: String, test: String, json: Bool, trainDays: Double, testDays: Double) {
        func mean(_ xs: [Double]) -> Double {
            let finite = xs.filter(\.isFinite)
            return finite.isEmpty ? .nan : finite.reduce(0, +) / Double(finite.count)
        }
        let inPerDay = mean(results.map { $0.inSample.totalReturn / trainDays })
        let outPerDay = mean(results.map { $0.outOfSample.totalReturn / testDays })
        let returnEfficiency = inPerDay > 0 ? outPerDay / inPerDay : .nan
        let inSharpe = mean(results.map(\.inSample.sharpe))
        let outSharpe = mean(results.map(\.outOfSample.sharpe))
        let sharpeEfficiency = inSharpe > 0 ? outSharpe / inSharpe : .nan
        let trades = results.map(\.outOfSample.trades).reduce(0, +)
        let pnl = results.map(\.outOfSample.totalPnL).reduce(0, +)
        let profitable = results.filter { $0.outOfSample.totalPnL > 0 }.count
        let verdict: String
        var reasons: [String] = []
        if trades < Self.minimumTrades {
            verdict = "no verdict"
            reasons.append("\(trades) out-of-sample trades, fewer than \(Self.minimumTrades)")
        } else {
            if !(pnl > 0) { reasons.append(String(format: "out-of-sample P&L %.2f USDT is not positive", pnl)) }
            if !(returnEfficiency >= 0.5) {
                reasons.append(returnEfficiency.isFinite ? String(format: "return efficiency %.2f is below 0.5", returnEfficiency) : "in-sample return is not positive, so the efficiency is undefined")
            }
            if Double(profitable) < 0.6 * Double(results.count) { reasons.append("\(profitable) of \(results.count) windows profitable out of sample (needs 60 %)") }
            verdict = reasons.isEmpty ? "stable" : "not stable"
        }
        if json {
            func v(_ x: Double) -> Any { x.isFinite ? x : NSNull() }
            let windows: [[String: Any]] = results.map { r in
                [
                    "window": r.index, "train_from": UTC.isoString(r.trainStart), "train_to": UTC.isoString(r.trainEnd),
                    "test_to": UTC.isoString(r.testEnd), "bundle": r.bundle, "test_auc": v(r.testAUC),
                    "in_sample": ["run_id": r.inRun, "total_return": v(r.inSample.totalReturn), "sharpe": v(r.inSample.sharpe), "trades": r.inSample.trades],
                    "out_of_sample": [
                        "run_id": r.outRun, "trades": r.outOfSample.trades, "total_pnl_usdt": v(r.outOfSample.totalPnL),
                        "total_return": v(r.outOfSample.totalReturn), "sharpe": v(r.outOfSample.sharpe), "max_drawdown": v(r.outOfSample.maxDrawdown),
                    ],
                ]
            }
            let object: [String: Any] = [
                "windows": windows, "wfe_return": v(returnEfficiency), "wfe_sharpe": v(sharpeEfficiency),
                "out_of_sample_trades": trades, "out_of_sample_pnl_usdt": v(pnl), "verdict": verdict, "reasons": reasons,
            ]
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
                print(String(decoding: data, as: UTF8.self))
            }
            return
        }
        print("walk-forward: \(results.count) windows of \(train) train, \(test) test")
        print("window  train from → test to      IS return   OOS trades   OOS P&L     OOS return  OOS Sharpe  OOS max DD  test AUC")
        for r in results {
            let o = r.outOfSample
            print(
                String(format: "%6d  ", r.index) + "\(UTC.dayString(r.trainStart)) → \(UTC.dayString(r.testEnd))  "
                    + String(
                        format: "%8.2f%%  %11d  %10.2f  %9.2f%%  %10.2f  %9.2f%%  %8.4f",
                        r.inSample.totalReturn * 100, o.trades, o.totalPnL, o.totalReturn * 100, o.sharpe, o.maxDrawdown * 100, r.testAUC
                    )
            )
        }
        print(String(format: "walk-forward efficiency: return %@ (out-of-sample %.4f %%/day over in-sample %.4f %%/day), Sharpe %@",
                     returnEfficiency.isFinite ? String(format: "%.2f", returnEfficiency) : "n/a", outPerDay * 100, inPerDay * 100,
                     sharpeEfficiency.isFinite ? String(format: "%.2f", sharpeEfficiency) : "n/a"))
        print("verdict: \(verdict)" + (reasons.isEmpty ? "" : " — " + reasons.joined(separator: "; ")))
        print("models and runs:")
        for r in results { print("  w\(r.index): model \(r.bundle); runs \(r.inRun) (in sample), \(r.outRun) (out of sample)") }
    }
}
