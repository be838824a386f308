import Foundation
import GRDB
public import ScalperCore

/// What the store holds of one symbol's recorded streams.
public struct RecordingSummary: Equatable, Sendable, Codable {
    /// Symbol.
    public var symbol: String
    /// Depth snapshots.
    public var snapshots: Int
    /// Diff-depth events.
    public var depthUpdates: Int
    /// Best bid/ask updates.
    public var bookTickers: Int
    /// Trades.
    public var trades: Int
    /// First and last time of a diff-depth event (ms), if any.
    public var firstDepthTime: Int64?
    /// Last diff-depth event time (ms).
    public var lastDepthTime: Int64?
}

/// What storing one recording did, per kind of row.
public struct RecordingInsertResult: Equatable, Sendable {
    /// New snapshots, diff events, book tickers and trades.
    public var snapshots = 0, depthUpdates = 0, bookTickers = 0, trades = 0
    /// New 1 m bars aggregated from the trades, and bars the store already had.
    public var bars = StoreInsertResult(inserted: 0, alreadyPresent: 0)
    /// The market the bars were stored for.
    public var market: BinanceMarket
    /// Symbols whose 1 m series was stored before the store recorded markets and now has `market`.
    public var settledUnknownMarket: [String] = []
    /// Rows of the recording the store already had.
    public var alreadyPresent = 0
}

extension MarketStore {
    /// Stores a recording and the 1 m bars built from its trades (minutes the recording covers
    /// wholly) in one transaction: all of it or, on any error, nothing. Known rows are left as they
    /// are, so importing a recording twice adds nothing, and bars already in the store (say from
    /// Binance Vision) are never replaced by trade-built ones.
    ///
    /// - Parameter market: the market the bars are stored for; `nil`: the one the recording's depth
    ///   events show (``StreamRecording/marketOfDepthEvents``), else ``ImportOptions/defaultMarket``.
    /// - Throws: ``MarketMismatchError`` when the store holds a symbol's 1 m bars for the other
    ///   market (nothing of the recording is stored); ``StoreError`` when the write fails.
    @discardableResult
    public func insert(
        recording: StreamRecording,
        market: BinanceMarket? = nil,
        importedAt: Int64 = UTC.now()
    ) throws -> RecordingInsertResult {
        let market = market ?? recording.marketOfDepthEvents ?? ImportOptions.defaultMarket
        do {
            return try queue.write { db in
                var result = RecordingInsertResult(market: market)
                var total = 0
                let snapshot = try db.makeStatement(sql: "INSERT OR IGNORE INTO depth_snapshot VALUES (?, ?, ?, ?, ?)")
                let update = try db.makeStatement(sql: "INSERT OR IGNORE INTO depth_update VALUES (?, ?, ?, ?, ?, ?, ?)")
                let ticker = try db.makeStatement(sql: "INSERT OR IGNORE INTO book_ticker VALUES (?, ?, ?, ?, ?, ?, ?)")
                let trade = try db.makeStatement(sql: "INSERT OR IGNORE INTO trade VALUES (?, ?, ?, ?, ?, ?)")
                for s in recording.streams {
                    for r in s.snapshots {
                        snapshot.setUncheckedArguments([s.symbol, r.snapshot.lastUpdateID, r.time, Self.blob(r.snapshot.bids), Self.blob(r.snapshot.asks)])
                        try snapshot.execute()
                        result.snapshots += db.changesCount
                    }
                    for u in s.updates {
                        update.setUncheckedArguments([
                            s.symbol, u.finalUpdateID, u.firstUpdateID, u.previousFinalUpdateID, u.eventTime, Self.blob(u.bids), Self.blob(u.asks),
                        ])
                        try update.execute()
                        result.depthUpdates += db.changesCount
                    }
                    for b in s.bookTickers {
                        let t = b.ticker
                        ticker.setUncheckedArguments([s.symbol, t.updateID, b.time, t.bid.price, t.bid.quantity, t.ask.price, t.ask.quantity])
                        try ticker.execute()
                        result.bookTickers += db.changesCount
                    }
                    for t in s.trades {
                        trade.setUncheckedArguments([s.symbol, t.id, t.time, t.price, t.quantity, t.buyerIsMaker])
                        try trade.execute()
                        result.trades += db.changesCount
                    }
                    total += s.snapshots.count + s.updates.count + s.bookTickers.count + s.trades.count
                    let bars = s.minuteBars(covered: recording.span)
                    let stored = try Self.insertKlines(
                        db, bars, symbol: s.symbol, interval: .oneMinute, market: market, source: "\(recording.source) (trades)",
                        sha256: nil, duplicatesDropped: 0, importedAt: importedAt
                    )
                    result.bars.inserted += stored.inserted
                    result.bars.alreadyPresent += stored.alreadyPresent
                    if stored.settledUnknownMarket { result.settledUnknownMarket.append(s.symbol) }
                }
                result.alreadyPresent = total - result.snapshots - result.depthUpdates - result.bookTickers - result.trades
                return result
            }
        } catch let error as MarketMismatchError {
            throw error
        } catch {
            throw StoreError(path: path, message: "write failed, nothing stored from \(recording.source): \(error)")
        }
    }

    /// Symbols with recorded streams, and how much of each kind.
    public func recordings() throws -> [RecordingSummary] {
        do {
            return try queue.read { db in
                var out: [String: RecordingSummary] = [:]
                func add(_ sql: String, _ body: (inout RecordingSummary, Row) -> Void) throws {
                    for row in try Row.fetchAll(db, sql: sql) {
                        let symbol: String = row[0]
                        body(&out[symbol, default: RecordingSummary(symbol: symbol, snapshots: 0, depthUpdates: 0, bookTickers: 0, trades: 0)], row)
                    }
                }
                try add("SELECT symbol, COUNT(*) FROM depth_snapshot GROUP BY symbol") { $0.snapshots = $1[1] }
                try add("SELECT symbol, COUNT(*), MIN(event_time), MAX(event_time) FROM depth_update GROUP BY symbol") {
                    $0.depthUpdates = $1[1]
                    $0.firstDepthTime = $1[2]
                    $0.lastDepthTime = $1[3]
                }
                try add("SELECT symbol, COUNT(*) FROM book_ticker GROUP BY symbol") { $0.bookTickers = $1[1] }
                try add("SELECT symbol, COUNT(*) FROM trade GROUP BY symbol") { $0.trades = $1[1] }
                return out.values.sorted { $0.symbol < $1.symbol }
            }
        } catch {
            throw StoreError(path: path, message: "cannot read the recordings: \(error)")
        }
    }

    /// Everything recorded of `symbol`, in time order (empty lists when nothing was).
    public func recordedStreams(symbol: String) throws -> RecordedStreams {
        do {
            return try queue.read { db in
                var s = RecordedStreams(symbol: symbol)
                for row in try Row.fetchAll(db, sql: "SELECT last_update_id, time, bids, asks FROM depth_snapshot WHERE symbol = ? ORDER BY time, last_update_id", arguments: [symbol]) {
                    s.snapshots.append(
                        RecordedSnapshot(time: row[1], snapshot: DepthSnapshot(lastUpdateID: row[0], bids: try Self.levels(row[2]), asks: try Self.levels(row[3])))
                    )
                }
                for row in try Row.fetchAll(
                    db,
                    sql: "SELECT final_update_id, first_update_id, previous_final_update_id, event_time, bids, asks FROM depth_update WHERE symbol = ? ORDER BY final_update_id",
                    arguments: [symbol]
                ) {
                    s.updates.append(
                        DepthUpdate(
                            eventTime: row[3], firstUpdateID: row[1], finalUpdateID: row[0], previousFinalUpdateID: row[2],
                            bids: try Self.levels(row[4]), asks: try Self.levels(row[5])
                        )
                    )
                }
                for row in try Row.fetchAll(db, sql: "SELECT update_id, time, bid, bid_quantity, ask, ask_quantity FROM book_ticker WHERE symbol = ? ORDER BY update_id", arguments: [symbol]) {
                    s.bookTickers.append(
                        RecordedBookTicker(
                            time: row[1],
                            ticker: BookTicker(updateID: row[0], bid: PriceLevel(price: row[2], quantity: row[3]), ask: PriceLevel(price: row[4], quantity: row[5]))
                        )
                    )
                }
                for row in try Row.fetchAll(db, sql: "SELECT id, time, price, quantity, buyer_is_maker FROM trade WHERE symbol = ? ORDER BY id", arguments: [symbol]) {
                    s.trades.append(Trade(id: row[0], time: row[1], price: row[2], quantity: row[3], buyerIsMaker: row[4]))
                }
                return s
            }
        } catch {
            throw StoreError(path: path, message: "cannot read the recording of \(symbol): \(error)")
        }
    }

    static func blob(_ levels: [PriceLevel]) -> Data {
        var out = Data(capacity: levels.count * 16)
        for l in levels {
            withUnsafeBytes(of: l.price.bitPattern.littleEndian) { out.append(contentsOf: $0) }
            withUnsafeBytes(of: l.quantity.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        }
        return out
    }

    static func levels(_ data: Data) throws -> [PriceLevel] {
        guard data.count % 16 == 0 else { throw StoreError(path: "", message: "a level list of \(data.count) bytes is not (price, quantity) pairs") }
        let bytes = [UInt8](data)
        func word(_ at: Int) -> Double {
            var bits: UInt64 = 0
            for k in 0..<8 { bits |= UInt64(bytes[at + k]) << UInt64(8 * k) }
            return Double(bitPattern: bits)
        }
        return stride(from: 0, to: bytes.count, by: 16).map { PriceLevel(price: word($0), quantity: word($0 + 8)) }
    }
}
