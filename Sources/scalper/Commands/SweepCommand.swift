import ArgumentParser
import Backtest
import Dashboard
import Foundation
import MarketData
import Model
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

    func validate() throws {
        if param.isEmpty { throw ValidationError("give at least one --param") }
        for p in param { _ = try SweepParameter(parsing: p) }
        do {
            _ = try BacktestMetricField.named(metric)
        } catch {
            throw ValidationError("--metric: \(error)")
        }
    }

    func run() async throws {
        let settings = try global.loadConfiguration()
        let (start, end) = try parseWindow(from: window.from, to: window.to)
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
        let series = try loadTradingSeries(store, symbols: list, interval: interval, from: start, to: end, warmupBars: warmupBars)
        var base = BacktestSettings()
        base.capital = settings.backtest.capital
        base.signals = settings.signals
        base.risk = settings.risk
        base.execution = settings.execution
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
        let clock = ContinuousClock()
        let started = clock.now
        let results = try Sweep.run(prepared, base: base, parameters: parameters)
        note("swept \(results.count) combinations in \(String(format: "%.2f", Trainer.seconds(clock.now - started))) s")

        let root = URL(fileURLWithPath: runsDir ?? settings.backtest.runsDir)
        let database = try RunDatabase(path: { try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true); return root.appendingPathComponent("runs.sqlite").path }())
        let now = UTC.now()
        // The model's reliability over the window is the same for every combination: computed once.
        let reliability = BacktestEngine.reliability(
            prepared, horizon: predictor.metadata.labelHorizon, threshold: predictor.metadata.labelThreshold
        )
        var ranked: [(values: [Double], value: Double, id: String, m: BacktestMetrics)] = []
        for r in results {
            let label = zip(parameters, r.values).map { "\($0.0.key.split(separator: ".").last ?? "")=\(Sweep.format($0.1))" }.joined(separator: "_")
            let config = BacktestRunConfig(
                id: BacktestRunWriter.runID(createdAt: now, description: "sweep_\(label)", in: root),
                model: model,
                modelName: predictor.metadata.name,
                symbols: list,
                from: UTC.isoString(start),
                to: UTC.isoString(end),
                interval: interval.name,
                store: global.storePath(settings),
                settings: r.settings,
                createdAt: UTC.isoString(now),
                gitCommit: gitCommit(),
                description: "sweep \(label)"
            )
            let folder = try BacktestRunWriter.write(r.result, config: config, to: root)
            try BacktestReportPage.write(r.result, config: config, reliability: reliability, to: folder)
            try database.record(config: config, result: r.result)
            let value = rankField.value(r.result.metrics)
            ranked.append((r.values, value, config.id, r.result.metrics))
        }
        ranked.sort { ($0.value.isNaN ? -Double.infinity : $0.value) > ($1.value.isNaN ? -Double.infinity : $1.value) }
        let names = parameters.map { String($0.key.split(separator: ".").last ?? "") }
        print("rank  " + names.map { $0.padding(toLength: 20, withPad: " ", startingAt: 0) }.joined() + "\(metric.padding(toLength: 16, withPad: " ", startingAt: 0))trades  win rate  max DD   run")
        for (i, r) in ranked.prefix(top).enumerated() {
            let cells = r.values.map { Sweep.format($0).padding(toLength: 20, withPad: " ", startingAt: 0) }.joined()
            print(
                String(format: "%4d  ", i + 1) + cells + rankField.displayText(r.value).padding(toLength: 16, withPad: " ", startingAt: 0)
                    + String(format: "%6d  %7.2f%%  %6.2f%%  ", r.m.trades, r.m.winRate * 100, r.m.maxDrawdown * 100) + r.id
            )
        }
        if parameters.count >= 2 {
            let (a, b) = (parameters[0], parameters[1])
            var cells: [String: Double] = [:]
            for r in ranked where r.values.count >= 2 {
                // Several combinations per cell when more than two parameters vary: the best one is shown.
                let key = "\(r.values[0])|\(r.values[1])"
                cells[key] = max(cells[key] ?? -.infinity, r.value)
            }
            let svg = Sweep.heatmapSVG(xName: a.key, xValues: a.values, yName: b.key, yValues: b.values, value: { cells["\($0)|\($1)"] }, metric: metric)
            let path = root.appendingPathComponent("sweep-\(UTC.isoString(now).replacingOccurrences(of: ":", with: "")).svg")
            try Data(svg.utf8).write(to: path)
            print("heatmap: \(path.path)")
        }
    }
}

/// `scalper export-notebook`: a run as a Jupyter notebook.
struct ExportNotebookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-notebook",
        abstract: "Export a backtest run as a Jupyter notebook (nbformat 4) with its config, metrics, trades and equity chart."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Run id (see scalper runs list).")
    var run: String

    @Option(help: "Root folder of run folders (default: backtest.runs_dir of the config).")
    var runsDir: String?

    @Option(help: "Output file (default: notebooks-export/<run>.ipynb in the workspace).")
    var out: String?

    func run() async throws {
        let settings = try global.loadConfiguration()
        let folder = URL(fileURLWithPath: runsDir ?? settings.backtest.runsDir).appendingPathComponent(run)
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
