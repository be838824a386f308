import Foundation
import MarketData
import Model
import Trading
import Yams

/// The whole of `config/default.yaml`, decoded.
struct ScalperConfiguration: Codable, Sendable {
    struct Store: Codable, Sendable {
        var path: String
    }

    struct Import: Codable, Sendable {
        var futureToleranceSeconds: Double

        enum CodingKeys: String, CodingKey {
            case futureToleranceSeconds = "future_tolerance_seconds"
        }
    }

    struct Download: Codable, Sendable {
        var source: String
        var market: String
        var visionBaseURL: String
        var restBaseURL: String
        var cacheDir: String
        var pageLimit: Int
        var maxRetries: Int
        var backoffInitialSeconds: Double
        var backoffMaxSeconds: Double
        var requestTimeoutSeconds: Double
        var weightLimitPerMinute: Int
        var weightHeadroom: Double

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

    var store: Store
    var `import`: Import
    var download: Download
    var model: ModelConfiguration
    var signals: SignalConfiguration
    var risk: RiskConfiguration
    var execution: ExecutionConfiguration
    var backtest: Backtest

    struct Backtest: Codable, Sendable {
        var capital: Double
        var runsDir: String

        enum CodingKeys: String, CodingKey {
            case capital
            case runsDir = "runs_dir"
        }
    }

    /// Checks values a YAML type check cannot, naming the key.
    func validate() throws {
        func check(_ ok: Bool, _ key: String, _ why: String) throws {
            if !ok { throw ConfigurationError(message: "\(key): \(why)") }
        }
        try check(!store.path.isEmpty, "store.path", "must not be empty")
        try check(`import`.futureToleranceSeconds >= 0, "import.future_tolerance_seconds", "must be ≥ 0")
        try check(["vision", "rest"].contains(download.source), "download.source", "must be vision or rest")
        try check(["spot", "futures-um"].contains(download.market), "download.market", "must be spot or futures-um")
        try check((1...1000).contains(download.pageLimit), "download.page_limit", "must be 1…1000")
        try check(download.maxRetries >= 0, "download.max_retries", "must be ≥ 0")
        try check(download.backoffInitialSeconds > 0, "download.backoff_initial_seconds", "must be > 0")
        try check(
            download.backoffMaxSeconds >= download.backoffInitialSeconds,
            "download.backoff_max_seconds",
            "must be ≥ backoff_initial_seconds"
        )
        try check(download.requestTimeoutSeconds > 0, "download.request_timeout_seconds", "must be > 0")
        try check(download.weightLimitPerMinute > 0, "download.weight_limit_per_minute", "must be > 0")
        try check(
            download.weightHeadroom > 0 && download.weightHeadroom <= 1,
            "download.weight_headroom",
            "must be in (0, 1]"
        )
        do {
            try model.validate()
        } catch {
            throw ConfigurationError(message: "\(error)".replacingOccurrences(of: "config: ", with: ""))
        }
        try check(backtest.capital > 0, "backtest.capital", "must be > 0")
        try check(signals.minProbability > 0 && signals.minProbability < 1, "signals.min_probability", "must be in (0, 1)")
        try check(signals.takeProfitPct > 0, "signals.take_profit_pct", "must be > 0")
        try check(signals.stopLossPct > 0 && signals.stopLossPct < 1, "signals.stop_loss_pct", "must be in (0, 1)")
        try check(signals.maxSignalsPerBar > 0, "signals.max_signals_per_bar", "must be > 0")
        try check(risk.maxPositionPct > 0 && risk.maxPositionPct <= 1, "risk.max_position_pct", "must be in (0, 1]")
        try check(risk.maxLossPerTradePct > 0, "risk.max_loss_per_trade_pct", "must be > 0")
        try check(risk.dailyLossLimitPct > 0, "risk.daily_loss_limit_pct", "must be > 0")
        try check(risk.maxDrawdownPct > 0 && risk.maxDrawdownPct < 1, "risk.max_drawdown_pct", "must be in (0, 1)")
        try check(risk.maxOpenPositions > 0, "risk.max_open_positions", "must be > 0")
        try check(execution.takerFee >= 0 && execution.takerFee < 0.1, "execution.taker_fee", "must be in [0, 0.1)")
        try check(execution.slippageBps >= 0, "execution.slippage_bps", "must be ≥ 0")
        try check(execution.timeoutSeconds > 0, "execution.timeout_seconds", "must be > 0")
        for (key, url) in [
            ("download.vision_base_url", download.visionBaseURL), ("download.rest_base_url", download.restBaseURL),
        ] {
            try check(URL(string: url)?.scheme != nil, key, "'\(url)' is not a URL")
        }
    }
}

/// A configuration file that is missing, malformed or out of range.
struct ConfigurationError: Error, CustomStringConvertible {
    var message: String
    var description: String { "config: \(message)" }
}

enum ConfigurationLoader {
    /// Loads `config/default.yaml` (from the working directory, or `SCALPER_HOME/config`), then lays
    /// `overlay` (the --config file or `SCALPER_CONFIG`) over it key by key.
    static func load(overlay: String?) throws -> ScalperConfiguration {
        let environment = ProcessInfo.processInfo.environment
        var candidates = ["config/default.yaml"]
        if let home = environment["SCALPER_HOME"] { candidates.insert("\(home)/config/default.yaml", at: 0) }
        guard let defaultPath = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw ConfigurationError(
                message:
                    "no config/default.yaml in \(FileManager.default.currentDirectoryPath); run scalper from the project folder or set SCALPER_HOME"
            )
        }
        var tree = try yamlTree(at: defaultPath)
        if let overlayPath = overlay ?? environment["SCALPER_CONFIG"] {
            tree = merge(tree, try yamlTree(at: overlayPath))
        }
        do {
            let text = try Yams.dump(object: tree)
            let configuration = try YAMLDecoder().decode(ScalperConfiguration.self, from: text)
            try configuration.validate()
            return configuration
        } catch let error as ConfigurationError {
            throw error
        } catch let DecodingError.keyNotFound(key, context) {
            let path = (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
            throw ConfigurationError(message: "\(path): missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw ConfigurationError(
                message: "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
            )
        } catch {
            throw ConfigurationError(message: "\(error)")
        }
    }

    private static func yamlTree(at path: String) throws -> [String: Any] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(message: "cannot read \(path): \(error.localizedDescription)")
        }
        do {
            guard let tree = try Yams.load(yaml: text) as? [String: Any] else {
                throw ConfigurationError(message: "\(path): top level must be a mapping")
            }
            return tree
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(message: "\(path): \(error)")
        }
    }

    private static func merge(_ base: [String: Any], _ overlay: [String: Any]) -> [String: Any] {
        var out = base
        for (key, value) in overlay {
            if let a = out[key] as? [String: Any], let b = value as? [String: Any] {
                out[key] = merge(a, b)
            } else {
                out[key] = value
            }
        }
        return out
    }
}
