import ArgumentParser
import Backtest
import Binance
import Dashboard
import Foundation
import Synchronization
import Logging
import MarketData
import Model
import Registry
import Retraining
import ScalperCore
import Session
import Trading

/// `scalper paper`: paper trading on live (or replayed) market data with the simulated venue.
struct PaperCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paper",
        abstract: "Paper-trade a model on live or replayed market data; state survives a crash.",
        discussion: """
            scalper paper run … starts (or resumes) a session; `scalper paper --model …` is the same. scalper paper ctl NAME status|pause|resume|reset-kill-switch|close-all acts on a running session through its store; scalper paper report NAME [--vs-backtest] reads one.
            """,
        subcommands: [PaperRunCommand.self, PaperControlCommand.self, PaperReportCommand.self],
        defaultSubcommand: PaperRunCommand.self
    )
}

/// `scalper paper run`.
struct PaperRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Start or resume a paper session.",
        discussion: """
            Closed 1m bars of --symbols (or, without --symbols, of the scanner's universe: the scanner.universe_size USDT pairs with the largest 24 h quote volume, of which the model scores each minute's scanner.candidates best-ranked pairs above the volatility floor and below the spread ceiling) from the profile's combined streams → the same features and model as a backtest → signals, risk and the simulated venue. Each symbol's feature kernel starts trading.warmup_bars bars before the first tradable minute (fetched over REST); a minute is decided once every followed symbol's bar has closed (outside lock-step, timing.bar_deadline_ms after its close at most). --exits bar is the backtest's bar rule (parity mode); tick watches trades; venue rests an OCO list at the venue.

            State goes to sessions/NAME/session.sqlite in the workspace, one transaction per event, before anything acts on it; starting a session whose store exists resumes it (bars missed meanwhile are fetched and decided in order). Logs: standard error and logging.dir/NAME.log (rotated). Trades: sessions/NAME/trades.csv. SIGINT/SIGTERM stop new entries, close or keep positions (trading.close_on_stop) and print a summary.

            --lock-step registers with `scalper exchange --lock-step` as NAME and says DONE after acting on each mark: a replay runs as fast as the session and gives the same result on any machine.

            --venue exchange sends the orders to the profile's order API (local, testnet or demo; live only through `scalper live`): signed REST orders, order updates from the user data stream of the profile's WebSocket API, every order stored before it is sent and looked up by its client id (never sent again) when an answer is lost; reconciliation at start, restart and every reconnect. Keys from the environment: BINANCE_API_KEY with BINANCE_API_SECRET (HMAC) or BINANCE_PRIVATE_KEY_FILE (an Ed25519 PKCS#8 PEM file); never printed or logged. --ws-url and --rest-url are refused with it (market data and orders come from one profile).
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Model bundle folder, e.g. models/N, or `champion` (the registry's champion); or give --manifest.")
    var model: String?

    @Option(help: "A manifest from `scalper runs export-manifest`: its model, symbols, capital and signals/risk/execution settings replace the config's (--model, --symbols and --capital are refused with it).")
    var manifest: String?

    @Option(help: "Comma-separated symbols to follow, e.g. BTCUSDT,ETHUSDT (default: the scanner chooses; see scanner: in the config).")
    var symbols: String?

    @Option(help: "Starting capital in USDT (default: backtest.capital of the config).")
    var capital: Double?

    @Option(help: "Seconds of event time to trade from the first tradable minute, then stop (default: until stopped).")
    var duration: Double?

    @Option(help: "Session name: its folder sessions/NAME, its log, its order-id prefix.")
    var session = "paper"

    @Option(help: "Market data: local (scalper exchange on 127.0.0.1), testnet, demo or live (default: binance.profile).")
    var profile: String?

    @Option(help: "WebSocket base URL (default: the profile's).")
    var wsURL: String?

    @Option(help: "REST base URL (default: the profile's).")
    var restURL: String?

    @Option(help: "Who owns exits: tick, bar (parity with the backtest) or venue (default: trading.exits).")
    var exits: String?

    @Flag(help: "Register with a lock-step exchange (scalper exchange --lock-step).")
    var lockStep = false

    @Option(help: "Where orders go: simulated (in-process, any profile) or exchange (the profile's order API: local, testnet, demo).")
    var venue = "simulated"

    @Flag(help: "Print one JSON object per refresh, and the summary as JSON.")
    var json = false

    @Option(help: "Serve the session's dashboard and /metrics on HOST:PORT, e.g. 127.0.0.1:8080 (port 0: a free one; the address is printed on standard error).")
    var dashboard: String?

    func validate() throws {
        if manifest != nil {
            for (given, name) in [(model != nil, "--model"), (symbols != nil, "--symbols"), (capital != nil, "--capital")] where given {
                throw ValidationError("--manifest sets the model, symbols and capital: drop \(name)")
            }
        } else if model == nil {
            throw ValidationError("give --model (a bundle folder or `champion`) or --manifest")
        }
        if let dashboard { _ = try Self.address(dashboard) }
        if let capital, !(capital > 0 && capital.isFinite) { throw ValidationError("--capital must be a positive number") }
        if let duration, !(duration > 0 && duration.isFinite) { throw ValidationError("--duration must be a positive number of seconds") }
        if let exits, ExitMode(rawValue: exits) == nil { throw ValidationError("--exits '\(exits)': must be tick, bar or venue") }
        guard ["simulated", "exchange"].contains(venue) else { throw ValidationError("--venue '\(venue)': must be simulated or exchange") }
        if venue == "exchange" && (wsURL != nil || restURL != nil) {
            throw ValidationError("--venue exchange takes its URLs from the profile (binance.* in the config): --ws-url and --rest-url are refused, so market data and orders never come from different places")
        }
        if let profile, !ScalperConfiguration.Binance.profiles.contains(profile) {
            throw ValidationError("--profile '\(profile)': must be local, testnet, demo or live")
        }
        if let symbols {
            guard !symbolList(symbols).isEmpty else { throw ValidationError("--symbols is empty") }
            guard Set(symbolList(symbols)).count == symbolList(symbols).count else { throw ValidationError("--symbols names a symbol twice") }
        }
    }

    func run() async throws { try await runSession(live: false) }

    /// `HOST:PORT` of `--dashboard`.
    static func address(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port),
            colon > text.startIndex
        else {
            throw ValidationError("--dashboard '\(text)': must be HOST:PORT, e.g. 127.0.0.1:8080")
        }
        return (String(text[..<colon]), port)
    }

    /// Runs the session; `live` is set only by `scalper live` (the gate to orders on the live profile).
    func runSession(live: Bool) async throws {
        var settings = try global.loadConfiguration()
        var symbols = self.symbols
        var capital = self.capital
        var model = self.model ?? "champion"
        if let manifest {
            let m: PaperManifest
            do {
                m = try PaperManifest.read(manifest)
            } catch {
                throw fail("\(error)")
            }
            model = m.model
            symbols = m.symbols.joined(separator: ",")
            capital = m.settings.capital
            settings.signals = m.settings.signals
            settings.risk = m.settings.risk
            settings.execution = m.settings.execution
            note("manifest \(manifest): model \(m.modelName), \(m.symbols.joined(separator: ",")), settings of run \(m.sourceRun)")
        }
        let relative: String
        do {
            relative = try SessionStore.relativePath(session: session)
        } catch {
            throw ValidationError("--session: \(error.message)")
        }
        let folder = (global.workspace.resolve(relative) as NSString).deletingLastPathComponent
        // `champion`: the registry's champion of model.models_dir.
        var championSource: ChampionSource?
        if model == "champion" && settings.signals.minProbabilityFromModel {
            // A swap keeps the session's engine settings: the new champion would trade at the first one's threshold.
            throw fail("signals.min_probability: model cannot follow a --model champion session through champion swaps yet: give a number, or a model folder")
        }
        if model == "champion" {
            do {
                let registry = try ModelRegistry(path: settings.model.modelsDir + "/registry.sqlite")
                guard let champion = try registry.champion() else {
                    throw fail("\(registry.path): there is no champion yet (scalper models promote NAME)")
                }
                model = champion.path
                // A new champion is picked up at the next minute's decision, without a restart.
                championSource = ChampionSource(pollSeconds: settings.timing.championPollSeconds) {
                    try registry.champion().map { ($0.name, $0.path) }
                }
            } catch let error as RegistryError {
                throw fail("\(error)")
            }
        }
        let predictor: Predictor
        do {
            predictor = try ModelBundle.load(model)
        } catch {
            throw fail("\(error)")
        }
        guard predictor.metadata.interval == "1m" else {
            throw fail("\(model): a session trades 1m bars; this model was trained on \(predictor.metadata.interval)")
        }
        let chosenProfile = profile ?? settings.binance.profile
        let urls = settings.binance.urls(chosenProfile)
        let rest = restURL ?? urls.rest
        guard let restBase = URL(string: rest), restBase.scheme != nil else { throw ValidationError("--rest-url '\(rest)' is not a URL") }
        let ws = wsURL ?? urls.ws
        guard URL(string: ws)?.scheme.map({ ["ws", "wss"].contains($0) }) == true else {
            throw ValidationError("--ws-url '\(ws)' is not a ws:// or wss:// URL")
        }
        let exitMode = exits.flatMap(ExitMode.init(rawValue:)) ?? settings.trading.exits
        var access: ExchangeAccess?
        if venue == "exchange" {
            guard chosenProfile != "live" || live else {
                throw ValidationError("--venue exchange on the live profile sends real orders: use `scalper live` (and its confirmation)")
            }
            access = try Self.exchangeAccess(webSocketAPIURL: settings.binance.webSocketAPIURL(chosenProfile))
        }
        do {
            LineLogHandler.processFile = try RotatingLogFile(
                path: settings.logging.dir + "/\(session).log",
                maxBytes: Int(settings.logging.maxFileMB * 1_048_576),
                kept: settings.logging.filesKept
            )
        } catch {
            throw fail("\(error)")
        }
        defer { LineLogHandler.processFile = nil }
        try predictor.setThreads(1)
        if let problem = predictor.compileProblem { note("scoring through XGBoost's C API: \(problem)") }
        var paper = PaperSettings(
            name: session,
            folder: folder,
            symbols: symbols.map(symbolList) ?? [],
            modelPath: model,
            profile: chosenProfile,
            engine: EngineSettings(
                capital: capital ?? settings.backtest.capital,
                // `min_probability: model`: the threshold the starting model chose on its validation rows.
                signals: settings.signals.resolved(for: predictor.metadata),
                risk: settings.risk,
                execution: settings.execution,
                exits: exitMode,
                session: session
            ),
            durationSeconds: duration,
            lockStep: lockStep,
            restURL: restBase,
            webSocketURL: ws,
            warmupBars: settings.trading.warmupBars,
            barDeadlineMs: Int64(settings.timing.barDeadlineMs),
            statsEveryMinutes: settings.timing.statsEveryMinutes,
            refreshSeconds: settings.timing.refreshSeconds,
            closeOnStop: settings.trading.closeOnStop,
            bookFeatures: settings.trading.bookFeatures,
            reconnectInitialSeconds: settings.binance.reconnectInitialSeconds,
            reconnectMaxSeconds: settings.binance.reconnectMaxSeconds
        )
        paper.scanner = settings.scanner.paperSettings
        paper.exchange = access
        paper.maxModelAgeDays = settings.trading.maxModelAgeDays
        paper.psiWarning = settings.retrain.psiWarning
        paper.eceWarning = settings.retrain.liveECEWarning
        if settings.retrain.retrainOnDrift {
            paper.retrainRequestPath = URL(fileURLWithPath: model).standardizedFileURL.deletingLastPathComponent().appendingPathComponent("retrain.requested").path
        }
        let json = self.json
        // On a terminal (and not --json): a full-screen view redrawn at each refresh, showing the
        // console's last log lines itself (the log file still gets every line).
        let screen = !json && isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
        let tail = LogTail(keep: 12)
        if screen && isatty(STDERR_FILENO) == 1 { LineLogHandler.consoleOverride = { tail.append($0) } }
        defer { LineLogHandler.consoleOverride = nil }
        // The dashboard: fed by the session on every commit, served beside it.
        let registryFile = URL(fileURLWithPath: model).standardizedFileURL.deletingLastPathComponent().appendingPathComponent("registry.sqlite").path
        let hub = dashboard.map { _ in DashboardHub(retrainVerdict: RetrainVerdict(registryPath: registryFile).read) }
        // Alerts, when alerts.webhook_url is set (the session logs those events itself anyway).
        let alertSettings = settings.alertSettings
        let alertWatcher = alertSettings.webhookURL.map { _ in
            AlertWatcher(settings: alertSettings, sender: AlertSender(settings: alertSettings, logger: Logger(label: "scalper.alerts")))
        }
        let runner: PaperSession
        do {
            runner = try PaperSession(
                settings: paper,
                predictor: predictor,
                logger: Logger(label: "scalper.paper"),
                champion: championSource,
                observer: [hub as (any SessionObserver)?, alertWatcher].compactMap { $0 }.isEmpty
                    ? nil : SessionObservers([hub as (any SessionObserver)?, alertWatcher].compactMap { $0 }),
                // Written unbuffered: whole lines for a pipe or a file (a reader of --json never sees half an object).
                onStatus: { status in
                    if screen {
                        FileHandle.standardOutput.write(Data(PaperView.screen(status, log: tail.lines, width: terminalColumns()).utf8))
                    } else {
                        writeLine(json ? PaperView.json(status) : PaperView.line(status))
                    }
                }
            )
        } catch {
            throw fail("\(error)")
        }
        // A bundle registered in its folder's registry is marked in use while the session runs (a
        // beat a minute; `scalper models purge` spares it for ten minutes after the last).
        let registryPath = URL(fileURLWithPath: model).standardizedFileURL.deletingLastPathComponent().appendingPathComponent("registry.sqlite").path
        var beat: Task<Void, Never>?
        if FileManager.default.fileExists(atPath: registryPath), let registry = try? ModelRegistry(path: registryPath),
            (try? registry.model(named: predictor.metadata.name)) != nil
        {
            let sessionName = session
            let logger = Logger(label: "scalper.paper")
            let current = runner.currentModelReader
            beat = Task.detached {
                // A beat a minute for the model deciding now, and at once when a champion swap changes it.
                var beaten = ""
                var last = ContinuousClock.now
                while !Task.isCancelled {
                    let model = current()
                    if model != beaten || ContinuousClock.now - last >= .seconds(60) {
                        do {
                            try registry.heartbeat(model: model, session: sessionName)
                        } catch {
                            logger.warning("cannot mark the model in use in its registry", metadata: ["error": "\(error)"])
                        }
                        (beaten, last) = (model, ContinuousClock.now)
                    }
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
        defer { beat?.cancel() }
        var dashboardTask: Task<Void, Never>?
        if let hub, let dashboard {
            let (host, port) = try Self.address(dashboard)
            let storePath = paper.storePath
            let server = DashboardServer(hub: hub, token: settings.dashboard.token) { control in
                // As `scalper paper ctl` asks: a row in the session's store, applied within a second.
                try SessionStore(path: storePath, createIfMissing: false).requestControl(control).id.rawValue
            }
            let logger = Logger(label: "scalper.dashboard")
            dashboardTask = Task {
                do {
                    try await server.run(host: host, port: port, logger: logger) { bound in
                        FileHandle.standardError.write(Data("dashboard: http://\(host):\(bound)\n".utf8))
                    }
                } catch {
                    logger.error("the dashboard stopped", metadata: ["error": "\(error)"])
                }
            }
        }
        defer { dashboardTask?.cancel() }
        let (stops, stopContinuation) = AsyncStream.makeStream(of: Void.self)
        let sources = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stopContinuation.yield() }
            source.resume()
            return source
        }
        defer { for s in sources { s.cancel() } }
        let summary: PaperSummary
        do {
            summary = try await runner.run(stops: stops)
        } catch {
            throw fail("\(error)")
        }
        writeLine(json ? PaperView.json(summary) : PaperView.summary(summary, folder: folder))
    }
}

extension PaperRunCommand {
    /// The key of `--venue exchange` from the environment: `BINANCE_API_KEY` with
    /// `BINANCE_API_SECRET` (HMAC) or `BINANCE_PRIVATE_KEY_FILE` (Ed25519, PKCS#8 PEM). Errors name
    /// the variable, never its value.
    static func exchangeAccess(webSocketAPIURL: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ExchangeAccess {
        guard let apiKey = environment["BINANCE_API_KEY"], !apiKey.isEmpty else {
            throw ValidationError("--venue exchange needs BINANCE_API_KEY in the environment (and BINANCE_API_SECRET, or BINANCE_PRIVATE_KEY_FILE for an Ed25519 key)")
        }
        let key: SigningKey
        if let secret = environment["BINANCE_API_SECRET"], !secret.isEmpty {
            key = .hmac(secret: secret)
        } else if let path = environment["BINANCE_PRIVATE_KEY_FILE"], !path.isEmpty {
            guard let pem = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self) }) else {
                throw ValidationError("BINANCE_PRIVATE_KEY_FILE: \(path) cannot be read")
            }
            do {
                key = try .ed25519(pem: pem)
            } catch {
                throw ValidationError("BINANCE_PRIVATE_KEY_FILE: \(path) is not an Ed25519 PKCS#8 PEM private key")
            }
        } else {
            throw ValidationError("--venue exchange needs BINANCE_API_SECRET (HMAC) or BINANCE_PRIVATE_KEY_FILE (Ed25519) in the environment")
        }
        return ExchangeAccess(webSocketAPIURL: webSocketAPIURL, apiKey: apiKey, signingKey: key)
    }
}

/// `scalper live`: a session whose orders go to Binance itself, behind an explicit confirmation.
struct LiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "live",
        abstract: "Trade a model with real orders on Binance spot (the live profile), behind an explicit confirmation.",
        discussion: """
            The same session as `scalper paper run --venue exchange --profile live`, which paper refuses: market data from binance.live_rest_url / live_ws_url, orders to the same REST, order updates from binance.live_ws_api_url. Keys from the environment: BINANCE_API_KEY with BINANCE_API_SECRET (HMAC) or BINANCE_PRIVATE_KEY_FILE (Ed25519 PEM); never printed or logged. Runs only with --i-understand-real-money. State, logs, controls (scalper paper ctl NAME …) and reports are those of a paper session. Try the same command on the testnet first: scalper paper run --venue exchange --profile testnet.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Model bundle folder, or `champion`.")
    var model: String

    @Option(help: "Comma-separated symbols (default: the scanner chooses).")
    var symbols: String?

    @Option(help: "Capital the session may use, USDT (default: backtest.capital).")
    var capital: Double?

    @Option(help: "Seconds to trade, then stop (default: until stopped).")
    var duration: Double?

    @Option(help: "Session name.")
    var session = "live"

    @Option(help: "Who owns exits: tick, bar or venue (default: trading.exits).")
    var exits: String?

    @Flag(help: "Print one JSON object per refresh, and the summary as JSON.")
    var json = false

    @Flag(help: "Confirm that orders are real and spend the account's money.")
    var iUnderstandRealMoney = false

    func validate() throws {
        guard iUnderstandRealMoney else {
            throw ValidationError("scalper live places real orders with real money: add --i-understand-real-money (try `scalper paper run --venue exchange --profile testnet` first)")
        }
    }

    func run() async throws {
        var arguments = ["--model", model, "--session", session, "--profile", "live", "--venue", "exchange"]
        if let symbols { arguments += ["--symbols", symbols] }
        if let capital { arguments += ["--capital", String(capital)] }
        if let duration { arguments += ["--duration", String(duration)] }
        if let exits { arguments += ["--exits", exits] }
        if json { arguments.append("--json") }
        if let store = global.store { arguments += ["--store", store] }
        if let config = global.config { arguments += ["--config", config] }
        if let home = global.home { arguments += ["--home", home] }
        if let level = global.logLevel { arguments += ["--log-level", level] }
        let paper = try PaperRunCommand.parse(arguments)
        try await paper.runSession(live: true)
    }
}

/// The last lines logged to the console while a full-screen view holds it.
final class LogTail: Sendable {
    private let kept: Mutex<[String]> = Mutex([])
    private let keep: Int

    init(keep: Int) { self.keep = keep }

    func append(_ line: String) {
        let trimmed = line.hasSuffix("\n") ? String(line.dropLast()) : line
        kept.withLock { lines in
            lines.append(trimmed)
            if lines.count > keep { lines.removeFirst(lines.count - keep) }
        }
    }

    var lines: [String] { kept.withLock { $0 } }
}

/// The terminal's width in columns (standard output's; 100 when it cannot be read).
func terminalColumns() -> Int {
    var size = winsize()
    if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
    return 100
}

/// One line to standard output, unbuffered.
func writeLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// `scalper paper ctl NAME ACTION`.
struct PaperControlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctl",
        abstract: "Act on a running session through its store: status, pause, resume, reset-kill-switch, close-all.",
        discussion: "The session applies a control within a second (at its next event or refresh) and marks it applied; status reads the last committed state."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The session's name.")
    var name: String

    @Argument(help: "status, pause, resume, reset-kill-switch or close-all.")
    var action: String

    @Flag(help: "Print status as JSON.")
    var json = false

    func validate() throws {
        guard action == "status" || UserControl(rawValue: action) != nil else {
            throw ValidationError("'\(action)': must be status, pause, resume, reset-kill-switch or close-all")
        }
    }

    func run() throws {
        let store = try openSessionStore(global: global, name: name)
        if let control = UserControl(rawValue: action) {
            let request = try store.requestControl(control)
            print("\(name): \(control.rawValue) requested (request \(request.id)); the session applies it at its next event")
            return
        }
        let recovery = try store.recover(as: PaperState.self)
        guard let state = recovery.state else {
            print("\(name): started, nothing decided yet")
            return
        }
        let engine = state.core.engine
        let pending = recovery.pendingControls.map(\.control.rawValue)
        if json {
            let object: [String: Any] = [
                "session": name, "minutes": state.minutesDecided, "equity": engine.equity, "cash": engine.cash,
                "open_positions": engine.holdings.count, "paused": engine.paused, "finished": state.finished,
                "last_minute": engine.lastMinute.map { UTC.isoString($0) } ?? NSNull(), "pending_controls": pending,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print(
            """
            session \(name)\(state.finished ? " (finished)" : "")
              last minute   \(engine.lastMinute.map { UTC.minuteString($0) } ?? "none")  (\(state.minutesDecided) decided)
              equity        \(String(format: "%.2f", engine.equity)) USDT, cash \(String(format: "%.2f", engine.cash))
              positions     \(engine.holdings.keys.sorted().joined(separator: ", ").nonEmpty ?? "none")
              entries       \(engine.paused ? "paused" : "on")
              pending       \(pending.joined(separator: ", ").nonEmpty ?? "no controls")
            """
        )
    }
}

/// `scalper paper report NAME`.
struct PaperReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "A session's trades and metrics; with --vs-backtest, a backtest of its window with the same model, trade by trade.",
        discussion: "Trades match when symbol and entry minute agree; slippage is the session's entry and exit price against the backtest's, in basis points."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The session's name.")
    var name: String

    @Flag(help: "Backtest the session's window from the store with the session's model and settings, and compare.")
    var vsBacktest = false

    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let settings = try global.loadConfiguration()
        let store = try openSessionStore(global: global, name: name)
        guard let meta = try store.meta() else { throw fail("\(name): the store has no session yet") }
        let recovery = try store.recover(as: PaperState.self)
        guard let state = recovery.state else { throw fail("\(name): nothing decided yet") }
        let trades = try store.records().compactMap { r -> TradeRecord? in if case .trade(let t) = r.record { t } else { nil } }
        let to = state.core.engine.lastMinute.map { $0 + 60_000 } ?? state.tradableFrom
        var report = PaperReport(session: name, model: meta.model, from: state.tradableFrom, to: to, trades: trades)
        if vsBacktest {
            let engineSettings: EngineSettings
            do {
                engineSettings = try JSONDecoder().decode(EngineSettings.self, from: Data(meta.configurationJSON.utf8))
            } catch {
                throw fail("\(name): cannot read the session's settings: \(error)")
            }
            let predictor: Predictor
            do {
                predictor = try ModelBundle.load(meta.model)
            } catch {
                throw fail("\(error)")
            }
            // A champion session may have swapped models; the backtest replays with one.
            let used = Set((state.tradeModels ?? []).map(\.model) + [state.model].compactMap { $0 })
            if used.count > 1 {
                note(
                    "warning: the session decided with \(used.sorted().joined(separator: ", ")) (champion swaps); the backtest replays its whole window with \(predictor.metadata.name), so trades decided by the others will differ"
                )
            }
            let market = try MarketStore(path: global.storePath(settings))
            let series = try loadTradingSeries(
                market,
                symbols: state.symbols,
                interval: .oneMinute,
                from: state.tradableFrom,
                to: to,
                warmupBars: settings.trading.warmupBars
            )
            var prepared = try BacktestEngine.prepare(
                series: series,
                predictor: predictor,
                minimumProbability: engineSettings.signals.minProbability,
                tradableFrom: state.tradableFrom,
                warmupBars: settings.trading.warmupBars
            )
            for symbol in state.symbols { prepared.filters[symbol] = try market.symbolFilters(symbol: symbol) }
            var backtest = BacktestSettings()
            backtest.capital = engineSettings.capital
            backtest.signals = engineSettings.signals
            backtest.risk = engineSettings.risk
            backtest.execution = engineSettings.execution
            report.compare(with: BacktestEngine.replay(prepared, settings: backtest).trades)
        }
        print(json ? report.json() : report.text())
    }
}

/// Opens an existing session's store (never creates one).
func openSessionStore(global: GlobalOptions, name: String) throws -> SessionStore {
    let relative: String
    do {
        relative = try SessionStore.relativePath(session: name)
    } catch {
        throw ValidationError("session name: \(error.message)")
    }
    do {
        return try SessionStore(path: global.workspace.resolve(relative), createIfMissing: false)
    } catch {
        throw fail("session \(name): \(error)")
    }
}

extension String {
    /// nil for the empty string.
    var nonEmpty: String? { isEmpty ? nil : self }
}

/// The last retrain's verdict for the dashboard, read from the model registry at most every 30 s.
final class RetrainVerdict: Sendable {
    private let registryPath: String
    private let cache = Mutex<(read: ContinuousClock.Instant?, verdict: String?)>((nil, nil))

    init(registryPath: String) { self.registryPath = registryPath }

    @Sendable func read() -> String? {
        cache.withLock { c in
            if let read = c.read, ContinuousClock.now - read < .seconds(30) { return c.verdict }
            c.read = ContinuousClock.now
            guard FileManager.default.fileExists(atPath: registryPath), let registry = try? ModelRegistry(path: registryPath),
                let last = try? registry.runs().first
            else { return c.verdict }
            c.verdict = "\(last.verdict ?? last.status) — run \(last.id)"
            return c.verdict
        }
    }
}
