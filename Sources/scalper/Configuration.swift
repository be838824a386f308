import Features
import Foundation
import JobQueue
import Logging
import MarketData
import Model
import Retraining
import ScalperCore
import Scanner
import Session
import Trading
import Yams

/// Every setting of `scalper`, with its default written once, here and in the modules' own
/// configuration structs, so the binary runs with no file at all. `config/default.yaml` documents
/// these values (a test checks that it lists every key with exactly these values); a user's file
/// given with `--config` is laid over them key by key.
struct ScalperConfiguration: Codable, Sendable, Equatable {
    struct Store: Codable, Sendable, Equatable {
        var path = "datasets/market.sqlite"
    }

    struct Import: Codable, Sendable, Equatable {
        var futureToleranceSeconds = 60.0

        enum CodingKeys: String, CodingKey {
            case futureToleranceSeconds = "future_tolerance_seconds"
        }
    }

    struct Download: Codable, Sendable, Equatable {
        var source = "vision"
        var market = "spot"
        var visionBaseURL = "https://data.binance.vision"
        var restBaseURL = "https://api.binance.com"
        var cacheDir = "datasets/cache"
        var pageLimit = 1_000
        var maxRetries = 6
        var backoffInitialSeconds = 1.0
        var backoffMaxSeconds = 60.0
        var requestTimeoutSeconds = 30.0
        var weightLimitPerMinute = 6_000
        var weightHeadroom = 0.8

        enum CodingKeys: String, CodingKey {
            case source, market
            case visionBaseURL = "vision_base_url"
            case restBaseURL = "rest_base_url"
            case cacheDir = "cache_dir"
            case pageLimit = "page_limit"
            case maxRetries = "max_retries"
            case backoffInitialSeconds = "backoff_initial_seconds"
            case backoffMaxSeconds = "backoff_max_seconds"
            case requestTimeoutSeconds = "request_timeout_seconds"
            case weightLimitPerMinute = "weight_limit_per_minute"
            case weightHeadroom = "weight_headroom"
        }
    }

    struct Backtest: Codable, Sendable, Equatable {
        var capital = 10_000.0
        var runsDir = "datasets/backtest_runs"

        enum CodingKeys: String, CodingKey {
            case capital
            case runsDir = "runs_dir"
        }
    }

    /// The runs database several machines share (issue #17).
    struct Runs: Codable, Sendable, Equatable {
        /// `postgres://user[:password]@host[:port]/database[?sslmode=…]`: `scalper runs`,
        /// `export-notebook` and `backtest` use this PostgreSQL database; empty: SQLite
        /// (`runs.sqlite` under `backtest.runs_dir`).
        var databaseURL = ""

        enum CodingKeys: String, CodingKey {
            case databaseURL = "database_url"
        }
    }

    struct Logging: Codable, Sendable, Equatable {
        var level = "info"
        var dir = "logs"
        var maxFileMB = 10.0
        var filesKept = 5

        enum CodingKeys: String, CodingKey {
            case level, dir
            case maxFileMB = "max_file_mb"
            case filesKept = "files_kept"
        }
    }

    /// Where a session's market data comes from, per profile (REST and streams together).
    struct Binance: Codable, Sendable, Equatable {
        var profile = "local"
        var localRestURL = "http://127.0.0.1:8765"
        var localWSURL = "ws://127.0.0.1:8765"
        var testnetRestURL = "https://testnet.binance.vision"
        var testnetWSURL = "wss://stream.testnet.binance.vision"
        var demoRestURL = "https://demo-api.binance.com"
        var demoWSURL = "wss://demo-stream.binance.com:9443"
        var liveRestURL = "https://api.binance.com"
        var liveWSURL = "wss://stream.binance.com:9443"
        var localWSAPIURL = "ws://127.0.0.1:8765/ws-api/v3"
        var testnetWSAPIURL = "wss://ws-api.testnet.binance.vision/ws-api/v3"
        var demoWSAPIURL = "wss://demo-ws-api.binance.com/ws-api/v3"
        var liveWSAPIURL = "wss://ws-api.binance.com:443/ws-api/v3"
        var reconnectInitialSeconds = 0.5
        var reconnectMaxSeconds = 30.0

        enum CodingKeys: String, CodingKey {
            case profile
            case localRestURL = "local_rest_url"
            case localWSURL = "local_ws_url"
            case testnetRestURL = "testnet_rest_url"
            case testnetWSURL = "testnet_ws_url"
            case demoRestURL = "demo_rest_url"
            case demoWSURL = "demo_ws_url"
            case liveRestURL = "live_rest_url"
            case liveWSURL = "live_ws_url"
            case localWSAPIURL = "local_ws_api_url"
            case testnetWSAPIURL = "testnet_ws_api_url"
            case demoWSAPIURL = "demo_ws_api_url"
            case liveWSAPIURL = "live_ws_api_url"
            case reconnectInitialSeconds = "reconnect_initial_seconds"
            case reconnectMaxSeconds = "reconnect_max_seconds"
        }

        static let profiles = ["local", "testnet", "demo", "live"]

        /// The WebSocket API URL of `profile` (user data and order events).
        func webSocketAPIURL(_ profile: String) -> String {
            switch profile {
            case "testnet": testnetWSAPIURL
            case "demo": demoWSAPIURL
            case "live": liveWSAPIURL
            default: localWSAPIURL
            }
        }

        /// The REST and WebSocket base URLs of `profile`.
        func urls(_ profile: String) -> (rest: String, ws: String) {
            switch profile {
            case "testnet": (testnetRestURL, testnetWSURL)
            case "demo": (demoRestURL, demoWSURL)
            case "live": (liveRestURL, liveWSURL)
            default: (localRestURL, localWSURL)
            }
        }
    }

    /// A session's clocks.
    struct Timing: Codable, Sendable, Equatable {
        var barDeadlineMs = 5_000
        var statsEveryMinutes = 60
        var refreshSeconds = 5.0
        var championPollSeconds = 10.0

        enum CodingKeys: String, CodingKey {
            case barDeadlineMs = "bar_deadline_ms"
            case statsEveryMinutes = "stats_every_minutes"
            case refreshSeconds = "refresh_seconds"
            case championPollSeconds = "champion_poll_seconds"
        }
    }

    /// A scanner-driven session's universe and candidates (`scalper paper` without `--symbols`).
    struct Scanner: Codable, Sendable, Equatable {
        var universeSize = 150
        var minQuoteVolume = 1_000_000.0
        var excludedBases = ["USDC", "FDUSD", "TUSD", "BUSD", "DAI", "USDP", "EUR", "AEUR", "UST", "USTC", "PAX"]
        var candidates = 10
        var maxSpreadPct = 0.1
        var minVolatilityPct = 0.02
        var weights = [3.0, 1.0, 0.1, 2.0, 0.25]

        enum CodingKeys: String, CodingKey {
            case universeSize = "universe_size"
            case minQuoteVolume = "min_quote_volume"
            case excludedBases = "excluded_bases"
            case candidates
            case maxSpreadPct = "max_spread_pct"
            case minVolatilityPct = "min_volatility_pct"
            case weights
        }

        /// The session's settings.
        var paperSettings: PaperScannerSettings {
            var s = PaperScannerSettings()
            s.universeSize = universeSize
            s.minQuoteVolume = minQuoteVolume
            s.excludedBases = Set(excludedBases)
            s.bars.candidates = candidates
            s.bars.maxSpreadPct = maxSpreadPct
            s.bars.minVolatilityPct = minVolatilityPct
            s.bars.weights = weights
            return s
        }
    }

    var store = Store()
    var `import` = Import()
    var download = Download()
    var model = ModelConfiguration()
    var signals = SignalConfiguration()
    var risk = RiskConfiguration()
    var execution = ExecutionConfiguration()
    var trading = TradingPathConfiguration()
    var backtest = Backtest()
    var runs = Runs()
    var binance = Binance()
    var scanner = Scanner()
    var timing = Timing()
    var logging = Logging()
    var retrain = RetrainSettings()
    var dashboard = Dashboard()
    var alerts = Alerts()

    /// Where a session's alerts go (kill switch, daily loss limit, reconnect storm, model expiry;
    /// `scalper alert` for a crash).
    struct Alerts: Codable, Sendable, Equatable {
        /// The webhook (empty: alerts are only logged).
        var webhookURL = ""
        /// `json` (a generic POST) or `telegram` (Telegram's bot API shape).
        var format = "json"
        /// Telegram's chat id (`telegram`).
        var telegramChatID = ""
        /// At most one alert of a kind per this many seconds.
        var minIntervalSeconds = 300.0
        /// Reconnects within 10 minutes that make a storm.
        var reconnectStorm = 5

        enum CodingKeys: String, CodingKey {
            case format
            case webhookURL = "webhook_url"
            case telegramChatID = "telegram_chat_id"
            case minIntervalSeconds = "min_interval_seconds"
            case reconnectStorm = "reconnect_storm"
        }
    }

    /// A session's dashboard (`scalper paper --dashboard HOST:PORT`).
    struct Dashboard: Codable, Sendable, Equatable {
        /// The token the dashboard's controls need (empty: the dashboard is read-only).
        var token = ""
    }

    /// The same settings with every relative path (store, download cache, models, runs) made
    /// absolute against the workspace folder.
    func resolvingPaths(in workspace: Workspace) -> ScalperConfiguration {
        var copy = self
        copy.store.path = workspace.resolve(store.path)
        copy.download.cacheDir = workspace.resolve(download.cacheDir)
        copy.model.modelsDir = workspace.resolve(model.modelsDir)
        copy.backtest.runsDir = workspace.resolve(backtest.runsDir)
        copy.logging.dir = workspace.resolve(logging.dir)
        return copy
    }

    /// The log level `logging.level` names.
    var logLevel: Logger.Level { LineLogHandler.level(named: logging.level) ?? .info }

    /// The same settings with the trade's barriers copied into `model` when `model.label` is
    /// `triple_barrier`: that label is the engine's own trade, so its take-profit, stop, slippage,
    /// fee, timeout and same-bar rule are those of `signals:` and `execution:`, never set twice.
    func linkingLabelToTrade() -> ScalperConfiguration {
        var copy = self
        copy.model.tripleBarrier =
            model.label == LabelKind.tripleBarrier.rawValue
            ? TripleBarrier(
                takeProfitPct: signals.takeProfitPct,
                stopLossPct: signals.stopLossPct,
                slippageBps: execution.slippageBps,
                takerFee: execution.takerFee,
                timeoutSeconds: execution.timeoutSeconds,
                stopFirstWhenBothHit: execution.stopFirstWhenBothHit
            )
            : nil
        return copy
    }

    /// Checks ranges and choices a type check cannot; the error names the key path.
    func validate() throws(ConfigurationError) {
        func check(_ ok: Bool, _ key: String, _ why: String) throws(ConfigurationError) {
            if !ok { throw ConfigurationError(key: key, why: why) }
        }
        let unit = { (x: Double) in x > 0 && x <= 1 }
        try check(!store.path.isEmpty, "store.path", "must not be empty")
        try check(`import`.futureToleranceSeconds >= 0, "import.future_tolerance_seconds", "must be ≥ 0")
        try check(["vision", "rest"].contains(download.source), "download.source", "must be vision or rest")
        try check(["spot", "futures-um"].contains(download.market), "download.market", "must be spot or futures-um")
        for (key, url) in [
            ("download.vision_base_url", download.visionBaseURL), ("download.rest_base_url", download.restBaseURL),
        ] {
            try check(URL(string: url)?.scheme != nil, key, "'\(url)' is not a URL")
        }
        try check(!download.cacheDir.isEmpty, "download.cache_dir", "must not be empty")
        try check((1...1_000).contains(download.pageLimit), "download.page_limit", "must be 1…1000")
        try check(download.maxRetries >= 0, "download.max_retries", "must be ≥ 0")
        try check(download.backoffInitialSeconds > 0, "download.backoff_initial_seconds", "must be > 0")
        try check(
            download.backoffMaxSeconds >= download.backoffInitialSeconds,
            "download.backoff_max_seconds",
            "must be ≥ download.backoff_initial_seconds"
        )
        try check(download.requestTimeoutSeconds > 0, "download.request_timeout_seconds", "must be > 0")
        try check(download.weightLimitPerMinute > 0, "download.weight_limit_per_minute", "must be > 0")
        try check(unit(download.weightHeadroom), "download.weight_headroom", "must be in (0, 1]")
        do {
            try model.validate()
        } catch {
            // ModelError.configuration carries "model.<key>: why".
            let text = "\(error)".replacingOccurrences(of: "config: ", with: "")
            let parts = text.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            throw ConfigurationError(key: parts.first ?? "model", why: parts.count > 1 ? parts[1] : text)
        }
        try check(!model.modelsDir.isEmpty, "model.models_dir", "must not be empty")
        // The trading sections check themselves, so a sweep that sets them checks the same ranges.
        for (section, problems) in [("signals", signals.problems), ("risk", risk.problems), ("execution", execution.problems)] {
            if let first = problems.first { throw ConfigurationError(key: "\(section).\(first.key)", why: first.why) }
        }
        if model.label == LabelKind.tripleBarrier.rawValue {
            // A take-profit that does not pay the round trip (both fees and the entry's slippage;
            // the target rests, so its exit has none) wins nothing even when it is hit.
            let roundTrip = 2 * execution.takerFee + execution.slippageBps / 10_000
            try check(
                signals.takeProfitPct > roundTrip,
                "signals.take_profit_pct",
                "must be > 2 × execution.taker_fee + execution.slippage_bps = \(roundTrip) with model.label triple_barrier (a target that does not pay the round trip labels losing trades as wins)"
            )
            try check(
                execution.trailingStopPct == 0,
                "execution.trailing_stop_pct",
                "must be 0 with model.label triple_barrier: the label replays a fixed stop, not a trailing one"
            )
        }
        try check(
            trading.warmupBars >= FeatureSpec.warmUpBars,
            "trading.warmup_bars",
            "must be ≥ \(FeatureSpec.warmUpBars) (the longest indicator's warm-up)"
        )
        try check(backtest.capital > 0, "backtest.capital", "must be > 0")
        try check(!backtest.runsDir.isEmpty, "backtest.runs_dir", "must not be empty")
        if !runs.databaseURL.isEmpty {
            do {
                _ = try DatabaseURL(runs.databaseURL)
            } catch {
                // The parser's reason begins with the URL, which the loader already prints before it.
                let reason = "\(error)".replacingOccurrences(of: "'\(runs.databaseURL)'", with: "").drop { $0 == ":" || $0 == " " }
                let detail = DatabaseURL.isPostgres(runs.databaseURL) ? " (\(reason))" : ""
                throw ConfigurationError(
                    key: "runs.database_url",
                    why: "must be a postgres://user[:password]@host[:port]/database URL, or empty for SQLite under backtest.runs_dir\(detail)"
                )
            }
        }
        try check(Binance.profiles.contains(binance.profile), "binance.profile", "must be one of local, testnet, demo, live")
        for (key, url) in [
            ("binance.local_rest_url", binance.localRestURL), ("binance.local_ws_url", binance.localWSURL),
            ("binance.testnet_rest_url", binance.testnetRestURL), ("binance.testnet_ws_url", binance.testnetWSURL),
            ("binance.demo_rest_url", binance.demoRestURL), ("binance.demo_ws_url", binance.demoWSURL),
            ("binance.live_rest_url", binance.liveRestURL), ("binance.live_ws_url", binance.liveWSURL),
            ("binance.local_ws_api_url", binance.localWSAPIURL), ("binance.testnet_ws_api_url", binance.testnetWSAPIURL),
            ("binance.demo_ws_api_url", binance.demoWSAPIURL), ("binance.live_ws_api_url", binance.liveWSAPIURL),
        ] {
            try check(URL(string: url)?.scheme != nil && URL(string: url)?.host != nil, key, "'\(url)' is not a URL")
        }
        try check(binance.reconnectInitialSeconds > 0, "binance.reconnect_initial_seconds", "must be > 0")
        try check(
            binance.reconnectMaxSeconds >= binance.reconnectInitialSeconds,
            "binance.reconnect_max_seconds",
            "must be ≥ binance.reconnect_initial_seconds"
        )
        try check(
            trading.maxModelAgeDays >= 0 && trading.maxModelAgeDays.isFinite,
            "trading.max_model_age_days",
            "must be ≥ 0 (0: no limit)"
        )
        try check((1...2_000).contains(scanner.universeSize), "scanner.universe_size", "must be 1…2000")
        try check(scanner.minQuoteVolume >= 0, "scanner.min_quote_volume", "must be ≥ 0")
        try check((1...100).contains(scanner.candidates), "scanner.candidates", "must be 1…100")
        try check(scanner.maxSpreadPct > 0, "scanner.max_spread_pct", "must be > 0")
        try check(scanner.minVolatilityPct >= 0, "scanner.min_volatility_pct", "must be ≥ 0")
        try check(
            scanner.weights.count == 5 && scanner.weights.allSatisfy(\.isFinite),
            "scanner.weights",
            "must be five numbers: change 1 m, change 5 m, change over the hour, range position, log volume"
        )
        try check((0...60_000).contains(timing.barDeadlineMs), "timing.bar_deadline_ms", "must be 0…60000")
        try check(timing.statsEveryMinutes >= 0, "timing.stats_every_minutes", "must be ≥ 0 (0: no Stats lines)")
        try check(timing.refreshSeconds > 0, "timing.refresh_seconds", "must be > 0")
        try check(timing.championPollSeconds > 0, "timing.champion_poll_seconds", "must be > 0")
        try check(
            alerts.webhookURL.isEmpty || URL(string: alerts.webhookURL).map { ["http", "https"].contains($0.scheme ?? "") && $0.host != nil } == true,
            "alerts.webhook_url",
            "must be an http(s) URL, or empty (alerts only logged)"
        )
        try check(["json", "telegram"].contains(alerts.format), "alerts.format", "must be json or telegram")
        try check(alerts.format != "telegram" || alerts.webhookURL.isEmpty || !alerts.telegramChatID.isEmpty, "alerts.telegram_chat_id", "must be set with format telegram")
        try check(alerts.minIntervalSeconds >= 0 && alerts.minIntervalSeconds.isFinite, "alerts.min_interval_seconds", "must be ≥ 0")
        try check(alerts.reconnectStorm >= 1, "alerts.reconnect_storm", "must be ≥ 1")
        try check(!logging.dir.isEmpty, "logging.dir", "must not be empty")
        try check(logging.maxFileMB > 0, "logging.max_file_mb", "must be > 0")
        try check(logging.filesKept >= 1, "logging.files_kept", "must be ≥ 1")
        try check(
            LineLogHandler.level(named: logging.level) != nil,
            "logging.level",
            "must be one of trace, debug, info, notice, warning, error, critical"
        )
        if let problem = retrain.problems().first, let colon = problem.range(of: ": ") {
            throw ConfigurationError(key: String(problem[..<colon.lowerBound]), why: String(problem[colon.upperBound...]))
        }
    }
}

/// The folder relative paths resolve against: `--home`, else `$SCALPER_HOME`, else the current folder.
struct Workspace: Sendable {
    /// The folder, absolute.
    var home: URL

    /// `--home` if given, else `$SCALPER_HOME`, else the current folder.
    init(home: String?) {
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        let chosen = home ?? ProcessInfo.processInfo.environment["SCALPER_HOME"]
        if let chosen, !chosen.isEmpty {
            self.home = URL(fileURLWithPath: chosen, isDirectory: true, relativeTo: cwd).standardizedFileURL
        } else {
            self.home = cwd
        }
    }

    /// `path` if absolute (or `~/…`), else `home/path`.
    func resolve(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        if expanded.hasPrefix("/") { return expanded }
        return home.appendingPathComponent(expanded).standardizedFileURL.path
    }
}

/// A configuration value that is unknown, of the wrong type or out of range: names the file (when
/// a file set it), the key path and the value.
struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    /// The file that set the key, if one did.
    var file: String?
    /// The dotted key path (`risk.max_drawdown_pct`), empty for the whole file.
    var key: String
    /// What is wrong.
    var why: String

    var description: String {
        let place = [file, key.isEmpty ? nil : key].compactMap { $0 }.joined(separator: ": ")
        return "config: \(place.isEmpty ? "" : place + ": ")\(why)"
    }
}

enum ConfigurationLoader {
    /// The built-in defaults, validated, with paths resolved in `workspace`, and with `overlay`
    /// (the `--config` file, else `$SCALPER_CONFIG`) laid over them key by key.
    static func load(overlay: String?, workspace: Workspace) throws(ConfigurationError) -> ScalperConfiguration {
        let file = overlay ?? ProcessInfo.processInfo.environment["SCALPER_CONFIG"]
        return try decode(overlays: file.map { [$0] } ?? []).resolvingPaths(in: workspace)
    }

    /// The defaults with each file laid over them in order, type-checked and validated. With
    /// `requireEveryKey`, a file must also set every key (how `config/default.yaml` is checked).
    static func decode(overlays: [String], requireEveryKey: Bool = false) throws(ConfigurationError) -> ScalperConfiguration {
        var tree = defaultsTree
        var origin: [String: String] = [:]
        for path in overlays {
            let top = try yamlTree(at: path)
            tree = try lay(top, over: tree, keyPath: [], file: path, origin: &origin)
            if requireEveryKey { try requireKeys(of: defaultsTree, in: top, keyPath: [], file: path) }
        }
        let configuration: ScalperConfiguration
        do {
            let data = try JSONSerialization.data(withJSONObject: tree)
            configuration = try JSONDecoder().decode(ScalperConfiguration.self, from: data).linkingLabelToTrade()
        } catch let error as DecodingError {
            throw culprit(in: origin, tree: tree) ?? describe(error, tree: tree, origin: origin)
        } catch {
            throw ConfigurationError(key: "", why: "\(error)")
        }
        do {
            try configuration.validate()
        } catch var error {
            // A check across keys names one of them; the file that set either of them is to blame.
            let related = [
                "download.backoff_max_seconds": ["download.backoff_initial_seconds"],
                "model.train_fraction": ["model.validation_fraction"],
                "binance.reconnect_max_seconds": ["binance.reconnect_initial_seconds"],
                "signals.take_profit_pct": ["model.label", "execution.taker_fee", "execution.slippage_bps"],
                "execution.trailing_stop_pct": ["model.label"],
            ]
            if origin[error.key] == nil, let other = related[error.key]?.first(where: { origin[$0] != nil }) {
                error.why += " (\(other) was set)"
                error.file = origin[other]
            } else {
                error.file = origin[error.key]
            }
            if let value = value(at: error.key, in: tree) { error.why = "\(render(value)): \(error.why)" }
            throw error
        }
        return configuration
    }

    /// The settings as a YAML document (what `scalper config show` prints): sections in the order of
    /// `config/default.yaml`, keys alphabetical inside each, values as JSON scalars (valid YAML).
    static func yaml(_ configuration: ScalperConfiguration) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let tree = try JSONSerialization.jsonObject(with: encoder.encode(configuration)) as? [String: Any] ?? [:]
        var out = ""
        for name in sectionOrder {
            guard var section = tree[name] as? [String: Any] else { continue }
            // Not a key of the file: the trade's barriers, copied from signals: and execution:.
            if name == "model" { section["triple_barrier"] = nil }
            out += "\(name):\n"
            for key in section.keys.sorted() {
                let value = section[key] ?? NSNull()
                let data = try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .withoutEscapingSlashes])
                out += "  \(key): \(String(decoding: data, as: UTF8.self))\n"
            }
        }
        return out
    }

    /// The sections in the order `config/default.yaml` lists them.
    static let sectionOrder = [
        "store", "import", "download", "model", "signals", "risk", "execution", "trading", "backtest", "runs", "binance", "timing", "logging",
    ]

    // MARK: Trees

    /// The built-in defaults as a JSON-shaped tree.
    static var defaultsTree: [String: Any] {
        // Encoding plain Codable structs of numbers, strings and arrays cannot fail.
        let data = (try? JSONEncoder().encode(ScalperConfiguration())) ?? Data("{}".utf8)
        return ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]) ?? [:]
    }

    private static func yamlTree(at path: String) throws(ConfigurationError) -> [String: Any] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: path, key: "", why: "cannot read: \(error.localizedDescription)")
        }
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: text)
        } catch {
            throw ConfigurationError(file: path, key: "", why: "not valid YAML: \(error)")
        }
        if loaded == nil { return [:] }  // an empty file changes nothing
        guard let tree = loaded as? [String: Any] else {
            throw ConfigurationError(file: path, key: "", why: "the top level must be a mapping of sections")
        }
        return tree
    }

    /// Lays `top` over `base`, refusing keys `base` does not have and mappings where `base` has a value.
    private static func lay(
        _ top: [String: Any],
        over base: [String: Any],
        keyPath: [String],
        file: String,
        origin: inout [String: String]
    ) throws(ConfigurationError) -> [String: Any] {
        var out = base
        for key in top.keys.sorted() {
            let path = keyPath + [key]
            let dotted = path.joined(separator: ".")
            let value = top[key] ?? NSNull()
            guard let existing = base[key] else {
                var why = "unknown key (value \(render(value)))"
                let known = base.keys.sorted()
                if let guess = closest(key, in: known) { why += "; did you mean '\((keyPath + [guess]).joined(separator: "."))'?" }
                why += keyPath.isEmpty ? "; sections: \(known.joined(separator: ", "))" : ""
                throw ConfigurationError(file: file, key: dotted, why: why)
            }
            if value is NSNull {
                throw ConfigurationError(file: file, key: dotted, why: "has no value (remove the key to keep the default)")
            }
            if let section = existing as? [String: Any] {
                guard let inner = value as? [String: Any] else {
                    throw ConfigurationError(file: file, key: dotted, why: "must be a mapping of keys, found \(render(value))")
                }
                out[key] = try lay(inner, over: section, keyPath: path, file: file, origin: &origin)
            } else {
                if value is [String: Any] {
                    throw ConfigurationError(file: file, key: dotted, why: "must be a single value, found a mapping")
                }
                out[key] = jsonValue(value)
                origin[dotted] = file
            }
        }
        return out
    }

    private static func requireKeys(
        of base: [String: Any],
        in top: [String: Any],
        keyPath: [String],
        file: String
    ) throws(ConfigurationError) {
        for key in base.keys.sorted() {
            let path = keyPath + [key]
            guard let value = top[key] else {
                throw ConfigurationError(file: file, key: path.joined(separator: "."), why: "missing (this file must list every key)")
            }
            if let section = base[key] as? [String: Any], let inner = value as? [String: Any] {
                try requireKeys(of: section, in: inner, keyPath: path, file: file)
            }
        }
    }

    /// YAML scalars JSON has no type for (timestamps, .nan, .inf) become their text, so the decoder
    /// reports a type error naming the key.
    private static func jsonValue(_ value: Any) -> Any {
        switch value {
        case let d as Double where !d.isFinite: "\(d)"
        case is String, is Bool, is Int, is Double, is NSNull: value
        case let list as [Any]: list.map(jsonValue)
        default: "\(value)"
        }
    }

    private static func value(at dotted: String, in tree: [String: Any]) -> Any? {
        var node: Any? = tree
        for part in dotted.split(separator: ".") { node = (node as? [String: Any])?[String(part)] }
        return node
    }

    private static func render(_ value: Any) -> String {
        switch value {
        case let s as String: "'\(s)'"
        case let list as [Any]: "[" + list.map(render).joined(separator: ", ") + "]"
        case is [String: Any]: "a mapping"
        case is NSNull: "nothing"
        default: "\(value)"
        }
    }

    /// The key whose value alone makes the defaults fail to decode. Foundation's decoder on Linux
    /// reports some failures (2.5 for a whole number) with no key path, so each key a file set is
    /// tried on its own.
    private static func culprit(in origin: [String: String], tree: [String: Any]) -> ConfigurationError? {
        for (dotted, file) in origin.sorted(by: { $0.key < $1.key }) {
            guard let value = value(at: dotted, in: tree) else { continue }
            let single = setting(value, at: dotted.split(separator: ".").map(String.init), in: defaultsTree)
            let error: (any Error)?
            do {
                let data = try JSONSerialization.data(withJSONObject: single)
                _ = try JSONDecoder().decode(ScalperConfiguration.self, from: data)
                error = nil
            } catch let caught {
                error = caught
            }
            guard let error else { continue }
            if let decoding = error as? DecodingError {
                var described = describe(decoding, tree: single, origin: origin)
                if described.key == dotted {
                    described.file = file
                    return described
                }
            }
            // A number with a fraction fails only where a whole number is wanted.
            let expected: String
            switch self.value(at: dotted, in: defaultsTree) {
            case is String: expected = "text"
            case is Bool: expected = "true or false"
            case is [Any]: expected = "a list of text"
            default:
                if let d = value as? Double, d != d.rounded() { expected = "a whole number" } else { expected = "a number" }
            }
            return ConfigurationError(file: file, key: dotted, why: "expected \(expected), found \(render(value))")
        }
        return nil
    }

    private static func setting(_ value: Any, at path: [String], in tree: [String: Any]) -> [String: Any] {
        guard let head = path.first else { return tree }
        var out = tree
        if path.count == 1 {
            out[head] = value
        } else {
            out[head] = setting(value, at: Array(path.dropFirst()), in: tree[head] as? [String: Any] ?? [:])
        }
        return out
    }

    private static func describe(_ error: DecodingError, tree: [String: Any], origin: [String: String]) -> ConfigurationError {
        let context: DecodingError.Context
        let expected: String
        switch error {
        case .typeMismatch(let type, let c):
            context = c
            expected = typeName(type)
        case .dataCorrupted(let c):
            context = c
            expected = "a value of the key's type"
        case .keyNotFound(let key, let c):
            let path = (c.codingPath + [key]).map(\.stringValue).filter { Int($0) == nil }.joined(separator: ".")
            return ConfigurationError(key: path, why: "missing")
        case .valueNotFound(let type, let c):
            context = c
            expected = typeName(type)
        @unknown default:
            return ConfigurationError(key: "", why: "\(error)")
        }
        // Drop array indices from the path: origins are recorded per key.
        let path = context.codingPath.map(\.stringValue).filter { Int($0) == nil && !$0.hasPrefix("Index ") }
        let dotted = path.joined(separator: ".")
        let found = value(at: dotted, in: tree).map(render) ?? "?"
        return ConfigurationError(file: origin[dotted], key: dotted, why: "expected \(expected), found \(found)")
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "a whole number"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is String.Type: "text"
        case is [String].Type, is [Any].Type: "a list of text"
        default: "\(type)"
        }
    }

    /// The known key nearest to `key` by edit distance, when it is close enough to be a typo.
    private static func closest(_ key: String, in known: [String]) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var row = Array(0...b.count)
            for i in 1...max(a.count, 1) where !a.isEmpty {
                var previous = row[0]
                row[0] = i
                for j in stride(from: 1, through: b.count, by: 1) {
                    let saved = row[j]
                    row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                    previous = saved
                }
            }
            return row[b.count]
        }
        let scored = known.map { (name: $0, d: distance(Array(key), Array($0))) }
        let containing = known.filter { $0.hasPrefix(key) || key.hasPrefix($0) }
        if let best = scored.min(by: { $0.d < $1.d }), best.d <= max(2, key.count / 3) { return best.name }
        return containing.count == 1 ? containing[0] : nil
    }
}
