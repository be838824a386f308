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
            Rows of all symbols are pooled and split by time 70/15/15 with an H-bar purge; the model stops early on validation AUC, is calibrated on validation, and is reported on the test split, which neither saw. --walk-forward train=60d,test=14d,step=14d instead retrains on rolling windows and reports each window's out-of-sample metrics and the walk-forward efficiency.
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

    @Option(help: "Rolling retrain-and-test windows, e.g. train=60d,test=14d,step=14d.")
    var walkForward: String?

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        if KlineInterval(interval) == nil { throw ValidationError("unknown interval '\(interval)'") }
        if let walkForward { _ = try WalkForwardSpec(parsing: walkForward) }
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
        if let walkForward {
            try runWalkForward(WalkForwardSpec(parsing: walkForward), series: series, interval: interval, settings: settings, progress: progress)
            return
        }
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
            extra: ["train_total_s": outcome.seconds, "peak_rss_mb": peakResidentMegabytes()]
        )
        if json {
            print(try summary.json())
        } else {
            print("trained \(list.joined(separator: "+")) \(window.from) … \(window.to): \(dataset.train.count) train / \(dataset.validation.count) validation / \(dataset.test.count) test rows")
            print(summary.table())
            print("bundle: \(path.path)  (report.md, reliability.svg, importance.svg); registered as a candidate in \(folder.appendingPathComponent("registry.sqlite").path)")
            if model.testCalibrated.ece > model.testRaw.ece {
                print("note: calibration made the test ECE worse (\(String(format: "%.4f", model.testRaw.ece)) → \(String(format: "%.4f", model.testCalibrated.ece))); report.md explains why")
            }
        }
    }

    private func runWalkForward(
        _ spec: WalkForwardSpec,
        series: [(symbol: String, klines: [Kline])],
        interval: KlineInterval,
        settings: ScalperConfiguration,
        progress: TrainingProgressPrinter
    ) throws {
        let (start, end) = try parseWindow(from: window.from, to: window.to)
        let windows = spec.windows(from: start, to: end)
        guard !windows.isEmpty else {
            throw fail("the window \(window.from) … \(window.to) is shorter than one train + test window (\(spec.description))")
        }
        let (rows, gaps) = try DatasetBuilder.rows(from: series, interval: interval, configuration: settings.model)
        var results: [WalkForwardResult] = []
        // Each window's model is a bundle like any other, registered with origin walk-forward (the
        // same pipeline as train and retrain); `scalper models purge` clears them.
        let folder = URL(fileURLWithPath: modelsDir ?? settings.model.modelsDir)
        let registry: ModelRegistry
        do {
            registry = try ModelRegistry(path: folder.appendingPathComponent("registry.sqlite").path)
        } catch {
            throw fail("\(error)")
        }
        let base = name ?? "wf-" + defaultName(symbolList(window.symbols), start: start, end: end)
        var registered: [String] = []
        for (i, w) in windows.enumerated() {
            let indices = rows.openTimes.indices.filter { rows.openTimes[$0] >= w.trainStart && rows.openTimes[$0] < w.testEnd }
            let subset = rows.subset(indices)
            let validationStart = w.trainStart + (w.trainEnd - w.trainStart) * 85 / 100
            do {
                let dataset = try DatasetBuilder.split(
                    subset,
                    trainEnd: validationStart,
                    validationEnd: w.trainEnd,
                    testEnd: w.testEnd,
                    interval: interval,
                    configuration: settings.model,
                    gapCount: gaps
                )
                let outcome = try TrainingPipeline.train(
                    dataset,
                    request: TrainingRequest(
                        series: series.map { ($0.symbol, []) },
                        interval: interval,
                        configuration: settings.model,
                        windowFrom: w.trainStart,
                        windowTo: w.trainEnd,
                        name: "\(base)-w\(i + 1)",
                        modelsDirectory: folder,
                        gitCommit: gitCommit()
                    )
                ) { progress.show($0) }
                progress.finish()
                do {
                    try registry.register(bundle: outcome.bundle, origin: .walkForward)
                    registered.append(outcome.metadata.name)
                } catch {
                    throw fail("window \(i + 1): the bundle is written at \(outcome.bundle.path) but not registered: \(error)")
                }
                let model = outcome.model
                results.append(
                    WalkForwardResult(window: i + 1, spec: w, validationAUC: model.bestValidationAUC, test: model.testCalibrated, testRaw: model.testRaw, nTrain: dataset.train.count, nTest: dataset.test.count)
                )
            } catch let error as ModelError {
                note("window \(i + 1) (\(UTC.dayString(w.trainStart)) … \(UTC.dayString(w.testEnd))): skipped: \(error)")
            }
        }
        guard !results.isEmpty else { throw fail("no walk-forward window had enough data") }
        let edgeIn = results.map { $0.validationAUC - 0.5 }.reduce(0, +) / Double(results.count)
        let edgeOut = results.map { $0.testRaw.auc - 0.5 }.reduce(0, +) / Double(results.count)
        let efficiency = edgeIn > 0 ? edgeOut / edgeIn : .nan
        if json {
            // Each window's test metrics under the same keys as a single `train --json`.
            let objects: [[String: Any]] = results.map {
                var object = CalibratedMetrics(raw: $0.testRaw, calibrated: $0.test).jsonObject
                let window: [String: Any] = [
                    "window": $0.window, "train_from": UTC.isoString($0.spec.trainStart), "train_to": UTC.isoString($0.spec.trainEnd),
                    "test_from": UTC.isoString($0.spec.trainEnd), "test_to": UTC.isoString($0.spec.testEnd),
                    "validation_auc": $0.validationAUC, "n_train": $0.nTrain, "n_test": $0.nTest,
                ]
                object.merge(window) { _, new in new }
                return object
            }
            let data = try JSONSerialization.data(
                withJSONObject: ["windows": objects, "walk_forward_efficiency": efficiency.isNaN ? NSNull() : efficiency as Any, "bundles": registered],
                options: [.sortedKeys, .withoutEscapingSlashes]
            )
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("walk-forward \(spec.description): \(results.count) windows; bundles \(registered.first ?? "") … \(registered.last ?? "") registered (origin walk-forward) in \(folder.path)")
        // Column titles are the metric names of every other table (MetricField).
        let (auc, ece, brier) = (MetricField.auc, MetricField.ece, MetricField.brier)
        let titles = ["validation \(auc.name)", "test \(auc.name)", "\(ece.name) raw → cal", "\(brier.name) (cal)", "n_test"]
        print("window  train from → test to  " + titles.joined(separator: "  "))
        for r in results {
            let values = [
                String(format: "%.4f", r.validationAUC),
                String(format: "%.4f", auc.value(r.testRaw)),
                String(format: "%.4f → %.4f", ece.value(r.testRaw), ece.value(r.test)),
                String(format: "%.4f", brier.value(r.test)),
                String(r.nTest),
            ]
            let cells = zip(titles, values).map { title, value in
                String(repeating: " ", count: max(0, title.count - value.count)) + value
            }
            print(String(format: "%6d", r.window) + "  \(UTC.dayString(r.spec.trainStart)) → \(UTC.dayString(r.spec.testEnd))  " + cells.joined(separator: "  "))
        }
        print(String(format: "walk-forward efficiency (mean test AUC − 0.5) / (mean validation AUC − 0.5): %.3f", efficiency))
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

/// `train=60d,test=14d,step=14d`.
struct WalkForwardSpec: CustomStringConvertible {
    var trainDays: Int
    var testDays: Int
    var stepDays: Int

    init(parsing text: String) throws {
        var values: [String: Int] = [:]
        for part in text.split(separator: ",") {
            let kv = part.split(separator: "=")
            guard kv.count == 2, kv[1].hasSuffix("d"), let days = Int(kv[1].dropLast()), days > 0 else {
                throw ValidationError("--walk-forward: '\(part)' is not key=Nd (e.g. train=60d,test=14d,step=14d)")
            }
            values[String(kv[0])] = days
        }
        guard let train = values["train"], let test = values["test"] else {
            throw ValidationError("--walk-forward needs train=Nd and test=Nd")
        }
        trainDays = train
        testDays = test
        stepDays = values["step"] ?? test
    }

    var description: String { "train=\(trainDays)d,test=\(testDays)d,step=\(stepDays)d" }

    struct Window {
        var trainStart: Int64
        var trainEnd: Int64
        var testEnd: Int64
    }

    func windows(from: Int64, to: Int64) -> [Window] {
        let day: Int64 = 86_400_000
        var out: [Window] = []
        var s = from
        while s + Int64(trainDays + testDays) * day <= to {
            out.append(Window(trainStart: s, trainEnd: s + Int64(trainDays) * day, testEnd: s + Int64(trainDays + testDays) * day))
            s += Int64(stepDays) * day
        }
        return out
    }
}

struct WalkForwardResult {
    var window: Int
    var spec: WalkForwardSpec.Window
    var validationAUC: Double
    var test: ClassificationMetrics
    var testRaw: ClassificationMetrics
    var nTrain: Int
    var nTest: Int
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
