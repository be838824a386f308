/// The Binance market a kline series comes from.
///
/// Spot and USDⓈ-M futures bars of one symbol are different series (other prices, volumes and
/// trade counts, other listing dates), so the store records each series' market and refuses bars
/// of the other one (MarketData's `MarketMismatchError`). Shared by the store and the Binance
/// client, which reads the market an exchangeInfo document's symbols show.
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
