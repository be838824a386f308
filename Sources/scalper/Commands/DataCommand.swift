import ArgumentParser
import Foundation
import MarketData
import ScalperCore

/// `scalper data`: the market-data store.
struct DataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Import, list and export klines (and exchangeInfo filters) in the market-data store.",
        subcommands: [Import.self, List.self, Export.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import Binance Vision CSV/ZIP, plain OHLCV CSV, recorded WebSocket streams (.gz; folders are searched), or a saved exchangeInfo (.json).",
            discussion: """
                Each file is validated completely, then stored in one transaction: a file with a bad row is rejected whole and the store is left as it was. Re-importing a file adds nothing.

                A recording (.gz, one '<receive time> <JSON>' line per message: combined-stream depth diffs, book tickers, trades, and REST depth snapshots) is stored as it came; the exchange replays its order books from it. The 1m bars of the minutes it covers wholly are built from its trades, as Binance builds them, and added where the store has none.

                Every symbol and interval holds one market's bars (spot or futures-um): bars of the other market are refused, naming both, and nothing of that file is stored. A file's market is the one its folders name (Binance Vision's .../spot/... or .../futures/um/..., or a futures-um folder), or for a recording the one its depth events show (futures events carry pu); else --market; else futures-um, the market of datasets/sample's klines. A series stored before the store recorded markets (and whose import log names none) takes the market of the next bars stored into it, and the import says so.

                A .json file named on the command line (folders are not searched for them) is a saved Binance exchangeInfo document (spot /api/v3/exchangeInfo or USDⓈ-M futures /fapi/v1/exchangeInfo): each symbol's PRICE_FILTER tickSize, LOT_SIZE stepSize/minQty/maxQty and NOTIONAL (or the older MIN_NOTIONAL) minimum are stored as the exact text Binance sent, for the market its symbols show (futures symbols carry contractType), else --market, else its folders. A symbol's stored filters are replaced only by a document with a later serverTime. Symbols without stored filters get filters derived from their whole 1m series (see `scalper data list`).
                """
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: "Symbol for every file (default: read from the file name).")
        var symbol: String?

        @Option(help: "Interval for every file, e.g. 1m (default: from the file name, else from the data).")
        var interval: String?

        @Option(help: "spot or futures-um: the market of files whose folders (or, for recordings, depth events) do not name one (default: futures-um, the market of datasets/sample's klines).")
        var market: String?

        @Argument(help: "Files or folders to import.")
        var paths: [String]

        func validate() throws {
            if paths.isEmpty { throw ValidationError("give at least one file or folder") }
            if let interval, KlineInterval(interval) == nil {
                throw ValidationError("unknown interval '\(interval)' (expected one of \(KlineInterval.all.map(\.name).joined(separator: ", ")))")
            }
            if let market, BinanceMarket(rawValue: market) == nil {
                throw ValidationError("--market must be spot or futures-um, not '\(market)'")
            }
        }

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try MarketStore(path: global.storePath(configuration))
            let files: [URL]
            do {
                files = try KlineImporter.collectFiles(paths)
            } catch {
                throw fail("\(error)")
            }
            if files.isEmpty {
                throw fail("no .csv, .zip or .gz files under \(paths.joined(separator: ", ")) (name exchangeInfo .json files themselves)")
            }
            let importer = KlineImporter(
                store: store,
                options: ImportOptions(
                    symbol: symbol?.uppercased(),
                    interval: interval.flatMap(KlineInterval.init),
                    market: market.flatMap(BinanceMarket.init(rawValue:)),
                    futureToleranceMilliseconds: Int64(configuration.import.futureToleranceSeconds * 1000)
                )
            )
            var failures = 0
            var recordings = 0
            var exchangeInfos = 0
            var totals = (rows: 0, inserted: 0, present: 0, duplicates: 0)
            for file in files {
                do {
                    if file.pathExtension.lowercased() == "gz" {
                        try importRecording(file, store: store, importer: importer)
                        recordings += 1
                        continue
                    }
                    if file.pathExtension.lowercased() == "json" {
                        let report = try ExchangeInfoImporter(store: store, market: market.flatMap(BinanceMarket.init(rawValue:)))
                            .importFile(file)
                        printExchangeInfo(report)
                        exchangeInfos += 1
                        continue
                    }
                    let r = try importer.importFile(file)
                    totals.rows += r.rows
                    totals.inserted += r.inserted
                    totals.present += r.alreadyPresent
                    totals.duplicates += r.duplicatesDropped
                    var line = "\(r.source): \(r.symbol) \(r.interval) \(r.market) \(r.rows) rows, \(r.inserted) new"
                    if r.alreadyPresent > 0 { line += ", \(r.alreadyPresent) already stored" }
                    if r.duplicatesDropped > 0 { line += ", \(r.duplicatesDropped) duplicates dropped" }
                    if !r.gaps.isEmpty { line += ", \(r.gaps.count) gaps" }
                    if case .ohlcv(let present) = r.layout {
                        line += " (plain OHLCV: \(present.joined(separator: ",")); other columns NaN)"
                    }
                    print(line)
                    if r.settledUnknownMarket {
                        print("  \(r.symbol) \(r.interval) was stored before the store recorded markets; it is \(r.market) from now on")
                    }
                    for gap in r.gaps {
                        print("  gap: \(gap.missingBars) bars missing after \(UTC.minuteString(gap.lastBefore))")
                    }
                } catch {
                    failures += 1
                    note("error: \(error)")
                    note("  \(file.path): not imported; the store is unchanged by this file")
                }
            }
            var summary = "imported \(files.count - failures) of \(files.count) files: \(totals.rows) kline rows, \(totals.inserted) new, \(totals.present) already stored, \(totals.duplicates) duplicates dropped"
            if recordings > 0 { summary += "; \(recordings) stream recordings" }
            if exchangeInfos > 0 { summary += "; \(counted(exchangeInfos, "exchangeInfo document"))" }
            print(summary)
            if failures > 0 { throw ExitCode.failure }
        }

        private func printExchangeInfo(_ r: ExchangeInfoImportReport) {
            print(
                "\(r.source): exchangeInfo of \(UTC.isoString(r.serverTime)) (\(r.market)): filters of \(counted(r.symbols.count, "symbol")), \(exchangeInfoOutcome(r.stored))"
            )
            for s in r.skipped { print("  skipped \(s)") }
        }

        private func importRecording(_ file: URL, store: MarketStore, importer: KlineImporter) throws {
            let recording = try StreamRecording.read(file)
            let market = try importer.market(of: file, recording: recording)
            let r = try store.insert(recording: recording, market: market)
            let span = "\(UTC.isoString(recording.span.lowerBound)) … \(UTC.isoString(recording.span.upperBound))"
            for s in recording.streams {
                var line = "\(file.path): recording of \(s.symbol) (\(market)) \(span): \(s.snapshots.count) depth snapshots, \(s.updates.count) depth events"
                line += " (\(s.sequenceGaps) sequence gaps), \(s.bookTickers.count) book tickers, \(s.trades.count) trades"
                print(line)
            }
            var stored = "  stored: \(r.snapshots + r.depthUpdates + r.bookTickers + r.trades) new rows"
            if r.alreadyPresent > 0 { stored += ", \(r.alreadyPresent) already stored" }
            stored += "; 1m bars built from the trades of wholly covered minutes: \(r.bars.inserted) new"
            if r.bars.alreadyPresent > 0 { stored += ", \(r.bars.alreadyPresent) already stored (kept)" }
            if recording.ignored > 0 { stored += "; \(recording.ignored) messages of other streams skipped" }
            print(stored)
            for symbol in r.settledUnknownMarket {
                print("  \(symbol) 1m was stored before the store recorded markets; it is \(market) from now on")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List stored series: first and last bar, rows, gaps, and each symbol's filters with their source.",
            discussion: """
                A series' filters (tick, step, minimum notional) are the exchangeInfo filters stored for its symbol and market (scalper data import exchangeInfo.json, or scalper download --exchange-info), else derived from the close of the middle bar of the symbol's whole stored 1m series: the filters the backtest and the local exchange use.
                """
        )

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let path = global.storePath(configuration)
            let store = try MarketStore(path: path)
            let series = try store.series()
            let filters = try DataListing.filters(of: series, in: store)
            if json {
                print(try DataListing.json(series, filters: filters))
                return
            }
            if series.isEmpty {
                print("the store \(path) holds no klines yet: try `scalper data import datasets/sample`")
                return
            }
            print(DataListing.table(series, filters: filters))
            let counts = try store.exchangeInfoFilterCounts()
            if !counts.isEmpty {
                let parts = BinanceMarket.allCases.compactMap { m in counts[m].map { "\($0) \(m)" } }
                print("\nexchangeInfo filters stored for \(parts.joined(separator: " and ")) symbols")
            }
            let recordings = try store.recordings()
            if !recordings.isEmpty {
                print("\nrecorded streams (the exchange replays their order books):")
                for r in recordings {
                    var line = "  \(r.symbol)  \(r.snapshots) depth snapshots, \(r.depthUpdates) depth events"
                    if let a = r.firstDepthTime, let b = r.lastDepthTime { line += " \(UTC.isoString(a)) … \(UTC.isoString(b))" }
                    line += ", \(r.bookTickers) book tickers, \(r.trades) trades"
                    print(line)
                }
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export one series as Binance Vision CSV (with a header row)."
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: "Symbol to export.")
        var symbol: String

        @Option(help: "Interval.")
        var interval: String = "1m"

        @Option(help: "First day or instant, UTC (YYYY-MM-DD[THH:MM]).")
        var from: String

        @Option(help: "End, exclusive, UTC (YYYY-MM-DD[THH:MM]).")
        var to: String

        @Option(help: "Write to this file instead of standard output.")
        var out: String?

        func run() async throws {
            guard let interval = KlineInterval(interval) else { throw ValidationError("unknown interval '\(interval)'") }
            let (start, end) = try parseWindow(from: from, to: to)
            let configuration = try global.loadConfiguration()
            let store = try MarketStore(path: global.storePath(configuration))
            let symbol = symbol.uppercased()
            let klines: [Kline]
            do {
                klines = try store.requireKlines(symbol: symbol, interval: interval, from: start, to: end)
            } catch let error as SeriesLookupError {
                throw fail("\(error)")
            }
            var text = KlineCSVParser.visionColumns.joined(separator: ",") + "\n"
            text.reserveCapacity(klines.count * 120)
            for k in klines { text += KlineCSVWriter.line(k) + "\n" }
            if let out {
                do {
                    try text.write(toFile: out, atomically: true, encoding: .utf8)
                } catch {
                    throw fail("cannot write \(out): \(error.localizedDescription)")
                }
                note("wrote \(klines.count) bars to \(out)")
            } else {
                FileHandle.standardOutput.write(Data(text.utf8))
            }
        }
    }
}

/// Parses a `--from`/`--to` pair into epoch milliseconds, `to` exclusive.
func parseWindow(from: String, to: String) throws -> (Int64, Int64) {
    guard let start = UTC.parse(from) else { throw ValidationError("--from '\(from)' is not YYYY-MM-DD[THH:MM] (UTC)") }
    guard let end = UTC.parse(to) else { throw ValidationError("--to '\(to)' is not YYYY-MM-DD[THH:MM] (UTC)") }
    guard start < end else { throw ValidationError("--from must be before --to") }
    return (start, end)
}

/// `1 symbol`, `2 symbols`.
func counted(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

/// What storing an exchangeInfo document did, for import and download output.
func exchangeInfoOutcome(_ r: ExchangeInfoStoreResult) -> String {
    var text = "\(r.added) new, \(r.replaced) replaced"
    if r.kept > 0 { text += ", \(r.kept) kept (the store's are from a document as new or newer)" }
    return text
}

enum DataListing {
    /// A series' filters, or why the store has none.
    typealias Filters = Result<SourcedSymbolFilters, SymbolFiltersUnavailableError>

    /// The filters of every series' symbol, looked up for the series' market.
    static func filters(of series: [SeriesSummary], in store: MarketStore) throws -> [Filters] {
        var cache: [String: Filters] = [:]
        return try series.map { s in
            let key = "\(s.symbol) \(marketName(s.market))"
            if let known = cache[key] { return known }
            let found: Filters
            do {
                found = .success(try store.sourcedSymbolFilters(symbol: s.symbol, market: s.market))
            } catch let error as SymbolFiltersUnavailableError {
                found = .failure(error)
            }
            cache[key] = found
            return found
        }
    }

    static func table(_ series: [SeriesSummary], filters: [Filters]) -> String {
        var lines = [
            "symbol       interval  market      first (UTC)        last (UTC)              rows  gaps  missing",
        ]
        for (s, f) in zip(series, filters) {
            lines.append(
                s.symbol.padding(toLength: 12, withPad: " ", startingAt: 0) + " "
                    + s.interval.name.padding(toLength: 9, withPad: " ", startingAt: 0) + " "
                    + marketName(s.market).padding(toLength: 11, withPad: " ", startingAt: 0) + " "
                    + UTC.minuteString(s.firstOpenTime) + "   " + UTC.minuteString(s.lastOpenTime) + " "
                    + String(s.rows).leftPadded(9) + " " + String(s.gaps.count).leftPadded(5) + " "
                    + String(s.missingBars).leftPadded(8)
            )
            switch f {
            case .success(let found): lines.append("    filters: \(found)")
            case .failure(let error): lines.append("    filters: none: \(error)")
            }
            for g in s.gaps {
                lines.append(
                    "    gap \(UTC.minuteString(g.firstMissing(interval: s.interval))) … \(UTC.minuteString(g.lastMissing(interval: s.interval))) (\(g.missingBars) bars)"
                )
            }
        }
        return lines.joined(separator: "\n")
    }

    /// A series' market, or `unknown` for a series stored before the store recorded markets.
    static func marketName(_ market: BinanceMarket?) -> String { market?.rawValue ?? "unknown" }

    struct JSONSeries: Encodable {
        struct Gap: Encodable {
            var first_missing: String
            var last_missing: String
            var first_missing_ms: Int64
            var missing_bars: Int64
        }
        var symbol: String
        var interval: String
        /// spot, futures-um, or unknown (stored before the store recorded markets).
        var market: String
        var rows: Int
        var first: String
        var last: String
        var first_open_time_ms: Int64
        var last_open_time_ms: Int64
        var missing_bars: Int64
        var gaps: [Gap]
        /// The symbol's filters for the series' market, or nil with `filters_unavailable` saying why.
        var filters: JSONFilters?
        var filters_unavailable: String?
    }

    /// Filters as decimal text, with their source: `exchangeInfo` (where from, its serverTime, and
    /// its other LOT_SIZE/NOTIONAL values) or `derived` (the bar the derivation read).
    struct JSONFilters: Encodable {
        var source: String
        var tick_size: String
        var step_size: String
        var min_notional: String
        var min_qty: String?
        var max_qty: String?
        var max_notional: String?
        var exchange_info_market: String?
        var exchange_info_source: String?
        var server_time: String?
        var server_time_ms: Int64?
        var derived_from_bars: Int?
        var reference_open_time: String?
        var reference_open_time_ms: Int64?
        var reference_close: Double?

        init(_ f: SourcedSymbolFilters) {
            source = f.source.name
            tick_size = f.tickSizeText
            step_size = f.stepSizeText
            min_notional = f.minNotionalText
            switch f.source {
            case .exchangeInfo(let stored):
                min_qty = stored.filters.minQty
                max_qty = stored.filters.maxQty
                max_notional = stored.filters.maxNotional
                exchange_info_market = stored.market.rawValue
                exchange_info_source = stored.source
                server_time = UTC.isoString(stored.serverTime)
                server_time_ms = stored.serverTime
            case .derived(let basis):
                derived_from_bars = basis.bars
                reference_open_time = UTC.isoString(basis.referenceOpenTime)
                reference_open_time_ms = basis.referenceOpenTime
                reference_close = basis.referenceClose
            }
        }
    }

    static func json(_ series: [SeriesSummary], filters: [Filters]) throws -> String {
        let items = zip(series, filters).map { s, f in
            var found: JSONFilters?
            var unavailable: String?
            switch f {
            case .success(let sourced): found = JSONFilters(sourced)
            case .failure(let error): unavailable = error.description
            }
            return JSONSeries(
                symbol: s.symbol,
                interval: s.interval.name,
                market: marketName(s.market),
                rows: s.rows,
                first: UTC.isoString(s.firstOpenTime),
                last: UTC.isoString(s.lastOpenTime),
                first_open_time_ms: s.firstOpenTime,
                last_open_time_ms: s.lastOpenTime,
                missing_bars: s.missingBars,
                gaps: s.gaps.map {
                    JSONSeries.Gap(
                        first_missing: UTC.isoString($0.firstMissing(interval: s.interval)),
                        last_missing: UTC.isoString($0.lastMissing(interval: s.interval)),
                        first_missing_ms: $0.firstMissing(interval: s.interval),
                        missing_bars: $0.missingBars
                    )
                },
                filters: found,
                filters_unavailable: unavailable
            )
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(items), as: UTF8.self)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
