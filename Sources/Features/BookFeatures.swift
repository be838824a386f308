/// The eight order-book features (spec rows 25–32) for one bar, taken at its close.
public struct BookFeatures: Equatable, Sendable {
    /// (best ask − best bid) / mid × 100.
    public var spreadPct: Double
    /// (Σ bid qty − Σ ask qty) / (Σ bid qty + Σ ask qty), top 10 levels.
    public var imbalance10: Double
    /// Σ price × qty of the top 10 bids (quote currency).
    public var bidDepth10: Double
    /// Σ price × qty of the top 10 asks.
    public var askDepth10: Double
    /// bidDepth10 / askDepth10.
    public var depthRatio10: Double
    /// Σ bid quote-qty within 0.1 % of mid / (bidDepth10 + askDepth10).
    public var buyPressure: Double
    /// Σ ask quote-qty within 0.1 % of mid / (bidDepth10 + askDepth10).
    public var sellPressure: Double
    /// (mid − last trade price) / mid × 100; NaN without a trade.
    public var midVsLastPct: Double

    /// All eight missing (plain kline history).
    public static let missing = BookFeatures(
        spreadPct: .nan,
        imbalance10: .nan,
        bidDepth10: .nan,
        askDepth10: .nan,
        depthRatio10: .nan,
        buyPressure: .nan,
        sellPressure: .nan,
        midVsLastPct: .nan
    )

    /// Creates the eight values.
    public init(
        spreadPct: Double,
        imbalance10: Double,
        bidDepth10: Double,
        askDepth10: Double,
        depthRatio10: Double,
        buyPressure: Double,
        sellPressure: Double,
        midVsLastPct: Double
    ) {
        self.spreadPct = spreadPct
        self.imbalance10 = imbalance10
        self.bidDepth10 = bidDepth10
        self.askDepth10 = askDepth10
        self.depthRatio10 = depthRatio10
        self.buyPressure = buyPressure
        self.sellPressure = sellPressure
        self.midVsLastPct = midVsLastPct
    }

    /// The values in spec order.
    public var values: [Double] {
        [spreadPct, imbalance10, bidDepth10, askDepth10, depthRatio10, buyPressure, sellPressure, midVsLastPct]
    }
}
