public import Foundation
public import ScalperCore

/// Binance's REST market data as a downloader needs it: `/api/v3/klines` paged forward through a
/// window, and `/api/v3/exchangeInfo`. Works against `api.binance.com` and against
/// `scalper exchange` alike (the same paths and shapes).
///
/// Every request goes through ``client`` (429 and 418 wait for `Retry-After`, 5xx and dropped
/// connections back off with jitter). Klines pages watch the `X-MBX-USED-WEIGHT-1M` header: once a
/// page reports ``weightHeadroom`` of ``weightLimitPerMinute`` used, the walk pauses until the next
/// minute before its next request. Failures are ``DownloadError``s naming the URL.
public struct MarketDataClient: Sendable {
    /// The REST base URL (`https://api.binance.com`, `http://127.0.0.1:<port>`).
    public let baseURL: URL
    /// The HTTP client with retries; its progress reporter hears of every wait.
    public let client: RetryingClient
    /// Bars per `/api/v3/klines` request (Binance serves at most 1,000).
    public let pageLimit: Int
    /// Weight Binance allows per minute.
    public let weightLimitPerMinute: Int
    /// Share of the weight limit to use before pausing.
    public let weightHeadroom: Double
    /// The wall clock, ms (injected for tests): which bars have closed, and when the minute ends.
    public let now: @Sendable () -> Int64

    /// Creates a client of `baseURL` with Binance's spot limits as defaults.
    public init(
        baseURL: URL,
        client: RetryingClient,
        pageLimit: Int = 1000,
        weightLimitPerMinute: Int = 6000,
        weightHeadroom: Double = 0.8,
        now: @escaping @Sendable () -> Int64 = { UTC.now() }
    ) {
        self.baseURL = baseURL
        self.client = client
        self.pageLimit = pageLimit
        self.weightLimitPerMinute = weightLimitPerMinute
        self.weightHeadroom = weightHeadroom
        self.now = now
    }

    /// `<base>/api/v3/klines` (without a query: the source a downloader names before any request).
    public var klinesURL: URL { baseURL.appendingPathComponent("api/v3/klines") }

    /// `<base>/api/v3/exchangeInfo`.
    public var exchangeInfoURL: URL { baseURL.appendingPathComponent("api/v3/exchangeInfo") }

    /// The closed bars of `symbol` that open in `window`, one `/api/v3/klines` request per page.
    ///
    /// Each page asks for `startTime` (the window's start, then the bar after the last one
    /// received) to `endTime` (the window's last millisecond) with ``pageLimit``. A page with no
    /// bar ends the walk: the exchange has none from its start to the window's end. Before each
    /// request after the first, the walk pauses until the next minute if the previous page's used
    /// weight reached the headroom. Pages are fetched as the caller asks for them, so a caller that
    /// stores each page before asking for the next loses at most one page when it is stopped.
    public func klinePages(symbol: String, interval: KlineInterval, window: Range<Int64>) -> KlinePages {
        KlinePages(client: self, symbol: symbol, interval: interval, window: window)
    }

    /// Fetches the exchangeInfo document and parses it.
    ///
    /// - Throws: ``DownloadError`` (transport, HTTP status, retries exhausted), ``ExchangeInfoError``
    ///   (a malformed document), both naming the URL.
    public func exchangeInfo() async throws -> ExchangeInfoDocument {
        let url = exchangeInfoURL
        let response = try await client.get(url)
        guard response.status == 200 else {
            throw DownloadError(
                url: url.absoluteString,
                reason: .http(status: response.status, body: String(decoding: response.body.prefix(300), as: UTF8.self))
            )
        }
        return try ExchangeInfoDocument.parse(response.body, source: url.absoluteString)
    }

    // MARK: Pages

    /// One request: the closed bars of `symbol` opening in `window`.
    func klinesPage(symbol: String, interval: KlineInterval, window: Range<Int64>) async throws -> KlinePage {
        let url = klinesURL(
            symbol: symbol,
            interval: interval,
            start: window.lowerBound,
            endInclusive: window.upperBound - 1
        )
        let response = try await client.get(url)
        guard response.status == 200 else { throw Self.error(for: response, url: url, symbol: symbol) }
        let bars = try KlinesResponse.parse(response.body, url: url)
            .filter { $0.openTime >= window.lowerBound && $0.openTime < window.upperBound && $0.closeTime < now() }
        return KlinePage(
            url: url,
            window: window,
            bars: bars,
            usedWeight: response.headers["x-mbx-used-weight-1m"].flatMap(Int.init)
        )
    }

    /// Pauses until the next minute when `page`'s used weight has reached the headroom.
    func pauseIfNearWeightLimit(after page: KlinePage) async throws {
        guard let used = page.usedWeight else { return }
        let threshold = Int(Double(weightLimitPerMinute) * weightHeadroom)
        guard used >= threshold else { return }
        let ms = now() % 60_000
        let wait = Double(60_000 - ms) / 1000 + 0.5
        client.progress.note(
            "request weight \(used)/\(weightLimitPerMinute) this minute; pausing \(String(format: "%.1f", wait)) s"
        )
        try await client.sleep(wait)
    }

    private func klinesURL(symbol: String, interval: KlineInterval, start: Int64, endInclusive: Int64) -> URL {
        var components = URLComponents(url: klinesURL, resolvingAgainstBaseURL: false)
        components?.queryItems = [
            URLQueryItem(name: "symbol", value: symbol),
            URLQueryItem(name: "interval", value: interval.name),
            URLQueryItem(name: "startTime", value: String(start)),
            URLQueryItem(name: "endTime", value: String(endInclusive)),
            URLQueryItem(name: "limit", value: String(pageLimit)),
        ]
        // Non-nil: the components come from a valid base URL and plain query items.
        return components!.url!
    }

    /// A status other than 200: Binance's -1121 (400) is an unknown symbol, anything else the status.
    private static func error(for response: HTTPResponse, url: URL, symbol: String) -> DownloadError {
        let body = String(decoding: response.body.prefix(300), as: UTF8.self)
        if response.status == 400, body.contains("-1121") {
            return DownloadError(url: url.absoluteString, reason: .unknownSymbol("unknown symbol \(symbol) (\(body))"))
        }
        return DownloadError(url: url.absoluteString, reason: .http(status: response.status, body: body))
    }
}

/// One `/api/v3/klines` request of a ``KlinePages`` walk and the closed bars it brought.
public struct KlinePage: Sendable {
    /// The request, with its query (the source the bars came from).
    public var url: URL
    /// The open times the request asked for: from its `startTime` to the end of the walk's window.
    public var window: Range<Int64>
    /// The bars of the answer that open inside ``window`` and have closed, in the order sent
    /// (oldest first). Empty: the exchange has no bar from the window's start on.
    public var bars: [Kline]
    /// The answer's `X-MBX-USED-WEIGHT-1M`, when it carried one.
    public var usedWeight: Int?
}

/// The pages of ``MarketDataClient/klinePages(symbol:interval:window:)``, each fetched when asked for.
public struct KlinePages: AsyncSequence, Sendable {
    /// A page.
    public typealias Element = KlinePage

    let client: MarketDataClient
    let symbol: String
    let interval: KlineInterval
    let window: Range<Int64>

    /// Starts the walk at the window's start.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pages: self, start: window.lowerBound) }

    /// Walks the window forward, page by page.
    public struct AsyncIterator: AsyncIteratorProtocol, Sendable {
        let pages: KlinePages
        /// The open time the next request starts at.
        var start: Int64
        /// The previous non-empty page, whose used weight decides the pause before the next request.
        var previous: KlinePage?
        var isFinished = false

        /// The next page; `nil` once the window is covered or a page came back empty.
        ///
        /// - Throws: ``DownloadError``, or `CancellationError` when the task is cancelled.
        public mutating func next() async throws -> KlinePage? {
            if let previous {
                self.previous = nil
                try await pages.client.pauseIfNearWeightLimit(after: previous)
            }
            guard !isFinished, start < pages.window.upperBound else { return nil }
            try Task.checkCancellation()
            let page = try await pages.client.klinesPage(
                symbol: pages.symbol,
                interval: pages.interval,
                window: start..<pages.window.upperBound
            )
            guard let last = page.bars.last else {
                isFinished = true
                return page
            }
            start = last.openTime + pages.interval.milliseconds
            previous = page
            return page
        }
    }
}
