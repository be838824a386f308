/// Which signals are taken (the `signals:` section of the config).
public struct SignalConfiguration: Codable, Equatable, Sendable {
    /// Smallest calibrated probability of an up-move.
    public var minProbability = 0.65
    /// `min_probability: model`: each model trades at the threshold chosen on its validation rows
    /// (``SignalConfiguration/resolved(for:)`` sets ``minProbability`` from the bundle).
    public var minProbabilityFromModel = false
    /// Smallest confidence.
    public var minConfidence = 0.3
    /// Smallest predicted move, percent.
    public var minPredictedMovePct = 0.0
    /// Take-profit distance from entry, fraction (0.004 = 0.4 %).
    public var takeProfitPct = 0.004
    /// Stop-loss distance from entry, fraction.
    public var stopLossPct = 0.003
    /// Signals taken per bar at most (best composite score first).
    public var maxSignalsPerBar = 3

    enum CodingKeys: String, CodingKey {
        case minProbability = "min_probability"
        case minConfidence = "min_confidence"
        case minPredictedMovePct = "min_predicted_move_pct"
        case takeProfitPct = "take_profit_pct"
        case stopLossPct = "stop_loss_pct"
        case maxSignalsPerBar = "max_signals_per_bar"
    }

    /// The defaults.
    public init() {}

    /// Decodes every key; `min_probability` is a number or `model`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let text = try? c.decode(String.self, forKey: .minProbability) {
            guard text == "model" else {
                throw DecodingError.dataCorruptedError(forKey: .minProbability, in: c, debugDescription: "a number in (0, 1) or model")
            }
            minProbabilityFromModel = true
        } else {
            minProbability = try c.decode(Double.self, forKey: .minProbability)
        }
        minConfidence = try c.decode(Double.self, forKey: .minConfidence)
        minPredictedMovePct = try c.decode(Double.self, forKey: .minPredictedMovePct)
        takeProfitPct = try c.decode(Double.self, forKey: .takeProfitPct)
        stopLossPct = try c.decode(Double.self, forKey: .stopLossPct)
        maxSignalsPerBar = try c.decode(Int.self, forKey: .maxSignalsPerBar)
    }

    /// Encodes every key; `min_probability` as `model` when it comes from the model.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if minProbabilityFromModel {
            try c.encode("model", forKey: .minProbability)
        } else {
            try c.encode(minProbability, forKey: .minProbability)
        }
        try c.encode(minConfidence, forKey: .minConfidence)
        try c.encode(minPredictedMovePct, forKey: .minPredictedMovePct)
        try c.encode(takeProfitPct, forKey: .takeProfitPct)
        try c.encode(stopLossPct, forKey: .stopLossPct)
        try c.encode(maxSignalsPerBar, forKey: .maxSignalsPerBar)
    }
}

/// Every rule the risk manager enforces (the `risk:` section).
public struct RiskConfiguration: Codable, Equatable, Sendable {
    /// Largest position as a share of capital.
    public var maxPositionPct = 0.10
    /// Largest loss a stop-out may cost, as a share of capital (sizes the position by the stop distance).
    public var maxLossPerTradePct = 0.005
    /// Loss since UTC midnight (realised plus open) that stops new trades until the next day.
    public var dailyLossLimitPct = 0.03
    /// Drawdown from the equity peak that closes everything and refuses trades until reset.
    public var maxDrawdownPct = 0.10
    /// Positions open at once.
    public var maxOpenPositions = 3
    /// Entries per rolling hour.
    public var maxTradesPerHour = 10
    /// Entries per UTC day.
    public var maxTradesPerDay = 60

    enum CodingKeys: String, CodingKey {
        case maxPositionPct = "max_position_pct"
        case maxLossPerTradePct = "max_loss_per_trade_pct"
        case dailyLossLimitPct = "daily_loss_limit_pct"
        case maxDrawdownPct = "max_drawdown_pct"
        case maxOpenPositions = "max_open_positions"
        case maxTradesPerHour = "max_trades_per_hour"
        case maxTradesPerDay = "max_trades_per_day"
    }

    /// The defaults.
    public init() {}
}

/// How orders fill and positions end (the `execution:` section).
public struct ExecutionConfiguration: Codable, Equatable, Sendable {
    /// Taker fee per side, fraction (0.001 = 0.1 %).
    public var takerFee = 0.001
    /// Slippage against the trader on every market fill, basis points.
    public var slippageBps = 2.0
    /// A position still open after this many seconds is sold at market (under the bar rule: at the next bar's open).
    public var timeoutSeconds = 300.0
    /// Trailing stop distance from the highest price since entry, fraction; 0 turns it off.
    public var trailingStopPct = 0.0
    /// When stop-loss and take-profit both lie inside one bar, assume the stop came first.
    public var stopFirstWhenBothHit = true

    enum CodingKeys: String, CodingKey {
        case takerFee = "taker_fee"
        case slippageBps = "slippage_bps"
        case timeoutSeconds = "timeout_seconds"
        case trailingStopPct = "trailing_stop_pct"
        case stopFirstWhenBothHit = "stop_first_when_both_hit"
    }

    /// The defaults.
    public init() {}
}

/// Settings of every trading path, backtest and session alike (the `trading:` section).
public struct TradingPathConfiguration: Codable, Equatable, Sendable {
    /// Bars the feature kernel sees before the first bar that may trade (LIVE-DESIGN §5): a backtest
    /// reads them from the store before its window, a session fetches them over REST. With fewer,
    /// the first tradable bar moves forward by what is missing.
    public var warmupBars = 1_000
    /// Who owns a session's exits (`--exits`): `tick`, `bar` (parity with the backtest) or `venue`.
    public var exits = ExitMode.tick
    /// When a session stops (SIGINT/SIGTERM, the end of `--duration`): close positions at market
    /// (true) or keep them in the store for the next start.
    public var closeOnStop = true
    /// A session follows each symbol's book (`depth20@100ms`) and trades for the order-book features:
    /// logged with each decision and stored in the session for future training.
    public var bookFeatures = true
    /// A session makes no new entries once its model is older than this many days of event time
    /// (the minute's close − the end of the model's training window); exits go on. 0: no limit.
    public var maxModelAgeDays = 0.0

    enum CodingKeys: String, CodingKey {
        case warmupBars = "warmup_bars"
        case exits
        case closeOnStop = "close_on_stop"
        case bookFeatures = "book_features"
        case maxModelAgeDays = "max_model_age_days"
    }

    /// The defaults.
    public init() {}
}

/// A setting out of its range: the key path inside its section and why.
public struct SettingProblem: Equatable, Sendable, CustomStringConvertible {
    /// The key inside its section (`max_trades_per_hour`).
    public var key: String
    /// What is wrong.
    public var why: String

    /// `key: why`.
    public var description: String { "\(key): \(why)" }
}

extension SignalConfiguration {
    /// Values out of range, by key (`signals.` omitted); empty when all are valid.
    public var problems: [SettingProblem] {
        var out: [SettingProblem] = []
        func check(_ ok: Bool, _ key: String, _ why: String) { if !ok { out.append(SettingProblem(key: key, why: why)) } }
        check(minProbabilityFromModel || (minProbability > 0 && minProbability < 1), "min_probability", "must be in (0, 1) or model")
        check((0...1).contains(minConfidence), "min_confidence", "must be in [0, 1]")
        check(minPredictedMovePct >= 0, "min_predicted_move_pct", "must be ≥ 0")
        check(takeProfitPct > 0 && takeProfitPct < 1, "take_profit_pct", "must be in (0, 1)")
        check(stopLossPct > 0 && stopLossPct < 1, "stop_loss_pct", "must be in (0, 1)")
        check(maxSignalsPerBar >= 1, "max_signals_per_bar", "must be ≥ 1")
        return out
    }
}

extension RiskConfiguration {
    /// Values out of range, by key (`risk.` omitted); a limit of 0 would silently block every entry.
    public var problems: [SettingProblem] {
        var out: [SettingProblem] = []
        func check(_ ok: Bool, _ key: String, _ why: String) { if !ok { out.append(SettingProblem(key: key, why: why)) } }
        let unit = { (x: Double) in x > 0 && x <= 1 }
        check(unit(maxPositionPct), "max_position_pct", "must be in (0, 1]")
        check(unit(maxLossPerTradePct), "max_loss_per_trade_pct", "must be in (0, 1]")
        check(unit(dailyLossLimitPct), "daily_loss_limit_pct", "must be in (0, 1]")
        check(maxDrawdownPct > 0 && maxDrawdownPct < 1, "max_drawdown_pct", "must be in (0, 1)")
        check(maxOpenPositions >= 1, "max_open_positions", "must be ≥ 1 (0 would block every entry)")
        check(maxTradesPerHour >= 1, "max_trades_per_hour", "must be ≥ 1 (0 would block every entry)")
        check(maxTradesPerDay >= 1, "max_trades_per_day", "must be ≥ 1 (0 would block every entry)")
        return out
    }
}

extension ExecutionConfiguration {
    /// Values out of range, by key (`execution.` omitted).
    public var problems: [SettingProblem] {
        var out: [SettingProblem] = []
        func check(_ ok: Bool, _ key: String, _ why: String) { if !ok { out.append(SettingProblem(key: key, why: why)) } }
        check(takerFee >= 0 && takerFee < 0.1, "taker_fee", "must be in [0, 0.1)")
        check(slippageBps >= 0 && slippageBps < 10_000, "slippage_bps", "must be in [0, 10000)")
        check(timeoutSeconds > 0, "timeout_seconds", "must be > 0")
        check(trailingStopPct >= 0 && trailingStopPct < 1, "trailing_stop_pct", "must be in [0, 1) (0 = off)")
        return out
    }
}
