import GRDB
import Logging
import Trading

extension SessionStore {
    /// What a restart needs, read in one transaction: the last state (decoded as `State`; a store
    /// holding another kind of state is an error), the last event and its sequence number, every
    /// order not final by status, the cancels not answered and the controls not applied.
    public func recover<State: SessionState>(as type: State.Type) throws(SessionStoreError) -> SessionRecovery<State> {
        let recovery = try read("recover the session") { db -> SessionRecovery<State> in
            var state: State?
            var lastEvent: SessionEvent?
            var sequence: Int64 = 0
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM engine_state WHERE id = 1") {
                let kind: String = row["kind"]
                guard kind == State.stateKind else {
                    throw SessionStoreError(
                        path: path,
                        message: "recover: the store holds a \(kind) state, not a \(State.stateKind)"
                    )
                }
                state = try Self.decode(State.self, from: row["state"])
                lastEvent = try Self.decode(SessionEvent.self, from: row["last_event"])
                sequence = row["sequence"]
            }
            let open = try Self.fetchOrders(
                db,
                where: "status NOT IN ('FILLED', 'CANCELED', 'REJECTED', 'EXPIRED')",
                path: path
            )
            let cancels = try Row.fetchAll(
                db,
                sql:
                    "SELECT target, is_list, symbol, sequence, requested_at FROM cancels WHERE answered_at IS NULL ORDER BY id"
            ).map { row in
                let target: String = row["target"]
                return PendingCancel(
                    target: row["is_list"] ? .list(listClientOrderID: target) : .order(clientOrderID: target),
                    symbol: row["symbol"],
                    sequence: row["sequence"],
                    requestedAt: row["requested_at"]
                )
            }
            return SessionRecovery(
                meta: try Self.fetchMeta(db),
                state: state,
                sequence: sequence,
                lastEvent: lastEvent,
                ordersByStatus: Dictionary(grouping: open, by: \.status),
                pendingCancels: cancels,
                pendingControls: try Self.fetchControls(db, pendingOnly: true)
            )
        }
        logger.info(
            "recovered the session store",
            metadata: [
                "sequence": "\(recovery.sequence)", "never_sent": "\(recovery.neverSent.count)",
                "to_look_up": "\(recovery.toLookUp.count)", "working": "\(recovery.working.count)",
                "pending_cancels": "\(recovery.pendingCancels.count)",
                "pending_controls": "\(recovery.pendingControls.count)",
            ]
        )
        return recovery
    }

    // MARK: Reading

    /// Every order, in the order they were stored.
    public func orders() throws(SessionStoreError) -> [StoredOrder] {
        try read("read the orders") { db in try Self.fetchOrders(db, where: nil, path: path) }
    }

    /// One order by client id.
    public func order(clientOrderID: String) throws(SessionStoreError) -> StoredOrder? {
        try read("read order \(clientOrderID)") { db in
            try Self.fetchOrders(db, where: "client_order_id = ?", arguments: [clientOrderID], path: path).first
        }
    }

    /// Every fill, in the order they were stored.
    public func fills() throws(SessionStoreError) -> [StoredFill] {
        try read("read the fills") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM fills ORDER BY id").map { row in
                let tradeID: Int64 = row["trade_id"]
                func number(_ column: String) throws -> Double {
                    let text: String = row[column]
                    guard let value = DecimalText.parse(text) else {
                        throw SessionStoreError(
                            path: path,
                            message: "fill \(tradeID): \(column) \(text) is not a number"
                        )
                    }
                    return value
                }
                let asset: String = row["commission_asset"]
                guard let commissionAsset = CommissionAsset(rawValue: asset) else {
                    throw SessionStoreError(path: path, message: "fill \(tradeID): commission asset \(asset) unknown")
                }
                return StoredFill(
                    symbol: row["symbol"],
                    clientOrderID: row["client_order_id"],
                    fill: OrderFill(
                        tradeID: tradeID,
                        price: try number("price"),
                        quantity: try number("quantity"),
                        commission: try number("commission"),
                        commissionAsset: commissionAsset,
                        time: row["time"]
                    ),
                    recordedAt: row["recorded_at"]
                )
            }
        }
    }

    /// The records of commits after `sequence` (all of them by default), in order.
    public func records(after sequence: Int64 = 0) throws(SessionStoreError) -> [StoredRecord] {
        try read("read the records") { db in
            try Row.fetchAll(
                db,
                sql: "SELECT sequence, record FROM records WHERE sequence > ? ORDER BY id",
                arguments: [sequence]
            ).map { row in
                StoredRecord(
                    sequence: row["sequence"],
                    record: try Self.decode(TradingRecord.self, from: row["record"])
                )
            }
        }
    }

    static func fetchOrders(
        _ db: Database,
        where condition: String?,
        arguments: StatementArguments = [],
        path: String
    ) throws -> [StoredOrder] {
        let sql =
            "SELECT * FROM orders \(condition.map { "WHERE \($0)" } ?? "") ORDER BY sequence, created_at, client_order_id"
        return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
            let id: String = row["client_order_id"]
            let text: String = row["status"]
            guard let status = OrderStatus(rawValue: text) else {
                throw SessionStoreError(
                    path: path,
                    message: "order \(id) has status \(text), which this version does not know"
                )
            }
            return StoredOrder(
                request: try decode(OrderRequest.self, from: row["request"]),
                listClientOrderID: row["list_client_order_id"],
                status: status,
                quantityText: row["quantity"],
                priceText: row["price"],
                stopPriceText: row["stop_price"],
                venueOrderID: row["venue_order_id"],
                venueTime: row["venue_time"],
                lastReason: row["last_reason"],
                sequence: row["sequence"],
                createdAt: row["created_at"],
                updatedAt: row["updated_at"]
            )
        }
    }
}

/// The live book's features at one scored bar: what a session records for future training.
public struct BookFeatureRow: Equatable, Sendable {
    /// The symbol.
    public var symbol: String
    /// Open time of the bar the features belong to.
    public var openTime: Int64
    /// `lastUpdateId` of the depth frame the book stood at.
    public var updateID: Int64
    /// Id of the last trade print at or before the bar's close (the mid-vs-last feature's price), if any.
    public var lastTradeID: Int64?
    /// The eight book features in spec order (NaN where undefined).
    public var values: [Double]

    /// Creates a row.
    public init(symbol: String, openTime: Int64, updateID: Int64, lastTradeID: Int64?, values: [Double]) {
        self.symbol = symbol
        self.openTime = openTime
        self.updateID = updateID
        self.lastTradeID = lastTradeID
        self.values = values
    }
}

extension SessionStore {
    /// Every recorded book-feature row, by symbol and bar.
    public func bookFeatureRows() throws(SessionStoreError) -> [BookFeatureRow] {
        try read("read the book features") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM book_features ORDER BY symbol, open_time").map { row in
                BookFeatureRow(
                    symbol: row["symbol"],
                    openTime: row["open_time"],
                    updateID: row["update_id"],
                    lastTradeID: row["last_trade_id"],
                    values: try Self.decode([Double].self, from: row["features"])
                )
            }
        }
    }
}
