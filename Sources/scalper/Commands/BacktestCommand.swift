import ArgumentParser
import Backtest
import Dashboard
import Foundation
import JobQueue
import MarketData
import Model
import PostgresRuns
import ScalperCore
import Trading

/// `scalper backtest`: would this model have made money after fees?
struct BacktestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Backtest a saved model on stored klines through the Trading code; writes a run folder.",
        discussion: """
            The bar rule: a market order decided at a bar's close (an entry, a timeout, the kill switch) fills at the next bar's open ± slippage; the stop and target rest as a list and trigger inside bars (stop first when both levels are inside one bar; a bar opening through the stop fills at its open). Commission as Binance takes it (a buy pays in the base asset, a sell in the quote), lot and tick rounding from the symbol's filters, and every risk rule apply. The run goes to <runs-dir>/YYYY-MM-DD_HHMM_<desc>/ (config.json, trades.csv, metrics.csv, summary.txt, equity.svg, report.html) and <runs-dir>/runs.sqlite; with a PostgreSQL runs database (--runs-db, $SCALPER_RUNS_DB, runs.database_url) it is also recorded there, files included, under an id no machine has used.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Model bundle folder, e.g. models/N.")
    var model: String

    @OptionGroup var window: SeriesWindowOptions

    @Option(help: "Starting capital in USDT (default: backtest.capital of the config).")
    var capital: Double?

    @Option(help: "Root folder of run folders (default: backtest.runs_dir of the config).")
    var runsDir: String?

    @Option(name: .customLong("runs-db"), help: RunsCommand.runsDBHelp)
    var runsDB: String?

    @Option(help: "A short description for the run's folder name.")
    var desc: String?

    @Flag(help: "Print the metrics as one JSON object.")
    var json = false

    @Option(help: "How rows are scored: trees (the model's trees compiled and walked in Swift, the default) or xgboost (XGBoost's own predictor through its C API: the same numbers, slower; for comparison).")
    var scoring = Scoring.trees.rawValue

    func validate() throws {
        if let capital, capital <= 0 { throw ValidationError("--capital must be positive") }
        if Scoring(rawValue: scoring) == nil {
            throw ValidationError("--scoring must be one of \(Scoring.allCases.map(\.rawValue).joined(separator: ", ")), not '\(scoring)'")
        }
    }

    func run() async throws {
        let settings = try global.loadConfiguration()
        let (start, end) = try parseWindow(from: window.from, to: window.to)
        let predictor: Predictor
        do {
            predictor = try ModelBundle.load(model)
        } catch {
            throw fail("\(error)")
        }
        predictor.scoring = Scoring(rawValue: scoring) ?? .trees
        if let problem = predictor.compileProblem { note("scoring through XGBoost's C API: \(problem)") }
        guard let interval = KlineInterval(predictor.metadata.interval) else {
            throw fail("\(model): unknown interval \(predictor.metadata.interval)")
        }
        let list = symbolList(window.symbols)
        guard !list.isEmpty else { throw ValidationError("--symbols is empty") }
        let storePath = global.storePath(settings)
        let store = try MarketStore(path: storePath)
        let warmupBars = settings.trading.warmupBars
        let series = try loadTradingSeries(store, symbols: list, interval: interval, from: start, to: end, warmupBars: warmupBars)
        var backtest = BacktestSettings()
        backtest.capital = capital ?? settings.backtest.capital
        backtest.signals = settings.signals.resolved(for: predictor.metadata)
        backtest.risk = settings.risk
        backtest.execution = settings.execution
        try predictor.setThreads(settings.model.effectiveThreads)
        let clock = ContinuousClock()
        let started = clock.now
        var prepared = try BacktestEngine.prepare(
            series: series,
            predictor: predictor,
            interval: interval,
            minimumProbability: backtest.signals.minProbability,
            tradableFrom: start,
            warmupBars: warmupBars
        )
        for line in prepared.warmupNotes { note("warm-up: \(line)") }
        for symbol in list { prepared.filters[symbol] = try store.symbolFilters(symbol: symbol) }
        let result = BacktestEngine.replay(prepared, settings: backtest)
        let seconds = Model.Trainer.seconds(clock.now - started)
        let root = URL(fileURLWithPath: runsDir ?? settings.backtest.runsDir)
        let now = UTC.now()
        let description = desc ?? "\(predictor.metadata.name)-\(list.joined(separator: "+"))"
        let shared = try RunsCommand.databaseURL(option: runsDB, settings: settings)
        var id = BacktestRunWriter.runID(createdAt: now, description: description, in: root)
        if let shared {
            // Folder names are unique on this machine only: the shared database decides across machines.
            let local = id
            id = try await RunsCommand.withPostgres(shared) { runs in
                var candidate = local
                var n = 2
                while try await runs.run(candidate) != nil {
                    candidate = BacktestRunWriter.runID(createdAt: now, description: "\(description)-\(n)", in: root)
                    n += 1
                }
                return candidate
            }
        }
        let config = BacktestRunConfig(
            id: id,
            model: model,
            modelName: predictor.metadata.name,
            symbols: list,
            from: UTC.isoString(start),
            to: UTC.isoString(end),
            interval: interval.name,
            store: storePath,
            settings: backtest,
            createdAt: UTC.isoString(now),
            gitCommit: gitCommit(),
            description: description
        )
        let folder: URL
        do {
            folder = try BacktestRunWriter.write(result, config: config, to: root)
            let reliability = BacktestEngine.reliability(prepared, label: predictor.metadata.labelSpec)
            try BacktestReportPage.write(result, config: config, reliability: reliability, to: folder)
            try RunDatabase(path: root.appendingPathComponent("runs.sqlite").path).record(config: config, result: result)
        } catch {
            throw fail("cannot write the run under \(root.path): \(error)")
        }
        if let shared {
            let files: [String: [UInt8]]
            do {
                files = try BacktestRunWriter.files(inFolder: folder)
            } catch {
                throw fail("cannot read the run folder \(folder.path): \(error.localizedDescription)")
            }
            let stored = try await RunsCommand.withPostgres(shared) { runs in try await runs.record(config: config, result: result, files: files) }
            guard stored else {
                throw fail("\(shared): another machine recorded a run \(config.id) meanwhile; this one is only in \(folder.path)")
            }
        }
        if json {
            print(
                try BacktestJSON.encode(
                    result.metrics,
                    runID: config.id,
                    path: folder.path,
                    bars: result.barsReplayed,
                    seconds: seconds,
                    timings: result.timings
                )
            )
        } else {
            print(BacktestRunWriter.summary(result, config: config), terminator: "")
            print("run: \(folder.path)")
        }
    }
}

/// `scalper backtest --json`: every ``BacktestMetricField`` under its name (the names of
/// `metrics.csv` and the runs database), plus the run's id and folder and the replay's speed.
enum BacktestJSON {
    static func encode(
        _ m: BacktestMetrics,
        runID: String,
        path: String,
        bars: Int,
        seconds: Double,
        timings: [String: Double]
    ) throws -> String {
        func v(_ x: Double) -> Any { x.isFinite ? x : NSNull() }
        var object = m.jsonObject
        let run: [String: Any] = [
            "run_id": runID, "run_path": path, "bars": bars, "seconds": v(seconds), "bars_per_s": v(Double(bars) / max(seconds, 1e-9)),
            "replay_bars_per_s": v(Double(bars) / max(timings["replay_s"] ?? .nan, 1e-9)), "timings": timings,
        ]
        // The run's own keys never share a name with a metric; merging would silently drop one if they did.
        precondition(Set(run.keys).isDisjoint(with: object.keys), "a run key has a metric's name")
        object.merge(run) { metric, _ in metric }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

/// Each symbol's window `[from, to)` (refused when it has no bars, naming the symbol) preceded by up
/// to `warmupBars` bars of stored history for the feature kernel (never traded).
func loadTradingSeries(
    _ store: MarketStore,
    symbols: [String],
    interval: KlineInterval,
    from: Int64,
    to: Int64,
    warmupBars: Int
) throws -> [(symbol: String, klines: [Kline])] {
    try loadSeries(store, symbols: symbols, interval: interval, from: from, to: to).map { symbol, window in
        let history = try store.klines(symbol: symbol, interval: interval, from: from - Int64(warmupBars) * interval.milliseconds, to: from)
        return (symbol, Array(history.suffix(warmupBars)) + window)
    }
}
