import Foundation
import GRDB
public import ScalperCore

/// One symbol and interval held by the store, with its extent and gaps.
public struct SeriesSummary: Equatable, Sendable, Codable {
    /// Trading pair, e.g. `FILUSDT`.
    public var symbol: String
    /// Bar interval.
    public var interval: KlineInterval
    /// The market the bars come from; `nil` for a series stored before the store recorded markets
    /// that no import or download has named since (see ``MarketStore``).
    public var market: BinanceMarket?
    /// Number of bars.
    public var rows: Int
    /// Open time of the first bar.
    public var firstOpenTime: Int64
    /// Open time of the last bar.
    public var lastOpenTime: Int64
    /// Missing stretches between first and last bar.
    public var gaps: [KlineGap]

    /// Bars missing between the first and the last bar.
    public var missingBars: Int64 { gaps.reduce(0) { $0 + $1.missingBars } }
}

/// What storing one file's bars did.
public struct StoreInsertResult: Equatable, Sendable {
    /// Bars that were new to the store.
    public var inserted: Int
    /// Bars the store already had (left untouched).
    public var alreadyPresent: Int
    /// Whether the series was stored before the store recorded markets and this insert recorded
    /// its market (see ``MarketStore``).
    public var settledUnknownMarket = false
}

/// An error from the market-data store, naming the database file.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// The database path.
    public var path: String
    /// What went wrong.
    public var message: String

    /// `path: message`.
    public var description: String { "\(path): \(message)" }
}

/// The SQLite store of klines (GRDB), by default `datasets/market.sqlite`.
///
/// Bars are keyed by (symbol, interval, open_time) and never overwritten: storing a bar that is
/// already there changes nothing, so re-importing a file is a no-op. Every write is one transaction.
///
/// Each (symbol, interval) series holds one ``BinanceMarket``'s bars: the first bars stored record
/// it, and bars of the other market are refused with ``MarketMismatchError`` before anything is
/// written. A store made before markets were recorded gets them in migration `v3-series-market`:
/// a series whose every import-log source names the same market in its path (Vision's
/// `…/spot/…` or `…/futures/um/…`, a `futures-um` folder) gets that market; any other series has
/// none yet (`SeriesSummary.market == nil`), and the next bars stored into it record theirs
/// (``StoreInsertResult/settledUnknownMarket`` says so, and the CLI prints it).
///
/// Each (symbol, market)'s trading filters from Binance's exchangeInfo are kept as the decimal text
/// Binance sent, from the newest document stored (migration `v4-symbol-filters`);
/// ``sourcedSymbolFilters(symbol:market:)`` is the one lookup, deriving filters from the whole 1m
/// series where there are none (MarketStore+SymbolFilters.swift).
public final class MarketStore: Sendable {
    /// Where the database lives.
    public let path: String
    let queue: DatabaseQueue

    /// The default location, relative to the working directory.
    public static let defaultPath = "datasets/market.sqlite"

    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    public init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw StoreError(path: path, message: "cannot create the folder \(directory): \(error.localizedDescription)")
            }
        }
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try Self.migrator.migrate(queue)
        } catch {
            throw StoreError(path: path, message: "cannot open the store: \(error)")
        }
    }

    /// Opens the existing store at `path` for reading only: a worker's own copy of the market data
    /// (`scalper worker`), which nothing it runs may change. The file must exist and be up to date
    /// (opened once by this version of scalper with write access).
    public init(readingOnly path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(path: path, message: "no store there (a worker reads its own copy: copy it or run scalper download into it first)")
        }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            let complete = try queue.read { db in try Self.migrator.hasCompletedMigrations(db) }
            guard complete else {
                throw StoreError(path: path, message: "the store's schema is older than this scalper's: open it once with write access (e.g. scalper data list --store \(path))")
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(path: path, message: "cannot open the store read-only: \(error)")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-klines") { db in
            try db.execute(
                sql: """
                    CREATE TABLE kline (
                        symbol TEXT NOT NULL,
                        interval TEXT NOT NULL,
                        open_time INTEGER NOT NULL,
                        open REAL NOT NULL,
                        high REAL NOT NULL,
                        low REAL NOT NULL,
                        close REAL NOT NULL,
                        volume REAL,
                        close_time INTEGER NOT NULL,
                        quote_volume REAL,
                        trade_count REAL,
                        taker_buy_base REAL,
                        taker_buy_quote REAL,
                        ignore REAL,
                        PRIMARY KEY (symbol, interval, open_time)
                    ) WITHOUT ROWID;
                    CREATE TABLE import_log (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        source TEXT NOT NULL,
                        sha256 TEXT,
                        symbol TEXT NOT NULL,
                        interval TEXT NOT NULL,
                        rows INTEGER NOT NULL,
                        inserted INTEGER NOT NULL,
                        duplicates_dropped INTEGER NOT NULL,
                        first_open_time INTEGER,
                        last_open_time INTEGER,
                        imported_at INTEGER NOT NULL
                    );
                    """
            )
        }
        migrator.registerMigration("v2-recordings") { db in
            // Recorded market streams. Levels are little-endian (price, quantity) double pairs; rows
            // are keyed by the exchange's own ids and never overwritten, like klines.
            try db.execute(
                sql: """
                    CREATE TABLE depth_snapshot (
                        symbol TEXT NOT NULL,
                        last_update_id INTEGER NOT NULL,
                        time INTEGER NOT NULL,
                        bids BLOB NOT NULL,
                        asks BLOB NOT NULL,
                        PRIMARY KEY (symbol, last_update_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE depth_update (
                        symbol TEXT NOT NULL,
                        final_update_id INTEGER NOT NULL,
                        first_update_id INTEGER NOT NULL,
                        previous_final_update_id INTEGER,
                        event_time INTEGER NOT NULL,
                        bids BLOB NOT NULL,
                        asks BLOB NOT NULL,
                        PRIMARY KEY (symbol, final_update_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE book_ticker (
                        symbol TEXT NOT NULL,
                        update_id INTEGER NOT NULL,
                        time INTEGER NOT NULL,
                        bid REAL NOT NULL,
                        bid_quantity REAL NOT NULL,
                        ask REAL NOT NULL,
                        ask_quantity REAL NOT NULL,
                        PRIMARY KEY (symbol, update_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE trade (
                        symbol TEXT NOT NULL,
                        id INTEGER NOT NULL,
                        time INTEGER NOT NULL,
                        price REAL NOT NULL,
                        quantity REAL NOT NULL,
                        buyer_is_maker INTEGER NOT NULL,
                        PRIMARY KEY (symbol, id)
                    ) WITHOUT ROWID;
                    """
            )
        }
        migrator.registerMigration("v3-series-market") { db in
            // The market of each (symbol, interval) series; NULL: stored before markets were
            // recorded and not named since. Old series get the market their import-log sources
            // name, when all of them name the same one (a rule, not a guess: a source that names
            // none, like datasets/sample/FILUSDT-1m-2023-08.zip or a REST URL, leaves it NULL).
            try db.execute(
                sql: """
                    CREATE TABLE kline_series (
                        symbol TEXT NOT NULL,
                        interval TEXT NOT NULL,
                        market TEXT CHECK (market IN ('spot', 'futures-um')),
                        PRIMARY KEY (symbol, interval)
                    ) WITHOUT ROWID;
                    INSERT INTO kline_series (symbol, interval, market) SELECT DISTINCT symbol, interval, NULL FROM kline;
                    """
            )
            let series = try Row.fetchAll(db, sql: "SELECT symbol, interval FROM kline_series")
            for row in series {
                let symbol: String = row[0]
                let interval: String = row[1]
                let sources = try String.fetchAll(
                    db,
                    sql: "SELECT DISTINCT source FROM import_log WHERE symbol = ? AND interval = ?",
                    arguments: [symbol, interval]
                )
                let named = Set(sources.map { BinanceMarket.named(inPath: $0) })
                guard named.count == 1, let only = named.first, let market = only else { continue }
                try db.execute(
                    sql: "UPDATE kline_series SET market = ? WHERE symbol = ? AND interval = ?",
                    arguments: [market.rawValue, symbol, interval]
                )
            }
        }
        migrator.registerMigration("v4-symbol-filters") { db in
            // Each (symbol, market)'s filters from the newest exchangeInfo stored, as the decimal
            // text Binance sent (never REAL, so nothing is lost to Double), with where the
            // document came from and its serverTime. See MarketStore+SymbolFilters.swift.
            try db.execute(
                sql: """
                    CREATE TABLE symbol_filters (
                        symbol TEXT NOT NULL,
                        market TEXT NOT NULL CHECK (market IN ('spot', 'futures-um')),
                        tick_size TEXT NOT NULL,
                        step_size TEXT NOT NULL,
                        min_qty TEXT NOT NULL,
                        max_qty TEXT NOT NULL,
                        min_notional TEXT NOT NULL,
                        max_notional TEXT,
                        notional_filter TEXT NOT NULL CHECK (notional_filter IN ('NOTIONAL', 'MIN_NOTIONAL')),
                        source TEXT NOT NULL,
                        server_time INTEGER NOT NULL,
                        stored_at INTEGER NOT NULL,
                        PRIMARY KEY (symbol, market)
                    ) WITHOUT ROWID;
                    """
            )
        }
        return migrator
    }

    /// Throws ``MarketMismatchError`` when the store holds `symbol` `interval` for the other market.
    ///
    /// Downloads call this before fetching anything; inserts check the same inside their transaction.
    public func checkMarket(_ market: BinanceMarket, symbol: String, interval: KlineInterval, source: String) throws {
        let stored: BinanceMarket?
        do {
            stored = try queue.read { db in
                if case .recorded(let market) = try Self.seriesMarket(db, symbol: symbol, interval: interval) { return market }
                return nil
            }
        } catch {
            throw StoreError(path: path, message: "cannot read the store: \(error)")
        }
        if let stored, stored != market {
            throw MarketMismatchError(symbol: symbol, interval: interval, stored: stored, offered: market, source: source)
        }
    }

    /// What `kline_series` says of one series' market.
    enum SeriesMarket {
        /// The store has no such series.
        case newSeries
        /// An old series (stored before markets were recorded) whose market nothing has named yet.
        case unknown
        /// The series' market.
        case recorded(BinanceMarket)
    }

    static func seriesMarket(_ db: Database, symbol: String, interval: KlineInterval) throws -> SeriesMarket {
        let row = try Row.fetchOne(
            db,
            sql: "SELECT market FROM kline_series WHERE symbol = ? AND interval = ?",
            arguments: [symbol, interval.name]
        )
        guard let row else { return .newSeries }
        // The column's CHECK constraint admits only the two raw values, or NULL.
        guard let market = (row[0] as String?).flatMap(BinanceMarket.init(rawValue:)) else { return .unknown }
        return .recorded(market)
    }

    /// Stores `klines` for one series in a single transaction, with an import-log entry.
    ///
    /// Either every bar is stored (new ones inserted, known ones left as they were) or, on any
    /// error, nothing is.
    ///
    /// - Parameter market: the market the bars come from. The default, futures-um, is
    ///   ``ImportOptions/defaultMarket``, the market of every kline file the project ships.
    /// - Throws: ``MarketMismatchError`` when the store holds the series for the other market;
    ///   ``StoreError`` when the write fails.
    @discardableResult
    public func insert(
        _ klines: [Kline],
        symbol: String,
        interval: KlineInterval,
        market: BinanceMarket = ImportOptions.defaultMarket,
        source: String,
        sha256: String? = nil,
        duplicatesDropped: Int = 0,
        importedAt: Int64 = UTC.now()
    ) throws -> StoreInsertResult {
        do {
            return try queue.write { db in
                try Self.insertKlines(
                    db, klines, symbol: symbol, interval: interval, market: market, source: source, sha256: sha256,
                    duplicatesDropped: duplicatesDropped, importedAt: importedAt
                )
            }
        } catch let error as MarketMismatchError {
            throw error
        } catch {
            throw StoreError(path: path, message: "write failed, nothing stored from \(source): \(error)")
        }
    }

    /// Stores bars and their import-log entry inside the caller's transaction, after checking (and,
    /// for a new or old unknown-market series with bars to store, recording) the series' market.
    static func insertKlines(
        _ db: Database,
        _ klines: [Kline],
        symbol: String,
        interval: KlineInterval,
        market: BinanceMarket,
        source: String,
        sha256: String?,
        duplicatesDropped: Int,
        importedAt: Int64
    ) throws -> StoreInsertResult {
        var settledUnknownMarket = false
        // An empty batch stores no bar, so it records no market either.
        switch try seriesMarket(db, symbol: symbol, interval: interval) {
        case .recorded(let stored) where stored != market:
            throw MarketMismatchError(symbol: symbol, interval: interval, stored: stored, offered: market, source: source)
        case .recorded:
            break
        case .unknown where !klines.isEmpty:
            try db.execute(
                sql: "UPDATE kline_series SET market = ? WHERE symbol = ? AND interval = ?",
                arguments: [market.rawValue, symbol, interval.name]
            )
            settledUnknownMarket = true
        case .newSeries where !klines.isEmpty:
            try db.execute(
                sql: "INSERT INTO kline_series (symbol, interval, market) VALUES (?, ?, ?)",
                arguments: [symbol, interval.name, market.rawValue]
            )
        case .unknown, .newSeries:
            break
        }
        let statement = try db.makeStatement(
            sql: """
                INSERT OR IGNORE INTO kline (symbol, interval, open_time, open, high, low, close, volume,
                    close_time, quote_volume, trade_count, taker_buy_base, taker_buy_quote, ignore)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        )
        var inserted = 0
        // NaN is bound as NULL by SQLite, which is how a missing value is stored.
        for k in klines {
            statement.setUncheckedArguments([
                symbol, interval.name, k.openTime, k.open, k.high, k.low, k.close, k.volume, k.closeTime,
                k.quoteVolume, k.tradeCount, k.takerBuyBaseVolume, k.takerBuyQuoteVolume, k.ignore,
            ])
            try statement.execute()
            inserted += db.changesCount
        }
        try db.execute(
            sql: """
                INSERT INTO import_log (source, sha256, symbol, interval, rows, inserted, duplicates_dropped,
                    first_open_time, last_open_time, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                source, sha256, symbol, interval.name, klines.count, inserted, duplicatesDropped,
                klines.first?.openTime, klines.last?.openTime, importedAt,
            ]
        )
        return StoreInsertResult(
            inserted: inserted,
            alreadyPresent: klines.count - inserted,
            settledUnknownMarket: settledUnknownMarket
        )
    }

    /// Every series in the store with its extent and gaps, sorted by symbol then interval length.
    public func series() throws -> [SeriesSummary] {
        do {
            return try queue.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT k.symbol, k.interval, COUNT(*) AS n, MIN(k.open_time) AS first, MAX(k.open_time) AS last,
                            (SELECT market FROM kline_series s WHERE s.symbol = k.symbol AND s.interval = k.interval) AS market
                        FROM kline k GROUP BY k.symbol, k.interval
                        """
                )
                var out: [SeriesSummary] = []
                for row in rows {
                    let name: String = row["interval"]
                    guard let interval = KlineInterval(name) else { continue }
                    let symbol: String = row["symbol"]
                    out.append(
                        SeriesSummary(
                            symbol: symbol,
                            interval: interval,
                            market: (row["market"] as String?).flatMap(BinanceMarket.init(rawValue:)),
                            rows: row["n"],
                            firstOpenTime: row["first"],
                            lastOpenTime: row["last"],
                            gaps: try Self.gaps(db, symbol: symbol, interval: interval, from: nil, to: nil)
                        )
                    )
                }
                return out.sorted { ($0.symbol, $0.interval.milliseconds) < ($1.symbol, $1.interval.milliseconds) }
            }
        } catch {
            throw StoreError(path: path, message: "cannot read the store: \(error)")
        }
    }

    /// The symbols held for `interval`.
    public func symbols(interval: KlineInterval? = nil) throws -> [String] {
        // Symbol by symbol along the primary key (symbol, interval, open_time): one seek a symbol
        // and one a series, never a scan of every bar (``series()`` counts bars and finds gaps).
        do {
            return try queue.read { db in
                var out: [String] = []
                var next = try String.fetchOne(db, sql: "SELECT MIN(symbol) FROM kline")
                while let symbol = next {
                    let held =
                        try interval.map {
                            try Bool.fetchOne(
                                db,
                                sql: "SELECT EXISTS (SELECT 1 FROM kline WHERE symbol = ? AND interval = ?)",
                                arguments: [symbol, $0.name]
                            ) ?? false
                        } ?? true
                    if held { out.append(symbol) }
                    next = try String.fetchOne(db, sql: "SELECT MIN(symbol) FROM kline WHERE symbol > ?", arguments: [symbol])
                }
                return out
            }
        } catch {
            throw StoreError(path: path, message: "cannot list symbols: \(error)")
        }
    }

    private static func gaps(
        _ db: Database,
        symbol: String,
        interval: KlineInterval,
        from: Int64?,
        to: Int64?
    ) throws -> [KlineGap] {
        let step = interval.milliseconds
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT prev, open_time FROM (
                    SELECT open_time, LAG(open_time) OVER (ORDER BY open_time) AS prev
                    FROM kline WHERE symbol = ? AND interval = ? AND open_time >= ? AND open_time < ?
                ) WHERE prev IS NOT NULL AND open_time - prev > ?
                """,
            arguments: [symbol, interval.name, from ?? Int64.min, to ?? Int64.max, step]
        )
        return rows.map { row in
            let prev: Int64 = row[0]
            let next: Int64 = row[1]
            return KlineGap(lastBefore: prev, firstAfter: next, missingBars: (next - prev) / step - 1)
        }
    }

    /// Bars of one series with `from ≤ open_time < to`, in time order.
    public func klines(symbol: String, interval: KlineInterval, from: Int64, to: Int64) throws -> [Kline] {
        do {
            return try queue.read { db in
                var out: [Kline] = []
                let cursor = try Row.fetchCursor(
                    db,
                    sql: """
                        SELECT open_time, open, high, low, close, volume, close_time, quote_volume, trade_count,
                            taker_buy_base, taker_buy_quote, ignore
                        FROM kline WHERE symbol = ? AND interval = ? AND open_time >= ? AND open_time < ?
                        ORDER BY open_time
                        """,
                    arguments: [symbol, interval.name, from, to]
                )
                while let row = try cursor.next() { out.append(Self.kline(from: row)) }
                return out
            }
        } catch {
            throw StoreError(path: path, message: "cannot read klines of \(symbol) \(interval): \(error)")
        }
    }

    /// A bar from a row of `open_time, open, high, low, close, volume, close_time, quote_volume,
    /// trade_count, taker_buy_base, taker_buy_quote, ignore`; a NULL (missing) value reads as NaN.
    static func kline(from row: Row) -> Kline {
        func value(_ i: Int) -> Double { (row[i] as Double?) ?? .nan }
        return Kline(
            openTime: row[0],
            open: row[1],
            high: row[2],
            low: row[3],
            close: row[4],
            volume: value(5),
            closeTime: row[6],
            quoteVolume: value(7),
            tradeCount: value(8),
            takerBuyBaseVolume: value(9),
            takerBuyQuoteVolume: value(10),
            ignore: value(11)
        )
    }

    /// The open times of bars in `[from, to)` that the store lacks, as half-open ranges of open times.
    ///
    /// Only grid-aligned open times count; this is what a download must still fetch.
    public func missingRanges(
        symbol: String,
        interval: KlineInterval,
        from: Int64,
        to: Int64
    ) throws -> [Range<Int64>] {
        let step = interval.milliseconds
        let start = (from + step - 1) / step * step
        guard start < to else { return [] }
        do {
            return try queue.read { db in
                let bounds = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT MIN(open_time), MAX(open_time), COUNT(*) FROM kline
                        WHERE symbol = ? AND interval = ? AND open_time >= ? AND open_time < ?
                        """,
                    arguments: [symbol, interval.name, start, to]
                )
                guard let bounds, let first = bounds[0] as Int64?, let last = bounds[1] as Int64? else {
                    return [start..<to]
                }
                var ranges: [Range<Int64>] = []
                if first > start { ranges.append(start..<first) }
                for gap in try Self.gaps(db, symbol: symbol, interval: interval, from: start, to: to) {
                    ranges.append(gap.firstMissing(interval: interval)..<gap.firstAfter)
                }
                if last + step < to { ranges.append((last + step)..<to) }
                return ranges
            }
        } catch {
            throw StoreError(path: path, message: "cannot read the store: \(error)")
        }
    }

    /// Number of bars stored for a series in `[from, to)`.
    public func count(symbol: String, interval: KlineInterval, from: Int64 = .min, to: Int64 = .max) throws -> Int {
        do {
            return try queue.read { db in
                try Int.fetchOne(
                    db,
                    sql: "SELECT COUNT(*) FROM kline WHERE symbol = ? AND interval = ? AND open_time >= ? AND open_time < ?",
                    arguments: [symbol, interval.name, from, to]
                ) ?? 0
            }
        } catch {
            throw StoreError(path: path, message: "cannot read the store: \(error)")
        }
    }

    /// Total number of bars in the store.
    public func totalCount() throws -> Int {
        do {
            return try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM kline") ?? 0 }
        } catch {
            throw StoreError(path: path, message: "cannot read the store: \(error)")
        }
    }
}

extension Array where Element: Hashable {
    fileprivate func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}

/// A request for a series the store cannot serve: an unknown symbol, or no bars in the window.
public struct SeriesLookupError: Error, Sendable, CustomStringConvertible {
    /// The sentence shown to the user.
    public var description: String
}

extension MarketStore {
    /// Bars of one series in `[from, to)`, or an error that says what the store does have.
    ///
    /// - Throws: ``SeriesLookupError`` when the symbol is unknown at that interval or the window is
    ///   empty; ``StoreError`` when the store cannot be read.
    public func requireKlines(symbol: String, interval: KlineInterval, from: Int64, to: Int64) throws -> [Kline] {
        let bars = try klines(symbol: symbol, interval: interval, from: from, to: to)
        if bars.isEmpty {
            // Only now, to say why: the store's symbols and, for a known one, its extent.
            let known = try symbols(interval: interval)
            guard known.contains(symbol) else {
                throw SeriesLookupError(
                    description:
                        "unknown symbol \(symbol) at \(interval): the store has \(known.isEmpty ? "none" : known.joined(separator: ", "))"
                )
            }
            let extent = try series().first { $0.symbol == symbol && $0.interval == interval }
            let range = extent.map { " (stored: \(UTC.minuteString($0.firstOpenTime)) … \(UTC.minuteString($0.lastOpenTime)))" } ?? ""
            throw SeriesLookupError(
                description: "\(symbol) \(interval) has no bars from \(UTC.minuteString(from)) to \(UTC.minuteString(to))\(range)"
            )
        }
        return bars
    }
}
