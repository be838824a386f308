public import Foundation
public import ScalperCore

/// What importing one file did.
public struct FileImportReport: Sendable {
    /// The file.
    public var source: String
    /// The series it belongs to.
    public var symbol: String
    /// Its bar interval.
    public var interval: KlineInterval
    /// The market its bars were stored for.
    public var market: BinanceMarket
    /// Whether the series was stored before the store recorded markets and now has `market`.
    public var settledUnknownMarket: Bool
    /// Valid bars in the file (after dropping duplicates).
    public var rows: Int
    /// Bars new to the store.
    public var inserted: Int
    /// Bars the store already had.
    public var alreadyPresent: Int
    /// Exact duplicate rows dropped.
    public var duplicatesDropped: Int
    /// Missing stretches inside the file.
    public var gaps: [KlineGap]
    /// The detected layout.
    public var layout: ParsedKlineFile.Layout
}

/// Options for ``KlineImporter``.
public struct ImportOptions: Sendable {
    /// Forces the symbol instead of reading it from the file name.
    public var symbol: String?
    /// Forces the interval instead of reading it from the file name or the data.
    public var interval: KlineInterval?
    /// The market of files whose path (and, for a recording, whose depth events) does not name one;
    /// `nil`: ``defaultMarket``. A file that names another market is refused, not relabelled.
    public var market: BinanceMarket?
    /// How far past the wall clock a bar may open before it is rejected as a future timestamp.
    public var futureToleranceMilliseconds: Int64
    /// The wall clock (injected for tests).
    public var now: @Sendable () -> Int64

    /// The market of a file when nothing names one: USDⓈ-M futures, the market of the bundled
    /// `datasets/sample` klines and of every kline file in the shared data (Binance Vision's futures
    /// files carry a header row, spot files none, but the header alone does not prove the market).
    public static let defaultMarket = BinanceMarket.futuresUM

    /// Creates options; the defaults read names (and the market) from files and allow one minute of clock skew.
    public init(
        symbol: String? = nil,
        interval: KlineInterval? = nil,
        market: BinanceMarket? = nil,
        futureToleranceMilliseconds: Int64 = 60_000,
        now: @escaping @Sendable () -> Int64 = { UTC.now() }
    ) {
        self.symbol = symbol
        self.interval = interval
        self.market = market
        self.futureToleranceMilliseconds = futureToleranceMilliseconds
        self.now = now
    }
}

/// Imports kline files (Vision CSV, Vision ZIP, plain OHLCV CSV) into a ``MarketStore``.
///
/// Each file is parsed and validated completely before the store is touched, and stored in one
/// transaction, so a file that fails leaves the store exactly as it was.
public struct KlineImporter: Sendable {
    /// The destination store.
    public let store: MarketStore
    /// How files are named and checked.
    public var options: ImportOptions

    /// Creates an importer into `store`.
    public init(store: MarketStore, options: ImportOptions = ImportOptions()) {
        self.store = store
        self.options = options
    }

    /// The `.csv` and `.zip` files at `paths`, folders searched recursively, sorted by path.
    ///
    /// - Throws: ``ImportError`` for a path that does not exist.
    public static func collectFiles(_ paths: [String]) throws(ImportError) -> [URL] {
        var out: [URL] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ImportError(file: path, reason: .unreadable("no such file or folder"))
            }
            if !isDirectory.boolValue {
                out.append(URL(fileURLWithPath: path))
                continue
            }
            guard let walker = fm.enumerator(atPath: path) else {
                throw ImportError(file: path, reason: .unreadable("cannot list folder"))
            }
            var found: [URL] = []
            for case let relative as String in walker {
                let ext = (relative as NSString).pathExtension.lowercased()
                guard ext == "csv" || ext == "zip" || ext == "gz" else { continue }
                found.append(URL(fileURLWithPath: path).appendingPathComponent(relative))
            }
            out.append(contentsOf: found.sorted { $0.path < $1.path })
        }
        return out
    }

    /// Imports one file.
    ///
    /// - Throws: ``ImportError`` or ``ImportFailure`` (bad input: nothing stored),
    ///   ``MarketMismatchError`` (the store holds the series for the other market), ``StoreError``.
    public func importFile(_ url: URL) throws -> FileImportReport {
        let (symbol, namedInterval) = try identify(url)
        let market = try market(of: url)
        let (csv, sha) = try KlineFileReader.read(url)
        return try importCSV(csv, source: url.path, symbol: symbol, interval: namedInterval, market: market, sha256: sha)
    }

    /// The market of a file: the one its folders name (``BinanceMarket/named(inPath:)``) or, for a
    /// recording, the one its depth events show; else `options.market`; else ``ImportOptions/defaultMarket``.
    ///
    /// - Throws: ``ImportError`` when the path and the events disagree, or `options.market` (`--market`)
    ///   differs from what the file shows.
    public func market(of url: URL, recording: StreamRecording? = nil) throws(ImportError) -> BinanceMarket {
        let byPath = BinanceMarket.named(inPath: url.path)
        let byEvents = recording?.marketOfDepthEvents
        func refuse(_ why: String) -> ImportError { ImportError(file: url.path, reason: .marketMismatch(why)) }
        func events(_ market: BinanceMarket) -> String {
            market == .futuresUM ? "futures-um events (they carry pu)" : "spot events (they lack pu, which futures events carry)"
        }
        if let byPath, let byEvents, byPath != byEvents {
            throw refuse("its folders say \(byPath) but its depth events are \(events(byEvents))")
        }
        if let forced = options.market {
            if let byPath, byPath != forced { throw refuse("--market is \(forced) but its folders say \(byPath)") }
            if let byEvents, byEvents != forced { throw refuse("--market is \(forced) but its depth events are \(events(byEvents))") }
        }
        return byPath ?? byEvents ?? options.market ?? ImportOptions.defaultMarket
    }

    /// Parses, validates and stores one file's CSV bytes (also used for downloaded zips).
    ///
    /// - Parameter interval: the interval, or `nil` to infer it from the bars.
    public func importCSV(
        _ csv: [UInt8],
        source: String,
        symbol: String,
        interval namedInterval: KlineInterval?,
        market: BinanceMarket,
        sha256: String?
    ) throws -> FileImportReport {
        let provisional = namedInterval ?? KlineInterval.oneMinute
        var parsed = try KlineCSVParser.parse(csv, source: source, interval: provisional)
        var interval = provisional
        if namedInterval == nil {
            interval = try Self.inferInterval(parsed, source: source)
            if interval != provisional { parsed = try KlineCSVParser.parse(csv, source: source, interval: interval) }
        }
        let valid = try KlineValidator.validate(
            parsed,
            source: source,
            interval: interval,
            nowMilliseconds: options.now(),
            futureToleranceMilliseconds: options.futureToleranceMilliseconds
        )
        let result = try store.insert(
            valid.klines,
            symbol: symbol,
            interval: interval,
            market: market,
            source: source,
            sha256: sha256,
            duplicatesDropped: valid.duplicatesDropped
        )
        return FileImportReport(
            source: source,
            symbol: symbol,
            interval: interval,
            market: market,
            settledUnknownMarket: result.settledUnknownMarket,
            rows: valid.klines.count,
            inserted: result.inserted,
            alreadyPresent: result.alreadyPresent,
            duplicatesDropped: valid.duplicatesDropped,
            gaps: valid.gaps,
            layout: parsed.layout
        )
    }

    /// The symbol and (if named) interval of a file, from the options, its name or its folders.
    ///
    /// Understands Binance Vision names (`FILUSDT-1m-2023-08.csv`, `…-2023-08-15.zip`),
    /// underscore names (`BTCUSDT_1m_20230301_20230321.csv`) and Vision's folder layout
    /// (`…/FILUSDT/1m/<file>`).
    public func identify(_ url: URL) throws(ImportError) -> (symbol: String, interval: KlineInterval?) {
        let base = url.deletingPathExtension().lastPathComponent
        let tokens = base.split(whereSeparator: { $0 == "-" || $0 == "_" }).map(String.init)
        let folders = url.deletingLastPathComponent().pathComponents
        var symbol = options.symbol
        var interval = options.interval
        if symbol == nil, let first = tokens.first, Self.isSymbol(first) { symbol = first }
        if symbol == nil, folders.count >= 2 {
            let candidate = folders[folders.count - 2]
            if Self.isSymbol(candidate), KlineInterval(folders[folders.count - 1]) != nil { symbol = candidate }
        }
        let namedInterval = tokens.dropFirst().first.flatMap { KlineInterval($0) }
            ?? folders.last.flatMap { KlineInterval($0) }
        if let forced = interval, let named = namedInterval, forced != named {
            throw ImportError(
                file: url.path,
                reason: .intervalMismatch("--interval is \(forced) but the file is named for \(named)")
            )
        }
        if interval == nil { interval = namedInterval }
        guard let symbol else {
            throw ImportError(
                file: url.path,
                reason: .unknownSymbol(
                    "cannot tell the symbol from the file name (expected e.g. BTCUSDT-1m-2024-01.csv); pass --symbol"
                )
            )
        }
        return (symbol.uppercased(), interval)
    }

    private static func isSymbol(_ s: String) -> Bool {
        s.count >= 5 && s.count <= 20 && s.allSatisfy { ($0.isLetter && $0.isUppercase) || $0.isNumber }
            && s.contains(where: \.isLetter)
    }

    /// The interval of a file whose name does not say it: the smallest step between its first bars.
    static func inferInterval(_ parsed: ParsedKlineFile, source: String) throws(ImportError) -> KlineInterval {
        var smallest = Int64.max
        let ks = parsed.klines
        for i in 1..<min(ks.count, 500) where ks.count > 1 {
            let d = ks[i].openTime - ks[i - 1].openTime
            if d > 0 { smallest = min(smallest, d) }
        }
        guard smallest != .max, let interval = KlineInterval(milliseconds: smallest) else {
            throw ImportError(
                file: source,
                reason: .unknownInterval(
                    "cannot tell the interval (name the file like SYMBOL-1m-….csv or pass --interval)"
                )
            )
        }
        return interval
    }
}
