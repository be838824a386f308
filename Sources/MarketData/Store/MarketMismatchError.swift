public import ScalperCore

/// Bars of one market offered to a series the store holds for the other market.
///
/// Thrown before anything is written: the store is left as it was.
public struct MarketMismatchError: Error, Sendable, CustomStringConvertible {
    /// The series' symbol.
    public var symbol: String
    /// The series' interval.
    public var interval: KlineInterval
    /// The market the store holds the series for.
    public var stored: BinanceMarket
    /// The market of the refused bars.
    public var offered: BinanceMarket
    /// The file or URL the refused bars came from.
    public var source: String

    /// Creates the error.
    public init(symbol: String, interval: KlineInterval, stored: BinanceMarket, offered: BinanceMarket, source: String) {
        self.symbol = symbol
        self.interval = interval
        self.stored = stored
        self.offered = offered
        self.source = source
    }

    /// `FILUSDT 1m is futures-um in the store; refusing spot bars from <source> (…)`.
    public var description: String {
        "\(symbol) \(interval) is \(stored) in the store; refusing \(offered) bars from \(source)"
            + " (a series holds one market's bars: keep \(offered) bars in another store)"
    }
}
