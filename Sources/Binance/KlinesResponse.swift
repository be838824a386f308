public import Foundation
public import ScalperCore

/// Binance's answer to `/api/v3/klines`: the one reader of it, for the downloader's pages
/// (``MarketDataClient``), a session's warm-up and the scanner's backfill (``BinanceREST``).
public enum KlinesResponse {
    /// Parses a klines body: an array of 12-element arrays, numbers as JSON numbers or strings.
    /// Times in microseconds (Binance's spot API on request) become milliseconds.
    ///
    /// - Throws: ``DownloadError`` naming `url`, with `.malformedResponse` saying which kline and
    ///   field are at fault.
    public static func parse(_ body: Data, url: URL) throws(DownloadError) -> [Kline] {
        let source = url.absoluteString
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: body)
        } catch {
            throw DownloadError(url: source, reason: .malformedResponse("not JSON: \(error.localizedDescription)"))
        }
        guard let rows = json as? [Any] else {
            throw DownloadError(url: source, reason: .malformedResponse("expected a JSON array of klines"))
        }
        var out: [Kline] = []
        out.reserveCapacity(rows.count)
        for (i, any) in rows.enumerated() {
            guard let row = any as? [Any], row.count >= 11 else {
                throw DownloadError(url: source, reason: .malformedResponse("kline \(i) is not an array of 12 fields"))
            }
            var values = [Double](repeating: .nan, count: 12)
            for k in [1, 2, 3, 4, 5, 7, 8, 9, 10, 11] where k < row.count {
                guard let v = number(row[k]) else {
                    throw DownloadError(url: source, reason: .malformedResponse("kline \(i) field \(k) is not a number: \(row[k])"))
                }
                values[k] = v
            }
            guard let open = number(row[0]).map({ Int64($0) }), let close = number(row[6]).map({ Int64($0) }) else {
                throw DownloadError(url: source, reason: .malformedResponse("kline \(i) has no integer times"))
            }
            out.append(
                Kline(
                    openTime: open > 100_000_000_000_000 ? open / 1000 : open,
                    open: values[1],
                    high: values[2],
                    low: values[3],
                    close: values[4],
                    volume: values[5],
                    closeTime: close > 100_000_000_000_000 ? close / 1000 : close,
                    quoteVolume: values[7],
                    tradeCount: values[8],
                    takerBuyBaseVolume: values[9],
                    takerBuyQuoteVolume: values[10],
                    ignore: values[11].isNaN ? 0 : values[11]
                )
            )
        }
        return out
    }

    private static func number(_ any: Any) -> Double? {
        switch any {
        case let s as String: Double(s)
        case let n as NSNumber: n.doubleValue
        case let d as Double: d
        case let i as Int: Double(i)
        default: nil
        }
    }
}
