import Foundation
import MarketData
import ScalperCore
import ScalperTestSupport
import Testing

private typealias Docs = ExchangeInfoFixtures

@Suite("Symbol filters in the store: exchangeInfo text, else the derivation over the whole 1m series")
struct SymbolFiltersStoreTests {
    let dir: TemporaryDirectory
    let store: MarketStore

    init() throws {
        dir = try TemporaryDirectory()
        store = try MarketStore(path: dir.path("market.sqlite"))
    }

    private func parse(_ text: String, source: String = "fixture.json") throws -> ExchangeInfoDocument {
        try ExchangeInfoDocument.parse(Data(text.utf8), source: source)
    }

    /// Writes `text` to `name` under the temporary directory and returns its URL.
    private func file(_ name: String, _ text: String) throws -> URL {
        let url = dir.url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test("Spot exchangeInfo: PRICE_FILTER tick, LOT_SIZE step and quantities, NOTIONAL minimum and maximum, as text")
    func parsesSpot() throws {
        defer { dir.remove() }
        let doc = try parse(Docs.spot)
        #expect(doc.serverTime == Docs.spotTime)
        #expect(doc.marketOfSymbols == .spot)
        #expect(doc.skipped.isEmpty)
        #expect(doc.symbols.map(\.symbol) == ["BTCUSDT", "FILUSDT"])
        let btc = try #require(doc.symbols.first)
        #expect(btc.tickSize == "0.01000000")
        #expect(btc.stepSize == "0.00001000")
        #expect(btc.minQty == "0.00001000")
        #expect(btc.maxQty == "9000.00000000")
        #expect(btc.minNotional == "5.00000000")
        #expect(btc.maxNotional == "9000000.00000000")
        #expect(btc.notionalFilter == .notional)
        // The filters the trading code uses: the same Doubles as the literals.
        #expect(btc.symbolFilters == SymbolFilters(lotStep: 0.00001, tickSize: 0.01, minNotional: 5))
        #expect(btc.symbolFilters.priceDecimals == 2 && btc.symbolFilters.quantityDecimals == 5)
    }

    @Test("Older spot MIN_NOTIONAL (minNotional) and USDⓈ-M futures MIN_NOTIONAL (notional) give the minimum notional")
    func parsesOlderAndFuturesShapes() throws {
        defer { dir.remove() }
        let old = try parse(Docs.oldSpot)
        #expect(old.marketOfSymbols == .spot)
        #expect(old.symbols.map(\.minNotional) == ["10.00000000", "10.00000000"])
        #expect(old.symbols.map(\.notionalFilter) == [.minNotional, .minNotional])
        #expect(old.symbols.map(\.maxNotional) == [nil, nil])

        let futures = try parse(Docs.futures)
        #expect(futures.serverTime == Docs.futuresTime)
        #expect(futures.marketOfSymbols == .futuresUM)
        let fil = try #require(futures.symbols.first)
        #expect(
            [fil.tickSize, fil.stepSize, fil.minQty, fil.maxQty, fil.minNotional] == [
                "0.001", "0.1", "0.1", "1000000", "5",
            ]
        )
        #expect(fil.notionalFilter == .minNotional)
        #expect(fil.symbolFilters == SymbolFilters(lotStep: 0.1, tickSize: 0.001, minNotional: 5))
    }

    @Test("Stored filters read back as the very text Binance sent, after the store is reopened")
    func storedTextRoundTrips() throws {
        defer { dir.remove() }
        let doc = try parse(Docs.spot)
        let result = try store.insert(
            exchangeInfo: doc,
            market: .spot,
            source: "https://api.binance.com/api/v3/exchangeInfo",
            storedAt: 42
        )
        #expect(result == ExchangeInfoStoreResult(added: 2, replaced: 0, kept: 0))
        let reopened = try MarketStore(path: store.path)
        for expected in doc.symbols {
            let stored = try #require(try reopened.exchangeInfoFilters(symbol: expected.symbol, market: .spot))
            #expect(stored.filters == expected)
            #expect(stored.source == "https://api.binance.com/api/v3/exchangeInfo")
            #expect(stored.serverTime == Docs.spotTime && stored.storedAt == 42)
        }
        #expect(try reopened.exchangeInfoFilters(symbol: "BTCUSDT", market: .futuresUM) == nil)
        #expect(try reopened.exchangeInfoFilterCounts() == [.spot: 2])
        // The lookup hands out the same text.
        let btc = try reopened.sourcedSymbolFilters(symbol: "BTCUSDT", market: .spot)
        #expect(
            [btc.tickSizeText, btc.stepSizeText, btc.minNotionalText] == ["0.01000000", "0.00001000", "5.00000000"]
        )
        #expect(btc.source.name == "exchangeInfo")
        #expect(
            btc.description
                == "tick 0.01000000, step 0.00001000, min notional 5.00000000 (exchangeInfo of 2024-08-08T12:00:00Z (spot) from https://api.binance.com/api/v3/exchangeInfo)"
        )
    }

    @Test("A symbol's stored filters are replaced only by a newer document; as new or older ones are kept")
    func keepsUnlessNewer() throws {
        defer { dir.remove() }
        #expect(
            try store.insert(exchangeInfo: try parse(Docs.spot), market: .spot, source: "2024.json") == .init(added: 2)
        )
        // 2021: FILUSDT is kept as 2024 had it; NEARUSDT is new.
        let old = try store.insert(exchangeInfo: try parse(Docs.oldSpot), market: .spot, source: "2021.json")
        #expect(old == ExchangeInfoStoreResult(added: 1, replaced: 0, kept: 1))
        let fil = try #require(try store.exchangeInfoFilters(symbol: "FILUSDT", market: .spot))
        #expect(fil.filters.tickSize == "0.00100000" && fil.source == "2024.json")
        #expect(try store.exchangeInfoFilters(symbol: "NEARUSDT", market: .spot)?.filters.minNotional == "10.00000000")
        // The same document again changes nothing.
        #expect(
            try store.insert(exchangeInfo: try parse(Docs.spot), market: .spot, source: "again.json") == .init(kept: 2)
        )
        #expect(try store.exchangeInfoFilters(symbol: "BTCUSDT", market: .spot)?.source == "2024.json")
        // A later document with a new tick replaces it.
        let later = Docs.spot.replacing("1723118400000", with: "1725265800000")
            .replacing(
                #""maxPrice": "10000.00000000", "tickSize": "0.00100000""#,
                with: #""maxPrice": "10000.00000000", "tickSize": "0.00010000""#
            )
        #expect(
            try store.insert(exchangeInfo: try parse(later), market: .spot, source: "later.json") == .init(replaced: 2)
        )
        let newer = try #require(try store.exchangeInfoFilters(symbol: "FILUSDT", market: .spot))
        #expect(
            newer.filters.tickSize == "0.00010000" && newer.serverTime == Docs.futuresTime
                && newer.source == "later.json"
        )
        // Markets are kept apart.
        #expect(
            try store.insert(exchangeInfo: try parse(Docs.futures), market: .futuresUM, source: "fapi.json")
                == .init(added: 1)
        )
        #expect(try store.exchangeInfoFilterCounts() == [.spot: 3, .futuresUM: 1])
    }

    @Test("Without exchangeInfo the lookup derives from the middle bar of the whole stored 1m series, as it grows")
    func derivesOverTheWholeSeries() throws {
        defer { dir.remove() }
        let august = try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")
        let september = try Fixtures.sampleKlines("FILUSDT-1m-2023-09.zip")
        func check(_ expected: [Kline]) throws {
            let sourced = try store.sourcedSymbolFilters(symbol: "FILUSDT")
            let middle = expected[expected.count / 2]
            #expect(
                sourced.source
                    == .derived(
                        DerivedFiltersBasis(
                            bars: expected.count,
                            referenceOpenTime: middle.openTime,
                            referenceClose: middle.close
                        )
                    )
            )
            // The one derivation over every stored bar, not over a window of them.
            let all = try store.klines(symbol: "FILUSDT", interval: .oneMinute, from: .min, to: .max)
            #expect(all == expected)
            #expect(sourced.filters == SymbolFilters.derived(from: all))
            #expect(try store.symbolFilters(symbol: "FILUSDT") == sourced.filters)
        }
        try store.insert(august, symbol: "FILUSDT", interval: .oneMinute, market: .futuresUM, source: "aug")
        try check(august)  // 44 640 bars: index 22 320, 2023-08-16 12:00
        try store.insert(
            Array(september.prefix(1)),
            symbol: "FILUSDT",
            interval: .oneMinute,
            market: .futuresUM,
            source: "sep 1"
        )
        try check(august + september.prefix(1))  // an odd count
        try store.insert(september, symbol: "FILUSDT", interval: .oneMinute, market: .futuresUM, source: "sep")
        try check(august + september)
        let sourced = try store.sourcedSymbolFilters(symbol: "FILUSDT")
        #expect(UTC.minuteString(try #require(august.last).openTime) == "2023-08-31 23:59")
        guard case .derived(let basis) = sourced.source else {
            Issue.record("expected derived filters, got \(sourced.source)")
            return
        }
        #expect(UTC.minuteString(basis.referenceOpenTime) == "2023-08-31 12:00")
        // A window (September alone) would have read another bar; the lookup takes no window.
        #expect(september[september.count / 2].openTime != basis.referenceOpenTime)
        #expect(sourced.filters == SymbolFilters(lotStep: 0.01, tickSize: 0.0001, minNotional: 5))
        #expect([sourced.tickSizeText, sourced.stepSizeText, sourced.minNotionalText] == ["0.0001", "0.01", "5"])
        #expect(
            sourced.source.description
                == "derived from the close \(basis.referenceClose) of the middle bar (2023-08-31 12:00) of the 87840 stored 1m bars"
        )
    }

    @Test("exchangeInfo of the series' market wins; another market's does not apply unless asked for")
    func exchangeInfoOfTheSeriesMarket() throws {
        defer { dir.remove() }
        let august = try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")
        try store.insert(august, symbol: "FILUSDT", interval: .oneMinute, market: .futuresUM, source: "aug")
        try store.insert(exchangeInfo: try parse(Docs.spot), market: .spot, source: "spot.json")
        // The 1m series is futures-um: spot filters are not its filters.
        #expect(try store.sourcedSymbolFilters(symbol: "FILUSDT").source.name == "derived")
        #expect(try store.sourcedSymbolFilters(symbol: "FILUSDT", market: .spot).tickSizeText == "0.00100000")
        try store.insert(exchangeInfo: try parse(Docs.futures), market: .futuresUM, source: "fapi.json")
        let futures = try store.sourcedSymbolFilters(symbol: "FILUSDT")
        #expect(futures.source.name == "exchangeInfo")
        #expect([futures.tickSizeText, futures.stepSizeText, futures.minNotionalText] == ["0.001", "0.1", "5"])
        #expect(futures.filters == SymbolFilters(lotStep: 0.1, tickSize: 0.001, minNotional: 5))
        // A symbol with exchangeInfo but no bars: found when its market is named.
        #expect(
            try store.symbolFilters(symbol: "BTCUSDT", market: .spot)
                == SymbolFilters(lotStep: 0.00001, tickSize: 0.01, minNotional: 5)
        )
        let none = #expect(throws: SymbolFiltersUnavailableError.self) { try store.symbolFilters(symbol: "BTCUSDT") }
        #expect(
            none?.description
                == "no market named for BTCUSDT to look up its exchangeInfo filters and no 1m bars to derive them from"
        )
        let unknown = #expect(throws: SymbolFiltersUnavailableError.self) {
            try store.symbolFilters(symbol: "XYZUSDT", market: .spot)
        }
        #expect(unknown?.description == "no exchangeInfo filters for XYZUSDT (spot) and no 1m bars to derive them from")
    }

    @Test("A disabled (zero) tick or step skips that symbol with the reason; the others are stored")
    func disabledRuleSkipsTheSymbol() throws {
        defer { dir.remove() }
        let text = Docs.spot.replacing(
            #""minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000""#,
            with: #""minPrice": "0.00000000", "maxPrice": "0.00000000", "tickSize": "0.00000000""#
        )
        let doc = try parse(text)
        #expect(doc.symbols.map(\.symbol) == ["FILUSDT"])
        #expect(
            doc.skipped.map(\.description) == [
                "BTCUSDT: tickSize '0.00000000': is zero (Binance's 'rule disabled'): nothing to round to"
            ]
        )
        #expect(try store.insert(exchangeInfo: doc, market: .spot, source: "s.json") == .init(added: 1))
    }

    @Test(
        "A malformed document is refused, saying what is wrong and where",
        arguments: [
            ("{\"serverTime\": 1", "fixture.json: not JSON"),
            ("[]", "fixture.json: expected a JSON object (Binance's exchangeInfo), found an array"),
            (
                #"{"code": -1121, "msg": "Invalid symbol."}"#,
                "fixture.json: Binance answered error -1121: Invalid symbol. (not an exchangeInfo document)"
            ),
            (
                #"{"symbols": []}"#,
                "fixture.json: serverTime: missing (the document's time; the store keeps the newest filters by it)"
            ),
            (
                #"{"serverTime": "1723118400000", "symbols": []}"#,
                "fixture.json: serverTime: expected epoch milliseconds as a JSON number, found the text \"1723118400000\""
            ),
            (#"{"serverTime": 1723118400000}"#, "fixture.json: symbols: missing"),
            (
                #"{"serverTime": 1723118400000, "symbols": [{"status": "TRADING"}]}"#,
                "fixture.json: symbols[0].symbol: expected the symbol's name as text, found nothing"
            ),
        ]
    )
    func malformedTopLevel(text: String, expected: String) throws {
        defer { dir.remove() }
        let error = #expect(throws: ExchangeInfoError.self) { _ = try parse(text) }
        #expect(error?.description.hasPrefix(expected) == true, "\(String(describing: error))")
    }

    @Test("A bad filter value is named by its path, symbol, filter and field")
    func badFilterNamed() throws {
        defer { dir.remove() }
        let cases: [(String, String, String)] = [
            (
                #""tickSize": "0.00100000""#, #""tickSize": 0.001"#,
                "symbols[1].filters[0].tickSize: FILUSDT PRICE_FILTER tickSize: expected decimal text such as \"0.01000000\", found the number 0.001"
            ),
            (
                #""stepSize": "0.01000000""#, #""stepSize": "1e-2""#,
                "symbols[1].filters[1].stepSize: FILUSDT LOT_SIZE stepSize: '1e-2' is not decimal text such as \"0.01000000\""
            ),
            (
                #""minQty": "0.01000000", "#, "",
                "symbols[1].filters[1].minQty: FILUSDT LOT_SIZE has no minQty"
            ),
            (
                #"{"filterType": "LOT_SIZE", "minQty": "0.01000000", "maxQty": "92141578.00000000", "stepSize": "0.01000000"},"#,
                "",
                "symbols[1].filters: FILUSDT has no LOT_SIZE filter"
            ),
            (
                #""filterType": "NOTIONAL""#, #""filterType": "NOTIONAL_RENAMED""#,
                "symbols[0].filters: BTCUSDT has no NOTIONAL or MIN_NOTIONAL filter"
            ),
            (
                #""symbol": "FILUSDT""#, #""symbol": "BTCUSDT""#,
                "symbols[1].symbol: BTCUSDT is listed twice (first at symbols[0])"
            ),
            (
                #""symbol": "FILUSDT""#, #""symbol": "FILUSDT", "contractType": "PERPETUAL""#,
                "symbols: mixes markets: FILUSDT carries contractType (futures) but BTCUSDT carries spot fields"
            ),
        ]
        for (original, replacement, expected) in cases {
            #expect(Docs.spot.contains(original), "the fixture changed: \(original)")
            let url = try file("bad.json", Docs.spot.replacing(original, with: replacement))
            let error = #expect(throws: ExchangeInfoError.self) {
                try ExchangeInfoImporter(store: store).importFile(url)
            }
            #expect(error?.description == "\(url.path): \(expected)")
            #expect(try store.exchangeInfoFilterCounts().isEmpty)
        }
        let futures = Docs.futures.replacing(
            #"{"filterType": "MIN_NOTIONAL", "notional": "5"}"#,
            with: #"{"filterType": "MIN_NOTIONAL", "value": "5"}"#
        )
        let error = #expect(throws: ExchangeInfoError.self) { _ = try parse(futures) }
        #expect(
            error?.description
                == "fixture.json: symbols[0].filters[5]: FILUSDT MIN_NOTIONAL has neither minNotional nor notional"
        )
        let coinM = Docs.futures.replacing(#""pair": "FILUSDT","#, with: #""pair": "FILUSD", "contractSize": 10,"#)
        let coin = #expect(throws: ExchangeInfoError.self) { _ = try parse(coinM) }
        #expect(
            coin?.description
                == "fixture.json: symbols[0].contractSize: FILUSDT is a COIN-M futures contract (/dapi/v1/exchangeInfo); the store holds spot and futures-um"
        )
    }

    @Test(
        "A file's market: its symbols' fields, else --market, else its folders; --market against the symbols is refused"
    )
    func marketOfAFile() throws {
        defer { dir.remove() }
        let futures = try file("fapi.json", Docs.futures)
        let refused = #expect(throws: ExchangeInfoError.self) {
            try ExchangeInfoImporter(store: store, market: .spot).importFile(futures)
        }
        #expect(
            refused?.description
                == "\(futures.path): the market is spot but its symbols are futures-um symbols (they carry contractType)"
        )
        #expect(try ExchangeInfoImporter(store: store).importFile(futures).market == .futuresUM)
        // The store's own entry point checks the same.
        #expect(throws: ExchangeInfoError.self) {
            try store.insert(exchangeInfo: try parse(Docs.futures), market: .spot, source: "x")
        }

        // A trimmed document whose symbols carry neither contractType nor spot fields.
        let bare = #"""
            {"serverTime": 1620021600000, "symbols": [
              {"symbol": "FILUSDT", "filters": [
                {"filterType": "PRICE_FILTER", "tickSize": "0.01000000"},
                {"filterType": "LOT_SIZE", "minQty": "0.00100000", "maxQty": "9000000.00000000", "stepSize": "0.00100000"},
                {"filterType": "MIN_NOTIONAL", "minNotional": "10.00000000"}]},
              {"symbol": "NEARUSDT", "filters": [
                {"filterType": "PRICE_FILTER", "tickSize": "0.00010000"},
                {"filterType": "LOT_SIZE", "minQty": "0.10000000", "maxQty": "9000000.00000000", "stepSize": "0.10000000"},
                {"filterType": "MIN_NOTIONAL", "minNotional": "10.00000000"}]}
            ]}
            """#
        #expect(try parse(bare).marketOfSymbols == nil)
        let plain = try file("info/old.json", bare)
        let unnamed = #expect(throws: ExchangeInfoError.self) {
            try ExchangeInfoImporter(store: store).importFile(plain)
        }
        #expect(
            unnamed?.description.hasSuffix(
                "cannot tell its market (no symbol carries contractType or spot fields, and its folders name none): give --market spot or futures-um"
            ) == true
        )
        #expect(try ExchangeInfoImporter(store: store, market: .spot).importFile(plain).market == .spot)
        let named = try file("futures-um/old.json", bare)
        let report = try ExchangeInfoImporter(store: store).importFile(named, storedAt: 7)
        #expect(
            report
                == ExchangeInfoImportReport(
                    source: named.path,
                    market: .futuresUM,
                    serverTime: Docs.oldSpotTime,
                    symbols: ["FILUSDT", "NEARUSDT"],
                    skipped: [],
                    stored: .init(added: 1, kept: 1)
                )
        )
    }

    @Test(
        "download fetches <base>/api/v3/exchangeInfo over 127.0.0.1 and stores spot filters; an HTTP error stores nothing"
    )
    func downloadsOverHTTP() async throws {
        defer { dir.remove() }
        // LocalBinanceServer serves any file under /data/ from its folder: a base URL of
        // <server>/data/exchange makes <base>/api/v3/exchangeInfo that file, fetched over real HTTP.
        let root = dir.url.appendingPathComponent("www")
        let info = root.appendingPathComponent("data/exchange/api/v3/exchangeInfo")
        try FileManager.default.createDirectory(at: info.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(Docs.spot.utf8).write(to: info)
        let server = LocalBinanceServer(series: [:], visionRoot: root)
        let client = RetryingClient(fetcher: URLSessionFetcher(timeoutSeconds: 10), policy: RetryPolicy(maxRetries: 0))
        let store = self.store
        let (report, missing) = try await server.run { base in
            let found = try await ExchangeInfoDownloader(
                store: store,
                client: client,
                baseURL: base.appendingPathComponent("data/exchange")
            )
            .download(storedAt: 5)
            let missing = await #expect(throws: DownloadError.self) {
                try await ExchangeInfoDownloader(
                    store: store,
                    client: client,
                    baseURL: base.appendingPathComponent("data/elsewhere")
                ).download()
            }
            return (found, missing)
        }
        #expect(report.market == .spot && report.symbols == ["BTCUSDT", "FILUSDT"] && report.stored == .init(added: 2))
        #expect(report.source.hasSuffix("/data/exchange/api/v3/exchangeInfo"))
        #expect(
            server.requests.map(\.path) == [
                "/data/exchange/api/v3/exchangeInfo", "/data/elsewhere/api/v3/exchangeInfo",
            ]
        )
        #expect(missing?.reason == .http(status: 404, body: ""))
        let stored = try #require(try store.exchangeInfoFilters(symbol: "BTCUSDT", market: .spot))
        #expect(stored.source == report.source && stored.filters.stepSize == "0.00001000" && stored.storedAt == 5)
        #expect(try store.exchangeInfoFilterCounts() == [.spot: 2])
    }
}
