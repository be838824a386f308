public import Features
public import ScalperCore

/// One symbol's live path from closed bars to the model's input row, computing for every bar
/// exactly what a backtest of the same bars computes: the same kernel (so the same 42 values), the
/// same warm-up rules, hence the same predictions.
///
/// A bar is tradable when at least `tradingWarmupBars` bars preceded it since the scorer started
/// (the kernel starts that many bars before the first tradable bar, as `BacktestEngine.prepare`
/// does) and it lies past the training warm-up of its gap-free segment (`warmupBars` of the model,
/// the rule of `FeatureTable.isPastWarmup`).
public struct StreamingScorer: Sendable {
    /// The symbol.
    public let symbol: String
    /// Bars the kernel sees before the first tradable bar.
    public let tradingWarmupBars: Int
    /// The model's training warm-up after each (re)start.
    public let trainingWarmupBars: Int
    private var features: StreamingFeatures
    /// Bars fed so far.
    public private(set) var barsSeen = 0

    /// One scored bar.
    public struct Row: Sendable {
        /// The 42 features in spec order (NaN where undefined; the book features NaN without a book).
        public var values: [Double]
        /// Whether the model may trade on it.
        public var tradable: Bool

        /// The row as the model takes it.
        public var float32: [Float] { values.map { Float($0) } }
    }

    /// A scorer for `symbol` with the trading warm-up of the `trading:` section and the model's own.
    public init(symbol: String, interval: KlineInterval = .oneMinute, tradingWarmupBars: Int, trainingWarmupBars: Int) {
        self.symbol = symbol
        self.tradingWarmupBars = tradingWarmupBars
        self.trainingWarmupBars = trainingWarmupBars
        features = StreamingFeatures(interval: interval)
    }

    /// Advances by one closed bar (history and live alike).
    ///
    /// - Throws: ``FeatureError`` for an invalid bar or one that does not come after the last; the
    ///   state is unchanged then.
    public mutating func update(_ bar: Kline, book: BookFeatures? = nil) throws(FeatureError) -> Row {
        let values = try features.update(bar, book: book)
        barsSeen += 1
        let tradable = barsSeen > tradingWarmupBars
            && FeatureTable.isPastWarmup(barsSinceRestart: features.barsSinceRestart, warmupBars: trainingWarmupBars)
        return Row(values: values, tradable: tradable)
    }

    /// Open time of the last bar fed.
    public var lastOpenTime: Int64? { features.lastOpenTime }
}
