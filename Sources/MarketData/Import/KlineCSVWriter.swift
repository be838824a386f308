import Foundation
public import ScalperCore

/// Writes klines as Binance Vision CSV lines (12 columns, times in ms, NaN as empty).
public enum KlineCSVWriter {
    /// One CSV line (no newline) for `k`, numbers in shortest round-trip form.
    public static func line(_ k: Kline) -> String {
        func f(_ v: Double) -> String { v.isNaN ? "" : "\(v)" }
        return "\(k.openTime),\(f(k.open)),\(f(k.high)),\(f(k.low)),\(f(k.close)),\(f(k.volume)),\(k.closeTime),"
            + "\(f(k.quoteVolume)),\(k.tradeCount.isNaN ? "" : String(Int64(k.tradeCount))),"
            + "\(f(k.takerBuyBaseVolume)),\(f(k.takerBuyQuoteVolume)),\(f(k.ignore))"
    }
}
