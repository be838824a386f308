public import ScalperCore

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

extension OrderBook {
    /// The order-book features (spec rows 25–32) of the book as it stands, with the last trade.
    ///
    /// NaN when either side is empty or the book is not synced.
    public func features(lastTradePrice: Double?) -> BookFeatures {
        guard isSynced, let bid = bestBid, let ask = bestAsk else { return .missing }
        let mid = (bid.price + ask.price) / 2
        var bidQty = 0.0
        var askQty = 0.0
        var bidDepth = 0.0
        var askDepth = 0.0
        var bidNear = 0.0
        var askNear = 0.0
        let lowerBound = mid * (1 - 0.001)
        let upperBound = mid * (1 + 0.001)
        for level in bids.prefix(10) {
            bidQty += level.quantity
            let quote = level.price * level.quantity
            bidDepth += quote
            if level.price >= lowerBound { bidNear += quote }
        }
        for level in asks.prefix(10) {
            askQty += level.quantity
            let quote = level.price * level.quantity
            askDepth += quote
            if level.price <= upperBound { askNear += quote }
        }
        let totalQty = bidQty + askQty
        let totalDepth = bidDepth + askDepth
        return BookFeatures(
            spreadPct: (ask.price - bid.price) / mid * 100,
            imbalance10: totalQty != 0 ? (bidQty - askQty) / totalQty : .nan,
            bidDepth10: bidDepth,
            askDepth10: askDepth,
            depthRatio10: askDepth != 0 ? bidDepth / askDepth : .nan,
            buyPressure: totalDepth != 0 ? bidNear / totalDepth : .nan,
            sellPressure: totalDepth != 0 ? askNear / totalDepth : .nan,
            midVsLastPct: lastTradePrice.map { (mid - $0) / mid * 100 } ?? .nan
        )
    }
}
