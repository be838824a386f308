import ArgumentParser
import Backtest
import Dashboard
import Foundation
import JobQueue
import MarketData
import Model
import Research
import ScalperCore
import Trading

/// `scalper sweep`: backtest every combination of a parameter grid.
struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Backtest every combination of parameters in parallel; rank them and draw a heatmap.",
        discussion: """
            --param name=start:stop:step (inclusive) or name=a,b,c, repeatable; names are the YAML keys (signals.min_probability, execution.slippage_bps, risk.max_open_positions, …; a bare key is looked up in signals, risk and execution). Features and predictions are computed once; the replays run on all cores. Each combination is stored as a run.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Model bundle folder.")
    var model: String

    @OptionGroup var window: SeriesWindowOptions

    @Option(help: "A swept parameter, e.g. min_probability=0.55:0.80:0.05 (repeatable).")
    var param: [String]

    @Option(help: "Metric to rank by: a name of metrics.csv and of `scalper backtest --json` (total_pnl_usdt, sharpe, profit_factor, …).")
    var metric = BacktestMetricField.totalPnL.name

    @Option(help: "Root folder of run folders (default: backtest.runs_dir of the config).")
    var runsDir: String?

    @Option(help: "Rows of the ranked table to print.")
    var top = 15

    @Option(help: "The champion is the best in-sample total return whose max drawdown is at most this fraction (0.05 = 5 %); without it, the best return.")
    var maxDrawdown: Double?

    @Option(help: "Judge the champion out of sample: the sweep runs from --from to this instant (UTC, YYYY-MM-DD[THH:MM]), then the champion alone from here to --to, graded A–F (scalper runs show prints the grade).")
    var outOfSampleFrom: String?

    @Option(help: "Monte Carlo paths (bootstrap) over the champion's trades.")
    var monteCarloPaths = 10_000

    @Flag(help: "Queue one job per combination on the shared PostgreSQL database (--runs-db) instead of running them here: `scalper worker` on any machine runs them, `scalper queue status|results ID` follows them.")
    var queue = false

    @OptionGroup var shared: SharedDatabaseOptions

    @Option(help: "A name in the queued batch's id (with --queue).")
    var name: String?

    /// Trades below which the deflated Sharpe ratio gives no verdict.
    static let minimumTrades = 30

    func validate() throws {
        if param.isEmpty { throw ValidationError("give at least one --param") }
        for p in param { _ = try SweepParameter(parsing: p) }
        do {
            _ = try BacktestMetricField.named(metric)
        } catch {
            throw ValidationError("--metric: \(error)")
        }
        if let maxDrawdown, !(maxDrawdown > 0 && maxDrawdown <= 1) {
            throw ValidationError("--max-drawdown must be a fraction in (0, 1], e.g. 0.05 for 5 %")
        }
        if monteCarloPaths < 100 { throw ValidationError("--monte-carlo-paths must be at least 100") }
        if queue && runsDir != nil {
            throw ValidationError("--queue stores the grid's results in the database: --runs-dir applies to a sweep run here (write the queued runs out with scalper queue results ID --runs-dir DIR)")
        }
        if !queue && (name != nil || shared.runsDB != nil) { throw ValidationError("--name and --runs-db go with --queue") }
        if let text = outOfSampleFrom {
            let (start, end) = try parseWindow(from: window.from, to: window.to)
            guard let split = UTC.parse(text) else { throw ValidationError("--out-of-sample-from '\(text)' is not YYYY-MM-DD[THH:MM] (UTC)") }
            guard split > start, split < end else { throw ValidationError("--out-of-sample-from must lie inside --from … --to") }
        }
    }

    func run() async throws {
        let settings = try global.loadConfiguration()
        let (start, end) = try parseWindow(from: window.from, to: window.to)
        let split = outOfSampleFrom.flatMap(UTC.parse)
        let parameters = try param.map { try SweepParameter(parsing: $0) }
        let rankField = try BacktestMetricField.named(metric)
        let predictor: Predictor
        do {
            predictor = try ModelBundle.load(model)
        } catch {
            throw fail("\(error)")
        }
        guard let interval = KlineInterval(predictor.metadata.interval) else { throw fail("unknown interval") }
        let list = symbolList(window.symbols)
        let store = try MarketStore(path: global.storePath(settings))
        let warmupBars = settings.trading.warmupBars
        let inSampleEnd = split ?? end
        var base = BacktestSettings()
        base.capital = settings.backtest.capital
        base.signals = settings.signals.resolved(for: predictor.metadata)
        base.risk = settings.risk
        base.execution = settings.execution
        if queue {
            let url = try shared.url()
            let queued: (id: String, jobs: Int)
            do {
                // With --out-of-sample-from the jobs cover the in-sample part; `queue results`
                // judges the champion on the rest once every combination has a result.
                queued = try await SweepQueueing.enqueue(
                    url: url, modelPath: model, predictor: predictor, symbols: list, window: (start, inSampleEnd), warmupBars: warmupBars,
                    base: base, parameters: parameters, name: name,
                    judging: split.map { _ in QueuedSweepJudging(outOfSampleEnd: end, maxDrawdown: maxDrawdown, monteCarloPaths: monteCarloPaths) }
                )
            } catch let error as SweepError {
                throw fail("\(error)")
            } catch let error as JobQueueError {
                throw fail("\(error)")
            } catch {
                throw fail("\(url): \(JobQueue.describe(error))")
            }
            print("queued \(queued.id): \(queued.jobs) jobs on \(url)")
            note("run them with `scalper worker --runs-db URL --store <each machine's copy of the store>` (or deploy/), follow them with `scalper queue status \(queued.id) --runs-db URL`, collect them with `scalper queue results \(queued.id) --runs-db URL [--runs-dir DIR]`")
            return
        }
        let series = try loadTradingSeries(store, symbols: list, interval: interval, from: start, to: inSampleEnd, warmupBars: warmupBars)
        try predictor.setThreads(settings.model.effectiveThreads)
        // The lowest min_probability any combination uses decides which rows need full predictions.
        let sweptProbabilities = parameters.first { $0.key == "signals.min_probability" }?.values ?? []
        let floor = ([base.signals.minProbability] + sweptProbabilities).min() ?? 0
        var prepared = try BacktestEngine.prepare(
            series: series,
            predictor: predictor,
            interval: interval,
            minimumProbability: floor,
            tradableFrom: start,
            warmupBars: warmupBars
        )
        for line in prepared.warmupNotes { note("warm-up: \(line)") }
        for symbol in list { prepared.filters[symbol] = try store.symbolFilters(symbol: symbol) }

        let root = URL(fileURLWithPath: runsDir ?? settings.backtest.runsDir)
        let now = UTC.now()
        let combinations = Sweep.combinations(parameters)
        let folder = root.appendingPathComponent(BacktestRunWriter.runID(createdAt: now, description: "sweep", in: root))
        let progress = try SweepProgress(folder: folder, total: combinations.count, parameters: parameters.map(\.key))
        note("sweep folder: \(folder.path) (status.json, progress.jsonl; create a file named STOP there to stop it)")
        let clock = ContinuousClock()
        let started = clock.now
        let results: [(values: [Double], settings: BacktestSettings, result: BacktestResult)]
        do {
            results = try Sweep.run(
                prepared, base: base, parameters: parameters,
                shouldStop: { progress.stopRequested },
                finished: { i, result in progress.finished(index: i, values: combinations[i], metrics: result.metrics) }
            )
        } catch {
            progress.end(state: "failed", detail: "\(error)")
            throw fail("\(error)")
        }
        let stopped = results.count < combinations.count
        note("swept \(results.count) of \(combinations.count) combinations in \(String(format: "%.2f", Trainer.seconds(clock.now - started))) s")
        if stopped {
            note("stopped by \(folder.appendingPathComponent("STOP").path): \(combinations.count - results.count) combinations never started; the table below holds the \(results.count) that ran")
        }
        do {
            try Self.report(
                results, parameters: parameters, rankField: rankField, predictor: predictor, prepared: prepared, list: list,
                interval: interval, window: (start, inSampleEnd, end), split: split, store: store, settings: settings,
                root: root, folder: folder, now: now,
                choices: ReportChoices(
                    model: model, metric: metric, top: top, maxDrawdown: maxDrawdown, monteCarloPaths: monteCarloPaths,
                    storePath: global.storePath(settings)
                )
            )
        } catch {
            progress.end(state: "failed", detail: "\(error)")
            throw error
        }
        progress.end(state: stopped ? "stopped" : "done", detail: stopped ? "stopped by STOP after \(results.count) of \(combinations.count)" : "")
    }

    /// What a sweep's report was asked for: the options of a sweep run here, or those a queued
    /// sweep was queued with (`scalper queue results` reports it the same way).
    struct ReportChoices {
        var model: String
        var metric: String
        var top: Int
        var maxDrawdown: Double?
        var monteCarloPaths: Int
        /// The store the runs name (and the out-of-sample check reads).
        var storePath: String
    }

    /// Stores every combination as a run, prints the ranking, the Pareto front and the champion
    /// (judged out of sample when asked), and writes the sweep folder's plots and summaries.
    @discardableResult
    static func report(
        _ results: [(values: [Double], settings: BacktestSettings, result: BacktestResult)],
        parameters: [SweepParameter],
        rankField: BacktestMetricField,
        predictor: Predictor,
        prepared: PreparedBacktest,
        list: [String],
        interval: KlineInterval,
        window: (start: Int64, inSampleEnd: Int64, end: Int64),
        split: Int64?,
        store: MarketStore,
        settings: ScalperConfiguration,
        root: URL,
        folder: URL,
        now: Int64,
        choices: ReportChoices
    ) throws -> JudgedChampion? {
        let (model, metric, top, maxDrawdown, monteCarloPaths) = (choices.model, choices.metric, choices.top, choices.maxDrawdown, choices.monteCarloPaths)
        let database = try RunDatabase(path: root.appendingPathComponent("runs.sqlite").path)
        // The model's reliability over the window is the same for every combination: computed once.
        let reliability = BacktestEngine.reliability(prepared, label: predictor.metadata.labelSpec)
        func config(_ label: String, _ s: BacktestSettings, from: Int64, to: Int64, description: String) -> BacktestRunConfig {
            BacktestRunConfig(
                id: BacktestRunWriter.runID(createdAt: now, description: label, in: root),
                model: model,
                modelName: predictor.metadata.name,
                symbols: list,
                from: UTC.isoString(from),
                to: UTC.isoString(to),
                interval: interval.name,
                store: choices.storePath,
                settings: s,
                createdAt: UTC.isoString(now),
                gitCommit: gitCommit(),
                description: description
            )
        }
        var ids: [String] = []
        var ranked: [(values: [Double], value: Double, id: String, m: BacktestMetrics)] = []
        for r in results {
            let label = zip(parameters, r.values).map { "\($0.0.key.split(separator: ".").last ?? "")=\(Sweep.format($0.1))" }.joined(separator: "_")
            let c = config("sweep_\(label)", r.settings, from: window.start, to: window.inSampleEnd, description: "sweep \(label)")
            let runFolder = try BacktestRunWriter.write(r.result, config: c, to: root)
            try BacktestReportPage.write(r.result, config: c, reliability: reliability, to: runFolder)
            try database.record(config: c, result: r.result)
            ids.append(c.id)
            ranked.append((r.values, rankField.value(r.result.metrics), c.id, r.result.metrics))
        }
        ranked.sort { ($0.value.isNaN ? -Double.infinity : $0.value) > ($1.value.isNaN ? -Double.infinity : $1.value) }
        let names = parameters.map { String($0.key.split(separator: ".").last ?? "") }
        func cells(_ values: [Double]) -> String { values.map { Sweep.format($0).padding(toLength: 20, withPad: " ", startingAt: 0) }.joined() }
        print("rank  " + names.map { $0.padding(toLength: 20, withPad: " ", startingAt: 0) }.joined() + "\(metric.padding(toLength: 16, withPad: " ", startingAt: 0))trades  win rate  max DD   run")
        for (i, r) in ranked.prefix(top).enumerated() {
            print(
                String(format: "%4d  ", i + 1) + cells(r.values) + rankField.displayText(r.value).padding(toLength: 16, withPad: " ", startingAt: 0)
                    + String(format: "%6d  %7.2f%%  %6.2f%%  ", r.m.trades, r.m.winRate * 100, r.m.maxDrawdown * 100) + r.id
            )
        }
        if parameters.count >= 2 {
            let (a, b) = (parameters[0], parameters[1])
            var grid: [String: Double] = [:]
            for r in ranked where r.values.count >= 2 {
                // Several combinations per cell when more than two parameters vary: the best one is shown.
                let key = "\(r.values[0])|\(r.values[1])"
                grid[key] = max(grid[key] ?? -.infinity, r.value)
            }
            let svg = Sweep.heatmapSVG(xName: a.key, xValues: a.values, yName: b.key, yValues: b.values, value: { grid["\($0)|\($1)"] }, metric: metric)
            let path = folder.appendingPathComponent("heatmap.svg")
            try Data(svg.utf8).write(to: path)
            print("heatmap: \(path.path)")
        }
        guard !results.isEmpty else { return nil }

        // Pareto front of in-sample return against max drawdown; the champion under the cap.
        let returns = results.map(\.result.metrics.totalReturn)
        let drawdowns = results.map(\.result.metrics.maxDrawdown)
        let front = Pareto.front(returns: returns, drawdowns: drawdowns)
        let cap = maxDrawdown ?? .infinity
        let champion = Pareto.champion(returns: returns, drawdowns: drawdowns, maxDrawdown: cap)
        let sample = split == nil ? "whole window" : "in sample, \(UTC.minuteString(window.start)) → \(UTC.minuteString(window.inSampleEnd))"
        print("")
        print("Pareto front (\(sample)): total return against max drawdown, \(front.count) of \(results.count) combinations")
        print("      " + names.map { $0.padding(toLength: 20, withPad: " ", startingAt: 0) }.joined() + "return    max DD   trades  run")
        var csv = "index," + parameters.map(\.key).joined(separator: ",") + ",total_return,max_drawdown,trades,run_id,on_front,champion\n"
        for i in front {
            let m = results[i].result.metrics
            print(
                (i == champion ? "  *   " : "      ") + cells(results[i].values)
                    + String(format: "%7.2f%%  %6.2f%%  %6d  ", m.totalReturn * 100, m.maxDrawdown * 100, m.trades) + ids[i]
            )
        }
        for (i, r) in results.enumerated() {
            let m = r.result.metrics
            csv += "\(i)," + r.values.map(Sweep.format).joined(separator: ",")
                + ",\(m.totalReturn),\(m.maxDrawdown),\(m.trades),\(ids[i]),\(front.contains(i)),\(i == champion)\n"
        }
        try Data(csv.utf8).write(to: folder.appendingPathComponent("pareto.csv"))
        let plot = Pareto.svg(
            returns: returns, drawdowns: drawdowns, front: front, champion: champion, maxDrawdown: maxDrawdown,
            title: "Sweep: return against max drawdown (\(sample))"
        )
        try Data(plot.utf8).write(to: folder.appendingPathComponent("pareto.svg"))
        print("pareto: \(folder.appendingPathComponent("pareto.svg").path)")
        guard let champion else {
            print("champion: none — no combination kept its max drawdown within \(String(format: "%.2f", cap * 100)) %")
            try writeJSON(["champion": NSNull(), "max_drawdown_cap": number(cap)], to: folder.appendingPathComponent("champion.json"))
            return nil
        }
        let chosen = results[champion]
        let m = chosen.result.metrics
        let capText = maxDrawdown.map { String(format: "max drawdown ≤ %.2f %%", $0 * 100) } ?? "no drawdown cap"
        print("")
        print("champion (\(capText)): " + zip(names, chosen.values).map { "\($0)=\(Sweep.format($1))" }.joined(separator: " "))
        print(String(format: "  %@: return %.2f %%, max drawdown %.2f %%, %d trades, Sharpe %.2f — run %@", sample, m.totalReturn * 100, m.maxDrawdown * 100, m.trades, m.sharpe, ids[champion]))

        // Deflated Sharpe ratio of the champion's per-trade returns, chosen out of every combination run.
        var summary: [String: Any] = [
            "values": Dictionary(uniqueKeysWithValues: zip(parameters.map(\.key), chosen.values)),
            "max_drawdown_cap": maxDrawdown.map { $0 as Any } ?? NSNull(),
            "in_sample": ["run_id": ids[champion], "total_return": number(m.totalReturn), "max_drawdown": number(m.maxDrawdown), "trades": m.trades, "sharpe": number(m.sharpe)],
            "combinations_run": results.count,
        ]
        let perTrade = results.map { r in r.result.trades.map { $0.pnlPct / 100 } }
        let sharpes = perTrade.compactMap { SharpeStatistics.moments($0)?.sharpe }.filter(\.isFinite)
        // The grade's DSR input: measured below, or why not.
        var gradeDSR = Grade.Measured<Grade.DeflatedSharpe>.missing(
            reason: sharpes.count < 2
                ? "fewer than two combinations have a finite Sharpe ratio"
                : "the champion made \(m.trades) trades in sample, fewer than \(Self.minimumTrades)"
        )
        if let deflation = SweepDeflation.evaluate(perTradeReturns: perTrade, chosen: champion, minimumTrades: Self.minimumTrades) {
            let (moments, dsr, psr) = (deflation.moments, deflation.deflated, deflation.probabilistic)
            let verdict = dsr >= 0.95 ? "significant at 95 %" : "not significant: the best of \(results.count) trials reaches this by luck too often"
            print(String(format: "  per-trade Sharpe %.3f over %d trades: PSR (against 0) %.3f, deflated Sharpe ratio (%d trials) %.3f — %@", moments.sharpe, moments.count, psr, results.count, dsr, verdict))
            summary["dsr"] = number(dsr)
            summary["psr"] = number(psr)
            gradeDSR = .value(Grade.DeflatedSharpe(probability: dsr, trials: results.count))
        } else {
            print("  deflated Sharpe ratio: no verdict — \(m.trades) trades, fewer than \(Self.minimumTrades)")
            summary["dsr"] = NSNull()
        }

        // Out of sample: the champion's settings alone over the rest of the window.
        var judged = chosen.result
        var outOfSampleRun: String?
        var judgedChampion: JudgedChampion?
        if let split {
            let oosSeries = try loadTradingSeries(store, symbols: list, interval: interval, from: split, to: window.end, warmupBars: settings.trading.warmupBars)
            var oos = try BacktestEngine.prepare(
                series: oosSeries, predictor: predictor, interval: interval, minimumProbability: chosen.settings.signals.minProbability,
                tradableFrom: split, warmupBars: settings.trading.warmupBars
            )
            for symbol in list { oos.filters[symbol] = try store.symbolFilters(symbol: symbol) }
            let result = BacktestEngine.replay(oos, settings: chosen.settings)
            let c = config("sweep_champion_out-of-sample", chosen.settings, from: split, to: window.end, description: "sweep champion out of sample")
            let runFolder = try BacktestRunWriter.write(result, config: c, to: root)
            try BacktestReportPage.write(
                result, config: c,
                reliability: BacktestEngine.reliability(oos, label: predictor.metadata.labelSpec),
                to: runFolder
            )
            try database.record(config: c, result: result)
            let o = result.metrics
            let within = maxDrawdown.map { o.maxDrawdown <= $0 ? " (within the cap)" : " (beyond the cap out of sample)" } ?? ""
            print(String(format: "  out of sample, %@ → %@: return %.2f %%, max drawdown %.2f %%%@, %d trades — run %@", UTC.minuteString(split), UTC.minuteString(window.end), o.totalReturn * 100, o.maxDrawdown * 100, within, o.trades, c.id))
            summary["out_of_sample"] = ["run_id": c.id, "total_return": number(o.totalReturn), "max_drawdown": number(o.maxDrawdown), "trades": o.trades, "sharpe": number(o.sharpe)]
            judged = result
            outOfSampleRun = c.id
            judgedChampion = JudgedChampion(config: c, result: result, grade: nil)
        } else {
            print("  not judged out of sample (give --out-of-sample-from to keep part of the window for it)")
        }

        // Monte Carlo on the trades the champion is judged by.
        var gradeDrawdown = Grade.Measured<Double>.missing(reason: "no out-of-sample trades to draw")
        if judged.trades.isEmpty {
            print("  Monte Carlo: no trades to draw")
        } else {
            let pnl = judged.trades.map(\.pnlUSDT)
            let capital = judged.metrics.startingCapital
            var bands: [String: Any] = [:]
            for method in MonteCarlo.Method.allCases {
                let mc = MonteCarlo.run(tradePnL: pnl, capital: capital, method: method, paths: monteCarloPaths, seed: 1)
                print(
                    String(
                        format: "  Monte Carlo (%@, %d paths of %d trades, seed 1): return %.2f / %.2f / %.2f %%, max drawdown %.2f / %.2f / %.2f %% (5 / 50 / 95 %%)",
                        method.rawValue, mc.paths, mc.trades, mc.totalReturn.p5 * 100, mc.totalReturn.p50 * 100, mc.totalReturn.p95 * 100,
                        mc.maxDrawdown.p5 * 100, mc.maxDrawdown.p50 * 100, mc.maxDrawdown.p95 * 100
                    )
                )
                bands[method.rawValue] = [
                    "paths": mc.paths, "seed": mc.seed,
                    "total_return": ["p5": number(mc.totalReturn.p5), "p50": number(mc.totalReturn.p50), "p95": number(mc.totalReturn.p95)],
                    "max_drawdown": ["p5": number(mc.maxDrawdown.p5), "p50": number(mc.maxDrawdown.p50), "p95": number(mc.maxDrawdown.p95)],
                ]
                try Data(MonteCarlo.histogramSVG(mc).utf8).write(to: folder.appendingPathComponent("montecarlo-\(method.rawValue).svg"))
                if method == .bootstrap { gradeDrawdown = .value(mc.maxDrawdown.p95) }
            }
            summary["monte_carlo"] = bands
        }

        // The grade (Research/Grade.swift), stored with the out-of-sample run.
        if let split, let outOfSampleRun {
            let inSampleDays = Double(window.inSampleEnd - window.start) / 86_400_000
            let outOfSampleDays = Double(window.end - split) / 86_400_000
            let grade = Grade(
                Grade.Inputs(
                    outOfSampleReturn: judged.metrics.totalReturn,
                    trades: judged.metrics.trades,
                    efficiency: .value(
                        Grade.Efficiency(
                            inSampleReturnPerDay: m.totalReturn / inSampleDays,
                            outOfSampleReturnPerDay: judged.metrics.totalReturn / outOfSampleDays
                        )
                    ),
                    deflatedSharpe: gradeDSR,
                    monteCarloDrawdownP95: gradeDrawdown,
                    drawdownLimit: chosen.settings.risk.maxDrawdownPct
                ),
                scope: "sweep champion out of sample, \(UTC.minuteString(split)) → \(UTC.minuteString(window.end)); chosen from \(results.count) combinations in sample"
            )
            let json = try grade.json()
            let stored = RunGrade(letter: grade.letter?.rawValue, summary: grade.summary, reasonsJSON: json, gradedAt: UTC.isoString(UTC.now()))
            try database.record(grade: stored, forRun: outOfSampleRun)
            judgedChampion?.grade = stored
            for line in grade.report { print("  " + line) }
            summary["grade"] = try JSONSerialization.jsonObject(with: Data(json.utf8))
        } else {
            print("  grade: not graded — a grade needs the champion judged out of sample (--out-of-sample-from)")
        }
        try writeJSON(summary, to: folder.appendingPathComponent("champion.json"))
        return judgedChampion
    }

    /// The champion's out-of-sample run (and its grade) a report wrote.
    struct JudgedChampion {
        var config: BacktestRunConfig
        var result: BacktestResult
        var grade: RunGrade?
    }

    /// A figure for JSON: null where it is not a number (no trades, no cap).
    private static func number(_ x: Double) -> Any { x.isFinite ? x : NSNull() }

    private static func writeJSON(_ object: [String: Any], to url: URL) throws {
        try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]).write(to: url)
    }
}

/// A sweep's (or a walk-forward's) folder while it runs: `status.json` (queued, running, done, failed,
/// stopped) rewritten atomically, `progress.jsonl` one line per finished combination (window), a
/// progress bar on a terminal, and the `STOP` file that stops it.
final class SweepProgress: @unchecked Sendable {
    // @unchecked: every mutable field is used under `lock`.
    private let folder: URL
    private let total: Int
    private let parameters: [String]
    private let lock = NSLock()
    private var done = 0
    private let log: FileHandle
    private let startedAt = UTC.now()
    private let isTerminal = isatty(STDERR_FILENO) == 1

    init(folder: URL, total: Int, parameters: [String]) throws {
        self.folder = folder
        self.total = total
        self.parameters = parameters
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("progress.jsonl").path
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw ValidationError("cannot create \(path)") }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw ValidationError("cannot write \(path)") }
        log = handle
        writeStatus(state: "running", detail: "")
    }

    /// The folder's path.
    var path: String { folder.path }

    /// Whether a `STOP` file is in the folder.
    var stopRequested: Bool { FileManager.default.fileExists(atPath: folder.appendingPathComponent("STOP").path) }

    /// One combination finished.
    func finished(index: Int, values: [Double], metrics: BacktestMetrics) {
        lock.withLock {
            done += 1
            var line: [String: Any] = ["index": index, "done": done, "total": total, "at": UTC.isoString(UTC.now())]
            line["values"] = Dictionary(uniqueKeysWithValues: zip(parameters, values))
            line["total_return"] = metrics.totalReturn.isFinite ? metrics.totalReturn : NSNull()
            line["max_drawdown"] = metrics.maxDrawdown.isFinite ? metrics.maxDrawdown : NSNull()
            line["trades"] = metrics.trades
            if let data = try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]) {
                log.write(data + Data("\n".utf8))
            }
            writeStatus(state: "running", detail: "")
            if isTerminal {
                let width = 30
                let filled = total > 0 ? width * done / total : width
                let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
                FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total)".utf8))
                if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
            }
        }
    }

    /// The final state.
    func end(state: String, detail: String) {
        lock.withLock {
            if isTerminal && done < total { FileHandle.standardError.write(Data("\n".utf8)) }
            writeStatus(state: state, detail: detail)
            try? log.close()
        }
    }

    private func writeStatus(state: String, detail: String) {
        let status: [String: Any] = [
            "state": state, "total": total, "done": done, "started_at": UTC.isoString(startedAt),
            "updated_at": UTC.isoString(UTC.now()), "detail": detail,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: status, options: [.prettyPrinted, .sortedKeys]) else { return }
        // Written beside and renamed over: a reader never sees half a file.
        let target = folder.appendingPathComponent("status.json")
        let temporary = folder.appendingPathComponent(".status.json.partial")
        if (try? data.write(to: temporary)) != nil { _ = rename(temporary.path, target.path) }
    }
}

/// `scalper export-notebook`: a run as a Jupyter notebook.
struct ExportNotebookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-notebook",
        abstract: "Export a backtest run as a Jupyter notebook (nbformat 4) with its config, metrics, trades and equity chart.",
        discussion: "The run comes from <runs-dir>/<run>/, or from the PostgreSQL runs database (--runs-db, $SCALPER_RUNS_DB, runs.database_url), whose stored files are written to <runs-dir>/<run>/ first when this machine has no such folder."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Run id (see scalper runs list).")
    var run: String

    @Option(help: "Root folder of run folders (default: backtest.runs_dir of the config).")
    var runsDir: String?

    @Option(name: .customLong("runs-db"), help: RunsCommand.runsDBHelp)
    var runsDB: String?

    @Option(help: "Output file (default: notebooks-export/<run>.ipynb in the workspace).")
    var out: String?

    func run() async throws {
        let settings = try global.loadConfiguration()
        let root = runsDir ?? settings.backtest.runsDir
        // From a PostgreSQL runs database, the run's stored files are written to <root>/<run>/ first
        // (when this machine has no such folder): the notebook's cells load them from there.
        let url = try RunsCommand.databaseURL(option: runsDB, settings: settings)
        let folder = try await RunsCommand.localFolder(ofRun: run, root: root, url: url)
        guard FileManager.default.fileExists(atPath: folder.path) else { throw fail("no run \(run) under \(folder.deletingLastPathComponent().path)") }
        let data: Data
        do {
            data = try NotebookExport.notebook(runFolder: folder)
        } catch {
            throw fail("\(error)")
        }
        let path = out ?? global.workspace.resolve("notebooks-export/\(run).ipynb")
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
        print("wrote \(path)")
    }
}
