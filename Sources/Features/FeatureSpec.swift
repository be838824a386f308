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

/// The label of the specification: does the price reach `close × (1 + θ)` within `H` bars?
public struct LabelSpec: Equatable, Sendable, Codable {
    /// Horizon in bars.
    public var horizon: Int
    /// Threshold as a fraction (0.002 = 0.2 %).
    public var threshold: Double

    /// The specification's default: H = 3 bars, θ = 0.002.
    public static let `default` = LabelSpec(horizon: 3, threshold: 0.002)

    /// Creates a label specification.
    public init(horizon: Int, threshold: Double) {
        precondition(horizon > 0, "the label horizon must be at least one bar")
        self.horizon = horizon
        self.threshold = threshold
    }
}
