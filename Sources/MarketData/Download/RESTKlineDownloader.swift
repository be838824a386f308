public import Foundation
public import ScalperCore

/// What a download added, per symbol.
public struct DownloadReport: Sendable {
    /// The symbol.
    public var symbol: String
    /// Bars new to the store.
    public var inserted: Int
    /// Requests (pages or files) made.
    public var requests: Int
    /// Ranges the source had no bars for (exchange outages, not yet listed), as open-time ranges.
    public var unavailable: [Range<Int64>]
    /// Whether the series was stored before the store recorded markets and now has the download's market.
    public var settledUnknownMarket = false
}

/// Downloads klines from a Binance-compatible `/api/v3/klines` endpoint into the store.
///
/// Resume is built in: only the open-time ranges the store lacks are requested, and every page is
/// stored in its own transaction as it arrives, so a killed run loses at most one page. Pages hold
/// up to `pageLimit` bars; the `X-MBX-USED-WEIGHT-1M` header is watched and the downloader pauses
/// until the next minute before the weight limit is reached. Bars that have not closed yet are
/// not stored.
///
/// `/api/v3/klines` is Binance's spot API, so the bars are stored as ``BinanceMarket/spot`` (see
/// ``market``); a series the store holds for futures is refused before any request.
public struct RESTKlineDownloader: Sendable {
    /// The market of the bars this downloader stores: `/api/v3/klines` serves spot klines
    /// (USDⓈ-M futures klines are `/fapi/v1/klines` on another host, which this downloader does not fetch).
    public static let market = BinanceMarket.spot

    /// Options.
    public struct Options: Sendable {
        /// Base URL, e.g. `https://api.binance.com` or the local exchange.
        public var baseURL: URL
        /// Bars per request (≤ 1000).
        public var pageLimit: Int
        /// Weight Binance allows per minute.
        public var weightLimitPerMinute: Int
        /// Share of the weight limit to use before pausing.
        public var weightHeadroom: Double

        /// Creates options.
        public init(baseURL: URL, pageLimit: Int = 1000, weightLimitPerMinute: Int = 6000, weightHeadroom: Double = 0.8) {
            self.baseURL = baseURL
            self.pageLimit = pageLimit
            self.weightLimitPerMinute = weightLimitPerMinute
            self.weightHeadroom = weightHeadroom
        }
    }

    /// The destination.
    public let store: MarketStore
    /// The HTTP client with retries.
    public let client: RetryingClient
    /// Options.
    public let options: Options
    /// The wall clock, ms (injected for tests).
    public let now: @Sendable () -> Int64

    /// Creates a downloader.
    public init(
        store: MarketStore,
        client: RetryingClient,
        options: Options,
        now: @escaping @Sendable () -> Int64 = { UTC.now() }
    ) {
        self.store = store
        self.client = client
        self.options = options
        self.now = now
    }

    /// Downloads what the store lacks of `symbol` in `[from, to)`.
    ///
    /// - Throws: ``MarketMismatchError`` before any request when the store holds the series for
    ///   futures; ``DownloadError``, ``ImportFailure`` (a bad page: nothing of it stored), ``StoreError``.
    public func download(symbol: String, interval: KlineInterval, from: Int64, to: Int64) async throws -> DownloadReport {
        try store.checkMarket(
            Self.market,
            symbol: symbol,
            interval: interval,
            source: options.baseURL.appendingPathComponent("api/v3/klines").absoluteString
        )
        let step = interval.milliseconds
        let end = min(to, (now() / step) * step)  // bars opening at or after this have not closed
        let ranges = try store.missingRanges(symbol: symbol, interval: interval, from: from, to: end)
        let totalBars = ranges.reduce(0) { $0 + Int(($1.upperBound - $1.lowerBound) / step) }
        var report = DownloadReport(symbol: symbol, inserted: 0, requests: 0, unavailable: [])
        let progress = client.progress
        if ranges.isEmpty {
            progress.note("\(symbol) \(interval): already stored from \(UTC.minuteString(from)) to \(UTC.minuteString(to))")
            return report
        }
        progress.begin("\(symbol) \(interval) REST", totalUnits: totalBars)
        defer { progress.end() }
        for range in ranges {
            var start = range.lowerBound
            while start < range.upperBound {
                try Task.checkCancellation()
                let url = pageURL(symbol: symbol, interval: interval, start: start, endInclusive: range.upperBound - 1)
                let response = try await client.get(url)
                report.requests += 1
                guard response.status == 200 else { throw Self.error(for: response, url: url, symbol: symbol) }
                let page = try Self.parseKlines(response.body, url: url)
                    .filter { $0.openTime >= start && $0.openTime < range.upperBound && $0.closeTime < now() }
                if page.isEmpty {
                    report.unavailable.append(start..<range.upperBound)
                    progress.advance(by: Int((range.upperBound - start) / step), detail: "no bars from the source")
                    break
                }
                let parsed = ParsedKlineFile(
                    klines: page,
                    lines: Array(1...page.count),
                    layout: .vision,
                    hasHeader: false
                )
                let valid = try KlineValidator.validate(
                    parsed,
                    source: url.absoluteString,
                    interval: interval,
                    nowMilliseconds: now()
                )
                if let firstBar = valid.klines.first, firstBar.openTime > start {
                    report.unavailable.append(start..<firstBar.openTime)
                }
                for gap in valid.gaps {
                    report.unavailable.append(gap.firstMissing(interval: interval)..<gap.firstAfter)
                }
                let result = try store.insert(
                    valid.klines,
                    symbol: symbol,
                    interval: interval,
                    market: Self.market,
                    source: url.absoluteString,
                    duplicatesDropped: valid.duplicatesDropped
                )
                report.inserted += result.inserted
                if result.settledUnknownMarket { report.settledUnknownMarket = true }
                // Non-nil: the page is not empty.
                let last = valid.klines.last!.openTime
                progress.advance(
                    by: Int((last + step - start) / step),
                    detail: "\(symbol) up to \(UTC.minuteString(last))"
                )
                start = last + step
                try await respectWeight(response)
            }
        }
        return report
    }

    private func pageURL(symbol: String, interval: KlineInterval, start: Int64, endInclusive: Int64) -> URL {
        var components = URLComponents(url: options.baseURL.appendingPathComponent("api/v3/klines"), resolvingAgainstBaseURL: false)
        components?.queryItems = [
            URLQueryItem(name: "symbol", value: symbol),
            URLQueryItem(name: "interval", value: interval.name),
            URLQueryItem(name: "startTime", value: String(start)),
            URLQueryItem(name: "endTime", value: String(endInclusive)),
            URLQueryItem(name: "limit", value: String(options.pageLimit)),
        ]
        // Non-nil: the components come from a valid base URL and plain query items.
        return components!.url!
    }

    /// Pauses until the next minute when the used weight nears the limit.
    private func respectWeight(_ response: HTTPResponse) async throws {
        guard let used = response.headers["x-mbx-used-weight-1m"].flatMap(Int.init) else { return }
        let threshold = Int(Double(options.weightLimitPerMinute) * options.weightHeadroom)
        guard used >= threshold else { return }
        let ms = now() % 60_000
        let wait = Double(60_000 - ms) / 1000 + 0.5
        client.progress.note(
            "request weight \(used)/\(options.weightLimitPerMinute) this minute; pausing \(String(format: "%.1f", wait)) s"
        )
        try await client.sleep(wait)
    }

    static func error(for response: HTTPResponse, url: URL, symbol: String) -> DownloadError {
        let body = String(decoding: response.body.prefix(300), as: UTF8.self)
        if response.status == 400, body.contains("-1121") {
            return DownloadError(url: url.absoluteString, reason: .unknownSymbol("unknown symbol \(symbol) (\(body))"))
        }
        return DownloadError(url: url.absoluteString, reason: .http(status: response.status, body: body))
    }

    /// Parses a Binance klines response: an array of 12-element arrays, numbers as JSON numbers or strings.
    public static func parseKlines(_ body: Data, url: URL) throws(DownloadError) -> [Kline] {
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
