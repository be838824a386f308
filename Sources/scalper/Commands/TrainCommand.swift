import ArgumentParser
import Features
import Foundation
import MarketData
import Model
import Registry
import ScalperCore
import XGBoost

/// `scalper train`: a pooled multi-symbol model from the store, written as a bundle.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a pooled XGBoost model (with isotonic calibration) from stored klines and save a bundle.",
        discussion: """
            Rows of all symbols are pooled and split by time 70/15/15 with an H-bar purge; the model stops early on validation AUC, is calibrated on validation, and is reported on the test split, which neither saw. Rolling retrain-and-trade windows are `scalper walk-forward`.
            """
    )

    @OptionGroup var global: GlobalOptions

    @OptionGroup var window: SeriesWindowOptions

    @Option(help: "Kline interval.")
    var interval = "1m"

    @Option(help: "Bundle name (default: <symbols>-<from>-<to>-<timestamp>).")
    var name: String?

    @Option(help: "Folder for bundles (default: model.models_dir of the config).")
    var modelsDir: String?

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        if KlineInterval(interval) == nil { throw ValidationError("unknown interval '\(interval)'") }
        if let name, name.isEmpty || name.contains("/") || name.hasPrefix(".") {
            throw ValidationError("--name must be a plain folder name")
        }
    }

    func run() async throws {
        let settings = try global.loadConfiguration()
        let interval = KlineInterval(interval)!  // validated above
        let (start, end) = try parseWindow(from: window.from, to: window.to)
        let list = symbolList(window.symbols)
        guard !list.isEmpty else { throw ValidationError("--symbols is empty") }
        let store = try MarketStore(path: global.storePath(settings))
        let series = try loadSeries(store, symbols: list, interval: interval, from: start, to: end)
        let progress = TrainingProgressPrinter(quiet: json)
        let bundleName = name ?? defaultName(list, start: start, end: end)
        let folder = URL(fileURLWithPath: modelsDir ?? settings.model.modelsDir)
        let outcome: TrainingOutcome
        do {
            outcome = try TrainingPipeline.run(
                TrainingRequest(
                    series: series,
                    interval: interval,
                    configuration: settings.model,
                    windowFrom: start,
                    windowTo: end,
                    name: bundleName,
                    modelsDirectory: folder,
                    gitCommit: gitCommit()
                )
            ) { progress.show($0) }
        } catch {
            throw fail("\(error)")
        }
        progress.finish()
        let (dataset, model, path) = (outcome.dataset, outcome.model, outcome.bundle)
        // Every bundle is registered as a candidate; promotion is a separate, recorded decision.
        do {
            try ModelRegistry(path: folder.appendingPathComponent("registry.sqlite").path).register(bundle: path, origin: .train)
        } catch {
            throw fail("the bundle is written at \(path.path) but not registered: \(error)")
        }
        let summary = MetricsSummary(
            raw: model.testRaw,
            calibrated: model.testCalibrated,
            nTrain: dataset.train.count,
            nValidation: dataset.validation.count,
            nTest: dataset.test.count,
            bestIteration: model.bestIteration,
            modelPath: folder.appendingPathComponent(bundleName).path,
            calibrationMethod: model.calibrationChoice.method,
            extra: [
                "train_total_s": outcome.seconds, "peak_rss_mb": peakResidentMegabytes(),
                "signal_threshold": model.signalThreshold.threshold,
            ]
        )
        if json {
            print(try summary.json())
        } else {
            print("trained \(list.joined(separator: "+")) \(window.from) … \(window.to): \(dataset.train.count) train / \(dataset.validation.count) validation / \(dataset.test.count) test rows")
            print(summary.table())
            print("label: \(outcome.metadata.labelSpec.summary)")
            print("signal threshold (signals.min_probability: model): \(String(format: "%.4f", model.signalThreshold.threshold)) — \(model.signalThreshold.rule)")
            print("bundle: \(path.path)  (report.md, reliability.svg, importance.svg); registered as a candidate in \(folder.appendingPathComponent("registry.sqlite").path)")
            if model.testCalibrated.ece > model.testRaw.ece {
                print("note: calibration made the test ECE worse (\(String(format: "%.4f", model.testRaw.ece)) → \(String(format: "%.4f", model.testCalibrated.ece))); report.md explains why")
            }
        }
    }

    private func defaultName(_ symbols: [String], start: Int64, end: Int64) -> String {
        let stamp = UTC.isoString(UTC.now()).replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
        return "\(symbols.joined(separator: "+"))-\(UTC.dayString(start))-\(UTC.dayString(end))-\(stamp)"
    }
}

/// `scalper evaluate`: a saved model's metrics on any window of stored data.
struct EvaluateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a saved model on another window of stored data (the same metrics as train)."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Model bundle folder, e.g. models/N.")
    var model: String

    @OptionGroup var window: SeriesWindowOptions

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() async throws {
        let settings = try global.loadConfiguration()
        let (start, end) = try parseWindow(from: window.from, to: window.to)
        let predictor: Predictor
        do {
            predictor = try ModelBundle.load(model)
        } catch {
            throw fail("\(error)")
        }
        let meta = predictor.metadata
        guard let interval = KlineInterval(meta.interval) else { throw fail("\(model): unknown interval \(meta.interval)") }
        let list = symbolList(window.symbols)
        let store = try MarketStore(path: global.storePath(settings))
        let series = try loadSeries(store, symbols: list, interval: interval, from: start, to: end)
        var configuration = meta.configuration
        configuration.threads = settings.model.threads
        let rows: LabeledRows
        do {
            rows = try DatasetBuilder.rows(from: series, interval: interval, configuration: configuration).rows
        } catch {
            throw fail("\(error)")
        }
        guard rows.count > 0 else { throw fail("no usable rows in \(window.from) … \(window.to) after warm-up") }
        let positives = rows.labels.reduce(0, +)
        guard positives > 0 && positives < Double(rows.count) else {
            throw fail("every label in \(window.from) … \(window.to) is \(positives == 0 ? 0 : 1): AUC is undefined")
        }
        try predictor.setThreads(configuration.effectiveThreads)
        let raw = try predictor.rawProbabilities(rows.features)
        let calibrated = predictor.calibration.apply(raw)
        let trainSplits = meta.splits.filter { $0.name != "test" }
        let seen = trainSplits.contains { split in
            guard let a = UTC.parse(split.from), let b = UTC.parse(split.to) else { return false }
            return rows.openTimes.contains { $0 >= a && $0 <= b } && !Set(list).isDisjoint(with: meta.symbols)
        }
        if seen { note("warning: this window overlaps the data \(model) was trained or calibrated on; these figures are not out-of-sample") }
        let summary = MetricsSummary(
            raw: Metrics.classification(raw, rows.labels, threshold: meta.configuration.threshold),
            calibrated: Metrics.classification(calibrated, rows.labels, threshold: meta.configuration.threshold),
            nTrain: meta.splits.first { $0.name == "train" }?.rows ?? 0,
            nValidation: meta.splits.first { $0.name == "validation" }?.rows ?? 0,
            nTest: rows.count,
            bestIteration: meta.bestIteration,
            modelPath: model,
            calibrationMethod: meta.calibration.method,
            extra: ["overlaps_training": seen ? 1 : 0]
        )
        if json {
            print(try summary.json())
        } else {
            print("evaluated \(model) on \(list.joined(separator: "+")) \(window.from) … \(window.to): \(rows.count) rows")
            print(summary.table())
        }
    }
}

/// The metrics both train and evaluate print.
struct MetricsSummary {
    var raw: ClassificationMetrics
    var calibrated: ClassificationMetrics
    var nTrain: Int
    var nValidation: Int
    var nTest: Int
    var bestIteration: Int
    var modelPath: String
    var calibrationMethod: String
    var extra: [String: Double]

    /// The metrics under the keys of ``MetricField`` (README's `--json` keys), then the run's own.
    func json() throws -> String {
        var object = CalibratedMetrics(raw: raw, calibrated: calibrated).jsonObject
        let run: [String: Any] = [
            "n_train": nTrain, "n_val": nValidation, "n_test": nTest, "best_iteration": bestIteration,
            "model_path": modelPath, "calibration": calibrationMethod,
        ]
        object.merge(run) { _, new in new }
        for (k, x) in extra { object[k] = x.isNaN ? NSNull() : x }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    func table() -> String {
        let rate = raw.positiveRate.isNaN ? "–" : String(format: "%.4f", raw.positiveRate)
        return CalibratedMetrics(raw: raw, calibrated: calibrated).textTable(footer: [
            ("positive rate", rate), ("best iteration", "\(bestIteration); calibration: \(calibrationMethod)"),
        ])
    }
}


/// Per-round progress on a terminal (redrawn line), every 50 rounds otherwise; silent with --json.
final class TrainingProgressPrinter: @unchecked Sendable {
    // @unchecked: used from the training loop's thread only.
    private let quiet: Bool
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var drew = false

    init(quiet: Bool) { self.quiet = quiet }

    func show(_ p: TrainingProgress) {
        guard !quiet else { return }
        let metric = p.stage == "classifier" ? "validation AUC" : "validation RMSE"
        let line = "\(p.stage): round \(p.round + 1)/\(p.maxRounds)  \(metric) \(String(format: "%.5f", p.validationMetric))  best round \(p.bestRound + 1)"
        if isTerminal {
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(line)".utf8))
            drew = true
        } else if p.round % 50 == 0 {
            FileHandle.standardError.write(Data("\(line)\n".utf8))
        }
    }

    func finish() {
        if drew { FileHandle.standardError.write(Data("\n".utf8)) }
        drew = false
    }
}

/// The process's peak resident set size so far, in MiB (getrusage).
func peakResidentMegabytes() -> Double {
    var usage = rusage()
    guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return .nan }
    return Double(usage.ru_maxrss) / 1024  // Linux reports KiB
}

/// `--symbols A,B --from D --to D`: the series and window a command works on.
struct SeriesWindowOptions: ParsableArguments {
    @Option(help: "Comma-separated symbols, e.g. FILUSDT,NEARUSDT.")
    var symbols: String

    @Option(help: "First day or instant, UTC (YYYY-MM-DD[THH:MM]).")
    var from: String

    @Option(help: "End, exclusive, UTC (YYYY-MM-DD[THH:MM]).")
    var to: String

    func validate() throws {
        _ = try parseWindow(from: from, to: to)
        if symbolList(symbols).isEmpty { throw ValidationError("--symbols is empty") }
    }
}

/// Each symbol's bars in `[from, to)`, or a failing exit that names what the store lacks.
func loadSeries(
    _ store: MarketStore,
    symbols: [String],
    interval: KlineInterval,
    from: Int64,
    to: Int64
) throws -> [(symbol: String, klines: [Kline])] {
    var series: [(symbol: String, klines: [Kline])] = []
    for symbol in symbols {
        do {
            series.append((symbol, try store.requireKlines(symbol: symbol, interval: interval, from: from, to: to)))
        } catch let error as SeriesLookupError {
            throw fail("\(error)")
        }
    }
    return series
}

func symbolList(_ text: String) -> [String] {
    text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).uppercased() }.filter { !$0.isEmpty }
}

/// The current git commit of the working directory, or "" outside a checkout.
func gitCommit() -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["git", "rev-parse", "--short=12", "HEAD"]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    do {
        try process.run()
        process.waitUntilExit()
    } catch {
        return ""
    }
    guard process.terminationStatus == 0 else { return "" }
    return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
