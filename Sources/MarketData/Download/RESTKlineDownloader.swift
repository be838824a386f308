public import Binance
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
/// stored in its own transaction as it arrives, so a killed run loses at most one page. The wire
/// is the Binance module's `MarketDataClient`: pages of up to `pageLimit` bars, the
/// `X-MBX-USED-WEIGHT-1M` header watched (a pause until the next minute before the weight limit is
/// reached), retries as the `RetryingClient` says. Bars that have not closed yet are not stored;
/// each page is validated (``KlineValidator``) before it is stored, and what the source lacks is
/// reported as unavailable.
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
        let binance = MarketDataClient(
            baseURL: options.baseURL,
            client: client,
            pageLimit: options.pageLimit,
            weightLimitPerMinute: options.weightLimitPerMinute,
            weightHeadroom: options.weightHeadroom,
            now: now
        )
        try store.checkMarket(Self.market, symbol: symbol, interval: interval, source: binance.klinesURL.absoluteString)
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
            // Each page is stored before the next is asked for (and the weight pause comes between).
            for try await page in binance.klinePages(symbol: symbol, interval: interval, window: range) {
                report.requests += 1
                let start = page.window.lowerBound
                if page.bars.isEmpty {
                    report.unavailable.append(page.window)
                    progress.advance(by: Int((range.upperBound - start) / step), detail: "no bars from the source")
                    break
                }
                let source = page.url.absoluteString
                let parsed = ParsedKlineFile(
                    klines: page.bars,
                    lines: Array(1...page.bars.count),
                    layout: .vision,
                    hasHeader: false
                )
                let valid = try KlineValidator.validate(
                    parsed,
                    source: source,
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
                    source: source,
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
            }
        }
        return report
    }
}
