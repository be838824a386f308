public import ScalperCore

/// The Binance market a kline series comes from.
///
/// Spot and USDⓈ-M futures bars of one symbol are different series (other prices, volumes and
/// trade counts, other listing dates), so the store records each series' market and refuses bars
/// of the other one (``MarketMismatchError``).
public enum BinanceMarket: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Spot (Binance Vision `data/spot/…`, REST `/api/v3/klines`).
    case spot
    /// USDⓈ-M futures (Binance Vision `data/futures/um/…`).
    case futuresUM = "futures-um"

    /// `spot` or `futures-um`, as the CLI and the configuration spell it.
    public var description: String { rawValue }

    /// The market the folders of a file path or URL name, if they name one: Binance Vision's
    /// `…/spot/…` and `…/futures/um/…`, or a `futures-um` folder (as in
    /// `shared/datasets/binance/futures-um/klines/…`). The innermost folder that names one wins; the
    /// file name itself is not read.
    public static func named(inPath path: String) -> BinanceMarket? {
        let folders = path.split(separator: "/").dropLast().map { $0.lowercased() }
        for k in folders.indices.reversed() {
            switch folders[k] {
            case "spot": return .spot
            case "futures-um": return .futuresUM
            case "um" where k > folders.startIndex && folders[k - 1] == "futures": return .futuresUM
            default: continue
            }
        }
        return nil
    }
}

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
