import Binance
import Features
import Foundation
import LinearAlgebra
public import Logging
public import Model
import ScalperCore
import Scanner
import Synchronization
import Trading

/// Where a `--model champion` session learns of a new champion: a poll of the model registry.
public struct ChampionSource: Sendable {
    /// Seconds between polls (wall clock, off the trading path).
    public var pollSeconds: Double
    /// The champion now (name, bundle folder), or nil when there is none.
    public var current: @Sendable () throws -> (name: String, path: String)?

    /// A source polling `current` every `pollSeconds`.
    public init(pollSeconds: Double, current: @escaping @Sendable () throws -> (name: String, path: String)?) {
        self.pollSeconds = pollSeconds
        self.current = current
    }
}

/// What the champion watcher and the session share: the slot a loaded champion waits in, the
/// latest scored row (for the smoke test) and the name of the model deciding now.
private final class SwapChannel: Sendable {
    let slot = Mutex<LoadedModel?>(nil)
    let recentRow = Mutex<[Float]?>(nil)
    let modelName: Mutex<String>
    init(model: String) { modelName = Mutex(model) }
}

/// A bundle loaded and smoke-tested by the champion watcher, handed to the session once.
/// `@unchecked Sendable`: the watcher never touches the predictor after putting it in the slot,
/// and the session takes it out before using it, so one task at a time owns it.
private final class LoadedModel: @unchecked Sendable {
    let predictor: Predictor
    let path: String
    init(predictor: Predictor, path: String) {
        self.predictor = predictor
        self.path = path
    }
}

/// What a session shows on each refresh (the terminal view, or one JSON object with `--json`).
public struct PaperStatus: Codable, Sendable {
    /// A candidate's last prediction against the threshold.
    public struct Candidate: Codable, Sendable {
        /// The symbol.
        public var symbol: String
        /// Calibrated probability at its last closed bar (nil while warming up).
        public var probability: Double?
        /// The signal threshold (`signals.min_probability`).
        public var threshold: Double
        /// Whether the model was trained on this symbol (the pooled model trades others, marked).
        public var inTrainingSet: Bool
    }

    /// An open position.
    public struct Position: Codable, Sendable {
        /// The symbol.
        public var symbol: String
        /// Average entry price.
        public var entryPrice: Double
        /// Latest price.
        public var mark: Double
        /// Unrealised P&L in USDT (before the exit commission).
        public var unrealisedUSDT: Double
        /// Seconds in trade (event time).
        public var secondsInTrade: Double
        /// The timeout, seconds.
        public var timeoutSeconds: Double
        /// Stop and target prices.
        public var stopLoss: Double
        /// Target price.
        public var takeProfit: Double
    }

    /// The session's name.
    public var session: String
    /// Event time of the last decided minute's close (ms).
    public var time: Int64?
    /// Equity (USDT) at the latest marks.
    public var equity: Double
    /// Starting capital.
    public var capital: Double
    /// Free cash.
    public var cash: Double
    /// Closed trades so far.
    public var trades: Int
    /// Realised P&L so far (sum over closed trades).
    public var realisedUSDT: Double
    /// Minutes decided.
    public var minutes: Int
    /// Entries paused by the user.
    public var paused: Bool
    /// Kill switch tripped (drawdown limit).
    public var killSwitch: Bool
    /// The model is past `trading.max_model_age_days`: no new entries.
    public var modelExpired: Bool
    /// The model deciding now.
    public var model: String?
    /// The most drifted feature over the last 1,440 scored rows and its PSI against the model's
    /// training rows (nil: no reference in the bundle, or nothing scored yet).
    public var driftFeature: String?
    /// That PSI.
    public var driftPSI: Double?
    /// ECE of the last 1,440 realised predictions (nil: none realised yet).
    public var liveECE: Double?
    /// Predictions realised in that window.
    public var liveRealised: Int?
    /// Followed symbols.
    public var candidates: [Candidate]
    /// Open positions.
    public var positions: [Position]
    /// Malformed frames skipped so far.
    public var malformedFrames: Int
    /// Reconnects so far.
    public var reconnects: Int
}

/// How a session ended.
public struct PaperSummary: Codable, Sendable {
    /// The final status.
    public var status: PaperStatus
    /// Why it ended: `duration`, `signal`, `already-finished`.
    public var reason: String
    /// Whether positions were closed at the end (`trading.close_on_stop`).
    public var positionsClosed: Bool
    /// First tradable minute (ms) and the last decided minute's close (ms).
    public var from: Int64
    /// The last decided minute's close.
    public var to: Int64?
    /// Bars a deadline decided a minute without, and bars that came after their minute was decided.
    public var missedBars: Int
    /// Late bars, skipped.
    public var lateBars: Int
    /// Minutes decided from the stream in this run, and the shell's time from the arrival of the bar
    /// that completed each to the engine's commands (its features and prediction, the engine, the
    /// simulated venue), µs.
    public var streamedDecisions: Int
    /// Median of those latencies, µs (nil without any).
    public var decisionP50Us: Double?
    /// 99th percentile, µs.
    public var decisionP99Us: Double?
    /// 99th percentile of the store's commit of a decided minute (one fsynced transaction), µs:
    /// what write-before-act adds before the commands act.
    public var commitP99Us: Double?
}

/// A session could not start or go on; the message names what is wrong.
public struct PaperSessionError: Error, CustomStringConvertible, Sendable {
    /// What is wrong.
    public var message: String
    /// Creates one.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// A scored bar waiting for its minute to be decided: the model's input row, the bar, and its
/// spread at the close from the live book (nil: no synced book).
struct PendingRow {
    var row: [Float]
    var bar: Kline
    var spreadPct: Double?
}

/// `scalper paper`: closed bars of the followed symbols → streaming features → model → the trading
/// core with the simulated venue → the session store, one transaction per event, before anything
/// is acted on (the lock-step DONE, the log, `trades.csv`).
///
/// Start and restart are one path: the store's state (or a new one), each symbol's kernel fed again
/// from its warm-up start over REST, the bars after the last decided minute fetched and decided in
/// order, then the stream. A SIGKILL at any point loses nothing (the last commit holds everything
/// decided; what came after it is decided again from the same bars, the same way) and duplicates
/// nothing (a decided minute is never decided again, order ids are derived from decisions).
public final class PaperSession {
    /// Settings.
    public let settings: PaperSettings
    private var predictor: Predictor
    private let store: SessionStore
    private let rest: BinanceREST
    private let logger: Logger
    private let faults: FaultPoints
    private let onStatus: (PaperStatus) -> Void
    private var trainedOn: Set<String>
    private let champion: ChampionSource?
    private let channel: SwapChannel
    /// Drift of the model deciding now: its features against its training rows, its predictions
    /// against the labels the market then realised.
    private var liveDrift: LiveDrift?
    private var liveCalibration: LiveCalibration
    /// The waiting champion already logged as deferred (once per model).
    private var deferredSwap: String?
    /// The model a retrain request was left for (once per model).
    private var retrainRequestedFor: String?

    private var state: PaperState!
    private var scorers: [String: StreamingScorer] = [:]
    /// Scored rows of bars whose minute is not decided yet, by minute: the model scores them once the
    /// minute's candidates are known.
    private var pendingRows: [Int64: [String: PendingRow]] = [:]
    /// The scanner when the session chose its universe (nil: every symbol is a candidate).
    private var scanner: BarScanner?
    /// The end of the model's training window (ms; nil: unreadable, no age limit applies).
    private var modelTrainedThrough: Int64?
    /// Whether the model has passed `trading.max_model_age_days` (logged once when it does).
    private var modelExpired = false
    /// The last minute's ranking and candidates (scanner sessions).
    private var lastRanking: [BarScannerPick] = []
    private var lastCandidates: [String] = []
    private var lastProbability: [String: Double] = [:]
    private var trades: TradesFile!
    private var tradeCount = 0
    private var realised = 0.0
    private var killSwitch = false
    private var feed: KlineFeed?
    private var feedStatistics = KlineFeedStatistics()
    private var lastRefresh = ContinuousClock.now
    private var lastControlPoll = ContinuousClock.now
    private var serverOffset: Int64 = 0
    private var stopRequested = false
    /// Set while a streamed bar is handled: when it arrived.
    private var arrival: ContinuousClock.Instant?
    private var decisionLatencies: [Double] = []
    /// The live books (depth20 frames), and recent trade prints per symbol (time, price, id).
    private var books: [String: OrderBook] = [:]
    private var recentTrades: [String: [(time: Int64, price: Double, id: Int64)]] = [:]
    /// Book-feature rows of scored bars, stored with the next commit.
    private var pendingBookRows: [BookFeatureRow] = []
    private var lastBookRow: [String: BookFeatureRow] = [:]
    private var commitLatencies: [Double] = []
    /// The exchange's order API (`--venue exchange`; nil: the simulated venue).
    private var gateway: ExchangeGateway?
    /// Orders and cancels stored as intents and not yet sent, in order.
    private var pendingSends: [TradingCommand] = []
    /// The latest event time seen (bars, marks, trades): stamps the updates the session makes itself.
    private var eventTime: Int64 = 0
    /// A dashboard watching (nil: none).
    private let observer: (any SessionObserver)?
    /// Fills reported by the exchange since the last commit (a dashboard shows them).
    private var venueFills: [ExecutedFill] = []
    /// Fills so far.
    private var fillsSeen = 0
    /// Orders ended so far, by final status, and those the exchange reported since the last commit.
    private var orderOutcomes: [String: Int] = [:]
    private var venueOutcomes: [String: Int] = [:]
    /// Decision latencies already given to the observer.
    private var latenciesPublished = 0
    /// The last streamed bar's arrival after its close, ms (wall-clock sessions only).
    private var lastLagMs: Double?

    /// Creates a session; nothing runs before ``run()``.
    ///
    /// - Parameters:
    ///   - onStatus: called at each refresh with the status to show.
    public init(
        settings: PaperSettings,
        predictor: Predictor,
        logger: Logger,
        faults: FaultPoints = FaultPoints(),
        champion: ChampionSource? = nil,
        observer: (any SessionObserver)? = nil,
        onStatus: @escaping (PaperStatus) -> Void
    ) throws {
        self.settings = settings
        self.observer = observer
        self.predictor = predictor
        self.champion = champion
        channel = SwapChannel(model: predictor.metadata.name)
        liveDrift = FeatureReference.load(bundle: settings.modelPath).map { LiveDrift(reference: $0) }
        liveCalibration = LiveCalibration(label: predictor.metadata.labelSpec)
        self.logger = logger
        self.faults = faults
        self.onStatus = onStatus
        trainedOn = Set(predictor.metadata.symbols)
        modelTrainedThrough = UTC.parse(predictor.metadata.windowTo)
        rest = BinanceREST(baseURL: settings.restURL)
        store = try SessionStore(path: settings.storePath, logger: logger, faultPoint: { faults.reach($0) })
    }

    // MARK: Run

    /// Runs until `--duration` of event time has been decided, or a stop is asked (``requestStop()``).
    public func run(stops: AsyncStream<Void>) async throws -> PaperSummary {
        let recovery = try store.recover(as: PaperState.self)
        try store.start(
            name: settings.name,
            model: settings.modelPath,
            profile: settings.profile,
            configurationJSON: try SessionStore.encode(settings.engine)
        )
        trades = try TradesFile(path: settings.tradesPath)
        let serverTime: Int64
        do {
            serverTime = try await rest.serverTime()
        } catch {
            throw PaperSessionError("the market data at \(settings.restURL.absoluteString) does not answer: \(error)")
        }
        serverOffset = serverTime - Self.wallMilliseconds()
        eventTime = serverTime
        var gatewayTask: Task<Void, any Error>?
        defer { gatewayTask?.cancel() }
        if let access = settings.exchange {
            let offset = serverOffset
            let client = BinanceTradingClient(
                baseURL: settings.restURL, apiKey: access.apiKey, key: access.signingKey, recvWindow: access.recvWindow,
                clock: { Self.wallMilliseconds() + offset }
            )
            let gateway = ExchangeGateway(client: client, webSocketAPIURL: access.webSocketAPIURL, logger: logger)
            gatewayTask = Task { try await gateway.run() }
            guard await gateway.waitConnected(seconds: 30) else {
                throw PaperSessionError("the user data stream at \(access.webSocketAPIURL) did not subscribe within 30 s (key, signature or URL?)")
            }
            self.gateway = gateway
            logger.info("orders go to the exchange", metadata: ["rest": "\(settings.restURL.absoluteString)", "user_data": "\(access.webSocketAPIURL)"])
        }

        if let stored = recovery.state {
            // A scanner session resumes with the universe it chose; a session given its symbols
            // only with the same ones.
            guard settings.symbols.isEmpty ? stored.scanning == true : stored.symbols == settings.symbols else {
                throw PaperSessionError(
                    "session \(settings.name) follows \(stored.scanning == true ? "the scanner's \(stored.symbols.count) pairs" : stored.symbols.joined(separator: ",")), not \(settings.symbols.isEmpty ? "the scanner's" : settings.symbols.joined(separator: ",")): start it \(stored.scanning == true ? "without --symbols" : "with the same --symbols"), or choose another --session"
                )
            }
            state = stored
            // A champion session resumes with the model that was deciding (a swap may have happened
            // before the crash), or, if that bundle is gone, with the champion now; a session given
            // its model keeps the one it is given.
            if let path = stored.modelPath, let name = stored.model, name != predictor.metadata.name {
                if champion != nil {
                    do {
                        let resumed = try ModelBundle.load(path)
                        try resumed.setThreads(1)
                        adopt(resumed, path: path)
                    } catch {
                        logger.notice(
                            "the model that was deciding cannot be loaded; resuming with the champion",
                            metadata: ["was": "\(name)", "now": "\(predictor.metadata.name)", "error": "\(error)"]
                        )
                        state.model = predictor.metadata.name
                        state.modelPath = settings.modelPath
                    }
                } else {
                    logger.notice("resuming with the model given, not the one that was deciding", metadata: ["was": "\(name)", "now": "\(predictor.metadata.name)"])
                    state.model = predictor.metadata.name
                    state.modelPath = settings.modelPath
                }
            }
            logger.info(
                "session resumed",
                metadata: [
                    "session": "\(settings.name)", "minutes": "\(stored.minutesDecided)",
                    "last": "\(stored.assembler.lastDecided.map { UTC.minuteString($0) } ?? "none")",
                ]
            )
            // Trades committed before a crash are in the store; the file is rebuilt from it.
            let closed = try store.records().compactMap { r -> TradeRecord? in if case .trade(let t) = r.record { t } else { nil } }
            for t in closed { account(t) }
            let models = stored.tradeModels?.perTrade ?? []
            try trades.rewrite(closed.enumerated().map { ($1, $0 < models.count ? models[$0] : predictor.metadata.name) })
            if stored.finished { return summary(reason: "already-finished") }
        } else {
            state = try await newState(serverTime: serverTime)
            // The file exists from the start (its header), so a session stopped before its first
            // trade leaves an empty table rather than none; an earlier session's file is kept aside.
            if let kept = try trades.start(now: serverTime) {
                logger.notice("an earlier trades file of this session name is kept aside", metadata: ["path": "\(kept)"])
            }
        }
        state.model = state.model ?? predictor.metadata.name
        state.modelPath = state.modelPath ?? settings.modelPath
        if observer != nil { state.core.keepFills() }
        // Orders in doubt are settled with the exchange before anything new is decided.
        if gateway != nil {
            // Cancels stored but maybe never sent before a crash go out again (harmless if they were:
            // the exchange answers -2011 for an order already gone).
            for c in recovery.pendingCancels {
                switch c.target {
                case .order(let id): pendingSends.append(.cancel(symbol: c.symbol, clientOrderID: id))
                case .list(let id): pendingSends.append(.cancelList(symbol: c.symbol, listClientOrderID: id))
                }
            }
            try await reconcile(reason: recovery.state == nil ? "start" : "restart")
        }
        let watcher = champion.map { source in Task.detached { [channel, logger] in await Self.watch(source, channel: channel, logger: logger) } }
        defer { watcher?.cancel() }
        try await catchUp(serverTime: serverTime)
        if state.finished { return summary(reason: "duration") }
        return try await follow(stops: stops)
    }

    /// The model deciding now (its bundle's name).
    public var currentModel: String { channel.modelName.withLock { $0 } }

    /// The same, readable from any task (a heartbeat loop).
    public var currentModelReader: @Sendable () -> String {
        let channel = self.channel
        return { channel.modelName.withLock { $0 } }
    }

    // MARK: Champion swaps

    /// Polls the champion; a new one is loaded and smoke-tested here, off the trading path, and left
    /// in the slot for the next minute's decision (``takeSwap(at:)``). A bundle that fails to load or
    /// to score is logged and not tried again.
    private static func watch(_ source: ChampionSource, channel: SwapChannel, logger: Logger) async {
        var refused: Set<String> = []
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(source.pollSeconds))
            guard !Task.isCancelled else { return }
            let found: (name: String, path: String)?
            do {
                found = try source.current()
            } catch {
                logger.warning("cannot read the champion", metadata: ["error": "\(error)"])
                continue
            }
            guard let found else { continue }
            if found.name == channel.modelName.withLock({ $0 }) {
                // Rolled back to the model deciding now: a loaded one waiting must not swap in.
                channel.slot.withLock { $0 = nil }
                continue
            }
            guard !refused.contains(found.name), channel.slot.withLock({ $0?.predictor.metadata.name != found.name }) else { continue }
            do {
                let next = try ModelBundle.load(found.path)
                try next.setThreads(1)
                let row = channel.recentRow.withLock { $0 } ?? [Float](repeating: .nan, count: next.metadata.featureNames.count)
                let (p, _) = try next.scored(Matrix(rows: 1, columns: row.count, storage: row), whereProbabilityAtLeast: 1)
                guard let q = p.first, q.isFinite, q >= 0, q <= 1 else {
                    throw PaperSessionError("it scored \(p.first.map { "\($0)" } ?? "nothing") on the latest feature row")
                }
                channel.slot.withLock { $0 = LoadedModel(predictor: next, path: found.path) }
                logger.info("new champion loaded; it decides from the next minute", metadata: ["model": "\(found.name)", "smoke_p": "\(q)"])
            } catch {
                refused.insert(found.name)
                logger.error("the new champion failed its load or smoke test; keeping the current model", metadata: ["model": "\(found.name)", "error": "\(error)"])
            }
        }
    }

    /// Swaps in a loaded champion, if one waits, before the minute `openTime` is scored; not before
    /// the end of the data it was fitted and calibrated on (a replay, or a catch-up after downtime,
    /// must not trade minutes the new model has seen).
    private func takeSwap(at openTime: Int64) {
        guard
            let next = channel.slot.withLock({ slot -> LoadedModel? in
                guard let waiting = slot, waiting.predictor.metadata.seenThrough <= openTime else { return nil }
                slot = nil
                return waiting
            })
        else {
            if let waiting = channel.slot.withLock({ $0?.predictor.metadata }), deferredSwap != waiting.name {
                deferredSwap = waiting.name
                logger.notice(
                    "new champion waits until the end of its data",
                    metadata: ["model": "\(waiting.name)", "until": "\(UTC.isoString(waiting.seenThrough))", "minute": "\(UTC.isoString(openTime))"]
                )
            }
            return
        }
        let previous = predictor.metadata.name
        adopt(next.predictor, path: next.path)
        logger.notice(
            "model swapped",
            metadata: ["from": "\(previous)", "to": "\(next.predictor.metadata.name)", "minute": "\(UTC.isoString(openTime))"]
        )
    }

    private func adopt(_ next: Predictor, path: String) {
        predictor = next
        trainedOn = Set(next.metadata.symbols)
        modelTrainedThrough = UTC.parse(next.metadata.windowTo)
        modelExpired = false
        channel.modelName.withLock { $0 = next.metadata.name }
        liveDrift = FeatureReference.load(bundle: path).map { LiveDrift(reference: $0) }
        liveCalibration = LiveCalibration(label: next.metadata.labelSpec)
        if state != nil {
            state.model = next.metadata.name
            state.modelPath = path
        }
    }

    /// A new session's state: filters, the warm-up history's start, the first tradable minute.
    private func newState(serverTime: Int64) async throws -> PaperState {
        let filters: [String: SymbolFilters]
        do {
            filters = try await rest.symbolFilters()
        } catch {
            throw PaperSessionError("cannot read exchangeInfo at \(settings.restURL.absoluteString): \(error)")
        }
        let tradableFrom = Self.floorMinute(serverTime)
        let symbols = try await universe()
        var warmupStart: [String: Int64] = [:]
        for symbol in symbols {
            let bars = try await history(symbol, count: settings.warmupBars, closedBy: tradableFrom)
            warmupStart[symbol] = bars.first?.openTime ?? tradableFrom
            if bars.count < settings.warmupBars {
                logger.warning(
                    "short warm-up: the first tradable bar moves forward",
                    metadata: ["symbol": "\(symbol)", "bars": "\(bars.count)", "wanted": "\(settings.warmupBars)"]
                )
            }
        }
        let settings = self.settings.engine
        let engine = TradingEngine(settings: settings, startTime: tradableFrom)
        let model = FillModel(settings.execution)
        var core: PaperCore
        switch settings.exits {
        case _ where self.settings.exchange != nil:
            core = .venue(VenueCore(engine: engine))
        case .bar:
            core = .bar(BarReplay(engine: engine, venue: SimulatedVenue(model: model, rule: .bar, quoteBalance: settings.capital)))
        case .tick, .venue:
            core = .continuous(
                ContinuousReplay(engine: engine, venue: SimulatedVenue(model: model, rule: .continuous, quoteBalance: settings.capital))
            )
        }
        for symbol in symbols {
            if let f = filters[symbol] { core.setFilters(f, for: symbol) } else {
                logger.warning("no exchangeInfo filters: derived from prices", metadata: ["symbol": "\(symbol)"])
            }
        }
        var assembler = MinuteAssembler(deadline: self.settings.lockStep ? nil : self.settings.barDeadlineMs)
        _ = assembler.follow(Set(symbols))
        let end = self.settings.durationSeconds.map { tradableFrom + Int64(($0 / 60).rounded(.up)) * 60_000 }
        let outside = symbols.filter { !trainedOn.contains($0) }
        if !outside.isEmpty {
            logger.info("symbols outside the model's training set are traded (pooled model)", metadata: ["symbols": "\(outside.joined(separator: ","))"])
        }
        logger.info(
            "session started",
            metadata: [
                "session": "\(self.settings.name)",
                "symbols": "\(self.settings.symbols.isEmpty ? "scanner: \(symbols.count) pairs, \(self.settings.scanner.bars.candidates) candidates a minute" : symbols.joined(separator: ","))",
                "exits": "\(settings.exits.rawValue)", "tradable_from": "\(UTC.minuteString(tradableFrom))",
                "until": "\(end.map { UTC.minuteString($0) } ?? "stopped")", "capital": "\(settings.capital)",
            ]
        )
        var state = PaperState(
            symbols: symbols,
            exits: settings.exits,
            core: core,
            assembler: assembler,
            warmupStart: warmupStart,
            tradableFrom: tradableFrom,
            endTime: end
        )
        state.scanning = self.settings.symbols.isEmpty
        return state
    }

    /// The symbols a new session follows: those given, or the scanner's universe (exchangeInfo and
    /// ticker/24hr of the profile's REST).
    private func universe() async throws -> [String] {
        guard settings.symbols.isEmpty else { return settings.symbols }
        let chosen: [String]
        do {
            chosen = try await rest.usdtUniverse(
                size: settings.scanner.universeSize,
                minQuoteVolume: settings.scanner.minQuoteVolume,
                excludedBases: settings.scanner.excludedBases
            )
        } catch {
            throw PaperSessionError("cannot choose the scanner's universe at \(settings.restURL.absoluteString): \(error)")
        }
        guard !chosen.isEmpty else {
            throw PaperSessionError(
                "no USDT pair at \(settings.restURL.absoluteString) trades with a 24 h quote volume ≥ scanner.min_quote_volume (\(settings.scanner.minQuoteVolume))"
            )
        }
        logger.info("universe", metadata: ["pairs": "\(chosen.count)", "first": "\(chosen.prefix(10).joined(separator: ","))"])
        return chosen
    }

    /// Feeds every symbol's kernel from its warm-up start through `serverTime` over REST, deciding
    /// the minutes after the last one decided, in order.
    private func catchUp(serverTime: Int64) async throws {
        if state.scanning == true { scanner = BarScanner(settings: settings.scanner.bars) }
        for symbol in state.symbols {
            let start = state.warmupStart[symbol] ?? state.tradableFrom
            scorers[symbol] = StreamingScorer(
                symbol: symbol,
                tradingWarmupBars: settings.warmupBars,
                trainingWarmupBars: predictor.metadata.configuration.warmupBars
            )
            let count = Int((serverTime - start) / 60_000) + 1
            let bars = try await history(symbol, count: count, closedBy: serverTime).filter { $0.openTime >= start }
            for bar in bars { try handleBar(symbol: symbol, bar: bar) }
            if state.finished { return }
        }
    }

    /// Follows the streams until the end.
    private func follow(stops: AsyncStream<Void>) async throws -> PaperSummary {
        var feedSettings = KlineFeedSettings(webSocketURL: settings.webSocketURL)
        feedSettings.backoffInitialSeconds = settings.reconnectInitialSeconds
        feedSettings.backoffMaxSeconds = settings.reconnectMaxSeconds
        feedSettings.tradeStreams = state.core.watchesTrades || settings.bookFeatures
        feedSettings.bookStreams = settings.bookFeatures
        // A scanner session follows trades and books of its candidates and positions only.
        var detail = scanner == nil ? nil : detailSymbols()
        let feed = KlineFeed(symbols: state.symbols, settings: feedSettings, logger: logger, detail: detail)
        self.feed = feed
        for symbol in state.symbols {
            if let last = scorers[symbol]?.lastOpenTime { await feed.markDelivered(symbol: symbol, through: last) }
        }
        enum Input: Sendable {
            case feed(KlineFeedEvent)
            case tick
            case stop
        }
        let (inputs, continuation) = AsyncStream.makeStream(of: Input.self)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await feed.run() }
            group.addTask {
                for await event in feed.events { continuation.yield(.feed(event)) }
                continuation.finish()
            }
            group.addTask {
                for await _ in stops { continuation.yield(.stop) }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(250))
                    continuation.yield(.tick)
                }
            }
            if settings.lockStep { try await feed.register(client: settings.name) }
            var reason = "feed-ended"
            loop: for await input in inputs {
                switch input {
                case .feed(.closedBar(let symbol, let bar)):
                    // What the exchange did up to this bar's close counts before the minute is decided.
                    try await exchangeSync(barrier: true)
                    eventTime = max(eventTime, bar.closeTime + 1)
                    arrival = ContinuousClock.now
                    if !settings.lockStep { lastLagMs = Double(Self.wallMilliseconds() + serverOffset - (bar.closeTime + 1)) }
                    try handleBar(symbol: symbol, bar: bar)
                    arrival = nil
                case .feed(.trade(let symbol, _, _, _)) where detail?.contains(symbol) == false,
                    .feed(.book(let symbol, _)) where detail?.contains(symbol) == false:
                    // A frame sent before its UNSUBSCRIBE was handled: the symbol is no longer followed in detail.
                    break
                case .feed(.trade(let symbol, let price, let time, let id)):
                    eventTime = max(eventTime, time)
                    remember(symbol: symbol, price: price, time: time, id: id)
                    try handleTrade(symbol: symbol, price: price, time: time)
                case .feed(.book(let symbol, let snapshot)):
                    books[symbol, default: OrderBook()].replace(withPartial: snapshot)
                case .feed(.lockStepMark(let time)):
                    eventTime = max(eventTime, time)
                    try clock(time)
                    try pollControls(force: false)
                    // Everything the exchange did through this step is acted on before DONE.
                    try await exchangeSync(barrier: true)
                    if !state.finished { try await feed.done(through: time) }
                case .feed(.reconnected(let gap)):
                    try await backfill(gap)
                case .feed(.requestRejected(let reply)):
                    logger.warning("the exchange refused a request", metadata: ["reply": "\(reply)"])
                case .tick:
                    if !settings.lockStep {
                        let now = Self.wallMilliseconds() + serverOffset
                        eventTime = max(eventTime, now)
                        try await exchangeSync(barrier: false)
                        try decide(state.assembler.timer(now: now))
                        try clock(now)
                    }
                    try pollControls(force: false)
                    await refresh(force: false)
                case .stop:
                    stopRequested = true
                    reason = "signal"
                }
                try await sendPending()
                if let followed = detail, case .feed = input {
                    let wanted = detailSymbols()
                    if wanted != followed {
                        await feed.follow(detail: wanted)
                        detail = wanted
                        // A book no longer followed goes stale: dropped, and synced again from its
                        // first frame if the symbol comes back.
                        for symbol in followed.subtracting(wanted) {
                            books[symbol] = nil
                            recentTrades[symbol] = nil
                        }
                    }
                }
                if state.finished && reason == "feed-ended" { reason = "duration" }
                if state.finished || stopRequested { break loop }
            }
            if stopRequested && !state.finished { try stop() }
            // Closing orders of a stop or the end go out, and their fills are waited for (briefly).
            try await settleAtEnd()
            group.cancelAll()
            continuation.finish()
            await refresh(force: true)
            return summary(reason: reason)
        }
    }

    // MARK: Bars and minutes

    /// One closed bar, from REST or the stream: features, the prediction, then the minutes it completes.
    private func handleBar(symbol: String, bar: Kline) throws {
        guard var scorer = scorers[symbol] else { return }
        if let last = scorer.lastOpenTime, bar.openTime <= last { return }
        // The live book at the bar's close: only for bars that came over the stream (a bar fetched
        // over REST has no book of its time), from the first tradable minute on.
        var book: BookFeatures?
        if arrival != nil, bar.openTime >= state.tradableFrom, let live = books[symbol], live.isSynced {
            let trade = recentTrades[symbol]?.last { $0.time <= bar.closeTime }
            let features = live.features(lastTradePrice: trade?.price)
            book = features
            let bookRow = BookFeatureRow(symbol: symbol, openTime: bar.openTime, updateID: live.lastUpdateID, lastTradeID: trade?.id, values: features.values)
            pendingBookRows.append(bookRow)
            lastBookRow[symbol] = bookRow
            recentTrades[symbol]?.removeAll { $0.time < (trade?.time ?? .min) }
        }
        let row: StreamingScorer.Row
        do {
            // The model gets the book only when its bundle was trained with it (NaN, as in training, otherwise).
            row = try scorer.update(bar, book: predictor.metadata.klineOnly ? nil : book)
        } catch {
            logger.warning("bar skipped", metadata: ["symbol": "\(symbol)", "open": "\(UTC.minuteString(bar.openTime))", "error": "\(error)"])
            return
        }
        scorers[symbol] = scorer
        scanner?.add(symbol: symbol, bar: bar)
        liveCalibration.bar(symbol, bar)
        guard bar.openTime >= state.tradableFrom else { return }
        if let last = state.assembler.lastDecided, bar.openTime <= last { return }
        if row.tradable {
            var spread: Double?
            if arrival != nil, let book = books[symbol], book.isSynced, let bid = book.bestBid?.price, let ask = book.bestAsk?.price, bid + ask > 0 {
                spread = (ask - bid) / ((ask + bid) / 2) * 100
            }
            pendingRows[bar.openTime, default: [:]][symbol] = PendingRow(row: row.float32, bar: bar, spreadPct: spread)
        }
        let (decided, late) = state.assembler.barClosed(symbol: symbol, bar: bar)
        if late {
            state.lateBars += 1
            logger.warning("late bar dropped: its minute was decided without it", metadata: ["symbol": "\(symbol)", "open": "\(UTC.minuteString(bar.openTime))"])
        }
        try decide(decided)
    }

    /// Keeps a trade print for the book features' last price (the prints of the last two minutes).
    private func remember(symbol: String, price: Double, time: Int64, id: Int64) {
        var list = recentTrades[symbol, default: []]
        list.append((time, price, id))
        if list.count > 4_096 { list.removeFirst(list.count - 2_048) }
        recentTrades[symbol] = list
    }

    /// A trade print: the continuous core judges exits on it. Committed when it made orders or
    /// records, or moved a trailing stop's high; otherwise it only moved a mark, which the next
    /// minute's close sets again (a restart does not replay prints: those it missed are missed as
    /// a dropped connection's are), so an fsync per print buys nothing.
    private func handleTrade(symbol: String, price: Double, time: Int64) throws {
        guard !state.finished, time >= state.tradableFrom else { return }
        let high = state.core.engine.holdings[symbol]?.highest
        let records = state.core.trade(symbol: symbol, price: price, time: time)
        let trailing = settings.engine.execution.trailingStopPct > 0 && state.core.engine.holdings[symbol]?.highest != high
        if !records.isEmpty || trailing { try commit(.trade(symbol: symbol, price: price, time: time), records) }
    }

    /// Event time moved (a lock-step mark, or the wall clock outside lock-step): timeouts of
    /// positions that saw no trade.
    private func clock(_ time: Int64) throws {
        guard state.core.watchesTrades, !state.finished, !state.core.engine.holdings.isEmpty else { return }
        let records = state.core.timer(time: time)
        if !records.isEmpty { try commit(.timer(time: time), records) }
    }

    // MARK: The exchange (`--venue exchange`)

    /// Takes what the user data stream delivered (after a barrier: everything the exchange sent
    /// before now) into the engine, each update committed with the state it makes; a reconnect
    /// first reconciles (events of the gap are not sent again).
    private func exchangeSync(barrier: Bool) async throws {
        guard let gateway, !state.finished || !state.core.engine.holdings.isEmpty else { return }
        let (updates, reconnected) = try await gateway.sync(barrier: barrier)
        if reconnected { try await reconcile(reason: "user data stream reconnected") }
        // The stream down: order state by REST polling instead (every few seconds while orders work).
        if !reconnected, await !gateway.userData.isConnected, ContinuousClock.now - lastPoll >= .seconds(3),
            try store.orders().contains(where: { !$0.status.isFinal && $0.status != .intended })
        {
            lastPoll = ContinuousClock.now
            try await reconcile(reason: "user data stream down: polling")
        }
        for u in updates { try handle(update: u) }
        try await sendPending()
        if lookUpNeeded { try await reconcile(reason: "unknown outcome") }
    }

    /// One order update from the exchange: a fill stored before (the same trade id), or news about
    /// an order already final, changes nothing; anything else reaches the engine, committed with
    /// the update in one transaction.
    private func handle(update u: OrderUpdate) throws {
        if let fill = u.fill, try store.hasFill(symbol: u.symbol, tradeID: fill.tradeID) { return }
        if u.fill == nil, let stored = try store.order(clientOrderID: u.clientOrderID), stored.status.isFinal || stored.status == u.status { return }
        if observer != nil, let fill = u.fill {
            venueFills.append(ExecutedFill(update: u, fill: fill, request: try store.order(clientOrderID: u.clientOrderID)?.request))
        }
        if observer != nil, u.status.isFinal { venueOutcomes[u.status.rawValue, default: 0] += 1 }
        let records = state.core.orderUpdated(u)
        try commit(.orderUpdated(u), records)
    }

    /// Sends every stored intent, in order: `intended → sending` committed just before each write;
    /// a refusal goes back to the engine as a rejection; an unknown outcome is marked and looked up
    /// by client id (after a barrier), adopted if the exchange has it, abandoned if not. Never sent
    /// twice.
    private func sendPending() async throws {
        guard let gateway else { return }
        while !pendingSends.isEmpty {
            let command = pendingSends.removeFirst()
            switch command {
            case .submit(let order):
                guard let stored = try store.order(clientOrderID: order.clientOrderID), stored.status == .intended else { continue }
                try store.markSending(clientOrderID: order.clientOrderID)
                faults.reach("order-sending")
                let outcome = await gateway.place(
                    order, quantity: Self.decimal(stored.quantityText), price: stored.priceText.map(Self.decimal),
                    stopPrice: stored.stopPriceText.map(Self.decimal)
                )
                // Killed here, the order is at the exchange and the store says `sending`: found on restart.
                faults.reach("order-answered")
                try answered(outcome, orders: [order], list: nil)
            case .submitList(let list):
                guard let target = try store.order(clientOrderID: list.target.clientOrderID), target.status == .intended,
                    let stop = try store.order(clientOrderID: list.stop.clientOrderID), let targetPrice = target.priceText,
                    let stopPrice = stop.stopPriceText
                else { continue }
                try store.markSending(listClientOrderID: list.listClientOrderID)
                faults.reach("order-sending")
                let outcome = await gateway.placeList(
                    list, quantity: Self.decimal(target.quantityText), target: Self.decimal(targetPrice), stop: Self.decimal(stopPrice)
                )
                faults.reach("order-answered")
                try answered(outcome, orders: [list.target, list.stop], list: list.listClientOrderID)
            case .cancel(let symbol, let id):
                let outcome = await gateway.cancel(symbol: symbol, clientOrderID: id)
                if case .refused(let code, let message) = outcome, code != -2011 {
                    logger.warning("the exchange refused a cancel", metadata: ["order": "\(id)", "code": "\(code)", "msg": "\(message)"])
                }
            case .cancelList(let symbol, let id):
                let outcome = await gateway.cancelList(symbol: symbol, listClientOrderID: id)
                if case .refused(let code, let message) = outcome, code != -2011 {
                    logger.warning("the exchange refused a cancel", metadata: ["list": "\(id)", "code": "\(code)", "msg": "\(message)"])
                }
            case .record:
                continue
            }
        }
    }

    /// What the answer to a placement means for the orders it carried.
    private func answered(_ outcome: GatewayOutcome, orders: [OrderRequest], list: String?) throws {
        switch outcome {
        case .sent:
            return
        case .refused(let code, let message):
            logger.warning("the exchange refused an order", metadata: ["order": "\(list ?? orders[0].clientOrderID)", "code": "\(code)", "msg": "\(message)"])
            for o in orders {
                try handle(update: OrderUpdate(clientOrderID: o.clientOrderID, symbol: o.symbol, status: .rejected, reason: message, time: eventTime))
            }
        case .unknown(let reason):
            logger.warning("no answer to an order: looking it up", metadata: ["order": "\(list ?? orders[0].clientOrderID)", "reason": "\(reason)"])
            if let list {
                try store.markUnknown(listClientOrderID: list, reason: reason)
            } else {
                try store.markUnknown(clientOrderID: orders[0].clientOrderID, reason: reason)
            }
            lookUpNeeded = true
        }
    }

    /// Orders whose outcome is unknown wait for ``reconcile(reason:)`` (run at the next sync).
    private var lookUpNeeded = false
    /// The last REST poll of working orders while the user data stream was down.
    private var lastPoll = ContinuousClock.now - .seconds(60)

    /// Reconciliation with the exchange, at start, after a restart, after every reconnect of the
    /// user data stream and after an unknown outcome. Scoped to this session's orders (its client-id
    /// prefix, as the store holds them): `intended` ones were never sent (sent now if decided in the
    /// last two minutes, else dropped and the engine told); `sending`, `unknown` and working ones are
    /// looked up by client id (after a barrier) and their fills and status adopted, or abandoned when
    /// the exchange does not have them. Then the base held by the engine is compared with the
    /// account's balances (the session's allocation only: the account may hold more); a difference
    /// is logged at WARNING.
    private func reconcile(reason: String) async throws {
        guard let gateway else { return }
        lookUpNeeded = false
        let (updates, _) = try await gateway.sync(barrier: true)
        for u in updates { try handle(update: u) }
        var looked = 0
        var abandoned = 0
        var resent = 0
        for order in try store.orders() where !order.status.isFinal {
            let o = order.request
            switch order.status {
            case .intended:
                // Already queued in this process: it goes out with the queue.
                if pendingSends.contains(where: { Self.carries($0, o.clientOrderID) }) { continue }
                if eventTime - o.decisionTime <= 120_000 {
                    if let list = order.listClientOrderID {
                        guard o.leg == .target, let stop = try store.orders().first(where: { $0.listClientOrderID == list && $0.request.leg == .stop }) else { continue }
                        pendingSends.append(.submitList(OCORequest(listClientOrderID: list, symbol: o.symbol, target: o, stop: stop.request)))
                    } else {
                        pendingSends.append(.submit(o))
                    }
                    resent += 1
                } else {
                    try handle(update: OrderUpdate(clientOrderID: o.clientOrderID, symbol: o.symbol, status: .rejected, reason: "not sent before a restart; too old to send now", time: eventTime))
                }
            default:
                looked += 1
                if let found = try await gateway.lookUp(symbol: o.symbol, clientOrderID: o.clientOrderID) {
                    for u in found { try handle(update: u) }
                } else if order.status == .sending || order.status == .unknown {
                    abandoned += 1
                    try handle(update: OrderUpdate(clientOrderID: o.clientOrderID, symbol: o.symbol, status: .rejected, reason: "not at the exchange: abandoned", time: eventTime))
                } else {
                    logger.warning("an order the exchange accepted is not there any more", metadata: ["order": "\(o.clientOrderID)", "status": "\(order.status.rawValue)"])
                    try handle(update: OrderUpdate(clientOrderID: o.clientOrderID, symbol: o.symbol, status: .expired, reason: "not at the exchange", time: eventTime))
                }
            }
        }
        // The base the engine holds must be in the account (which may hold more: other sessions, the user's own).
        let balances = try await gateway.balances()
        let cash = state.core.engine.cash
        let quote = balances["USDT"].map { Self.double($0.free) } ?? 0
        if quote + 1e-6 < cash {
            logger.warning("the account's free USDT is below the session's cash: entries may be refused", metadata: ["session": "\(cash)", "account": "\(quote)"])
        }
        for (symbol, h) in state.core.engine.holdings where h.held > 0 {
            let base = symbol.hasSuffix("USDT") ? String(symbol.dropLast(4)) : symbol
            let have = balances[base].map { Self.double($0.free + $0.locked) } ?? 0
            if have + 1e-9 < h.held {
                logger.warning("the account holds less than the session's position", metadata: ["symbol": "\(symbol)", "session": "\(h.held)", "account": "\(have)"])
            }
        }
        logger.info("reconciled with the exchange", metadata: ["reason": "\(reason)", "looked_up": "\(looked)", "abandoned": "\(abandoned)", "sent": "\(resent)"])
        try await sendPending()
    }

    /// At the end: what is queued goes out, then fills are taken in until no position or order is
    /// left (at most 10 s of wall time; what is left is in the summary and the store).
    private func settleAtEnd() async throws {
        guard gateway != nil else { return }
        try await sendPending()
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline && !state.core.engine.holdings.isEmpty && settings.closeOnStop {
            try await exchangeSync(barrier: true)
            if lookUpNeeded { try await reconcile(reason: "unknown outcome") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    private static func carries(_ command: TradingCommand, _ id: String) -> Bool {
        switch command {
        case .submit(let o): o.clientOrderID == id
        case .submitList(let l): l.target.clientOrderID == id || l.stop.clientOrderID == id
        default: false
        }
    }

    private static func decimal(_ text: String) -> Decimal { Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) ?? 0 }
    private static func double(_ d: Decimal) -> Double { Double(d.description) ?? 0 }

    /// Steps the core through decided minutes, committing each before anything acts on it.
    private func decide(_ minutes: [MinuteAssembler.Decided]) throws {
        for d in minutes {
            if state.finished { return }
            if let end = state.endTime, d.openTime + 60_000 > end { return }
            let order = Dictionary(uniqueKeysWithValues: state.symbols.enumerated().map { ($1, $0) })
            let bars = d.bars.sorted { (order[$0.symbol] ?? .max) < (order[$1.symbol] ?? .max) }
            takeSwap(at: d.openTime)
            let due = try predict(pendingRows.removeValue(forKey: d.openTime) ?? [:], minute: d.openTime)
            let minute = MinuteClose(openTime: d.openTime, bars: bars, predictions: bars.compactMap { due[$0.symbol] })
            if !d.missing.isEmpty {
                state.missedBars += d.missing.count
                logger.warning("minute decided without some bars", metadata: ["minute": "\(UTC.minuteString(d.openTime))", "missing": "\(d.missing.joined(separator: ","))"])
            }
            var records = state.core.step(minute)
            let decided = ContinuousClock.now
            state.minutesDecided += 1
            var event = SessionEvent.minuteClosed(minute)
            if let end = state.endTime, minute.closeTime >= end {
                records += finishSession(at: minute.closeTime)
                event = .finished(time: minute.closeTime)
            }
            try commit(event, records)
            if let arrival {
                decisionLatencies.append(Self.microseconds(decided - arrival))
                commitLatencies.append(Self.microseconds(ContinuousClock.now - decided))
            }
            if settings.statsEveryMinutes > 0, state.minutesDecided % settings.statsEveryMinutes == 0 { logStats() }
        }
    }

    /// The symbols whose trades and book a scanner session follows: this minute's candidates and
    /// the symbols it holds or is entering.
    private func detailSymbols() -> Set<String> {
        Set(lastCandidates).union(state.core.engine.holdings.keys)
    }

    /// The model's predictions for a minute's candidates: every scored row, or with the scanner
    /// the rows of the pairs it picks. As the backtest, rows below the signal threshold get no
    /// prediction (they cannot signal).
    private func predict(_ rows: [String: PendingRow], minute: Int64) throws -> [String: Prediction] {
        // Past its age limit the model makes no new entries (positions still exit as they would).
        if settings.maxModelAgeDays > 0, let through = modelTrainedThrough {
            let ageDays = Double(minute + 60_000 - through) / 86_400_000
            if ageDays > settings.maxModelAgeDays {
                if !modelExpired {
                    modelExpired = true
                    logger.warning(
                        "model expired: no new entries",
                        metadata: [
                            "model": "\(predictor.metadata.name)", "trained_through": "\(predictor.metadata.windowTo)",
                            "age_days": "\(String(format: "%.2f", ageDays))", "limit_days": "\(settings.maxModelAgeDays)",
                        ]
                    )
                }
                return [:]
            }
        }
        var chosen = state.symbols.filter { rows[$0] != nil }
        if let scanner {
            let ranked = scanner.rank(openTime: minute, symbols: state.symbols) { rows[$0]?.spreadPct }
            let candidates = scanner.candidates(ranked).map(\.symbol)
            if Set(candidates) != Set(lastCandidates) {
                logger.debug(
                    "candidates",
                    metadata: [
                        "minute": "\(UTC.minuteString(minute))", "symbols": "\(candidates.joined(separator: ","))",
                        "ranked": "\(ranked.count)", "refused": "\(ranked.filter { $0.refusal != nil }.count)",
                    ]
                )
            }
            lastRanking = ranked
            lastCandidates = candidates
            chosen = candidates.filter { rows[$0] != nil }
        }
        guard let width = chosen.first.flatMap({ rows[$0]?.row.count }) else { return [:] }
        // The minute's rows scored as the backtest scores its rows: the full result only at or
        // above the signal threshold.
        let matrix = Matrix(rows: chosen.count, columns: width, storage: chosen.flatMap { rows[$0]?.row ?? [] })
        if champion != nil, let last = chosen.last.flatMap({ rows[$0]?.row }) { channel.recentRow.withLock { $0 = last } }
        let (probabilities, results) = try predictor.scored(matrix, whereProbabilityAtLeast: settings.engine.signals.minProbability)
        var due: [String: Prediction] = [:]
        for (k, symbol) in chosen.enumerated() {
            lastProbability[symbol] = probabilities[k]
            if let pending = rows[symbol] {
                liveCalibration.predicted(symbol, openTime: pending.bar.openTime, p: probabilities[k], close: pending.bar.close)
                liveDrift?.observe(matrix.row(k))
            }
            guard let r = results[k], let pending = rows[symbol] else { continue }
            due[symbol] = Prediction(
                symbol: symbol,
                time: pending.bar.closeTime + 1,
                price: pending.bar.close,
                probabilityUp: r.probabilityUp,
                confidence: r.confidence,
                predictedMovePct: r.predictedMovePct
            )
        }
        return due
    }

    /// The end of the session's duration: positions closed (or kept, as configured).
    private func finishSession(at time: Int64) -> [TradingRecord] {
        state.finished = true
        return settings.closeOnStop ? state.core.finish(time: time) : []
    }

    /// SIGINT/SIGTERM: no new entries; positions closed or kept; state flushed.
    private func stop() throws {
        let time = state.core.engine.lastMinute.map { $0 + 60_000 } ?? state.tradableFrom
        var records = state.core.control(.pause, time: time)
        if settings.closeOnStop {
            records += state.core.finish(time: time)
            state.finished = true
        }
        try commit(.control(.pause, time: time, request: nil), records)
        logger.info("session stopped", metadata: ["positions": settings.closeOnStop ? "closed" : "kept"])
    }

    /// Commits an event's state and records, then acts: logs, `trades.csv`.
    private func commit(_ event: SessionEvent, _ records: [TradingRecord]) throws {
        let models = attribute(records)
        // An exchange session's orders and cancels: stored as intents with this state, sent after.
        let sends = state.core.takeOutbox()
        faults.reach("before-send")
        try store.commit(event: event, newState: state, commands: records.map { .record($0) } + sends, bookRows: pendingBookRows)
        pendingSends += sends
        pendingBookRows.removeAll()
        faults.reach("after-send")
        var closed: [(TradeRecord, String)] = []
        var modelOf = models.makeIterator()
        for record in records {
            RecordLog.log(record, to: logger, verbose: true)
            if case .signal(let signal) = record, let row = lastBookRow[signal.symbol] {
                var metadata: Logger.Metadata = ["symbol": "\(signal.symbol)", "update_id": "\(row.updateID)"]
                for (name, value) in zip(FeatureSpec.names[FeatureSpec.orderBookRange], row.values) {
                    metadata[name] = "\(String(format: "%.6g", value))"
                }
                logger.info("decision book", metadata: metadata)
            }
            switch record {
            case .trade(let t):
                closed.append((t, modelOf.next() ?? currentModel))
                account(t)
            case .killSwitch: killSwitch = true
            default: break
            }
        }
        if !closed.isEmpty {
            faults.reach("after-fill-stored")
            try trades.append(closed)
        }
        publish(records)
    }

    /// Tells the observer what a commit added, with the state now.
    private func publish(_ records: [TradingRecord]) {
        guard let observer else { return }
        var events = SessionEvents()
        events.fills = state.core.takeFills() + venueFills
        venueFills.removeAll()
        fillsSeen += events.fills.count
        events.orderOutcomes = state.core.takeOrderOutcomes().merging(venueOutcomes, uniquingKeysWith: +)
        venueOutcomes.removeAll()
        orderOutcomes.merge(events.orderOutcomes, uniquingKeysWith: +)
        events.decisionLatenciesUs = Array(decisionLatencies[min(latenciesPublished, decisionLatencies.count)...])
        latenciesPublished = decisionLatencies.count
        for record in records {
            switch record {
            case .equity(let time, let equity): events.equity.append(.init(time: time, equity: equity))
            case .trade(let t): events.trades.append(t)
            case .killSwitch: events.killSwitch = true
            default: break
            }
        }
        observer.sessionUpdated(snapshot(), events: events)
    }

    /// Records, in the state about to be committed, which model opened each position and each
    /// closed trade of `records`: a signal names the deciding model; a new holding takes its
    /// symbol's last signal's model; a trade takes its position's. Returns the trades' models.
    private func attribute(_ records: [TradingRecord]) -> [String] {
        let current = predictor.metadata.name
        var signals = state.signalModels ?? [:]
        var positions = state.positionModels ?? [:]
        var tradeModels = state.tradeModels ?? []
        var out: [String] = []
        for record in records {
            switch record {
            case .signal(let s): signals[s.symbol] = current
            case .trade(let t):
                let model = positions.removeValue(forKey: t.symbol) ?? signals[t.symbol] ?? current
                out.append(model)
                tradeModels.append(trade: model)
            default: break
            }
        }
        for symbol in state.core.engine.holdings.keys where positions[symbol] == nil {
            positions[symbol] = signals[symbol] ?? current
        }
        state.signalModels = signals
        state.positionModels = positions
        state.tradeModels = tradeModels
        return out
    }

    private func account(_ t: TradeRecord) {
        tradeCount += 1
        realised += t.pnlUSDT
    }

    /// Applies the controls `scalper paper ctl` left in the store (at most every half second).
    private func pollControls(force: Bool) throws {
        let now = ContinuousClock.now
        guard force || now - lastControlPoll >= .milliseconds(500) else { return }
        lastControlPoll = now
        for request in try store.pendingControls() {
            let time = state.core.engine.lastMinute.map { $0 + 60_000 } ?? state.tradableFrom
            logger.info("control", metadata: ["control": "\(request.control.rawValue)", "request": "\(request.id)"])
            let records = state.core.control(request.control, time: time)
            if request.control == .resetKillSwitch { killSwitch = false }
            try commit(.control(request.control, time: time, request: request.id), records)
        }
    }

    /// A dropped connection's symbols: their bars after the last delivered, over REST.
    private func backfill(_ gap: KlineFeedGap) async throws {
        let now = Self.wallMilliseconds() + serverOffset
        let serverTime = (try? await rest.serverTime()) ?? now
        for symbol in gap.symbols {
            guard let last = scorers[symbol]?.lastOpenTime else { continue }
            let count = Int((serverTime - last) / 60_000) + 1
            let bars = try await history(symbol, count: count, closedBy: serverTime).filter { $0.openTime > last }
            logger.info("backfilled after a reconnect", metadata: ["symbol": "\(symbol)", "bars": "\(bars.count)"])
            for bar in bars { try handleBar(symbol: symbol, bar: bar) }
            if let through = scorers[symbol]?.lastOpenTime { await feed?.markDelivered(symbol: symbol, through: through) }
        }
    }

    private func history(_ symbol: String, count: Int, closedBy time: Int64) async throws -> [Kline] {
        do {
            return try await rest.klines(symbol, count: max(0, count), closedBy: time)
        } catch {
            throw PaperSessionError("cannot fetch \(symbol)'s bars from \(settings.restURL.absoluteString): \(error)")
        }
    }

    // MARK: Views

    private func logStats() {
        let e = state.core.engine
        var metadata: Logger.Metadata = [
            "equity": "\(String(format: "%.2f", e.equity))", "trades": "\(tradeCount)", "open": "\(e.holdings.count)",
            "minutes": "\(state.minutesDecided)", "pnl": "\(String(format: "%.2f", realised))",
            "malformed": "\(feedStatistics.malformed)", "reconnects": "\(feedStatistics.reconnects)",
        ]
        let drift = driftFigures()
        if let (feature, psi) = drift.worst { metadata["psi_max"] = "\(feature)=\(String(format: "%.3f", psi))" }
        if liveCalibration.count > 0 {
            let (mean, rate) = liveCalibration.meanAndRate
            metadata["live_ece"] = "\(String(format: "%.4f", liveCalibration.ece))"
            metadata["live_mean_p"] = "\(String(format: "%.4f", mean))"
            metadata["live_rate"] = "\(String(format: "%.4f", rate))"
            metadata["live_n"] = "\(liveCalibration.count)"
        }
        logger.info("Stats:", metadata: metadata)
        var reasons: [String] = []
        if let (feature, psi) = drift.worst, psi > settings.psiWarning, drift.rows >= 240 {
            reasons.append("feature \(feature) PSI \(String(format: "%.3f", psi)) over the last \(drift.rows) scored rows (warning above \(settings.psiWarning))")
        }
        if liveCalibration.count >= 200, liveCalibration.ece > settings.eceWarning {
            let (mean, rate) = liveCalibration.meanAndRate
            reasons.append(
                "live ECE \(String(format: "%.4f", liveCalibration.ece)) over \(liveCalibration.count) realised predictions (mean p \(String(format: "%.3f", mean)), realised rate \(String(format: "%.3f", rate)); warning above \(settings.eceWarning))"
            )
        }
        guard !reasons.isEmpty else { return }
        logger.warning("model drift", metadata: ["model": "\(predictor.metadata.name)", "why": "\(reasons.joined(separator: "; "))"])
        if let request = settings.retrainRequestPath, retrainRequestedFor != predictor.metadata.name,
            !FileManager.default.fileExists(atPath: request)
        {
            retrainRequestedFor = predictor.metadata.name
            let text = "session \(settings.name), model \(predictor.metadata.name), \(UTC.isoString(e.lastMinute ?? 0)): \(reasons.joined(separator: "; "))\n"
            if (try? text.write(toFile: request, atomically: true, encoding: .utf8)) != nil {
                logger.notice("retrain requested", metadata: ["file": "\(request)"])
            }
        }
    }

    /// The most drifted feature (name, PSI) of the live window and the rows in it.
    private func driftFigures() -> (worst: (String, Double)?, rows: Int) {
        guard let liveDrift, liveDrift.count > 0 else { return (nil, 0) }
        let worst = zip(FeatureSpec.names, liveDrift.psi).filter { $0.1.isFinite }.max { $0.1 < $1.1 }
        return (worst, liveDrift.count)
    }

    private func refresh(force: Bool) async {
        let now = ContinuousClock.now
        guard force || now - lastRefresh >= .milliseconds(Int64(settings.refreshSeconds * 1_000)) else { return }
        lastRefresh = now
        if let feed { feedStatistics = await feed.statistics }
        onStatus(status())
        observer?.sessionUpdated(snapshot(), events: SessionEvents())
    }

    /// What a dashboard shows now.
    public func snapshot() -> SessionSnapshot {
        let status = status()
        let e = state.core.engine
        let now = e.lastMinute.map { $0 + 60_000 } ?? state.tradableFrom
        let candidates = Set(scanner == nil ? state.symbols : lastCandidates)
        let pairs: [SessionSnapshot.Pair]
        if scanner != nil, !lastRanking.isEmpty {
            pairs = lastRanking.map { p in
                SessionSnapshot.Pair(
                    symbol: p.symbol, score: p.score, change1m: p.change1m, change5m: p.change5m, volatilityPct: p.volatilityPct,
                    refusal: p.refusal, alerts: p.alerts.map(\.rawValue), candidate: candidates.contains(p.symbol), probability: lastProbability[p.symbol]
                )
            }
        } else {
            pairs = state.symbols.map {
                SessionSnapshot.Pair(
                    symbol: $0, score: nil, change1m: nil, change5m: nil, volatilityPct: nil, refusal: nil, alerts: [],
                    candidate: candidates.contains($0), probability: lastProbability[$0]
                )
            }
        }
        let recent = decisionLatencies.suffix(1_000).sorted()
        func q(_ p: Double) -> Double? { recent.isEmpty ? nil : recent[min(recent.count - 1, Int(Double(recent.count) * p))] }
        let f = feedStatistics
        return SessionSnapshot(
            status: status,
            venue: gateway == nil ? "simulated" : "exchange",
            risk: .init(e, now: now),
            pairs: pairs,
            feed: .init(
                frames: f.messages, closedBars: f.closedBars, malformed: f.malformed, connections: f.connections,
                reconnects: f.reconnects, rejectedRequests: f.rejectedRequests, trades: f.trades, books: f.books,
                missedBars: state.missedBars, lateBars: state.lateBars, lagMs: lastLagMs, requestWeight: rest.usedWeight.last
            ),
            model: .init(
                name: predictor.metadata.name,
                trainedThrough: modelTrainedThrough,
                ageDays: modelTrainedThrough.map { Double(now - $0) / 86_400_000 },
                maxAgeDays: settings.maxModelAgeDays,
                expired: modelExpired,
                liveECE: status.liveECE,
                liveRealised: liveCalibration.count,
                reliability: liveCalibration.reliability().map {
                    .init(
                        lower: $0.lower, upper: $0.upper, count: $0.count,
                        meanPredicted: $0.count > 0 ? $0.meanPredicted : nil, realisedRate: $0.count > 0 ? $0.realisedRate : nil
                    )
                },
                driftFeature: status.driftFeature,
                driftPSI: status.driftPSI
            ),
            latency: .init(decisions: decisionLatencies.count, p50Us: q(0.5), p99Us: q(0.99), lastUs: decisionLatencies.last),
            signals: e.signalCount,
            fills: fillsSeen,
            orders: orderOutcomes
        )
    }

    /// The status now.
    public func status() -> PaperStatus {
        let e = state.core.engine
        let time = e.lastMinute.map { $0 + 60_000 }
        let positions = PaperStatus.Position.open(in: e, at: time)
        let drift = driftFigures()
        return PaperStatus(
            session: settings.name,
            time: time,
            equity: e.equity,
            capital: settings.engine.capital,
            cash: e.cash,
            trades: tradeCount,
            realisedUSDT: realised,
            minutes: state.minutesDecided,
            paused: e.paused,
            killSwitch: killSwitch,
            modelExpired: modelExpired,
            model: predictor.metadata.name,
            driftFeature: drift.worst?.0,
            driftPSI: drift.worst?.1,
            liveECE: liveCalibration.count > 0 ? liveCalibration.ece : nil,
            liveRealised: liveCalibration.count,
            candidates: (scanner == nil ? state.symbols : lastCandidates).map {
                PaperStatus.Candidate(
                    symbol: $0,
                    probability: lastProbability[$0],
                    threshold: settings.engine.signals.minProbability,
                    inTrainingSet: trainedOn.contains($0)
                )
            },
            positions: positions,
            malformedFrames: feedStatistics.malformed,
            reconnects: feedStatistics.reconnects
        )
    }

    private func summary(reason: String) -> PaperSummary {
        let sorted = decisionLatencies.sorted()
        let commits = commitLatencies.sorted()
        func q(_ p: Double, _ sorted: [Double]) -> Double? {
            sorted.isEmpty ? nil : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
        return PaperSummary(
            status: status(),
            reason: reason,
            positionsClosed: settings.closeOnStop,
            from: state.tradableFrom,
            to: state.core.engine.lastMinute.map { $0 + 60_000 },
            missedBars: state.missedBars,
            lateBars: state.lateBars,
            streamedDecisions: sorted.count,
            decisionP50Us: q(0.5, sorted),
            decisionP99Us: q(0.99, sorted),
            commitP99Us: q(0.99, commits)
        )
    }

    // MARK: Time

    private static func microseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12
    }

    private static func wallMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1_000).rounded(.down)) }

    /// The open time of the minute containing `time` (ms).
    static func floorMinute(_ time: Int64) -> Int64 {
        let m: Int64 = 60_000
        return time >= 0 ? time / m * m : -((-time + m - 1) / m) * m
    }
}
