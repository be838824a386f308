import Foundation
import GRDB
import MarketData
import ScalperCore
import ScalperTestSupport
import Testing

/// The bundled real recording of Binance spot BTCUSDT streams.
private var spotRecordingURL: URL { Fixtures.sample.appendingPathComponent("ws-stream/btcusdt_20240808.gz") }

@Suite("Each series holds one market's bars")
struct SeriesMarketTests {
    let dir: TemporaryDirectory
    let store: MarketStore

    init() throws {
        dir = try TemporaryDirectory()
        store = try MarketStore(path: dir.path("market.sqlite"))
    }

    /// Copies a sample zip to `folder` (relative to the temporary directory) and returns the copy.
    private func copy(_ zip: String, to folder: String) throws -> URL {
        let target = dir.url.appendingPathComponent(folder)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        let url = target.appendingPathComponent(zip)
        try FileManager.default.copyItem(at: Fixtures.sampleZip(zip), to: url)
        return url
    }

    @Test("Spot bars for a month a futures-um series lacks are refused, naming both markets, and nothing is stored")
    func otherMarketRefused() throws {
        defer { dir.remove() }
        let importer = KlineImporter(store: store)
        let august = try importer.importFile(Fixtures.sampleZip("FILUSDT-1m-2023-08.zip"))
        #expect(august.market == .futuresUM && august.inserted == 44_640)
        let spot = try copy("FILUSDT-1m-2023-09.zip", to: "vision/data/spot/monthly/klines/FILUSDT/1m")
        let error = #expect(throws: MarketMismatchError.self) { _ = try importer.importFile(spot) }
        #expect(
            error?.description
                == "FILUSDT 1m is futures-um in the store; refusing spot bars from \(spot.path) (a series holds one market's bars: keep spot bars in another store)"
        )
        #expect(try store.count(symbol: "FILUSDT", interval: .oneMinute) == 44_640)
        #expect(try store.series().map(\.market) == [.futuresUM])
        // The store's own entry point refuses the same way.
        let september = try Fixtures.sampleKlines("FILUSDT-1m-2023-09.zip")
        #expect(throws: MarketMismatchError.self) {
            try store.insert(september, symbol: "FILUSDT", interval: .oneMinute, market: .spot, source: "test")
        }
        #expect(try store.count(symbol: "FILUSDT", interval: .oneMinute) == 44_640)
    }

    @Test("Bars of the series' own market join it, whether the folders or --market name it")
    func sameMarketAccepted() throws {
        defer { dir.remove() }
        _ = try KlineImporter(store: store).importFile(Fixtures.sampleZip("FILUSDT-1m-2023-08.zip"))
        let futures = try copy("FILUSDT-1m-2023-09.zip", to: "vision/data/futures/um/monthly/klines/FILUSDT/1m")
        let september = try KlineImporter(store: store).importFile(futures)
        #expect(september.market == .futuresUM && september.inserted == 43_200 && !september.settledUnknownMarket)
        let near = try KlineImporter(store: store, options: ImportOptions(market: .futuresUM))
            .importFile(Fixtures.sampleZip("NEARUSDT-1m-2023-08.zip"))
        #expect(near.market == .futuresUM && near.inserted == 44_640)
        let series = try store.series()
        #expect(series.map(\.symbol) == ["FILUSDT", "NEARUSDT"])
        #expect(series.map(\.market) == [.futuresUM, .futuresUM])
        #expect(series.map(\.rows) == [87_840, 44_640])
    }

    @Test("A file's market: its folders, else --market, else futures-um; --market against the folders is refused")
    func marketOfAFile() throws {
        defer { dir.remove() }
        let plain = KlineImporter(store: store)
        let spotOption = KlineImporter(store: store, options: ImportOptions(market: .spot))
        let vision = try #require(URL(string: "https://data.binance.vision/data/futures/um/monthly/klines/FILUSDT/1m/FILUSDT-1m-2023-08.zip"))
        let shared = URL(fileURLWithPath: "/work/shared/datasets/binance/futures-um/klines/FILUSDT/1m/FILUSDT-1m-2023-08.csv")
        let spot = URL(fileURLWithPath: "/mirror/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-02.zip")
        let sample = Fixtures.sampleZip("FILUSDT-1m-2023-08.zip")
        #expect(try plain.market(of: vision) == .futuresUM)
        #expect(try plain.market(of: shared) == .futuresUM)
        #expect(try plain.market(of: spot) == .spot)
        #expect(try spotOption.market(of: spot) == .spot)
        #expect(try plain.market(of: sample) == .futuresUM)
        #expect(try spotOption.market(of: sample) == .spot)
        let error = #expect(throws: ImportError.self) { _ = try spotOption.market(of: shared) }
        #expect(error?.description == "\(shared.path): --market is spot but its folders say futures-um")
        // Only whole folder names count, and the innermost one that names a market wins.
        #expect(BinanceMarket.named(inPath: "/data/spot-notes/FILUSDT-1m-2023-08.csv") == nil)
        #expect(BinanceMarket.named(inPath: "/spot/mirror/data/futures/um/FILUSDT-1m-2023-08.csv") == .futuresUM)
    }

    @Test("A recording's depth events name its market; a series of the other market refuses its bars and nothing of it is stored")
    func recordingMarket() throws {
        defer { dir.remove() }
        let recording = try StreamRecording.read(spotRecordingURL)
        #expect(recording.marketOfDepthEvents == .spot)
        // One futures diff-depth frame (Binance's USDⓈ-M layout, with pu).
        let futuresFrame = #"1723161255030314667 {"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,"s":"BTCUSDT","U":5123107832006,"u":5123107837557,"pu":5123107831937,"b":[["58710.20","0.014"]],"a":[["61700.10","0.500"]]}}"#
        let futures = try StreamRecording.parse(Data(futuresFrame.utf8), source: "f.txt")
        #expect(futures.marketOfDepthEvents == .futuresUM)

        let contradicted = URL(fileURLWithPath: "/recordings/futures-um/ws-stream/btcusdt_20240808.gz")
        let error = #expect(throws: ImportError.self) { _ = try KlineImporter(store: store).market(of: contradicted, recording: recording) }
        #expect(error?.description == "\(contradicted.path): its folders say futures-um but its depth events are spot events (they lack pu, which futures events carry)")

        // BTCUSDT 1m held as futures-um: the spot recording's bars (and with them the whole recording) are refused.
        let bars = try #require(recording.streams.first).minuteBars(covered: recording.span)
        #expect(bars.count == 5)
        try store.insert(bars, symbol: "BTCUSDT", interval: .oneMinute, market: .futuresUM, source: "futures bars")
        let refused = #expect(throws: MarketMismatchError.self) { try store.insert(recording: recording) }
        #expect(refused?.description.hasPrefix("BTCUSDT 1m is futures-um in the store; refusing spot bars from \(spotRecordingURL.path) (trades)") == true)
        #expect(try store.recordings().isEmpty)
        #expect(try store.count(symbol: "BTCUSDT", interval: .oneMinute) == 5)
    }

    @Test("An old store opens: series get the market their import log names, others stay unknown until bars name one")
    func migratesOldStore() throws {
        defer { dir.remove() }
        let path = dir.path("old.sqlite")
        try Self.makeStoreWithoutMarkets(at: path)

        let store = try MarketStore(path: path)
        let series = try store.series()
        #expect(series.map(\.symbol) == ["BTCUSDT", "FILUSDT", "NEARUSDT"])
        #expect(series.map(\.rows) == [5, 10, 10])
        // FILUSDT: every source names futures-um. NEARUSDT: its one source names none. BTCUSDT:
        // a spot Vision URL and a REST URL that names none.
        #expect(series.map(\.market) == [nil, .futuresUM, nil])
        #expect(try store.klines(symbol: "FILUSDT", interval: .oneMinute, from: .min, to: .max).count == 10)

        let near = try Fixtures.sampleKlines("NEARUSDT-1m-2023-08.zip")
        let first = try store.insert(Array(near[10..<20]), symbol: "NEARUSDT", interval: .oneMinute, market: .spot, source: "spot bars")
        #expect(first.inserted == 10 && first.settledUnknownMarket)
        let second = try store.insert(Array(near[20..<30]), symbol: "NEARUSDT", interval: .oneMinute, market: .spot, source: "more spot bars")
        #expect(second.inserted == 10 && !second.settledUnknownMarket)
        #expect(throws: MarketMismatchError.self) {
            try store.insert(Array(near[30..<40]), symbol: "NEARUSDT", interval: .oneMinute, market: .futuresUM, source: "futures bars")
        }
        #expect(throws: MarketMismatchError.self) {
            try store.insert(Array(near[30..<40]), symbol: "FILUSDT", interval: .oneMinute, market: .spot, source: "spot bars")
        }
        // Reopening runs no migration twice and keeps what was recorded.
        #expect(try MarketStore(path: path).series().map(\.market) == [nil, .futuresUM, .spot])
    }

    /// A store as releases before `v3-series-market` wrote it: the `v1-klines` schema (copied from
    /// that migration) with real bars (the first ten of FILUSDT's and NEARUSDT's sample months, the
    /// five BTCUSDT minutes of the sample recording) and their import-log entries.
    private static func makeStoreWithoutMarkets(at path: String) throws {
        let queue = try DatabaseQueue(path: path)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-klines") { db in
            try db.execute(
                sql: """
                    CREATE TABLE kline (
                        symbol TEXT NOT NULL, interval TEXT NOT NULL, open_time INTEGER NOT NULL,
                        open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
                        volume REAL, close_time INTEGER NOT NULL, quote_volume REAL, trade_count REAL,
                        taker_buy_base REAL, taker_buy_quote REAL, ignore REAL,
                        PRIMARY KEY (symbol, interval, open_time)
                    ) WITHOUT ROWID;
                    CREATE TABLE import_log (
                        id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, sha256 TEXT,
                        symbol TEXT NOT NULL, interval TEXT NOT NULL, rows INTEGER NOT NULL,
                        inserted INTEGER NOT NULL, duplicates_dropped INTEGER NOT NULL,
                        first_open_time INTEGER, last_open_time INTEGER, imported_at INTEGER NOT NULL
                    );
                    """
            )
        }
        try migrator.migrate(queue)
        let recording = try StreamRecording.read(spotRecordingURL)
        let bars = [
            "FILUSDT": Array(try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").prefix(10)),
            "NEARUSDT": Array(try Fixtures.sampleKlines("NEARUSDT-1m-2023-08.zip").prefix(10)),
            "BTCUSDT": try #require(recording.streams.first).minuteBars(covered: recording.span),
        ]
        let sources = [
            "FILUSDT": [
                "/work/shared/datasets/binance/futures-um/klines/FILUSDT/1m/FILUSDT-1m-2023-08.csv",
                "https://data.binance.vision/data/futures/um/monthly/klines/FILUSDT/1m/FILUSDT-1m-2023-08.zip",
            ],
            "NEARUSDT": ["datasets/sample/NEARUSDT-1m-2023-08.zip"],
            "BTCUSDT": [
                "https://data.binance.vision/data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2023-08.zip",
                "http://127.0.0.1:8080/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1690848000000",
            ],
        ]
        try queue.write { db in
            for (symbol, logged) in sources {
                for k in bars[symbol] ?? [] {
                    try db.execute(
                        sql: "INSERT INTO kline VALUES (?, '1m', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        arguments: [
                            symbol, k.openTime, k.open, k.high, k.low, k.close, k.volume, k.closeTime, k.quoteVolume,
                            k.tradeCount, k.takerBuyBaseVolume, k.takerBuyQuoteVolume, k.ignore,
                        ]
                    )
                }
                for source in logged {
                    try db.execute(
                        sql: """
                            INSERT INTO import_log (source, symbol, interval, rows, inserted, duplicates_dropped, imported_at)
                            VALUES (?, ?, '1m', 0, 0, 0, 0)
                            """,
                        arguments: [source, symbol]
                    )
                }
            }
        }
    }
}

@Suite("The store's symbols")
struct StoreSymbolsTests {
    @Test("Symbols are listed once each, in order, for one interval or all; a window with no bars names the store's symbols or the series' extent")
    func symbolsByInterval() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try MarketStore(path: dir.path("symbols.sqlite"))
        let five = try #require(KlineInterval("5m"))
        func bars(_ n: Int, step: Int64) -> [Kline] {
            (0..<n).map { i in
                let t = 1_690_848_000_000 + Int64(i) * step
                return Kline(
                    openTime: t, open: 1, high: 1, low: 1, close: 1, volume: 1, closeTime: t + step - 1, quoteVolume: 1,
                    tradeCount: 1, takerBuyBaseVolume: 0, takerBuyQuoteVolume: 0, ignore: 0
                )
            }
        }
        try store.insert(bars(30, step: 60_000), symbol: "NEARUSDT", interval: .oneMinute, source: "test")
        try store.insert(bars(10, step: 300_000), symbol: "NEARUSDT", interval: five, source: "test")
        try store.insert(bars(30, step: 60_000), symbol: "FILUSDT", interval: .oneMinute, source: "test")
        try store.insert(bars(10, step: 300_000), symbol: "BTCUSDT", interval: five, source: "test")
        #expect(try store.symbols(interval: .oneMinute) == ["FILUSDT", "NEARUSDT"])
        #expect(try store.symbols(interval: five) == ["BTCUSDT", "NEARUSDT"])
        #expect(try store.symbols() == ["BTCUSDT", "FILUSDT", "NEARUSDT"])
        #expect(try store.requireKlines(symbol: "FILUSDT", interval: .oneMinute, from: .min, to: .max).count == 30)
        let unknown = #expect(throws: SeriesLookupError.self) {
            _ = try store.requireKlines(symbol: "BTCUSDT", interval: .oneMinute, from: .min, to: .max)
        }
        #expect(unknown?.description == "unknown symbol BTCUSDT at 1m: the store has FILUSDT, NEARUSDT")
        let empty = #expect(throws: SeriesLookupError.self) {
            _ = try store.requireKlines(symbol: "FILUSDT", interval: .oneMinute, from: 0, to: 1_000)
        }
        #expect(empty?.description.hasPrefix("FILUSDT 1m has no bars from 1970-01-01 00:00") == true)
        #expect(empty?.description.contains("(stored: 2023-08-01 00:00 … 2023-08-01 00:29)") == true)
        let none = try MarketStore(path: dir.path("empty.sqlite"))
        #expect(try none.symbols(interval: .oneMinute).isEmpty)
    }
}
