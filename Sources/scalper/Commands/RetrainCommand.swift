import ArgumentParser
import Backtest
import Foundation
import MarketData
import Model
import Registry
import Retraining
import ScalperCore
import Trading

/// `scalper retrain`: train a challenger on the newest data, judge it against the champion on a
/// holdout neither saw, and promote it only when it is better by the rules; once, or every N days.
struct RetrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retrain",
        abstract: "Retrain on the newest data and promote the challenger only if it beats the champion on an unseen holdout.",
        discussion: """
            Windows, ending at --as-of (default: the store's last bar), each separated by a purge of at least the label horizon: train (its last 15 % stops the boosting early) | calibration days | holdout days. The challenger is fitted on train and calibrated on the calibration days; champion and challenger are both judged on the holdout.

            Blocking leakage guards: the truncation check (feature rows unchanged when later bars are removed or perturbed), a canary trained on shuffled labels (must score AUC ≈ 0.5), and the gap between training and holdout AUC. Promotion: holdout log-loss lower by retrain.min_log_loss_improvement, a Diebold–Mariano test (Newey–West, lag ≥ the label horizon) with p < retrain.max_p_value, and a replay backtest of the holdout with net P&L no lower than the champion's minus retrain.pnl_tolerance_pct of capital. With no champion: holdout AUC ≥ retrain.min_auc.

            Every run is recorded in <models>/registry.sqlite with its evidence, and reported in <models>/retrain-runs/<id>/ (report.md, evidence.json, reliability.svg, importance.svg).

            Exit codes: 0 promoted, or judged and the champion kept; 1 error; 3 blocked by a leakage guard; 4 another retrain job holds <models>/retrain.lock.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Comma-separated symbols to train on.")
    var symbols: String?

    @Flag(help: "Train on the pairs a scanner would pick from the store's last 24 h (scanner.min_quote_volume, excluded_bases, the top scanner.candidates by quote volume).")
    var fromScanner = false

    @Option(help: "Training span, e.g. 45d (default: retrain.train_days).")
    var train: String?

    @Option(help: "Calibration span, e.g. 7d (default: retrain.calibration_days).")
    var calibration: String?

    @Option(help: "Holdout span, e.g. 7d (default: retrain.holdout_days).")
    var holdout: String?

    @Option(help: "End of the holdout, exclusive, UTC (YYYY-MM-DD[THH:MM]); default: the store's last bar (with --download: now).")
    var asOf: String?

    @Flag(help: "First fetch what the store lacks up to --as-of (or now), each series from its own market.")
    var download = false

    @Flag(help: "Refit only the champion's calibration on the newest calibration days; deploy it only if it beats the current one on the holdout days after them.")
    var calibrationOnly = false

    @Option(help: "Run as a loop: once now, then every span (e.g. 14d); without it, once.")
    var every: String?

    @Option(help: "Kline interval.")
    var interval = "1m"

    @Option(help: "Models folder holding registry.sqlite and the bundles (default: model.models_dir of the config).")
    var modelsDir: String?

    @Flag(help: "Print the outcome as one JSON object (the evidence) instead of the verdict line.")
    var json = false

    func validate() throws {
        if symbols == nil && !fromScanner { throw ValidationError("give --symbols A,B or --from-scanner") }
        if symbols != nil && fromScanner { throw ValidationError("--symbols and --from-scanner exclude each other") }
        if let symbols, symbolList(symbols).isEmpty { throw ValidationError("--symbols is empty") }
        for (name, value) in [("--train", train), ("--calibration", calibration), ("--holdout", holdout), ("--every", every)] {
            if let value { _ = try parseSpan(value, option: name) }
        }
        if let asOf, UTC.parse(asOf) == nil { throw ValidationError("--as-of '\(asOf)' is not a UTC time (YYYY-MM-DD[THH:MM])") }
        if KlineInterval(interval) == nil { throw ValidationError("unknown interval '\(interval)'") }
    }

    func run() async throws {
        let settings = try global.loadConfiguration()
        let folder = modelsDir.map { global.workspace.resolve($0) } ?? settings.model.modelsDir
        var retrain = settings.retrain
        if let train { retrain.trainDays = try parseSpan(train, option: "--train") }
        if let calibration { retrain.calibrationDays = try parseSpan(calibration, option: "--calibration") }
        if let holdout { retrain.holdoutDays = try parseSpan(holdout, option: "--holdout") }
        if let problem = retrain.problems().first { throw fail(problem) }
        guard let every else {
            let code = await runOnce(settings: settings, retrain: retrain, folder: folder)
            if code != 0 { throw ExitCode(code) }
            return
        }
        let period = try parseSpan(every, option: "--every") * 86_400
        while true {
            let started = Date()
            let code = await runOnce(settings: settings, retrain: retrain, folder: folder)
            // A leakage block needs a human; anything else waits for the next turn.
            if code == 3 { throw ExitCode(code) }
            let next = started.addingTimeInterval(period)
            note("retrain: next run \(UTC.isoString(Int64(next.timeIntervalSince1970 * 1000)))")
            // Until then, a session's drift request (retrain.retrain_on_drift) brings the run forward.
            // Not within retrain.drift_request_cooldown_hours of the last run (a drift that
            // retraining did not cure would otherwise ask again at every Stats line).
            let request = folder + "/retrain.requested"
            let earliest = started.addingTimeInterval(retrain.driftRequestCooldownHours * 3_600)
            while next.timeIntervalSinceNow > 0 {
                if earliest.timeIntervalSinceNow <= 0, let why = try? String(contentsOfFile: request, encoding: .utf8) {
                    note("retrain: run brought forward by \(request): \(why.trimmingCharacters(in: .whitespacesAndNewlines))")
                    break
                }
                try await Task.sleep(for: .seconds(min(30, max(0.01, next.timeIntervalSinceNow))))
            }
        }
    }

    /// One run; returns its exit code (0 promoted or kept, 1 error, 3 blocked, 4 locked).
    private func runOnce(settings: ScalperConfiguration, retrain: RetrainSettings, folder: String) async -> Int32 {
        let started = UTC.now()
        let lock: RetrainLock
        do {
            lock = try RetrainLock(path: folder + "/retrain.lock", started: UTC.isoString(started))
        } catch {
            note("error: \(error)")
            return 4
        }
        defer { lock.release() }
        if let stale = lock.stale {
            note("warning: \(lock.path): a stale lock of pid \(stale.pid) (started \(stale.started)) was left by a job that died; taken over")
        }
        // Half-written bundles of a retrain that died (only retrain's own, and only under its lock).
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        where (name.hasPrefix(".retrain-") || name.hasPrefix(".recal-")) && name.contains(".partial-") {
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
            note("retrain: removed \(name), a bundle a killed run left half-written")
        }
        let registry: ModelRegistry
        do {
            registry = try ModelRegistry(path: folder + "/registry.sqlite")
            for (id, status) in try registry.abandonUnfinishedRuns() {
                note(
                    status == "abandoned"
                        ? "warning: retrain run \(id) never finished (its process ended); marked abandoned"
                        : "warning: retrain run \(id) ended after its decision was recorded (\(status)) but before its report; marked \(status)"
                )
            }
        } catch {
            note("error: \(error)")
            return 1
        }
        let runID = compactStamp(started) + "-\(getpid())"
        // This run answers any drift request a session left.
        try? FileManager.default.removeItem(atPath: folder + "/retrain.requested")
        let mode = calibrationOnly ? "calibration-only" : "retrain"
        // Recorded before anything else, so a failure in the data steps is in the registry too.
        do {
            try registry.beginRun(id: runID, asOf: "", mode: mode, pid: getpid())
        } catch {
            note("error: \(error)")
            return 1
        }
        do {
            let interval = KlineInterval(interval)!  // validated
            let store = try MarketStore(path: global.storePath(settings))
            var list = symbols.map(symbolList) ?? []
            if fromScanner {
                // Fresh 24 h figures first: with --download every stored USDT series is brought up
                // to date before the pick (a store last filled two weeks ago would offer none).
                if download {
                    let universe = try store.symbols(interval: interval).filter { $0.hasSuffix("USDT") }
                    try await downloadMissing(store: store, symbols: universe, interval: interval, settings: settings, retrain: retrain)
                }
                list = try scannerPick(store: store, interval: interval, settings: settings, asOf: try asOfTime(store: store, symbols: nil, interval: interval))
                note("retrain: --from-scanner picked \(list.joined(separator: ", "))")
            }
            if download { try await downloadMissing(store: store, symbols: list, interval: interval, settings: settings, retrain: retrain) }
            let asOf = try asOfTime(store: store, symbols: list, interval: interval)
            let windows = RetrainWindows(asOf: asOf, settings: retrain, intervalMs: interval.milliseconds, labelHorizon: settings.model.labelHorizonBars(interval: interval))
            let challengerName = "\(calibrationOnly ? "recal" : "retrain")-\(String(compactStamp(asOf).prefix(13)))-r\(runID)"
            try registry.updateRun(id: runID, asOf: UTC.isoString(asOf), challenger: challengerName)
            let from = (calibrationOnly ? windows.calibrationStart : windows.trainStart) - Int64(settings.model.warmupBars + 10) * interval.milliseconds
            var series: [(symbol: String, klines: [Kline])] = []
            var filters: [String: SymbolFilters] = [:]
            for symbol in list {
                let bars = try store.klines(symbol: symbol, interval: interval, from: from, to: asOf)
                if bars.isEmpty {
                    note("retrain: \(symbol) has no bars from \(UTC.minuteString(from)) to \(UTC.minuteString(asOf)); left out")
                    continue
                }
                series.append((symbol, bars))
                filters[symbol] = try store.symbolFilters(symbol: symbol)
            }
            guard !series.isEmpty else { throw RetrainError("none of \(list.joined(separator: ", ")) has bars in \(UTC.minuteString(from)) … \(UTC.minuteString(asOf))") }
            var backtest = BacktestSettings()
            backtest.capital = settings.backtest.capital
            backtest.signals = settings.signals
            backtest.risk = settings.risk
            backtest.execution = settings.execution
            let request = RetrainRequest(
                series: series,
                interval: interval,
                configuration: settings.model,
                settings: retrain,
                backtest: backtest,
                tradingWarmupBars: settings.trading.warmupBars,
                filters: filters,
                asOf: asOf,
                registry: registry,
                runID: runID,
                challengerName: challengerName,
                gitCommit: gitCommit()
            )
            note("retrain \(runID): \(mode) of \(series.map(\.symbol).joined(separator: "+")) as of \(UTC.minuteString(asOf))")
            let outcome = calibrationOnly ? try RetrainJob.recalibrate(request, log: { note("retrain: \($0)") }) : try RetrainJob.run(request, log: { note("retrain: \($0)") })
            let code: Int32 = outcome.status == .blocked ? 3 : 0
            try registry.finishRun(
                id: runID, status: outcome.status.rawValue, verdict: outcome.verdict, exitCode: code, challenger: outcome.challenger,
                champion: outcome.champion, report: outcome.report.path, evidence: outcome.evidence.json()
            )
            for warning in outcome.evidence.warnings { note("warning: \(warning)") }
            if json {
                print(outcome.evidence.json())
            } else {
                print("retrain: \(outcome.verdict)")
                print("report: \(outcome.report.path)")
            }
            return code
        } catch {
            note("error: \(error)")
            try? registry.finishRun(
                id: runID, status: "failed", verdict: "\(error)", exitCode: 1, challenger: nil, champion: try? registry.champion()?.name, report: nil,
                evidence: "{}"
            )
            return 1
        }
    }

    /// `--as-of`, else (with --download) the current minute, else the end of the newest stored bar of `symbols`.
    private func asOfTime(store: MarketStore, symbols: [String]?, interval: KlineInterval) throws -> Int64 {
        let step = interval.milliseconds
        if let asOf { return UTC.parse(asOf)! / step * step }  // validated
        if download { return UTC.now() / step * step }
        let series = try store.series().filter { $0.interval == interval && (symbols == nil || symbols!.contains($0.symbol)) }
        guard let last = series.map(\.lastOpenTime).max() else {
            throw RetrainError("the store has no \(interval) bars\(symbols.map { " of " + $0.joined(separator: ", ") } ?? "")")
        }
        return last + step
    }

    /// The pairs a scanner would trade from the store's last 24 h: USDT quote, bases not excluded,
    /// quote volume ≥ scanner.min_quote_volume, the top scanner.candidates by quote volume.
    private func scannerPick(store: MarketStore, interval: KlineInterval, settings: ScalperConfiguration, asOf: Int64) throws -> [String] {
        let day: Int64 = 86_400_000
        var volumes: [(String, Double)] = []
        for symbol in try store.symbols(interval: interval) where symbol.hasSuffix("USDT") {
            let base = String(symbol.dropLast(4))
            guard !settings.scanner.excludedBases.contains(base) else { continue }
            let bars = try store.klines(symbol: symbol, interval: interval, from: asOf - day, to: asOf)
            guard !bars.isEmpty else { continue }
            let volume = bars.reduce(0) { $0 + $1.quoteVolume }
            if volume >= settings.scanner.minQuoteVolume { volumes.append((symbol, volume)) }
        }
        let picked = volumes.sorted { $0.1 > $1.1 }.prefix(settings.scanner.candidates).map(\.0)
        guard !picked.isEmpty else {
            throw RetrainError("--from-scanner: no USDT pair in the store traded ≥ \(settings.scanner.minQuoteVolume) quote in the 24 h before \(UTC.minuteString(asOf))")
        }
        return picked
    }

    /// Fetches each symbol's bars from its last stored bar up to the as-of time, from Binance
    /// Vision in the series' own market (spot by REST when download.source is rest).
    private func downloadMissing(
        store: MarketStore,
        symbols: [String],
        interval: KlineInterval,
        settings: ScalperConfiguration,
        retrain: RetrainSettings
    ) async throws {
        let end = try asOfTime(store: store, symbols: symbols, interval: interval)
        let known = try store.series().filter { $0.interval == interval }
        let client = RetryingClient(
            fetcher: URLSessionFetcher(timeoutSeconds: settings.download.requestTimeoutSeconds),
            policy: RetryPolicy(
                maxRetries: settings.download.maxRetries,
                initialBackoffSeconds: settings.download.backoffInitialSeconds,
                maxBackoffSeconds: settings.download.backoffMaxSeconds
            ),
            progress: TerminalProgress()
        )
        for symbol in symbols {
            let existing = known.first { $0.symbol == symbol }
            let market = existing?.market ?? BinanceMarket(rawValue: settings.download.market) ?? .spot
            // A new series from the training window's warm-up on; a stored one from its last bar.
            let window = RetrainWindows(asOf: end, settings: retrain, intervalMs: interval.milliseconds, labelHorizon: settings.model.labelHorizonBars(interval: interval))
            let start = existing.map { $0.lastOpenTime + interval.milliseconds } ?? window.trainStart - Int64(settings.model.warmupBars + 10) * interval.milliseconds
            guard start < end else { continue }
            let report: DownloadReport
            // One symbol the source cannot serve (delisted, a month not published) does not stop the
            // run: it is named, and the windows it lacks leave it out.
            do {
                if settings.download.source == "rest" && market == RESTKlineDownloader.market {
                    report = try await RESTKlineDownloader(
                        store: store,
                        client: client,
                        options: .init(
                            baseURL: URL(string: settings.download.restBaseURL)!,
                            pageLimit: settings.download.pageLimit,
                            weightLimitPerMinute: settings.download.weightLimitPerMinute,
                            weightHeadroom: settings.download.weightHeadroom
                        )
                    ).download(symbol: symbol, interval: interval, from: start, to: end)
                } else {
                    report = try await VisionDownloader(
                        store: store,
                        client: client,
                        baseURL: URL(string: settings.download.visionBaseURL)!,
                        market: market,
                        cacheDirectory: URL(fileURLWithPath: settings.download.cacheDir).appendingPathComponent("vision"),
                        importOptions: ImportOptions(futureToleranceMilliseconds: Int64(settings.import.futureToleranceSeconds * 1000))
                    ).download(symbol: symbol, interval: interval, from: start, to: end)
                }
            } catch {
                note("warning: retrain: --download \(symbol) (\(market)) failed, going on with what the store has: \(error)")
                continue
            }
            note("retrain: --download \(symbol) (\(market)): \(report.inserted) new bars up to \(UTC.minuteString(end))")
        }
    }
}

/// `45d`, `12h`, `90m`: a span in days (the one duration syntax of retrain and walk-forward).
func parseSpan(_ text: String, option: String) throws -> Double {
    let units: [Character: Double] = ["d": 1, "h": 1.0 / 24, "m": 1.0 / 1_440]
    guard let unit = text.last, let factor = units[unit], let value = Double(text.dropLast()), value > 0, value.isFinite else {
        throw ValidationError("\(option) '\(text)' is not a span like 45d, 12h or 90m")
    }
    return value * factor
}

/// `20231001T0000Z`-style stamp of a time (folder- and name-safe).
func compactStamp(_ ms: Int64) -> String {
    String(UTC.isoString(ms).filter { $0.isNumber || $0 == "T" }.prefix(15))
}
