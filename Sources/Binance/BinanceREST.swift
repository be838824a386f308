public import Foundation
import Synchronization
public import ScalperCore

/// Binance's REST market data as a paper or live session and the scanner need it: warm-up and
/// backfill 1 m bars, each symbol's filters, the USDT universe and the server's time. A failed
/// request is not retried (the caller decides); ``MarketDataClient`` is the downloader's client,
/// with retries and the weight pause. Works against `api.binance.com` and against
/// `scalper exchange` alike (the same paths and shapes).
public struct BinanceREST: Sendable {
    /// The REST base URL (`https://api.binance.com`, `http://127.0.0.1:<port>`).
    public let baseURL: URL
    /// Bars per `/api/v3/klines` page of ``klines(_:count:closedBy:)`` (Binance's maximum is 1,000).
    public let pageLimit: Int
    private let fetcher: any HTTPFetching
    /// The request weight Binance last reported used this minute (`X-MBX-USED-WEIGHT-1M`), shared
    /// by every copy of this client.
    public let usedWeight = UsedWeight()

    /// Creates a client of `baseURL`.
    ///
    /// - Parameter pageLimit: bars asked for per klines request, 1 … 1,000.
    public init(baseURL: URL, pageLimit: Int = 1_000, fetcher: any HTTPFetching = URLSessionFetcher(timeoutSeconds: 30)) {
        precondition((1...1_000).contains(pageLimit), "Binance serves 1 to 1,000 klines per request")
        self.baseURL = baseURL
        self.pageLimit = pageLimit
        self.fetcher = fetcher
    }

    /// The `count` most recent 1 m bars of `symbol` that closed by `time` (open time at most
    /// `time − 60 000`), oldest first.
    ///
    /// Pages backwards through `/api/v3/klines` with `startTime`/`endTime` windows of
    /// ``pageLimit`` minutes, so minutes the exchange has no bar for (an outage) are skipped and
    /// older bars fetched instead. Stops at the first window with no bar at all: the symbol's
    /// history starts there, and fewer than `count` bars are returned.
    ///
    /// - Throws: ``BinanceError`` naming the URL of a request that failed or answered something
    ///   other than klines in the window asked for.
    public func klines(_ symbol: String, count: Int, closedBy time: Int64) async throws -> [Kline] {
        precondition(count >= 0, "a negative number of bars")
        let minute: Int64 = 60_000
        // The last bar closed by `time`: close time openTime + 59 999 < time.
        let latestOpen = time - minute
        var end = latestOpen / minute * minute
        if latestOpen % minute < 0 { end -= minute }
        var pages: [[Kline]] = []
        var held = 0
        while held < count {
            let start = end - Int64(pageLimit - 1) * minute
            let url = try makeURL(
                "api/v3/klines",
                [
                    ("symbol", symbol), ("interval", "1m"), ("startTime", String(start)), ("endTime", String(end)),
                    ("limit", String(pageLimit)),
                ]
            )
            let page = try parseKlines(try await get(url), url: url)
            guard !page.isEmpty else { break }
            for (k, bar) in page.enumerated() {
                guard bar.openTime >= start, bar.openTime <= end, bar.openTime % minute == 0 else {
                    throw BinanceError(
                        url: url.absoluteString,
                        message: "bar \(k) opens at \(bar.openTime), outside the window \(start)…\(end) asked for"
                    )
                }
                guard k == 0 || bar.openTime > page[k - 1].openTime else {
                    throw BinanceError(
                        url: url.absoluteString,
                        message: "bar \(k) opens at \(bar.openTime), not after bar \(k - 1) (\(page[k - 1].openTime))"
                    )
                }
            }
            pages.append(page)
            held += page.count
            end = start - minute
        }
        let bars = pages.reversed().flatMap { $0 }
        return Array(bars.suffix(count))
    }

    /// One `/api/v3/klines` request for `symbol`'s 1 m bars, oldest first: the `limit` most recent
    /// (the bar in progress among them), or with `startTime` the first `limit` opening at or after it.
    /// One page, as the scanner's warm-up and backfill ask for them; ``klines(_:count:closedBy:)``
    /// pages for a count of closed bars.
    ///
    /// - Parameter limit: 1 … 1,000.
    /// - Throws: ``BinanceError`` naming the URL.
    public func klines(_ symbol: String, startTime: Int64?, limit: Int) async throws -> [Kline] {
        precondition((1...1_000).contains(limit), "Binance serves 1 to 1,000 klines per request")
        var query = [("symbol", symbol), ("interval", "1m"), ("limit", String(limit))]
        if let startTime { query.append(("startTime", String(startTime))) }
        let url = try makeURL("api/v3/klines", query)
        return try parseKlines(try await get(url), url: url)
    }

    /// Each tradable symbol's filters from `/api/v3/exchangeInfo` (parsed by
    /// ``ExchangeInfoDocument/parse(_:source:)``; symbols whose filters cannot be used are left out).
    ///
    /// - Throws: ``BinanceError`` naming the URL, with the field at fault for a malformed document.
    public func symbolFilters() async throws -> [String: SymbolFilters] {
        let url = try makeURL("api/v3/exchangeInfo", [])
        let body = try await get(url)
        let document: ExchangeInfoDocument
        do {
            document = try ExchangeInfoDocument.parse(body, source: url.absoluteString)
        } catch {
            throw BinanceError(url: url.absoluteString, message: "\(error)")
        }
        var filters: [String: SymbolFilters] = [:]
        for symbol in document.symbols { filters[symbol.symbol] = symbol.symbolFilters }
        return filters
    }

    /// The USDT spot pairs a scanner follows: those `TRADING` in `/api/v3/exchangeInfo` with quote
    /// asset USDT, spot trading allowed and a base not in `excludedBases` (stablecoins), ranked by
    /// `/api/v3/ticker/24hr` quote volume (at least `minQuoteVolume`), the `size` largest, largest first.
    ///
    /// - Throws: ``BinanceError`` naming the URL of a request that failed or a document of another shape.
    public func usdtUniverse(size: Int, minQuoteVolume: Double, excludedBases: Set<String>) async throws -> [String] {
        let infoURL = try makeURL("api/v3/exchangeInfo", [])
        guard let info = try? JSONSerialization.jsonObject(with: try await get(infoURL)) as? [String: Any],
            let symbols = info["symbols"] as? [[String: Any]]
        else { throw BinanceError(url: infoURL.absoluteString, message: "expected an object with a symbols list") }
        var tradable = Set<String>()
        for s in symbols {
            guard let name = s["symbol"] as? String, s["status"] as? String == "TRADING", s["quoteAsset"] as? String == "USDT",
                s["isSpotTradingAllowed"] as? Bool ?? true, let base = s["baseAsset"] as? String, !excludedBases.contains(base)
            else { continue }
            tradable.insert(name)
        }
        let tickerURL = try makeURL("api/v3/ticker/24hr", [])
        guard let tickers = try? JSONSerialization.jsonObject(with: try await get(tickerURL)) as? [[String: Any]] else {
            throw BinanceError(url: tickerURL.absoluteString, message: "expected a list of 24 h tickers")
        }
        let ranked = tickers.compactMap { t -> (String, Double)? in
            guard let s = t["symbol"] as? String, tradable.contains(s), let q = (t["quoteVolume"] as? String).flatMap(Double.init),
                q >= minQuoteVolume
            else { return nil }
            return (s, q)
        }
        return ranked.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(size).map(\.0)
    }

    /// The exchange's time, ms (`/api/v3/time`; in lock-step mode, the lock-step clock).
    ///
    /// - Throws: ``BinanceError`` naming the URL.
    public func serverTime() async throws -> Int64 {
        let url = try makeURL("api/v3/time", [])
        let body = try await get(url)
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let value = object["serverTime"], !(value is String), let number = value as? NSNumber,
            number.doubleValue == number.doubleValue.rounded()
        else {
            throw BinanceError(url: url.absoluteString, message: "expected {\"serverTime\":<ms>}, got \(preview(body))")
        }
        return number.int64Value
    }

    // MARK: Plumbing

    private func makeURL(_ path: String, _ query: [(String, String)]) throws -> URL {
        var components = URLComponents(url: baseURL.appendingPathComponent(path), resolvingAgainstBaseURL: false)
        if !query.isEmpty { components?.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        guard let url = components?.url else {
            throw BinanceError(url: baseURL.absoluteString + "/" + path, message: "cannot build a URL with \(query)")
        }
        return url
    }

    /// One GET; a transport failure or a status other than 200 becomes a ``BinanceError``.
    private func get(_ url: URL) async throws -> Data {
        let response: HTTPResponse
        do {
            response = try await fetcher.get(url, headers: [:])
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw BinanceError(url: url.absoluteString, message: "request failed: \(error.localizedDescription)")
        }
        if let used = response.headers["x-mbx-used-weight-1m"].flatMap({ Int($0) }) { usedWeight.record(used) }
        guard response.status == 200 else {
            throw BinanceError(url: url.absoluteString, message: "HTTP \(response.status): \(preview(response.body))")
        }
        return response.body
    }

    /// A klines body read by ``KlinesResponse/parse(_:url:)``, its failure as a ``BinanceError``.
    private func parseKlines(_ body: Data, url: URL) throws(BinanceError) -> [Kline] {
        do {
            return try KlinesResponse.parse(body, url: url)
        } catch {
            throw BinanceError(url: url.absoluteString, message: "\(error)")
        }
    }

    private func preview(_ body: Data) -> String { String(decoding: body.prefix(300), as: UTF8.self) }
}

/// The request weight an exchange last reported used in its current minute.
public final class UsedWeight: Sendable {
    private let value = Mutex<Int?>(nil)

    /// Nothing reported yet.
    public init() {}

    /// The last reported figure (nil: no answer carried it yet).
    public var last: Int? { value.withLock { $0 } }

    func record(_ used: Int) { value.withLock { $0 = used } }
}
