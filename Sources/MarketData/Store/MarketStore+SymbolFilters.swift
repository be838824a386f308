public import Binance
import Foundation
import GRDB
public import ScalperCore

/// One (symbol, market)'s filters as the store holds them: the exchangeInfo text and where it came from.
public struct StoredExchangeInfoFilters: Equatable, Sendable {
    /// The filters, as Binance's decimal text.
    public var filters: ExchangeInfoFilters
    /// The market they are for.
    public var market: BinanceMarket
    /// The URL or file the exchangeInfo document came from.
    public var source: String
    /// The document's `serverTime` (ms): when Binance served these filters.
    public var serverTime: Int64
    /// When the store stored them (ms, wall clock).
    public var storedAt: Int64
}

/// What storing one exchangeInfo document did.
public struct ExchangeInfoStoreResult: Equatable, Sendable {
    /// Symbols the store had no filters for.
    public var added = 0
    /// Symbols whose stored filters came from an older document and were replaced.
    public var replaced = 0
    /// Symbols whose stored filters came from a document as new or newer, left as they were.
    public var kept = 0

    /// Creates a result.
    public init(added: Int = 0, replaced: Int = 0, kept: Int = 0) {
        self.added = added
        self.replaced = replaced
        self.kept = kept
    }
}

/// The bar the derivation read: the middle bar of a symbol's whole stored 1m series.
public struct DerivedFiltersBasis: Equatable, Sendable {
    /// Bars in the stored 1m series.
    public var bars: Int
    /// Open time of the middle bar (index `bars / 2`, as ``SymbolFilters/derived(from:)`` picks it).
    public var referenceOpenTime: Int64
    /// Its close: the price the filters are derived for.
    public var referenceClose: Double

    /// Creates a basis.
    public init(bars: Int, referenceOpenTime: Int64, referenceClose: Double) {
        self.bars = bars
        self.referenceOpenTime = referenceOpenTime
        self.referenceClose = referenceClose
    }
}

/// Where a symbol's filters came from.
public enum SymbolFiltersSource: Equatable, Sendable, CustomStringConvertible {
    /// Binance's exchangeInfo, as stored.
    case exchangeInfo(StoredExchangeInfoFilters)
    /// ``SymbolFilters/derived(price:)`` at the close of the middle bar of the whole stored 1m series.
    case derived(DerivedFiltersBasis)

    /// `exchangeInfo` or `derived`.
    public var name: String {
        switch self {
        case .exchangeInfo: "exchangeInfo"
        case .derived: "derived"
        }
    }

    /// One line for listings and logs.
    public var description: String {
        switch self {
        case .exchangeInfo(let stored):
            "exchangeInfo of \(UTC.isoString(stored.serverTime)) (\(stored.market)) from \(stored.source)"
        case .derived(let basis):
            "derived from the close \(basis.referenceClose) of the middle bar (\(UTC.minuteString(basis.referenceOpenTime))) of the \(basis.bars) stored 1m bars"
        }
    }
}

/// A symbol's filters with their source, and their values as decimal text.
public struct SourcedSymbolFilters: Equatable, Sendable, CustomStringConvertible {
    /// The symbol.
    public var symbol: String
    /// The filters the trading code uses.
    public var filters: SymbolFilters
    /// Where they came from.
    public var source: SymbolFiltersSource

    /// The tick as decimal text: exchangeInfo's own text, or the derived power of ten (`0.0001`).
    public var tickSizeText: String {
        switch source {
        case .exchangeInfo(let stored): stored.filters.tickSize
        case .derived: SymbolFilters.text(units: 1, decimals: filters.priceDecimals)
        }
    }

    /// The step as decimal text: exchangeInfo's own text, or the derived power of ten (`0.01`, `1`).
    public var stepSizeText: String {
        switch source {
        case .exchangeInfo(let stored): stored.filters.stepSize
        case .derived: SymbolFilters.text(units: 1, decimals: filters.quantityDecimals)
        }
    }

    /// The minimum notional as decimal text: exchangeInfo's own text, or the derived value (`5`).
    public var minNotionalText: String {
        switch source {
        case .exchangeInfo(let stored): stored.filters.minNotional
        case .derived:
            // The derivation's minimum is a whole number of quote units (5): print it without a
            // Double's noise, trimming trailing zeros of eight places.
            String(format: "%.8f", filters.minNotional).replacing(/\.?0+$/, with: "")
        }
    }

    /// `tick 0.01, step 0.00001, min notional 5 (<source>)`.
    public var description: String {
        "tick \(tickSizeText), step \(stepSizeText), min notional \(minNotionalText) (\(source))"
    }
}

/// A symbol the store can give no filters for: no exchangeInfo for it and no 1m bars to derive from.
public struct SymbolFiltersUnavailableError: Error, Sendable, CustomStringConvertible {
    /// The symbol.
    public var symbol: String
    /// The sentence shown to the user.
    public var description: String
}

extension MarketStore {
    /// Stores the filters of every symbol of an exchangeInfo document for `market`, in one
    /// transaction. A symbol's stored filters are replaced only by a newer document (a later
    /// `serverTime`); from a document as new or older they are kept as they are.
    ///
    /// - Throws: ``ExchangeInfoError`` when the document's symbols show the other market;
    ///   ``StoreError`` when the write fails (nothing is stored).
    @discardableResult
    public func insert(
        exchangeInfo document: ExchangeInfoDocument,
        market: BinanceMarket,
        source: String,
        storedAt: Int64 = UTC.now()
    ) throws -> ExchangeInfoStoreResult {
        _ = try document.market(option: market, path: source, source: source)
        do {
            return try queue.write { db in
                var result = ExchangeInfoStoreResult()
                let stored = try Row.fetchAll(
                    db,
                    sql: "SELECT symbol, server_time FROM symbol_filters WHERE market = ?",
                    arguments: [market.rawValue]
                )
                var storedTime: [String: Int64] = [:]
                for row in stored { storedTime[row[0]] = row[1] }
                let upsert = try db.makeStatement(
                    sql: """
                        INSERT OR REPLACE INTO symbol_filters (symbol, market, tick_size, step_size, min_qty, max_qty,
                            min_notional, max_notional, notional_filter, source, server_time, stored_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """
                )
                for f in document.symbols {
                    if let time = storedTime[f.symbol] {
                        guard document.serverTime > time else {
                            result.kept += 1
                            continue
                        }
                        result.replaced += 1
                    } else {
                        result.added += 1
                    }
                    try upsert.execute(arguments: [
                        f.symbol, market.rawValue, f.tickSize, f.stepSize, f.minQty, f.maxQty, f.minNotional,
                        f.maxNotional, f.notionalFilter.rawValue, source, document.serverTime, storedAt,
                    ])
                }
                return result
            }
        } catch {
            throw StoreError(path: path, message: "write failed, no filters stored from \(source): \(error)")
        }
    }

    /// The exchangeInfo filters stored for `symbol` on `market`, if any.
    ///
    /// - Throws: ``StoreError`` when the store cannot be read or a stored value is not usable
    ///   decimal text (the store was edited by hand).
    public func exchangeInfoFilters(symbol: String, market: BinanceMarket) throws -> StoredExchangeInfoFilters? {
        let row: Row?
        do {
            row = try queue.read { db in
                try Row.fetchOne(
                    db,
                    sql: """
                        SELECT tick_size, step_size, min_qty, max_qty, min_notional, max_notional, notional_filter,
                            source, server_time, stored_at
                        FROM symbol_filters WHERE symbol = ? AND market = ?
                        """,
                    arguments: [symbol, market.rawValue]
                )
            }
        } catch {
            throw StoreError(path: path, message: "cannot read the filters of \(symbol) (\(market)): \(error)")
        }
        guard let row else { return nil }
        do {
            let notional: String = row[6]
            guard let filter = ExchangeInfoFilters.NotionalFilter(rawValue: notional) else {
                throw ExchangeInfoFilters.InvalidField(
                    field: "notional_filter",
                    value: notional,
                    reason: "unknown filter"
                )
            }
            return StoredExchangeInfoFilters(
                filters: try ExchangeInfoFilters(
                    symbol: symbol,
                    tickSize: row[0],
                    stepSize: row[1],
                    minQty: row[2],
                    maxQty: row[3],
                    minNotional: row[4],
                    maxNotional: row[5],
                    notionalFilter: filter
                ),
                market: market,
                source: row[7],
                serverTime: row[8],
                storedAt: row[9]
            )
        } catch {
            throw StoreError(path: path, message: "symbol_filters row of \(symbol) (\(market)): \(error)")
        }
    }

    /// How many symbols have exchangeInfo filters stored, per market.
    public func exchangeInfoFilterCounts() throws -> [BinanceMarket: Int] {
        do {
            return try queue.read { db in
                var out: [BinanceMarket: Int] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT market, COUNT(*) FROM symbol_filters GROUP BY market") {
                    // The column's CHECK constraint admits only the two raw values.
                    if let market = BinanceMarket(rawValue: row[0]) { out[market] = row[1] }
                }
                return out
            }
        } catch {
            throw StoreError(path: path, message: "cannot read the store: \(error)")
        }
    }

    /// The filters of `symbol`: the one lookup the backtest, the local exchange and listings use.
    ///
    /// See ``sourcedSymbolFilters(symbol:market:)``.
    public func symbolFilters(symbol: String, market: BinanceMarket? = nil) throws -> SymbolFilters {
        try sourcedSymbolFilters(symbol: symbol, market: market).filters
    }

    /// The filters of `symbol` and where they came from.
    ///
    /// The exchangeInfo filters stored for `symbol` on `market`, else ``SymbolFilters/derived(price:)``
    /// at the close of the middle bar of the symbol's **whole** stored 1m series (whatever window a
    /// caller replays), so the backtest of any window and the local exchange replaying the store get
    /// the very same filters. The derivation only needs a price level, so it reads the 1m series
    /// whatever its market.
    ///
    /// - Parameter market: the market whose exchangeInfo counts; `nil`: the market recorded for the
    ///   symbol's 1m series (a series stored before markets were recorded has none, and gets the
    ///   derivation).
    /// - Throws: ``SymbolFiltersUnavailableError`` when there is no exchangeInfo for it and no 1m
    ///   bar (or the middle bar's close is not a positive price); ``StoreError``.
    public func sourcedSymbolFilters(symbol: String, market: BinanceMarket? = nil) throws -> SourcedSymbolFilters {
        let asked = market
        let (market, reference, bars): (BinanceMarket?, Kline?, Int)
        do {
            (market, reference, bars) = try queue.read { db in
                var market = asked
                if market == nil,
                    case .recorded(let recorded) = try Self.seriesMarket(db, symbol: symbol, interval: .oneMinute)
                {
                    market = recorded
                }
                let count =
                    try Int.fetchOne(
                        db,
                        sql: "SELECT COUNT(*) FROM kline WHERE symbol = ? AND interval = ?",
                        arguments: [symbol, KlineInterval.oneMinute.name]
                    ) ?? 0
                guard count > 0 else { return (market, nil, 0) }
                // The bar SymbolFilters.derived(from:) picks from the whole series (index count / 2),
                // read by SQL rather than by loading every bar of the series.
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT open_time, open, high, low, close, volume, close_time, quote_volume, trade_count,
                            taker_buy_base, taker_buy_quote, ignore
                        FROM kline WHERE symbol = ? AND interval = ? ORDER BY open_time LIMIT 1 OFFSET ?
                        """,
                    arguments: [symbol, KlineInterval.oneMinute.name, count / 2]
                )
                return (market, row.map(Self.kline(from:)), count)
            }
        } catch {
            throw StoreError(path: path, message: "cannot read the 1m series of \(symbol): \(error)")
        }
        if let market, let stored = try exchangeInfoFilters(symbol: symbol, market: market) {
            return SourcedSymbolFilters(
                symbol: symbol,
                filters: stored.filters.symbolFilters,
                source: .exchangeInfo(stored)
            )
        }
        guard let reference else {
            let why =
                market.map { "no exchangeInfo filters for \(symbol) (\($0))" }
                ?? "no market named for \(symbol) to look up its exchangeInfo filters"
            throw SymbolFiltersUnavailableError(
                symbol: symbol,
                description: "\(why) and no 1m bars to derive them from"
            )
        }
        guard reference.close > 0, reference.close.isFinite else {
            throw SymbolFiltersUnavailableError(
                symbol: symbol,
                description:
                    "no exchangeInfo filters for \(symbol), and the middle bar of its 1m series (\(UTC.minuteString(reference.openTime))) has close \(reference.close): no price to derive them from"
            )
        }
        return SourcedSymbolFilters(
            symbol: symbol,
            filters: SymbolFilters.derived(price: reference.close),
            source: .derived(
                DerivedFiltersBasis(bars: bars, referenceOpenTime: reference.openTime, referenceClose: reference.close)
            )
        )
    }
}
