/// One candlestick bar with the 12 columns of a Binance Vision kline file.
///
/// Times are milliseconds since the Unix epoch, UTC, whatever unit the source used (spot Vision files
/// switched to microseconds on 2025-01-01; importers convert). Value columns a source lacks are NaN,
/// never zero. `tradeCount` is a `Double` so that it can be missing too; it is exact up to 2^53.
public struct Kline: Equatable, Sendable, Codable {
    /// Open time of the bar, ms since the epoch (UTC).
    public var openTime: Int64
    /// First trade price in the bar.
    public var open: Double
    /// Highest trade price.
    public var high: Double
    /// Lowest trade price.
    public var low: Double
    /// Last trade price.
    public var close: Double
    /// Traded quantity in base asset.
    public var volume: Double
    /// Close time of the bar, ms since the epoch (`openTime + interval − 1`).
    public var closeTime: Int64
    /// Traded value in quote asset.
    public var quoteVolume: Double
    /// Number of trades.
    public var tradeCount: Double
    /// Base-asset volume bought by takers.
    public var takerBuyBaseVolume: Double
    /// Quote-asset volume bought by takers.
    public var takerBuyQuoteVolume: Double
    /// Binance's unused twelfth column.
    public var ignore: Double

    /// Creates a bar from all twelve columns.
    public init(
        openTime: Int64,
        open: Double,
        high: Double,
        low: Double,
        close: Double,
        volume: Double,
        closeTime: Int64,
        quoteVolume: Double,
        tradeCount: Double,
        takerBuyBaseVolume: Double,
        takerBuyQuoteVolume: Double,
        ignore: Double = 0
    ) {
        self.openTime = openTime
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.closeTime = closeTime
        self.quoteVolume = quoteVolume
        self.tradeCount = tradeCount
        self.takerBuyBaseVolume = takerBuyBaseVolume
        self.takerBuyQuoteVolume = takerBuyQuoteVolume
        self.ignore = ignore
    }

    /// Equality that treats NaN as equal to NaN column by column (missing equals missing).
    public func isSameBar(as other: Kline) -> Bool {
        func same(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }
        return openTime == other.openTime && closeTime == other.closeTime && same(open, other.open)
            && same(high, other.high) && same(low, other.low) && same(close, other.close)
            && same(volume, other.volume) && same(quoteVolume, other.quoteVolume)
            && same(tradeCount, other.tradeCount) && same(takerBuyBaseVolume, other.takerBuyBaseVolume)
            && same(takerBuyQuoteVolume, other.takerBuyQuoteVolume) && same(ignore, other.ignore)
    }
}
