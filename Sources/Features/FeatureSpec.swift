/// The feature specification this code implements (`shared/FEATURES.md`, v1): 42 features and a label.
public enum FeatureSpec {
    /// Version of the specification; a model trained on another version refuses to load.
    public static let version = "v1"

    /// The 42 feature names in specification order.
    public static let names: [String] = [
        "rsi_14", "rsi_7", "stoch_k", "stoch_d", "willr_14", "roc_5", "roc_10", "mom_5_pct", "cci_20", "cmo_14",
        "ema5_ratio", "ema10_ratio", "ema20_ratio", "macd_pct", "macd_signal_pct", "macd_hist_pct", "adx_14",
        "aroonosc_14", "bb_width", "bb_position", "atr_14_pct", "atr_ratio_14_50", "ret_std_20", "hl_range_20",
        "spread_pct", "ob_imbalance_10", "bid_depth_10", "ask_depth_10", "depth_ratio_10", "buy_pressure",
        "sell_pressure", "mid_vs_last_pct", "rel_volume_20", "obv_slope_10", "volume_delta", "vwap_dist_20",
        "ad_slope_10", "ret_1", "ret_5", "ret_15", "green_streak", "candle_rel_size",
    ]

    /// Number of features.
    public static let count = 42

    /// Indices (0-based) of the order-book features 25–32, NaN where no book exists.
    public static let orderBookRange = 24..<32

    /// First row (0-based, within a gap-free segment) at which each feature can be non-NaN:
    /// TA-Lib's lookback for the TA-Lib-backed ones.
    public static let firstValidRow: [Int] = [
        14, 7, 17, 17, 13, 5, 10, 5, 19, 14,
        4, 9, 19, 33, 33, 33, 27, 14, 19, 19, 14, 50, 20, 19,
        0, 0, 0, 0, 0, 0, 0, 0,
        20, 9, 0, 19, 9, 1, 5, 15, 0, 20,
    ]

    /// Bars a segment needs before every kline feature is past warm-up (ATR(50) is the slowest).
    public static let warmUpBars = 50
}

/// Which label a model learns: the specification's forward high, or the trade's own triple barrier.
public enum LabelKind: String, Codable, Sendable, CaseIterable {
    /// `max(high[t+1 … t+H]) ≥ close_t × (1 + θ)` (FEATURES.md, "Label (v1)").
    case forwardHigh = "forward_high"
    /// The engine's trade replayed by its bar rule: does the take-profit fill before the stop
    /// within the timeout? (``TripleBarrier``)
    case tripleBarrier = "triple_barrier"
}

/// The trade a triple-barrier label replays: the `signals:` take-profit and stop, the `execution:`
/// slippage, timeout and same-bar rule, exactly as the backtest's bar rule trades them
/// (``Labels/tripleBarrierOutcome(close:following:barriers:exitBars:tickSize:)``).
public struct TripleBarrier: Equatable, Sendable, Codable {
    /// Take-profit distance from the entry fill, fraction (`signals.take_profit_pct`).
    public var takeProfitPct: Double
    /// Stop distance from the entry fill, fraction (`signals.stop_loss_pct`).
    public var stopLossPct: Double
    /// Slippage against the trader on market fills, basis points (`execution.slippage_bps`).
    public var slippageBps: Double
    /// Taker fee per side, fraction (`execution.taker_fee`): not part of the outcome, but of the
    /// win rate a signal must reach to pay (``breakEvenWinRate``).
    public var takerFee: Double
    /// Seconds after the entry fill at which the position is sold at the next open (`execution.timeout_seconds`).
    public var timeoutSeconds: Double
    /// Whether a bar holding both levels counts the stop first (`execution.stop_first_when_both_hit`).
    public var stopFirstWhenBothHit: Bool

    enum CodingKeys: String, CodingKey {
        case takeProfitPct = "take_profit_pct"
        case stopLossPct = "stop_loss_pct"
        case slippageBps = "slippage_bps"
        case takerFee = "taker_fee"
        case timeoutSeconds = "timeout_seconds"
        case stopFirstWhenBothHit = "stop_first_when_both_hit"
    }

    /// Creates the barriers of a trade.
    public init(
        takeProfitPct: Double,
        stopLossPct: Double,
        slippageBps: Double,
        takerFee: Double,
        timeoutSeconds: Double,
        stopFirstWhenBothHit: Bool
    ) {
        self.takeProfitPct = takeProfitPct
        self.stopLossPct = stopLossPct
        self.slippageBps = slippageBps
        self.takerFee = takerFee
        self.timeoutSeconds = timeoutSeconds
        self.stopFirstWhenBothHit = stopFirstWhenBothHit
    }

    /// Bars in which the resting stop/target can trigger: bar t+1 (the entry bar: the pair rests
    /// from its open) through t+K, where K is the first whole number of bars whose span reaches the
    /// timeout, as the engine judges it at each close (`elapsed ≥ timeout`, elapsed counted from the
    /// entry bar's open). The timeout's market exit fills at the open of bar t+K+1.
    public func exitBars(intervalMilliseconds: Int64) -> Int {
        precondition(intervalMilliseconds > 0 && timeoutSeconds > 0, "a timeout and an interval are needed")
        var k = max(1, Int((timeoutSeconds * 1_000 / Double(intervalMilliseconds)).rounded(.up)) - 1)
        while Double(Int64(k) * intervalMilliseconds) / 1_000 < timeoutSeconds { k += 1 }
        return k
    }

    /// The win rate at which a trade breaks even when every loser is a full stop:
    /// `(sl + 2·fee + slip) / (tp + sl)`. Timeouts usually lose less than a stop, so this errs high.
    public var breakEvenWinRate: Double {
        let cost = 2 * takerFee + slippageBps / 10_000
        return (stopLossPct + cost) / (takeProfitPct + stopLossPct)
    }
}

/// The label a model learns, with the horizon in bars it looks ahead (the purge between splits).
///
/// `barriers == nil`: the specification's label (forward high, `threshold` over `horizon` bars).
/// Otherwise the triple-barrier label of ``TripleBarrier``, whose horizon is its exit bars plus
/// the timeout's exit bar (``tripleBarrier(_:intervalMilliseconds:)``) and whose `threshold` records
/// the take-profit.
public struct LabelSpec: Equatable, Sendable, Codable {
    /// Horizon in bars.
    public var horizon: Int
    /// Threshold as a fraction (0.002 = 0.2 %); the take-profit for a triple-barrier label.
    public var threshold: Double
    /// The trade of a triple-barrier label; nil for the forward-high label.
    public var barriers: TripleBarrier?

    /// The specification's default: H = 3 bars, θ = 0.002.
    public static let `default` = LabelSpec(horizon: 3, threshold: 0.002)

    /// Creates a forward-high label specification.
    public init(horizon: Int, threshold: Double) {
        precondition(horizon > 0, "the label horizon must be at least one bar")
        self.horizon = horizon
        self.threshold = threshold
        self.barriers = nil
    }

    /// The triple-barrier label of `barriers` on bars of `intervalMilliseconds`: horizon K + 1 bars
    /// (K = ``TripleBarrier/exitBars(intervalMilliseconds:)``, plus the bar the timeout exits at).
    public static func tripleBarrier(_ barriers: TripleBarrier, intervalMilliseconds: Int64) -> LabelSpec {
        var spec = LabelSpec(horizon: barriers.exitBars(intervalMilliseconds: intervalMilliseconds) + 1, threshold: barriers.takeProfitPct)
        spec.barriers = barriers
        return spec
    }

    /// Which label this is.
    public var kind: LabelKind { barriers == nil ? .forwardHigh : .tripleBarrier }

    /// One sentence for reports.
    public var summary: String {
        guard let b = barriers else {
            return "forward_high: the high of the next \(horizon) bars reaches close × (1 + \(threshold))"
        }
        let sameBar = b.stopFirstWhenBothHit ? "stop first" : "target first"
        return "triple_barrier: enter at the next open + \(b.slippageBps) bp, 1 if the take-profit +\(b.takeProfitPct) fills before the stop −\(b.stopLossPct) within \(b.timeoutSeconds) s (\(horizon - 1) bars; \(sameBar) when both lie in one bar; timeout = 0), by the backtest's bar rule"
    }
}
