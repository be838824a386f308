public import Binance
public import Foundation
public import Scanner
import Synchronization
public import Trading

/// Where a scanner-driven session's universe comes from and how it narrows to candidates
/// (the `scanner:` section of the config).
public struct PaperScannerSettings: Sendable, Equatable {
    /// Pairs followed at most: the USDT spot pairs with the largest 24 h quote volume.
    public var universeSize = 150
    /// Smallest 24 h quote volume, USDT, for a pair to be followed.
    public var minQuoteVolume = 1_000_000.0
    /// Base assets never followed (stablecoins and fiat).
    public var excludedBases: Set<String> = ["USDC", "FDUSD", "TUSD", "BUSD", "DAI", "USDP", "EUR", "AEUR", "UST", "USTC", "PAX"]
    /// How candidates are picked each minute.
    public var bars = BarScannerSettings()

    /// The defaults.
    public init() {}
}

/// Everything a paper session runs with, resolved by the CLI from its options and the config.
public struct PaperSettings: Sendable {
    /// The session's name: its folder `sessions/NAME/`, its lock-step client name, the prefix of its order ids.
    public var name: String
    /// The session's folder (`sessions/NAME` in the workspace): `session.sqlite`, `trades.csv`.
    public var folder: String
    /// The symbols followed, in the order given (upper case); empty: the scanner chooses
    /// (``scanner``): the universe is followed, the model scores the minute's candidates.
    public var symbols: [String]
    /// The universe and candidate rules when ``symbols`` is empty.
    public var scanner = PaperScannerSettings()
    /// No new entries once the model is older than this many days of event time (0: no limit;
    /// `trading.max_model_age_days`).
    public var maxModelAgeDays = 0.0
    /// The model's folder, as given (recorded in the store's meta row).
    public var modelPath: String
    /// The profile whose market data the session follows (`local`, `testnet`, `demo`, `live`).
    public var profile: String
    /// The engine's settings (capital, signals, risk, execution, exits, the session name).
    public var engine: EngineSettings
    /// How long the session trades, seconds of event time from its first tradable minute (nil: until stopped).
    public var durationSeconds: Double?
    /// Register with `scalper exchange --lock-step` and say DONE after acting on each mark.
    public var lockStep: Bool
    /// REST base URL of the market data.
    public var restURL: URL
    /// WebSocket base URL of the market data (combined streams at `/stream`).
    public var webSocketURL: String
    /// Bars the feature kernel sees before the first tradable bar (`trading.warmup_bars`).
    public var warmupBars: Int
    /// Outside lock-step: how long after a minute's close to wait for its late bars, ms (`timing.bar_deadline_ms`).
    public var barDeadlineMs: Int64
    /// A `Stats:` log line every this many decided minutes (`timing.stats_every_minutes`).
    public var statsEveryMinutes: Int
    /// Seconds between terminal refreshes (`timing.refresh_seconds`).
    public var refreshSeconds: Double
    /// On SIGINT/SIGTERM or the end of `--duration`: close positions at market (true) or keep them
    /// in the store for the next start (`trading.close_on_stop`).
    public var closeOnStop: Bool
    /// Follow each symbol's `depth20@100ms` and trade streams for the live book's features (logged with
    /// each decision, stored for future training; the model gets them only if trained with them).
    public var bookFeatures: Bool
    /// Reconnect backoff, seconds (`binance.reconnect_initial_seconds`, `binance.reconnect_max_seconds`).
    public var reconnectInitialSeconds: Double
    /// Longest wait between reconnects, seconds.
    public var reconnectMaxSeconds: Double
    /// Feature PSI (the model's training rows vs the last 1,440 scored rows) above this is logged at
    /// WARNING with the `Stats:` line (`retrain.psi_warning`).
    public var psiWarning = 0.25
    /// Live ECE (the last 1,440 realised predictions) above this is logged at WARNING (`retrain.live_ece_warning`).
    public var eceWarning = 0.05
    /// Where to leave a retrain request when drift is over a threshold (nil: none; `retrain.retrain_on_drift`).
    public var retrainRequestPath: String?

    /// Creates settings; every field is public for the CLI to fill.
    public init(
        name: String,
        folder: String,
        symbols: [String],
        modelPath: String,
        profile: String,
        engine: EngineSettings,
        durationSeconds: Double?,
        lockStep: Bool,
        restURL: URL,
        webSocketURL: String,
        warmupBars: Int,
        barDeadlineMs: Int64,
        statsEveryMinutes: Int,
        refreshSeconds: Double,
        closeOnStop: Bool,
        bookFeatures: Bool,
        reconnectInitialSeconds: Double,
        reconnectMaxSeconds: Double
    ) {
        self.name = name
        self.folder = folder
        self.symbols = symbols
        self.modelPath = modelPath
        self.profile = profile
        self.engine = engine
        self.durationSeconds = durationSeconds
        self.lockStep = lockStep
        self.restURL = restURL
        self.webSocketURL = webSocketURL
        self.warmupBars = warmupBars
        self.barDeadlineMs = barDeadlineMs
        self.statsEveryMinutes = statsEveryMinutes
        self.refreshSeconds = refreshSeconds
        self.closeOnStop = closeOnStop
        self.bookFeatures = bookFeatures
        self.reconnectInitialSeconds = reconnectInitialSeconds
        self.reconnectMaxSeconds = reconnectMaxSeconds
    }

    /// Where orders go: nil, the simulated venue in the process; else the exchange's order API.
    public var exchange: ExchangeAccess?

    /// The store's path: `<folder>/session.sqlite`.
    public var storePath: String { folder + "/session.sqlite" }
    /// The trades file: `<folder>/trades.csv`.
    public var tradesPath: String { folder + "/trades.csv" }
}

/// Named points where a test makes a session kill itself (SIGKILL), from `SCALPER_FAULT`:
/// `point` or `point@n` (the n-th time it is reached, 1 by default), several comma-separated.
///
/// Points: `before-send` (a minute decided, nothing stored: the orders it made were never sent),
/// `after-send` (stored and answered by the venue, the lock-step DONE not yet said),
/// `after-fill-stored` (after a commit that stored a closed trade's fills), `mid-snapshot`
/// (inside the store's transaction, after the state row was written, before the commit).
/// `scalper worker` has two: `worker-after-claim` (a job claimed, nothing computed) and
/// `worker-before-complete` (its result computed, not stored).
/// Nothing else reads it; unset, no point fires.
public final class FaultPoints: Sendable {
    private let targets: [String: Int]
    private let counts = Mutex<[String: Int]>([:])

    /// Reads `SCALPER_FAULT` from the environment.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        var targets: [String: Int] = [:]
        for part in (environment["SCALPER_FAULT"] ?? "").split(separator: ",") {
            let pieces = part.split(separator: "@")
            let name = String(pieces[0]).trimmingCharacters(in: .whitespaces)
            let n = pieces.count > 1 ? Int(pieces[1]) ?? 1 : 1
            if !name.isEmpty { targets[name] = n }
        }
        self.targets = targets
    }

    /// Whether any point is armed.
    public var isArmed: Bool { !targets.isEmpty }

    /// Reached `point`: kills the process with SIGKILL when it is the armed one and its count is due.
    public func reach(_ point: String) {
        guard let due = targets[point] else { return }
        let n = counts.withLock { c in
            c[point, default: 0] += 1
            return c[point] ?? 0
        }
        if n == due {
            FileHandle.standardError.write(Data("fault point \(point)@\(due): SIGKILL\n".utf8))
            kill(getpid(), SIGKILL)
        }
    }
}

/// How a session reaches an exchange's order API (`--venue exchange`, `scalper live`): the REST base
/// is the session's market-data REST (orders and market data never come from different places).
public struct ExchangeAccess: Sendable {
    /// The WebSocket API URL (`…/ws-api/v3`) the user data stream subscribes on.
    public var webSocketAPIURL: String
    /// The API key (never logged).
    public var apiKey: String
    /// The key requests are signed with (never logged).
    public var signingKey: SigningKey
    /// `recvWindow`, ms.
    public var recvWindow = 5_000

    /// Access with a key.
    public init(webSocketAPIURL: String, apiKey: String, signingKey: SigningKey) {
        self.webSocketAPIURL = webSocketAPIURL
        self.apiKey = apiKey
        self.signingKey = signingKey
    }
}
