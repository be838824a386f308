import Foundation
import MarketData
import ScalperCore
import ScalperTestSupport
import Testing

private let header = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n"

/// A valid Vision row for minute `i` after 2023-08-01 00:00 UTC.
private func row(_ i: Int, close: Double = 4.0, micro: Bool = false) -> String {
    let t = Int64(1_690_848_000_000) + Int64(i) * 60_000
    let (open, closeTime) = micro ? (t * 1000, (t + 59_999) * 1000 + 999) : (t, t + 59_999)
    return "\(open),4.0,4.1,3.9,\(close),100,\(closeTime),400,10,50,200,0\n"
}

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite("Parsing kline CSVs")
struct ParserTests {
    @Test("Vision rows parse with or without a header, in ms or µs")
    func visionLayouts() throws {
        let withHeader = try KlineCSVParser.parse(bytes(header + row(0) + row(1)), source: "a.csv", interval: .oneMinute)
        let bare = try KlineCSVParser.parse(bytes(row(0) + row(1)), source: "b.csv", interval: .oneMinute)
        let micro = try KlineCSVParser.parse(bytes(row(0, micro: true) + row(1, micro: true)), source: "c.csv", interval: .oneMinute)
        #expect(withHeader.hasHeader && !bare.hasHeader)
        #expect(withHeader.lines == [2, 3] && bare.lines == [1, 2])
        #expect(withHeader.klines == bare.klines)
        #expect(micro.klines == bare.klines)
        #expect(bare.klines[1].openTime == 1_690_848_060_000 && bare.klines[1].closeTime == 1_690_848_119_999)
        #expect(bare.layout == .vision)
    }

    @Test("Plain OHLCV with ISO times keeps missing columns as NaN, not zero")
    func plainOHLCV() throws {
        let text = """
            open_time,open,high,low,close,volume
            2023-03-01 00:00:00+00:00,23140.48,23150.77,23128.52,23142.31,2.131777
            2023-03-01 00:01:00+00:00,23143.89,23148.8,23137.61,23137.77,0.881378

            """
        let parsed = try KlineCSVParser.parse(bytes(text), source: "us.csv", interval: .oneMinute)
        #expect(parsed.layout == .ohlcv(present: ["open_time", "open", "high", "low", "close", "volume"]))
        let k = parsed.klines[1]
        #expect(k.openTime == 1_677_628_860_000 && k.closeTime == 1_677_628_919_999)
        #expect(k.close == 23137.77 && k.volume == 0.881378)
        #expect(k.quoteVolume.isNaN && k.tradeCount.isNaN && k.takerBuyBaseVolume.isNaN && k.takerBuyQuoteVolume.isNaN)
    }

    @Test("A row with 11 fields is an error naming the file and line")
    func elevenFields() {
        let broken = row(1).replacingOccurrences(of: ",0\n", with: "\n")
        let failure = #expect(throws: ImportFailure.self) {
            _ = try KlineCSVParser.parse(bytes(header + row(0) + broken + row(2)), source: "x.csv", interval: .oneMinute)
        }
        #expect(failure?.errors.first?.description == "x.csv:3: expected 12 fields, found 11")
    }

    @Test("An unparsable number names its column")
    func unparsable() {
        let failure = #expect(throws: ImportFailure.self) {
            _ = try KlineCSVParser.parse(bytes(row(0) + row(1).replacingOccurrences(of: ",4.1,", with: ",4.1x,")), source: "y.csv", interval: .oneMinute)
        }
        #expect(failure?.errors.first?.line == 2)
        #expect(failure?.errors.first?.reason == .unparsableField(name: "high", value: "4.1x"))
    }
}

@Suite("Validating bars before they reach the store")
struct ValidatorTests {
    private func validate(_ text: String, now: Int64 = 1_800_000_000_000) throws(ImportFailure) -> ValidatedKlines {
        let parsed = try KlineCSVParser.parse(bytes(text), source: "f.csv", interval: .oneMinute)
        return try KlineValidator.validate(parsed, source: "f.csv", interval: .oneMinute, nowMilliseconds: now)
    }

    @Test("Exact duplicates are dropped and counted; gaps are listed")
    func duplicatesAndGaps() throws {
        let v = try validate(row(0) + row(1) + row(1) + row(5) + row(6))
        #expect(v.klines.count == 4)
        #expect(v.duplicatesDropped == 1)
        #expect(v.gaps == [KlineGap(lastBefore: 1_690_848_060_000, firstAfter: 1_690_848_300_000, missingBars: 3)])
    }

    @Test(
        "Bad rows are rejected with their line",
        arguments: [
            (row(0) + row(1).replacingOccurrences(of: ",4.0,4.1,3.9,", with: ",-4.0,4.1,3.9,"), 2, "open must be a positive finite price"),
            (row(0) + row(1).replacingOccurrences(of: ",4.0,4.1,3.9,", with: ",nan,4.1,3.9,"), 2, "open must be a positive finite price"),
            (row(0) + row(1).replacingOccurrences(of: ",4.0,4.1,3.9,", with: ",4.0,3.8,3.9,"), 2, "high 3.8 is below low 3.9"),
            (row(0) + row(1) + row(0), 3, "is before the previous row's"),
            (row(0) + row(0, close: 4.05), 2, "repeats line 1 with different values"),
            (row(0) + row(1).replacingOccurrences(of: ",100,", with: ",-1,"), 2, "volume must not be negative"),
        ]
    )
    func badRows(text: String, line: Int, message: String) {
        let failure = #expect(throws: ImportFailure.self) { _ = try validate(text) }
        #expect(failure?.errors.first?.line == line)
        #expect(failure?.errors.first?.description.contains(message) == true, "\(String(describing: failure))")
    }

    @Test("A timestamp far in the future is rejected")
    func future() {
        let failure = #expect(throws: ImportFailure.self) { _ = try validate(row(0) + row(1), now: 1_600_000_000_000) }
        #expect(failure?.errors.first?.description.contains("f.csv:1: open_time 1690848000000") == true)
        #expect(failure?.errors.first?.description.contains("is in the future") == true)
    }

    @Test("Bars whose close_time says another interval are rejected")
    func intervalMismatch() throws {
        let parsed = try KlineCSVParser.parse(bytes(row(0) + row(1)), source: "g.csv", interval: .oneMinute)
        let failure = #expect(throws: ImportFailure.self) {
            _ = try KlineValidator.validate(parsed, source: "g.csv", interval: KlineInterval("5m")!, nowMilliseconds: 1_800_000_000_000)
        }
        #expect(failure?.errors.first?.line == 1)
    }
}

@Suite("Importing files into the store")
struct ImporterTests {
    let dir: TemporaryDirectory
    let store: MarketStore

    init() throws {
        dir = try TemporaryDirectory()
        store = try MarketStore(path: dir.path("market.sqlite"))
    }

    @Test("A Vision zip imports once; importing it again adds nothing")
    func zipIsIdempotent() throws {
        defer { dir.remove() }
        let importer = KlineImporter(store: store)
        let first = try importer.importFile(Fixtures.sampleZip("FILUSDT-1m-2023-08.zip"))
        #expect(first.symbol == "FILUSDT" && first.interval == .oneMinute)
        #expect(first.rows == 44_640 && first.inserted == 44_640 && first.gaps.isEmpty)
        let again = try importer.importFile(Fixtures.sampleZip("FILUSDT-1m-2023-08.zip"))
        #expect(again.inserted == 0 && again.alreadyPresent == 44_640)
        #expect(try store.totalCount() == 44_640)
        let bars = try store.klines(symbol: "FILUSDT", interval: .oneMinute, from: 1_690_848_000_000, to: 1_690_848_180_000)
        #expect(bars.count == 3 && bars[0].openTime == 1_690_848_000_000)
    }

    @Test("A file with one bad row leaves the store exactly as it was")
    func badFileTouchesNothing() throws {
        defer { dir.remove() }
        let importer = KlineImporter(store: store)
        _ = try importer.importFile(Fixtures.sampleZip("NEARUSDT-1m-2023-08.zip"))
        let before = try store.totalCount()
        let bad = dir.url.appendingPathComponent("NEARUSDT-1m-2023-10.csv")
        var text = header
        for i in 0..<100 { text += row(i + 200_000) }
        text += row(100 + 200_000).replacingOccurrences(of: ",4.1,", with: ",3.0,")
        try text.write(to: bad, atomically: true, encoding: .utf8)
        let failure = #expect(throws: ImportFailure.self) { _ = try importer.importFile(bad) }
        #expect(failure?.errors.first?.line == 102)
        #expect(failure?.errors.first?.file == bad.path)
        #expect(try store.totalCount() == before)
    }

    @Test("A truncated zip is a clear error and stores nothing")
    func truncatedZip() throws {
        defer { dir.remove() }
        let data = try Data(contentsOf: Fixtures.sampleZip("FILUSDT-1m-2023-09.zip"))
        let cut = dir.url.appendingPathComponent("FILUSDT-1m-2023-09.zip")
        try data.prefix(data.count / 2).write(to: cut)
        let error = #expect(throws: ImportError.self) { _ = try KlineImporter(store: store).importFile(cut) }
        #expect(error?.description.hasPrefix("\(cut.path): bad zip archive") == true)
        #expect(try store.totalCount() == 0)
    }

    @Test("An interval that does not match the file is an error")
    func intervalOption() throws {
        defer { dir.remove() }
        let importer = KlineImporter(store: store, options: ImportOptions(interval: KlineInterval("5m")))
        let error = #expect(throws: ImportError.self) { _ = try importer.importFile(Fixtures.sampleZip("FILUSDT-1m-2023-09.zip")) }
        #expect(error?.description.contains("--interval is 5m but the file is named for 1m") == true)
    }

    @Test("A file whose name has no symbol needs --symbol")
    func unknownSymbol() throws {
        defer { dir.remove() }
        let file = dir.url.appendingPathComponent("klines.csv")
        try (row(0) + row(1)).write(to: file, atomically: true, encoding: .utf8)
        let error = #expect(throws: ImportError.self) { _ = try KlineImporter(store: store).importFile(file) }
        #expect(error?.description.contains("cannot tell the symbol") == true)
        let forced = try KlineImporter(store: store, options: ImportOptions(symbol: "TESTUSDT")).importFile(file)
        #expect(forced.symbol == "TESTUSDT" && forced.interval == .oneMinute && forced.inserted == 2)
    }

    @Test(
        "The shared FILUSDT months import whole, every minute of each month, with one gap between months that do not follow each other",
        .enabled(if: Fixtures.hasShared, "needs ../shared/datasets/binance/futures-um/klines/FILUSDT (whole months of CSV)")
    )
    func sharedFILUSDT() throws {
        defer { dir.remove() }
        let folder = Fixtures.shared.appendingPathComponent("datasets/binance/futures-um/klines/FILUSDT/1m")
        let files = try KlineImporter.collectFiles([folder.path])
        // What to expect comes from the file names and the calendar, not from the importer: each
        // `FILUSDT-1m-YYYY-MM.csv` is one whole month, 1,440 bars a day.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        let months: [DateComponents] = try files.map { file in
            let name = file.deletingPathExtension().lastPathComponent
            let parts = name.split(separator: "-").map(String.init)
            try #require(parts.count == 4, "\(name) is not FILUSDT-1m-YYYY-MM")
            let year = try #require(Int(parts[2]), "\(name)")
            let month = try #require(Int(parts[3]), "\(name)")
            return DateComponents(year: year, month: month)
        }.sorted { ($0.year ?? 0, $0.month ?? 0) < ($1.year ?? 0, $1.month ?? 0) }
        try #require(months.count >= 2, "expected several months in \(folder.path)")
        func start(_ m: DateComponents) throws -> Int64 {
            Int64(try #require(calendar.date(from: m)).timeIntervalSince1970 * 1000)
        }
        func next(_ m: DateComponents) -> DateComponents {
            m.month == 12 ? DateComponents(year: (m.year ?? 0) + 1, month: 1) : DateComponents(year: m.year, month: (m.month ?? 0) + 1)
        }
        let minute: Int64 = 60_000
        var expectedRows = 0
        var expectedGaps: [(first: Int64, last: Int64)] = []
        for (i, m) in months.enumerated() {
            expectedRows += Int((try start(next(m)) - start(m)) / minute)
            if i + 1 < months.count, next(m) != months[i + 1] {
                expectedGaps.append((try start(next(m)), try start(months[i + 1]) - minute))
            }
        }

        let importer = KlineImporter(store: store)
        var inserted = 0
        for file in files { inserted += try importer.importFile(file).inserted }
        #expect(inserted == expectedRows)
        let series = try store.series()
        #expect(series.count == 1)
        let fil = try #require(series.first)
        #expect(fil.rows == expectedRows)
        #expect(fil.gaps.map { $0.firstMissing(interval: .oneMinute) } == expectedGaps.map(\.first))
        #expect(fil.gaps.map { $0.lastMissing(interval: .oneMinute) } == expectedGaps.map(\.last))
        var again = 0
        for file in files { again += try importer.importFile(file).inserted }
        #expect(again == 0)
    }

    @Test("Missing ranges are the complement of what is stored")
    func missingRanges() throws {
        defer { dir.remove() }
        let parsed = try KlineCSVParser.parse(bytes(row(2) + row(3) + row(7)), source: "m.csv", interval: .oneMinute)
        try store.insert(parsed.klines, symbol: "ABCUSDT", interval: .oneMinute, source: "m.csv")
        let t0: Int64 = 1_690_848_000_000
        let ranges = try store.missingRanges(symbol: "ABCUSDT", interval: .oneMinute, from: t0, to: t0 + 10 * 60_000)
        #expect(ranges == [t0..<(t0 + 120_000), (t0 + 240_000)..<(t0 + 420_000), (t0 + 480_000)..<(t0 + 600_000)])
        #expect(try store.missingRanges(symbol: "ABCUSDT", interval: .oneMinute, from: t0 + 120_000, to: t0 + 240_000).isEmpty)
    }
}
