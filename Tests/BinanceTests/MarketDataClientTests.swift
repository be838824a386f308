import Binance
import Foundation
import ScalperCore
import ScalperTestSupport
import Synchronization
import Testing

private let aug1: Int64 = 1_690_848_000_000  // 2023-08-01 00:00 UTC
private let minute: Int64 = 60_000

/// What the client did, in order: the caller's pages, the client's notes and its sleeps.
private final class EventLog: DownloadProgressReporting, Sendable {
    private let events = Mutex<[String]>([])

    var all: [String] { events.withLock { $0 } }
    func append(_ event: String) { events.withLock { $0.append(event) } }

    func begin(_ task: String, totalUnits: Int) {}
    func advance(by units: Int, detail: String) {}
    func note(_ message: String) { append("note: \(message)") }
    func end() {}

    /// Records a wait instead of sleeping.
    var sleep: @Sendable (Double) async throws -> Void { { [self] seconds in append("sleep \(seconds)") } }
}

/// A client of `base` whose notes and sleeps go to `log`, at a fixed wall clock `now`.
private func makeClient(_ base: URL, log: EventLog, now: Int64, maxRetries: Int = 2) -> MarketDataClient {
    let retrying = RetryingClient(
        fetcher: URLSessionFetcher(timeoutSeconds: 10),
        policy: RetryPolicy(maxRetries: maxRetries, initialBackoffSeconds: 0.5, maxBackoffSeconds: 2),
        progress: log,
        sleep: log.sleep
    )
    return MarketDataClient(baseURL: base, client: retrying, now: { now })
}

/// A wall clock 40 days after the sample starts, 14.5 s into its minute: every sample bar has
/// closed, and a weight pause waits 60 − 14.5 + 0.5 = 46 s.
private let later = aug1 + 40 * 86_400_000 + 14_500

@Suite("MarketDataClient against a local Binance-compatible server, over loopback", .serialized)
struct MarketDataClientTests {
    @Test(
        "klinePages asks for startTime…endTime pages of 1,000, each after the last bar received, and ends on a page with no bars"
    )
    func pagesForward() async throws {
        let bars = Array(try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").prefix(2_500))
        let server = LocalBinanceServer(series: ["FILUSDT": bars])
        let log = EventLog()
        let window = aug1..<(aug1 + 3_000 * minute)
        let pages = try await server.run { base in
            var pages: [KlinePage] = []
            for try await page in makeClient(base, log: log, now: later).klinePages(
                symbol: "FILUSDT",
                interval: .oneMinute,
                window: window
            ) {
                pages.append(page)
            }
            return pages
        }
        #expect(pages.map(\.bars.count) == [1_000, 1_000, 500, 0])
        let starts = [aug1, aug1 + 1_000 * minute, aug1 + 2_000 * minute, aug1 + 2_500 * minute]
        #expect(pages.map(\.window) == starts.map { $0..<window.upperBound })
        #expect(pages.flatMap(\.bars).map(bits) == bars.map(bits))
        #expect(pages.allSatisfy { $0.usedWeight == 2 })
        let requests = server.requests
        #expect(requests.compactMap { $0.query["startTime"].flatMap { Int64($0) } } == starts)
        #expect(requests.allSatisfy { $0.query["endTime"] == String(window.upperBound - 1) && $0.query["limit"] == "1000" })
        #expect(requests.allSatisfy { $0.query["symbol"] == "FILUSDT" && $0.query["interval"] == "1m" })
        #expect(pages.map { $0.url.query?.contains("startTime=\($0.window.lowerBound)") } == [true, true, true, true])
        #expect(log.all.isEmpty, "no pause below the headroom: \(log.all)")
    }

    @Test("Bars that have not closed by the client's clock are left out of a page")
    func onlyClosedBars() async throws {
        let bars = Array(try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").prefix(10))
        let server = LocalBinanceServer(series: ["FILUSDT": bars])
        // 5 minutes and 30 s in: bars 0…4 have closed (bar 4 at 4:59.999), bar 5 has not.
        let now = aug1 + 5 * minute + 30_000
        let pages = try await server.run { base in
            var pages: [KlinePage] = []
            for try await page in makeClient(base, log: EventLog(), now: now).klinePages(
                symbol: "FILUSDT",
                interval: .oneMinute,
                window: aug1..<(aug1 + 10 * minute)
            ) {
                pages.append(page)
            }
            return pages
        }
        #expect(pages.map { $0.bars.map(\.openTime) } == [(0..<5).map { aug1 + Int64($0) * minute }, []])
    }

    @Test(
        "A page at the weight headroom pauses the walk until the next minute before it asks again, the last page's too",
        arguments: [(used: 4_799, pauses: 0), (used: 4_800, pauses: 2), (used: 5_999, pauses: 2)]
    )
    func weightPause(used: Int, pauses: Int) async throws {
        let bars = Array(try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").prefix(1_500))
        var faults = LocalBinanceServer.Faults()
        faults.usedWeight = used
        let server = LocalBinanceServer(series: ["FILUSDT": bars], faults: faults)
        let log = EventLog()
        try await server.run { base in
            for try await page in makeClient(base, log: log, now: later).klinePages(
                symbol: "FILUSDT",
                interval: .oneMinute,
                window: aug1..<(aug1 + 1_500 * minute)
            ) {
                log.append("page of \(page.bars.count)")
            }
        }
        let pause = ["note: request weight \(used)/6000 this minute; pausing 46.0 s", "sleep 46.0"]
        let expected = pauses == 0 ? ["page of 1000", "page of 500"] : ["page of 1000"] + pause + ["page of 500"] + pause
        #expect(log.all == expected)
        #expect(server.requests.count == 2)
    }

    @Test("429 with Retry-After waits as asked and the page is fetched again; the wait names the URL")
    func rateLimited() async throws {
        let bars = Array(try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").prefix(5))
        var faults = LocalBinanceServer.Faults()
        faults.rateLimitedRequests = 1
        faults.retryAfterSeconds = 7
        let server = LocalBinanceServer(series: ["FILUSDT": bars], faults: faults)
        let log = EventLog()
        let count = try await server.run { base in
            var count = 0
            for try await page in makeClient(base, log: log, now: later).klinePages(
                symbol: "FILUSDT",
                interval: .oneMinute,
                window: aug1..<(aug1 + 5 * minute)
            ) {
                count += page.bars.count
            }
            return count
        }
        #expect(count == 5)
        #expect(server.requests.map(\.status) == [429, 200])
        let events = log.all
        #expect(events.count == 2 && events.last == "sleep 7.0")
        #expect(events.first?.contains("/api/v3/klines?symbol=FILUSDT") == true)
        #expect(events.first?.hasSuffix(": HTTP 429 (rate limited); waiting 7.0 s as Retry-After asks") == true)
    }

    @Test("An unknown symbol (400, -1121) is a DownloadError naming the request's URL")
    func unknownSymbol() async throws {
        let server = LocalBinanceServer(series: [:])
        let error = await #expect(throws: DownloadError.self) {
            try await server.run { base in
                for try await _ in makeClient(base, log: EventLog(), now: later).klinePages(
                    symbol: "NOSUCHUSDT",
                    interval: .oneMinute,
                    window: aug1..<(aug1 + 10 * minute)
                ) {}
            }
        }
        #expect(error?.url.hasSuffix("/api/v3/klines?symbol=NOSUCHUSDT&interval=1m&startTime=\(aug1)&endTime=\(aug1 + 10 * minute - 1)&limit=1000") == true)
        #expect(error?.reason == .unknownSymbol(#"unknown symbol NOSUCHUSDT ({"code":-1121,"msg":"Invalid symbol."})"#))
    }

    @Test("exchangeInfo reads <base>/api/v3/exchangeInfo; a 404 is a DownloadError, a malformed document an ExchangeInfoError, both naming the URL")
    func exchangeInfo() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // LocalBinanceServer serves any file under /data/: a base of <server>/data/good makes
        // <base>/api/v3/exchangeInfo that file.
        let root = dir.url.appendingPathComponent("www")
        for (folder, text) in [("good", spotDocument), ("bad", #"{"serverTime":1700000000000}"#)] {
            let file = root.appendingPathComponent("data/\(folder)/api/v3/exchangeInfo")
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: file)
        }
        let server = LocalBinanceServer(series: [:], visionRoot: root)
        let log = EventLog()
        try await server.run { base in
            let good = makeClient(base.appendingPathComponent("data/good"), log: log, now: later, maxRetries: 0)
            let document = try await good.exchangeInfo()
            #expect(document.serverTime == 1_700_000_000_000 && document.marketOfSymbols == .spot)
            #expect(document.symbols.map(\.symbol) == ["FILUSDT"])
            #expect(document.symbols.first?.tickSize == "0.00100000" && document.symbols.first?.maxNotional == "9000000.00000000")

            let missing = makeClient(base.appendingPathComponent("data/missing"), log: log, now: later, maxRetries: 0)
            let notFound = await #expect(throws: DownloadError.self) { _ = try await missing.exchangeInfo() }
            #expect(notFound?.url == missing.exchangeInfoURL.absoluteString)
            #expect(notFound?.reason == .http(status: 404, body: ""))

            let bad = makeClient(base.appendingPathComponent("data/bad"), log: log, now: later, maxRetries: 0)
            let malformed = await #expect(throws: ExchangeInfoError.self) { _ = try await bad.exchangeInfo() }
            #expect(malformed == ExchangeInfoError(source: bad.exchangeInfoURL.absoluteString, field: "symbols", message: "missing"))
        }
        #expect(server.requests.map(\.path) == ["/data/good/api/v3/exchangeInfo", "/data/missing/api/v3/exchangeInfo", "/data/bad/api/v3/exchangeInfo"])
    }
}

/// A spot exchangeInfo document with one symbol, as Binance writes it.
private let spotDocument = """
    {"timezone":"UTC","serverTime":1700000000000,"rateLimits":[],"exchangeFilters":[],"symbols":[{"symbol":"FILUSDT",\
    "status":"TRADING","baseAsset":"FIL","baseAssetPrecision":8,"quoteAsset":"USDT","quotePrecision":8,\
    "isSpotTradingAllowed":true,"filters":[{"filterType":"PRICE_FILTER","minPrice":"0.00100000",\
    "maxPrice":"1000.00000000","tickSize":"0.00100000"},{"filterType":"LOT_SIZE","minQty":"0.01000000",\
    "maxQty":"90000.00000000","stepSize":"0.01000000"},{"filterType":"NOTIONAL","minNotional":"5.00000000",\
    "applyMinToMarket":true,"maxNotional":"9000000.00000000","applyMaxToMarket":false,"avgPriceMins":5}]}]}
    """
