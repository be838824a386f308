import ArgumentParser
import Foundation
import MarketData
import ScalperCore

/// `scalper data`: the market-data store.
struct DataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Import, list and export klines in the market-data store.",
        subcommands: [Import.self, List.self, Export.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import Binance Vision CSV/ZIP, plain OHLCV CSV, or recorded WebSocket streams (.gz; folders are searched).",
            discussion: """
                Each file is validated completely, then stored in one transaction: a file with a bad row is rejected whole and the store is left as it was. Re-importing a file adds nothing.

                A recording (.gz, one '<receive time> <JSON>' line per message: combined-stream depth diffs, book tickers, trades, and REST depth snapshots) is stored as it came; the exchange replays its order books from it. The 1m bars of the minutes it covers wholly are built from its trades, as Binance builds them, and added where the store has none.

                Every symbol and interval holds one market's bars (spot or futures-um): bars of the other market are refused, naming both, and nothing of that file is stored. A file's market is the one its folders name (Binance Vision's .../spot/... or .../futures/um/..., or a futures-um folder), or for a recording the one its depth events show (futures events carry pu); else --market; else futures-um, the market of datasets/sample's klines. A series stored before the store recorded markets (and whose import log names none) takes the market of the next bars stored into it, and the import says so.
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
            if files.isEmpty { throw fail("no .csv, .zip or .gz files under \(paths.joined(separator: ", "))") }
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
            var totals = (rows: 0, inserted: 0, present: 0, duplicates: 0)
            for file in files {
                do {
                    if file.pathExtension.lowercased() == "gz" {
                        try importRecording(file, store: store, importer: importer)
                        recordings += 1
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
            print(summary)
            if failures > 0 { throw ExitCode.failure }
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
            abstract: "List stored series: first and last bar, rows and gaps."
        )

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let path = global.storePath(configuration)
            let store = try MarketStore(path: path)
            let series = try store.series()
            if json {
                print(try DataListing.json(series))
                return
            }
            if series.isEmpty {
                print("the store \(path) holds no klines yet: try `scalper data import datasets/sample`")
                return
            }
            print(DataListing.table(series))
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

enum DataListing {
    static func table(_ series: [SeriesSummary]) -> String {
        var lines = [
            "symbol       interval  market      first (UTC)        last (UTC)              rows  gaps  missing",
        ]
        for s in series {
            lines.append(
                s.symbol.padding(toLength: 12, withPad: " ", startingAt: 0) + " "
                    + s.interval.name.padding(toLength: 9, withPad: " ", startingAt: 0) + " "
                    + marketName(s.market).padding(toLength: 11, withPad: " ", startingAt: 0) + " "
                    + UTC.minuteString(s.firstOpenTime) + "   " + UTC.minuteString(s.lastOpenTime) + " "
                    + String(s.rows).leftPadded(9) + " " + String(s.gaps.count).leftPadded(5) + " "
                    + String(s.missingBars).leftPadded(8)
            )
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
    }

    static func json(_ series: [SeriesSummary]) throws -> String {
        let items = series.map { s in
            JSONSeries(
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
                }
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
