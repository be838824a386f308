import GRDB
import Logging
import ScalperCore
public import Trading

extension SessionStore {
    // MARK: One transaction per event

    /// Stores the state an event produced and the intents of the commands it returned, in one
    /// transaction, before any command is executed.
    ///
    /// - `submit` / `submitList`: each order (both legs of a list) as `intended`, with its request
    ///   and its quantity and prices as exact text on the symbol's grid (the engine's filters).
    ///   A client order id stored before is refused unless it is the very same request still
    ///   `intended` (a venue takes a reused id as a new order once the first is final).
    /// - `cancel` / `cancelList`: a cancel, pending until its target is final.
    /// - `record`: a row of `records`.
    /// - An ``SessionEvent/orderUpdated(_:)`` event's update is stored here too (as
    ///   ``apply(update:venueOrderID:)`` would), so the fill and the state that counts it are
    ///   committed together; ``CommitResult/update`` says what storing it did.
    /// - A ``SessionEvent/control(_:time:request:)`` event marks its `controls` row applied.
    /// - `bookRows`: the live book's features at the bars the event scored (`book_features`).
    ///
    /// Nothing is stored when anything is refused.
    @discardableResult
    public func commit<State: SessionState>(
        event: SessionEvent,
        newState: State,
        commands: [TradingCommand],
        bookRows: [BookFeatureRow] = []
    ) throws(SessionStoreError) -> CommitResult {
        let time = now()
        let what = "commit the \(event.kind) event at \(event.time)"
        let stateJSON: String
        let eventJSON: String
        var orders: [OrderRow] = []
        do {
            stateJSON = try Self.encode(newState)
            eventJSON = try Self.encode(event)
            let engine = newState.tradingEngine
            for command in commands {
                switch command {
                case .submit(let order): orders.append(try OrderRow(order, list: nil, engine: engine))
                case .submitList(let list):
                    orders.append(try OrderRow(list.target, list: list.listClientOrderID, engine: engine))
                    orders.append(try OrderRow(list.stop, list: list.listClientOrderID, engine: engine))
                case .cancel, .cancelList, .record: break
                }
            }
        } catch {
            throw SessionStoreError(path: path, message: "\(what): cannot encode: \(error)")
        }
        let result = try write(what) { db -> CommitResult in
            let stored = try Row.fetchOne(db, sql: "SELECT kind, sequence FROM engine_state WHERE id = 1")
            if let stored, (stored["kind"] as String) != State.stateKind {
                throw SessionStoreError(
                    path: path,
                    message: "\(what): the store holds a \(stored["kind"] as String) state, not a \(State.stateKind)"
                )
            }
            let sequence = (stored?["sequence"] as Int64? ?? 0) + 1
            var outcome: UpdateOutcome?
            if case .orderUpdated(let update) = event {
                outcome = try store(update, venueOrderID: nil, time: time, in: db)
            }
            if case .control(_, _, let request?) = event {
                try markApplied(request, sequence: sequence, time: time, in: db)
            }
            try db.execute(
                sql: """
                    INSERT INTO engine_state (id, kind, state, sequence, last_event, last_event_kind, last_event_time, updated_at)
                    VALUES (1, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET
                        state = excluded.state, sequence = excluded.sequence, last_event = excluded.last_event,
                        last_event_kind = excluded.last_event_kind, last_event_time = excluded.last_event_time,
                        updated_at = excluded.updated_at
                    """,
                arguments: [State.stateKind, stateJSON, sequence, eventJSON, event.kind, event.time, time]
            )
            faultPoint?("mid-snapshot")
            for order in orders { try insert(order, sequence: sequence, time: time, in: db) }
            for row in bookRows {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO book_features (symbol, open_time, update_id, last_trade_id, features, sequence)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [row.symbol, row.openTime, row.updateID, row.lastTradeID, try Self.encode(row.values), sequence]
                )
            }
            for command in commands {
                switch command {
                case .cancel(let symbol, let id):
                    try insertCancel(target: id, isList: false, symbol: symbol, sequence: sequence, time: time, in: db)
                case .cancelList(let symbol, let id):
                    try insertCancel(target: id, isList: true, symbol: symbol, sequence: sequence, time: time, in: db)
                case .record(let record):
                    try insert(record, sequence: sequence, in: db)
                case .submit, .submitList: break
                }
            }
            return CommitResult(sequence: sequence, update: outcome)
        }
        if case .orderUpdated(let update) = event, let outcome = result.update { log(update, outcome) }
        return result
    }

    // MARK: Sending

    /// `intended → sending`, committed just before the order is written to the socket. Refused for
    /// an order in any other status (it may be at the venue already: look it up instead) and for
    /// a leg of a list (lists are sent whole: ``markSending(listClientOrderID:)``).
    public func markSending(clientOrderID: String) throws(SessionStoreError) {
        try transition(
            order: clientOrderID,
            from: .intended,
            to: .sending,
            reason: nil,
            doing: "send order \(clientOrderID)"
        )
    }

    /// `intended → sending` for both legs of a list, just before the list is sent.
    public func markSending(listClientOrderID: String) throws(SessionStoreError) {
        try transition(
            list: listClientOrderID,
            from: .intended,
            to: .sending,
            reason: nil,
            doing: "send list \(listClientOrderID)"
        )
    }

    /// `sending → unknown`: the order was sent and no answer came (a timeout, a dropped connection).
    /// It must be looked up at the venue, never sent again blindly.
    public func markUnknown(clientOrderID: String, reason: String) throws(SessionStoreError) {
        try transition(
            order: clientOrderID,
            from: .sending,
            to: .unknown,
            reason: reason,
            doing: "mark order \(clientOrderID) unknown"
        )
    }

    /// `sending → unknown` for both legs of a list.
    public func markUnknown(listClientOrderID: String, reason: String) throws(SessionStoreError) {
        try transition(
            list: listClientOrderID,
            from: .sending,
            to: .unknown,
            reason: reason,
            doing: "mark list \(listClientOrderID) unknown"
        )
    }

    // MARK: Venue answers

    /// Stores a venue's answer in one transaction: the order's status (never moved back: a late
    /// NEW after FILLED is kept out and reported stale), the venue's order id when given, and the
    /// fill, stored once per (symbol, venue trade id) and reported as a duplicate after that.
    ///
    /// A fill for an order the store does not know is stored all the same (the engine adopts or
    /// reports it; a fill is never dropped). For an update the engine also sees, prefer committing
    /// it as ``SessionEvent/orderUpdated(_:)``: the fill and the state then land together.
    @discardableResult
    public func apply(update: OrderUpdate, venueOrderID: Int64? = nil) throws(SessionStoreError) -> UpdateOutcome {
        let time = now()
        let outcome = try write("store the \(update.status.rawValue) update of \(update.clientOrderID)") { db in
            try store(update, venueOrderID: venueOrderID, time: time, in: db)
        }
        log(update, outcome)
        return outcome
    }

    /// Whether a fill with this venue trade id is stored for `symbol`.
    public func hasFill(symbol: String, tradeID: Int64) throws(SessionStoreError) -> Bool {
        try read("look up fill \(tradeID) of \(symbol)") { db in
            try Bool.fetchOne(
                db,
                sql: "SELECT 1 FROM fills WHERE symbol = ? AND trade_id = ?",
                arguments: [symbol, tradeID]
            ) ?? false
        }
    }

    // MARK: Internals

    /// An order's row, prepared outside the transaction.
    struct OrderRow {
        var request: OrderRequest
        var list: String?
        var json: String
        var quantity: String
        var price: String?
        var stopPrice: String?

        init(_ order: OrderRequest, list: String?, engine: TradingEngine) throws {
            let f = engine.filters(for: order.symbol, price: order.price ?? order.stopPrice ?? order.referencePrice)
            request = order
            self.list = list
            json = try SessionStore.encode(order)
            quantity = DecimalText.text(order.quantity, increment: f.lotStep)
            price = order.price.map { DecimalText.text($0, increment: f.tickSize) }
            stopPrice = order.stopPrice.map { DecimalText.text($0, increment: f.tickSize) }
        }
    }

    private func insert(_ order: OrderRow, sequence: Int64, time: Int64, in db: Database) throws {
        let o = order.request
        if let existing = try Row.fetchOne(
            db,
            sql: "SELECT status, request FROM orders WHERE client_order_id = ?",
            arguments: [o.clientOrderID]
        ) {
            let status: String = existing["status"]
            let request: String = existing["request"]
            // The same intent committed again (a shell retrying a commit) is no new order.
            if status == OrderStatus.intended.rawValue, request == order.json { return }
            throw SessionStoreError(
                path: path,
                message:
                    "client order id \(o.clientOrderID) is stored already (\(status)): a venue takes a reused id as a new order once the first is final"
            )
        }
        try db.execute(
            sql: """
                INSERT INTO orders (
                    client_order_id, list_client_order_id, leg, symbol, side, type, time_in_force, quantity, price,
                    stop_price, decision_time, status, request, sequence, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                o.clientOrderID, order.list, o.leg.rawValue, o.symbol, o.side.rawValue, o.type.rawValue,
                o.timeInForce?.rawValue,
                order.quantity, order.price, order.stopPrice, o.decisionTime, OrderStatus.intended.rawValue, order.json,
                sequence, time, time,
            ]
        )
    }

    private func insertCancel(
        target: String,
        isList: Bool,
        symbol: String,
        sequence: Int64,
        time: Int64,
        in db: Database
    ) throws {
        let column = isList ? "list_client_order_id" : "client_order_id"
        let statuses = try String.fetchAll(
            db,
            sql: "SELECT status FROM orders WHERE \(column) = ?",
            arguments: [target]
        )
        guard !statuses.isEmpty else {
            throw SessionStoreError(
                path: path,
                message:
                    "cancel of \(isList ? "list" : "order") \(target): no such \(isList ? "list" : "order") in the store"
            )
        }
        // A target already final needs no cancel: stored as answered, for the record.
        let final = statuses.allSatisfy { OrderStatus(rawValue: $0)?.isFinal == true }
        try db.execute(
            sql:
                "INSERT INTO cancels (target, is_list, symbol, sequence, requested_at, answered_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [target, isList, symbol, sequence, time, final ? time : nil]
        )
    }

    private func insert(_ record: TradingRecord, sequence: Int64, in db: Database) throws {
        let kind: String
        let time: Int64
        var symbol: String?
        var reason: String?
        var value: Double?
        switch record {
        case .signal(let s):
            (kind, time, symbol, reason, value) = ("signal", s.time, s.symbol, s.reason, s.score)
        case .refused(let s, let why, let t):
            (kind, time, symbol, reason) = ("refused", t, s, why.rawValue)
        case .trade(let t):
            (kind, time, symbol, reason, value) = ("trade", t.exitTime, t.symbol, t.exitReason.rawValue, t.pnlUSDT)
        case .equity(let t, let equity):
            (kind, time, value) = ("equity", t, equity)
        case .killSwitch(let t, let equity, _):
            (kind, time, value) = ("kill-switch", t, equity)
        case .anomaly(let message, let t):
            (kind, time, reason) = ("anomaly", t, message)
        }
        try db.execute(
            sql:
                "INSERT INTO records (sequence, kind, time, symbol, reason, value, record) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [sequence, kind, time, symbol, reason, value, try Self.encode(record)]
        )
    }

    /// The order of statuses: an update never moves an order to an earlier one, nor out of a final one.
    private static func rank(_ status: OrderStatus) -> Int {
        switch status {
        case .intended: 0
        case .sending: 1
        case .unknown: 2
        case .accepted: 3
        case .partiallyFilled: 4
        case .filled, .cancelled, .rejected, .expired: 5
        }
    }

    private func store(_ u: OrderUpdate, venueOrderID: Int64?, time: Int64, in db: Database) throws -> UpdateOutcome {
        var duplicate = false
        if let fill = u.fill {
            try db.execute(
                sql: """
                    INSERT INTO fills (symbol, trade_id, client_order_id, price, quantity, commission, commission_asset, time, recorded_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (symbol, trade_id) DO NOTHING
                    """,
                arguments: [
                    u.symbol, fill.tradeID, u.clientOrderID, DecimalText.exact(fill.price),
                    DecimalText.exact(fill.quantity),
                    DecimalText.exact(fill.commission), fill.commissionAsset.rawValue, fill.time, time,
                ]
            )
            duplicate = db.changesCount == 0
        }
        guard
            let row = try Row.fetchOne(
                db,
                sql: "SELECT status FROM orders WHERE client_order_id = ?",
                arguments: [u.clientOrderID]
            )
        else {
            return UpdateOutcome(
                isKnownOrder: false,
                previousStatus: nil,
                status: nil,
                isDuplicateFill: duplicate,
                isStaleStatus: false
            )
        }
        let text: String = row["status"]
        guard let previous = OrderStatus(rawValue: text) else {
            throw SessionStoreError(
                path: path,
                message: "order \(u.clientOrderID) has status \(text), which this version does not know"
            )
        }
        let moves = !previous.isFinal && Self.rank(u.status) >= Self.rank(previous)
        if moves {
            try db.execute(
                sql: """
                    UPDATE orders SET status = ?, venue_time = ?, last_reason = COALESCE(?, last_reason),
                        venue_order_id = COALESCE(?, venue_order_id), updated_at = ?
                    WHERE client_order_id = ?
                    """,
                arguments: [u.status.rawValue, u.time, u.reason, venueOrderID, time, u.clientOrderID]
            )
            if u.status.isFinal { try answerCancels(of: u.clientOrderID, time: time, in: db) }
        } else if let venueOrderID {
            try db.execute(
                sql: "UPDATE orders SET venue_order_id = COALESCE(venue_order_id, ?) WHERE client_order_id = ?",
                arguments: [venueOrderID, u.clientOrderID]
            )
        }
        return UpdateOutcome(
            isKnownOrder: true,
            previousStatus: previous,
            status: moves ? u.status : previous,
            isDuplicateFill: duplicate,
            isStaleStatus: !moves && previous != u.status
        )
    }

    /// Cancels of an order now final are answered, and those of its list once every leg is.
    private func answerCancels(of clientOrderID: String, time: Int64, in db: Database) throws {
        try db.execute(
            sql: "UPDATE cancels SET answered_at = ? WHERE answered_at IS NULL AND is_list = 0 AND target = ?",
            arguments: [time, clientOrderID]
        )
        guard
            let list = try String.fetchOne(
                db,
                sql: "SELECT list_client_order_id FROM orders WHERE client_order_id = ?",
                arguments: [clientOrderID]
            )
        else { return }
        let statuses = try String.fetchAll(
            db,
            sql: "SELECT status FROM orders WHERE list_client_order_id = ?",
            arguments: [list]
        )
        guard statuses.allSatisfy({ OrderStatus(rawValue: $0)?.isFinal == true }) else { return }
        try db.execute(
            sql: "UPDATE cancels SET answered_at = ? WHERE answered_at IS NULL AND is_list = 1 AND target = ?",
            arguments: [time, list]
        )
    }

    private func transition(
        order id: String,
        from: OrderStatus,
        to: OrderStatus,
        reason: String?,
        doing: String
    ) throws(SessionStoreError) {
        let time = now()
        try write(doing) { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT status, list_client_order_id FROM orders WHERE client_order_id = ?",
                    arguments: [id]
                )
            else {
                throw SessionStoreError(path: path, message: "\(doing): no such order in the store")
            }
            if let list: String = row["list_client_order_id"] {
                throw SessionStoreError(
                    path: path,
                    message: "\(doing): it is a leg of list \(list); lists are sent and looked up whole"
                )
            }
            try check(status: row["status"], of: id, from: from, to: to, doing: doing)
            try db.execute(
                sql:
                    "UPDATE orders SET status = ?, last_reason = COALESCE(?, last_reason), updated_at = ? WHERE client_order_id = ?",
                arguments: [to.rawValue, reason, time, id]
            )
        }
    }

    private func transition(
        list id: String,
        from: OrderStatus,
        to: OrderStatus,
        reason: String?,
        doing: String
    ) throws(SessionStoreError) {
        let time = now()
        try write(doing) { db in
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT client_order_id, status FROM orders WHERE list_client_order_id = ?",
                arguments: [id]
            )
            guard !rows.isEmpty else {
                throw SessionStoreError(path: path, message: "\(doing): no such list in the store")
            }
            for row in rows {
                try check(status: row["status"], of: row["client_order_id"], from: from, to: to, doing: doing)
            }
            try db.execute(
                sql:
                    "UPDATE orders SET status = ?, last_reason = COALESCE(?, last_reason), updated_at = ? WHERE list_client_order_id = ?",
                arguments: [to.rawValue, reason, time, id]
            )
        }
    }

    private func check(status: String, of id: String, from: OrderStatus, to: OrderStatus, doing: String) throws {
        guard status == from.rawValue else {
            let advice =
                from == .intended
                ? ": it may be at the venue already; look it up by client order id instead of sending it" : ""
            throw SessionStoreError(
                path: path,
                message: "\(doing): order \(id) is \(status), not \(from.rawValue)\(advice)"
            )
        }
    }

    private func log(_ update: OrderUpdate, _ outcome: UpdateOutcome) {
        let metadata: Logger.Metadata = [
            "order": "\(update.clientOrderID)", "symbol": "\(update.symbol)", "status": "\(update.status.rawValue)",
        ]
        if outcome.isDuplicateFill, let fill = update.fill {
            logger.warning("fill \(fill.tradeID) stored already; not stored again", metadata: metadata)
        }
        if outcome.isStaleStatus, let status = outcome.status {
            logger.warning("update would move the order back from \(status.rawValue); kept", metadata: metadata)
        }
        if !outcome.isKnownOrder {
            logger.warning(
                "update for an order this session did not store\(update.fill == nil ? "" : "; its fill is stored")",
                metadata: metadata
            )
        }
    }
}
