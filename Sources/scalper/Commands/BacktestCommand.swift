import ArgumentParser
import Backtest
import Dashboard
import Foundation
import MarketData
import Model
import ScalperCore
import Trading

/// `scalper backtest`: would this model have made money after fees?
struct BacktestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Backtest a saved model on stored klines through the Trading code; writes a run folder.",
        discussion: """
            The bar rule: a market order decided at a bar's close (an entry, a timeout, the kill switch) fills at the next bar's open ± slippage; the stop and target rest as a list and trigger inside bars (stop first when both levels are inside one bar; a bar opening through the stop fills at its open). Commission as Binance takes it (a buy pays in the base asset, a sell in the quote), lot and tick rounding from the symbol's filters, and every risk rule apply. The run goes to <runs-dir>/YYYY-MM-DD_HHMM_<desc>/ (config.json, trades.csv, metrics.csv, summary.txt, equity.svg).
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
        let config = BacktestRunConfig(
            id: BacktestRunWriter.runID(createdAt: now, description: description, in: root),
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
