public import Trading

/// Everything a dashboard shows of a running session at one moment (``SessionObserver``).
public struct SessionSnapshot: Codable, Sendable {
    /// The risk header: each figure beside its limit.
    public struct Risk: Codable, Sendable {
        /// The highest equity seen (USDT).
        public var equityPeak: Double
        /// Drawdown from that peak, a fraction.
        public var drawdown: Double
        /// The kill switch's drawdown limit (`risk.max_drawdown_pct`), a fraction.
        public var maxDrawdown: Double
        /// Equity at the start of the UTC day (USDT).
        public var dayStartEquity: Double
        /// P&L since then (USDT).
        public var pnlToday: Double
        /// The daily loss limit (`risk.daily_loss_limit_pct`), a fraction of the day's start.
        public var dailyLossLimit: Double
        /// Entries in the hour before the last decided minute, and the limit.
        public var tradesLastHour: Int
        /// `risk.max_trades_per_hour`.
        public var maxTradesPerHour: Int
        /// Entries today, and the limit.
        public var tradesToday: Int
        /// `risk.max_trades_per_day`.
        public var maxTradesPerDay: Int
        /// Refusals by reason.
        public var refusals: [String: Int]
    }

    /// A followed pair as the scanner judged it at the last minute's close.
    public struct Pair: Codable, Sendable {
        /// The pair.
        public var symbol: String
        /// The scanner's score (nil: no scanner, every followed symbol is a candidate).
        public var score: Double?
        /// Change over the last minute and over 5 minutes, percent.
        public var change1m: Double?
        /// Change over 5 minutes, percent.
        public var change5m: Double?
        /// Volatility of the window's 1 m returns, percent.
        public var volatilityPct: Double?
        /// Why it is not a candidate (nil: it passed the scanner's filters).
        public var refusal: String?
        /// What stands out at the last close: VOLUME_SPIKE, MOMENTUM, BREAKOUT.
        public var alerts: [String]
        /// Whether it is a candidate now.
        public var candidate: Bool
        /// Calibrated probability at its last scored bar.
        public var probability: Double?
    }

    /// Feed health.
    public struct Feed: Codable, Sendable {
        /// Frames received, closed bars delivered, malformed frames skipped.
        public var frames: Int
        /// Closed bars delivered.
        public var closedBars: Int
        /// Malformed frames skipped.
        public var malformed: Int
        /// Connections opened and reopened after a drop.
        public var connections: Int
        /// Reconnects.
        public var reconnects: Int
        /// Error replies from the exchange.
        public var rejectedRequests: Int
        /// Trade prints and book frames delivered.
        public var trades: Int
        /// Book frames delivered.
        public var books: Int
        /// Bars that never came (their minute decided without them) and bars that came late.
        public var missedBars: Int
        /// Late bars.
        public var lateBars: Int
        /// The last streamed bar's arrival after its close, ms (nil: none streamed yet).
        public var lagMs: Double?
        /// The request weight the exchange last reported used this minute (nil: not reported yet).
        public var requestWeight: Int?
    }

    /// The model deciding now and how it does live.
    public struct ModelHealth: Codable, Sendable {
        /// Reliability bin of the session's realised predictions.
        public struct Bin: Codable, Sendable {
            /// Probability range.
            public var lower: Double
            /// Upper end.
            public var upper: Double
            /// Realised predictions in the bin.
            public var count: Int
            /// Their mean prediction (nil: empty bin).
            public var meanPredicted: Double?
            /// Their realised rate (nil: empty bin).
            public var realisedRate: Double?
        }

        /// The model's name.
        public var name: String
        /// The end of its training window (ms).
        public var trainedThrough: Int64?
        /// Days from that to the last decided minute.
        public var ageDays: Double?
        /// `trading.max_model_age_days` (0: no limit).
        public var maxAgeDays: Double
        /// Past that limit: no new entries.
        public var expired: Bool
        /// ECE of the realised predictions in the window.
        public var liveECE: Double?
        /// Realised predictions in the window.
        public var liveRealised: Int
        /// Their reliability in ten bins.
        public var reliability: [Bin]
        /// The most drifted feature and its PSI.
        public var driftFeature: String?
        /// That PSI.
        public var driftPSI: Double?
    }

    /// Decision latency of streamed bars: arrival of the bar that completes a minute → commands.
    public struct Latency: Codable, Sendable {
        /// Streamed decisions measured.
        public var decisions: Int
        /// Median, µs.
        public var p50Us: Double?
        /// 99th percentile, µs.
        public var p99Us: Double?
        /// The last one, µs.
        public var lastUs: Double?
    }

    /// The status the terminal view shows.
    public var status: PaperStatus
    /// Where orders go: `simulated` or `exchange`.
    public var venue: String
    /// The risk header.
    public var risk: Risk
    /// The followed pairs (scanner order when a scanner chooses them).
    public var pairs: [Pair]
    /// Feed health.
    public var feed: Feed
    /// The model.
    public var model: ModelHealth
    /// Decision latency.
    public var latency: Latency
    /// Signals decided so far.
    public var signals: Int
    /// Orders sent (entries and exits) and fills so far.
    public var fills: Int
    /// Whether the session is running (false: read from the store of a stopped session).
    public var running = true
    /// Orders ended so far, by final status (FILLED, CANCELED, REJECTED, EXPIRED).
    public var orders: [String: Int] = [:]
}

/// What happened in one commit: the points a dashboard appends to its curves and tables.
public struct SessionEvents: Codable, Sendable {
    /// An equity point.
    public struct EquityPoint: Codable, Sendable, Equatable {
        /// Event time (ms).
        public var time: Int64
        /// Equity (USDT).
        public var equity: Double
    }

    /// Equity at each decided minute.
    public var equity: [EquityPoint] = []
    /// Closed trades.
    public var trades: [TradeRecord] = []
    /// Fills.
    public var fills: [ExecutedFill] = []
    /// Orders ended in this commit, by final status.
    public var orderOutcomes: [String: Int] = [:]
    /// Decision latencies measured since the last commit, µs.
    public var decisionLatenciesUs: [Double] = []
    /// The kill switch tripped.
    public var killSwitch = false

    /// Nothing happened.
    public init() {}

    /// Whether there is nothing to add.
    public var isEmpty: Bool { equity.isEmpty && trades.isEmpty && fills.isEmpty && decisionLatenciesUs.isEmpty && !killSwitch }
}

/// Watches a running session (a dashboard): called on the session's task after every commit with
/// what it added, and at each refresh with no events. Must return quickly.
public protocol SessionObserver: Sendable {
    /// The session's state now and what the last commit added.
    func sessionUpdated(_ snapshot: SessionSnapshot, events: SessionEvents)
}

extension SessionSnapshot.Risk {
    /// The engine's risk figures beside the limits it runs under, at `now` (ms): the one definition
    /// the live session and the stopped-session view share.
    init(_ e: TradingEngine, now: Int64) {
        let r = e.risk
        let limits = e.settings.risk
        self.init(
            equityPeak: r.equityPeak,
            drawdown: r.equityPeak > 0 ? max(0, 1 - e.equity / r.equityPeak) : 0,
            maxDrawdown: limits.maxDrawdownPct,
            dayStartEquity: r.dayStartEquity,
            pnlToday: e.equity - r.dayStartEquity,
            dailyLossLimit: limits.dailyLossLimitPct,
            tradesLastHour: r.entriesInLastHour(before: now),
            maxTradesPerHour: limits.maxTradesPerHour,
            tradesToday: r.entriesCountToday,
            maxTradesPerDay: limits.maxTradesPerDay,
            refusals: Dictionary(uniqueKeysWithValues: r.refusals.map { ($0.key.rawValue, $0.value) })
        )
    }
}

extension PaperStatus.Position {
    /// The engine's open positions (entries still working left out) at `time` (ms; nil: their
    /// entry time), marked at its latest prices: the terminal view, the dashboard and the
    /// stopped-session view show the same rows.
    static func open(in e: TradingEngine, at time: Int64?) -> [PaperStatus.Position] {
        e.holdings.values.sorted { $0.symbol < $1.symbol }.filter { !$0.entryWorking }.map { h in
            let mark = e.marks[h.symbol] ?? h.entryPrice
            return PaperStatus.Position(
                symbol: h.symbol, entryPrice: h.entryPrice, mark: mark, unrealisedUSDT: h.held * mark - h.cost,
                secondsInTrade: Double((time ?? h.entryTime) - h.entryTime) / 1_000,
                timeoutSeconds: e.settings.execution.timeoutSeconds, stopLoss: h.stopLoss, takeProfit: h.takeProfit
            )
        }
    }
}
