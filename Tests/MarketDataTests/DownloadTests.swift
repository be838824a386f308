import Foundation
import MarketData
import ScalperCore
import ScalperTestSupport
import Synchronization
import Testing

/// Records requested sleeps instead of sleeping, so retry tests are instant and observable.
final class SleepRecorder: Sendable {
    private let waits = Mutex<[Double]>([])
    var recorded: [Double] { waits.withLock { $0 } }
    var sleep: @Sendable (Double) async throws -> Void { { [self] s in waits.withLock { $0.append(s) } } }
}

private let aug1: Int64 = 1_690_848_000_000  // 2023-08-01 00:00 UTC
private let oct1: Int64 = 1_696_118_400_000  // 2023-10-01 00:00 UTC

@Suite("Downloading from a local Binance-compatible server")
struct DownloadTests {
    let dir: TemporaryDirectory
    let store: MarketStore
    let sleeper = SleepRecorder()

    init() throws {
        dir = try TemporaryDirectory()
        store = try MarketStore(path: dir.path("market.sqlite"))
    }

    private func client() -> RetryingClient {
        RetryingClient(
            fetcher: URLSessionFetcher(timeoutSeconds: 10),
            policy: RetryPolicy(maxRetries: 3, initialBackoffSeconds: 0.5, maxBackoffSeconds: 2),
            sleep: sleeper.sleep
        )
    }

    @Test("Vision monthly zips are verified against .CHECKSUM and imported; a re-run fetches nothing")
    func visionWithChecksum() async throws {
        defer { dir.remove() }
        let mirror = dir.url.appendingPathComponent("vision")
        try Fixtures.makeVisionMirror(at: mirror)
        let server = LocalBinanceServer(series: [:], visionRoot: mirror)
        let (store, client) = (self.store, client())
        let cache = dir.url.appendingPathComponent("cache")
        try await server.run { base in
            let downloader = VisionDownloader(store: store, client: client, baseURL: base, market: .spot, cacheDirectory: cache)
            let report = try await downloader.download(symbol: "FILUSDT", interval: .oneMinute, from: aug1, to: oct1)
            #expect(report.inserted == 44_640 + 43_200)
            #expect(report.requests == 4)
            let again = try await downloader.download(symbol: "FILUSDT", interval: .oneMinute, from: aug1, to: oct1)
            #expect(again.inserted == 0 && again.requests == 0)
        }
        #expect(try store.count(symbol: "FILUSDT", interval: .oneMinute) == 87_840)
        let paths = server.requests.map(\.path)
        #expect(paths.first == "/data/spot/monthly/klines/FILUSDT/1m/FILUSDT-1m-2023-08.zip.CHECKSUM")
        #expect(paths.count == 4)
        #expect(FileManager.default.fileExists(atPath: cache.appendingPathComponent("data/spot/monthly/klines/FILUSDT/1m/FILUSDT-1m-2023-09.zip").path))
    }

    @Test("A zip whose SHA-256 does not match its .CHECKSUM is refused and nothing is stored")
    func checksumMismatch() async throws {
        defer { dir.remove() }
        let mirror = dir.url.appendingPathComponent("vision")
        try Fixtures.makeVisionMirror(at: mirror)
        var faults = LocalBinanceServer.Faults()
        faults.corruptZips = true
        let server = LocalBinanceServer(series: [:], visionRoot: mirror, faults: faults)
        let (store, client) = (self.store, client())
        let error = await #expect(throws: DownloadError.self) {
            try await server.run { base in
                let downloader = VisionDownloader(store: store, client: client, baseURL: base, market: .spot, cacheDirectory: nil)
                _ = try await downloader.download(symbol: "NEARUSDT", interval: .oneMinute, from: aug1, to: oct1)
            }
        }
        guard case .checksumMismatch = error?.reason else {
            Issue.record("expected a checksum mismatch, got \(String(describing: error))")
            return
        }
        #expect(error?.url.hasSuffix("/data/spot/monthly/klines/NEARUSDT/1m/NEARUSDT-1m-2023-08.zip") == true)
        #expect(try store.totalCount() == 0)
    }

    @Test("An unknown symbol on Vision is a clear error naming the URL")
    func visionUnknownSymbol() async throws {
        defer { dir.remove() }
        let server = LocalBinanceServer(series: [:], visionRoot: dir.url)
        let (store, client) = (self.store, client())
        let error = await #expect(throws: DownloadError.self) {
            try await server.run { base in
                _ = try await VisionDownloader(store: store, client: client, baseURL: base, market: .spot, cacheDirectory: nil)
                    .download(symbol: "NOSUCHUSDT", interval: .oneMinute, from: aug1, to: oct1)
            }
        }
        #expect(error?.description.contains("NOSUCHUSDT-1m-2023-08.zip") == true)
        #expect(error?.description.contains("unknown symbol") == true)
    }

    @Test("REST pages of 1,000 bars cover a 2,500-bar window in 3 requests, each page stored as it arrives")
    func restPaging() async throws {
        defer { dir.remove() }
        let bars = Array(try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").prefix(2_500))
        let server = LocalBinanceServer(series: ["FILUSDT": bars])
        let (store, client) = (self.store, client())
        let end = aug1 + 2_500 * 60_000
        try await server.run { base in
            let downloader = RESTKlineDownloader(store: store, client: client, options: .init(baseURL: base))
            let report = try await downloader.download(symbol: "FILUSDT", interval: .oneMinute, from: aug1, to: end)
            #expect(report.inserted == 2_500 && report.requests == 3)
        }
        let starts = server.requests.compactMap { $0.query["startTime"].flatMap { Int64($0) } }
        #expect(starts == [aug1, aug1 + 60_000_000, aug1 + 120_000_000])
        #expect(server.requests.allSatisfy { $0.query["limit"] == "1000" })
        let stored = try store.klines(symbol: "FILUSDT", interval: .oneMinute, from: aug1, to: end)
        #expect(stored.count == 2_500)
        #expect(zip(stored, bars).allSatisfy { $0.isSameBar(as: $1) })
    }

    @Test("429 with Retry-After waits as asked, then succeeds")
    func rateLimited() async throws {
        defer { dir.remove() }
        let bars = Array(try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").prefix(300))
        var faults = LocalBinanceServer.Faults()
        faults.rateLimitedRequests = 2
        faults.retryAfterSeconds = 7
        let server = LocalBinanceServer(series: ["FILUSDT": bars], faults: faults)
        let (store, client) = (self.store, client())
        try await server.run { base in
            let report = try await RESTKlineDownloader(store: store, client: client, options: .init(baseURL: base))
                .download(symbol: "FILUSDT", interval: .oneMinute, from: aug1, to: aug1 + 300 * 60_000)
            #expect(report.inserted == 300)
        }
        #expect(sleeper.recorded == [7, 7])
        #expect(server.requests.map(\.status) == [429, 429, 200])
    }

    @Test("5xx answers back off and retry; too many give up with the URL")
    func serverErrors() async throws {
        defer { dir.remove() }
        let bars = Array(try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").prefix(10))
        var faults = LocalBinanceServer.Faults()
        faults.serverErrors = 10
        let server = LocalBinanceServer(series: ["FILUSDT": bars], faults: faults)
        let (store, client) = (self.store, client())
        let error = await #expect(throws: DownloadError.self) {
            try await server.run { base in
                _ = try await RESTKlineDownloader(store: store, client: client, options: .init(baseURL: base))
                    .download(symbol: "FILUSDT", interval: .oneMinute, from: aug1, to: aug1 + 600_000)
            }
        }
        #expect(error?.description.contains("gave up after 4 attempts (last: HTTP 503)") == true)
        #expect(sleeper.recorded.count == 3)
        #expect(sleeper.recorded.allSatisfy { $0 >= 0.25 && $0 <= 2 })
    }

    @Test("The used-weight header makes the downloader pause before the limit")
    func weightPause() async throws {
        defer { dir.remove() }
        let bars = Array(try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").prefix(1_500))
        var faults = LocalBinanceServer.Faults()
        faults.usedWeight = 5_000
        let server = LocalBinanceServer(series: ["FILUSDT": bars], faults: faults)
        let (store, client) = (self.store, client())
        try await server.run { base in
            _ = try await RESTKlineDownloader(store: store, client: client, options: .init(baseURL: base, weightLimitPerMinute: 6_000))
                .download(symbol: "FILUSDT", interval: .oneMinute, from: aug1, to: aug1 + 1_500 * 60_000)
        }
        #expect(sleeper.recorded.count == 2)
        #expect(sleeper.recorded.allSatisfy { $0 > 0 && $0 <= 60.5 })
    }

    @Test("A futures-um series refuses spot downloads (Vision and REST) before any request; futures-um Vision joins it")
    func marketOfDownloads() async throws {
        defer { dir.remove() }
        _ = try KlineImporter(store: store).importFile(Fixtures.sampleZip("FILUSDT-1m-2023-08.zip"))
        let spotMirror = dir.url.appendingPathComponent("spot")
        let futuresMirror = dir.url.appendingPathComponent("futures")
        try Fixtures.makeVisionMirror(at: spotMirror)
        try Fixtures.makeVisionMirror(at: futuresMirror, market: "data/futures/um")
        let spot = LocalBinanceServer(series: ["FILUSDT": try Fixtures.sampleKlines("FILUSDT-1m-2023-09.zip")], visionRoot: spotMirror)
        let (store, client) = (self.store, client())
        try await spot.run { base in
            // Without the check, August would count as downloaded and September would be fetched.
            let vision = await #expect(throws: MarketMismatchError.self) {
                _ = try await VisionDownloader(store: store, client: client, baseURL: base, market: .spot, cacheDirectory: nil)
                    .download(symbol: "FILUSDT", interval: .oneMinute, from: aug1, to: oct1)
            }
            #expect(
                vision?.description
                    == "FILUSDT 1m is futures-um in the store; refusing spot bars from \(base.absoluteString)/data/spot (a series holds one market's bars: keep spot bars in another store)"
            )
            let rest = await #expect(throws: MarketMismatchError.self) {
                _ = try await RESTKlineDownloader(store: store, client: client, options: .init(baseURL: base))
                    .download(symbol: "FILUSDT", interval: .oneMinute, from: aug1, to: oct1)
            }
            #expect(rest?.description.hasPrefix("FILUSDT 1m is futures-um in the store; refusing spot bars from \(base.absoluteString)/api/v3/klines") == true)
        }
        #expect(spot.requests.isEmpty)
        #expect(try store.count(symbol: "FILUSDT", interval: .oneMinute) == 44_640)

        let futures = LocalBinanceServer(series: [:], visionRoot: futuresMirror)
        try await futures.run { base in
            let report = try await VisionDownloader(store: store, client: client, baseURL: base, market: .futuresUM, cacheDirectory: nil)
                .download(symbol: "FILUSDT", interval: .oneMinute, from: aug1, to: oct1)
            #expect(report.inserted == 43_200 && !report.settledUnknownMarket)
        }
        #expect(futures.requests.map(\.path).allSatisfy { $0.hasPrefix("/data/futures/um/monthly/klines/FILUSDT/1m/FILUSDT-1m-2023-09.zip") })
        #expect(try store.series().map(\.market) == [.futuresUM])
        #expect(try store.count(symbol: "FILUSDT", interval: .oneMinute) == 87_840)
    }

    @Test("An unknown symbol over REST is a clear error naming the URL")
    func restUnknownSymbol() async throws {
        defer { dir.remove() }
        let server = LocalBinanceServer(series: [:])
        let (store, client) = (self.store, client())
        let error = await #expect(throws: DownloadError.self) {
            try await server.run { base in
                _ = try await RESTKlineDownloader(store: store, client: client, options: .init(baseURL: base))
                    .download(symbol: "NOSUCHUSDT", interval: .oneMinute, from: aug1, to: aug1 + 600_000)
            }
        }
        #expect(error?.description.contains("/api/v3/klines?symbol=NOSUCHUSDT") == true)
        #expect(error?.description.contains("unknown symbol NOSUCHUSDT") == true)
    }
}
