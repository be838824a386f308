public import Binance
import Crypto
public import Foundation
public import ScalperCore

/// Downloads Binance Vision kline zips, verifies each against its `.CHECKSUM`, and imports it.
///
/// Complete past months come from the monthly file (`…/monthly/klines/S/I/S-I-YYYY-MM.zip`); a month
/// whose monthly file is not published yet, and the current month, come from daily files. A month or
/// day the store already holds completely is not fetched at all, so a re-run after an interruption
/// fetches only what is missing. Verified zips are kept under the cache folder. The bars are stored
/// for `market`; a series the store holds for the other market is refused before any request.
public struct VisionDownloader: Sendable {
    /// The destination.
    public let store: MarketStore
    /// HTTP with retries.
    public let client: RetryingClient
    /// Base URL (`https://data.binance.vision` or a local mirror).
    public let baseURL: URL
    /// Which market's files to fetch, and the market the bars are stored for.
    public let market: BinanceMarket
    /// Where verified zips are kept (`nil`: not kept).
    public let cacheDirectory: URL?
    /// Import options (clock, tolerance).
    public let importOptions: ImportOptions

    /// Creates a downloader.
    public init(
        store: MarketStore,
        client: RetryingClient,
        baseURL: URL,
        market: BinanceMarket,
        cacheDirectory: URL?,
        importOptions: ImportOptions = ImportOptions()
    ) {
        self.store = store
        self.client = client
        self.baseURL = baseURL
        self.market = market
        self.cacheDirectory = cacheDirectory
        self.importOptions = importOptions
    }

    private struct Job {
        var name: String  // e.g. FILUSDT-1m-2023-08
        var period: String  // monthly or daily
        var window: Range<Int64>
    }

    /// Downloads what the store lacks of `symbol` in `[from, to)`.
    ///
    /// - Throws: ``MarketMismatchError`` before any request when the store holds the series for the
    ///   other market (what it holds would otherwise count as downloaded); ``DownloadError``,
    ///   ``ImportError``, ``StoreError``.
    public func download(symbol: String, interval: KlineInterval, from: Int64, to: Int64) async throws -> DownloadReport {
        try store.checkMarket(
            market,
            symbol: symbol,
            interval: interval,
            source: baseURL.appendingPathComponent(Self.pathPrefix(market)).absoluteString
        )
        let now = importOptions.now()
        let todayStart = now / 86_400_000 * 86_400_000
        let end = min(to, todayStart)  // Vision publishes a day only after it ends
        var report = DownloadReport(symbol: symbol, inserted: 0, requests: 0, unavailable: [])
        let progress = client.progress
        guard from < end else {
            progress.note("\(symbol): nothing before today (UTC) in the window; Vision publishes whole days only")
            return report
        }

        var jobs: [(month: Job, days: [Job])] = []
        var monthStart = UTC.startOfMonth(from)
        while monthStart < end {
            let next = UTC.startOfNextMonth(monthStart)
            let window = max(from, monthStart)..<min(end, next)
            let c = UTC.components(monthStart)
            let monthName = "\(symbol)-\(interval)-" + String(format: "%04d-%02d", c.year, c.month)
            var days: [Job] = []
            var d = window.lowerBound / 86_400_000 * 86_400_000
            while d < window.upperBound {
                let dayWindow = max(d, window.lowerBound)..<min(d + 86_400_000, window.upperBound)
                days.append(Job(name: "\(symbol)-\(interval)-\(UTC.dayString(d))", period: "daily", window: dayWindow))
                d += 86_400_000
            }
            jobs.append((Job(name: monthName, period: "monthly", window: window), days))
            monthStart = next
        }

        progress.begin("\(symbol) \(interval) Vision", totalUnits: jobs.count)
        defer { progress.end() }
        var foundAny = false
        var firstURL: String?
        for (month, days) in jobs {
            try Task.checkCancellation()
            if try store.missingRanges(symbol: symbol, interval: interval, from: month.window.lowerBound, to: month.window.upperBound).isEmpty {
                foundAny = true
                progress.advance(by: 1, detail: "\(month.name) already stored")
                continue
            }
            let monthComplete = UTC.startOfNextMonth(month.window.lowerBound) <= todayStart
            if monthComplete {
                let url = zipURL(symbol: symbol, interval: interval, job: month)
                firstURL = firstURL ?? url.absoluteString
                if let inserted = try await fetchAndImport(url, symbol: symbol, interval: interval, report: &report) {
                    foundAny = true
                    report.inserted += inserted
                    progress.advance(by: 1, detail: "\(month.name): \(inserted) new bars")
                    continue
                }
                progress.note("\(month.name).zip is not published; trying daily files")
            }
            var monthInserted = 0
            for day in days {
                if try store.missingRanges(symbol: symbol, interval: interval, from: day.window.lowerBound, to: day.window.upperBound).isEmpty {
                    foundAny = true
                    continue
                }
                let url = zipURL(symbol: symbol, interval: interval, job: day)
                firstURL = firstURL ?? url.absoluteString
                if let inserted = try await fetchAndImport(url, symbol: symbol, interval: interval, report: &report) {
                    foundAny = true
                    monthInserted += inserted
                } else {
                    report.unavailable.append(day.window)
                }
            }
            progress.advance(by: 1, detail: "\(month.name): \(monthInserted) new bars from daily files")
        }
        if !foundAny {
            throw DownloadError(
                url: firstURL ?? baseURL.absoluteString,
                reason: .unknownSymbol("Binance Vision has no \(interval) klines for \(symbol) in this window (unknown symbol?)")
            )
        }
        return report
    }

    private func zipURL(symbol: String, interval: KlineInterval, job: Job) -> URL {
        baseURL.appendingPathComponent(
            "\(Self.pathPrefix(market))/\(job.period)/klines/\(symbol)/\(interval)/\(job.name).zip"
        )
    }

    /// Fetches `url` and its `.CHECKSUM`, verifies, caches and imports; `nil` when not published (404).
    private func fetchAndImport(
        _ url: URL,
        symbol: String,
        interval: KlineInterval,
        report: inout DownloadReport
    ) async throws -> Int? {
        let checksumURL = URL(string: url.absoluteString + ".CHECKSUM") ?? url
        let checksumResponse = try await client.get(checksumURL)
        report.requests += 1
        if checksumResponse.status == 404 { return nil }
        guard checksumResponse.status == 200 else {
            throw DownloadError(
                url: checksumURL.absoluteString,
                reason: .http(status: checksumResponse.status, body: String(decoding: checksumResponse.body.prefix(200), as: UTF8.self))
            )
        }
        let checksumText = String(decoding: checksumResponse.body, as: UTF8.self)
        let expected = checksumText.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).first.map(String.init)?.lowercased() ?? ""
        guard expected.count == 64, expected.allSatisfy(\.isHexDigit) else {
            throw DownloadError(url: checksumURL.absoluteString, reason: .badChecksumFile(String(checksumText.prefix(120))))
        }

        let cached = cacheDirectory.map { $0.appendingPathComponent(url.path) }
        var zip: Data?
        if let cached, let data = try? Data(contentsOf: cached), Self.sha256(data) == expected {
            zip = data
        }
        if zip == nil {
            let response = try await client.get(url)
            report.requests += 1
            if response.status == 404 { return nil }
            guard response.status == 200 else {
                throw DownloadError(url: url.absoluteString, reason: .http(status: response.status, body: ""))
            }
            let actual = Self.sha256(response.body)
            guard actual == expected else {
                throw DownloadError(url: url.absoluteString, reason: .checksumMismatch(expected: expected, actual: actual))
            }
            zip = response.body
            if let cached {
                try? FileManager.default.createDirectory(at: cached.deletingLastPathComponent(), withIntermediateDirectories: true)
                try? response.body.write(to: cached, options: .atomic)
            }
        }
        // Non-nil: set above or returned early.
        let csv = try KlineFileReader.csvInside(zip: zip!, path: url.absoluteString)
        let importer = KlineImporter(store: store, options: importOptions)
        let result = try importer.importCSV(
            csv, source: url.absoluteString, symbol: symbol, interval: interval, market: market, sha256: expected
        )
        if result.settledUnknownMarket { report.settledUnknownMarket = true }
        return result.inserted
    }

    /// The folder of a market's files on Binance Vision.
    static func pathPrefix(_ market: BinanceMarket) -> String {
        switch market {
        case .spot: "data/spot"
        case .futuresUM: "data/futures/um"
        }
    }

    static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }
}
