import Foundation
import ScalperCore
import Synchronization
import Trading

/// The answer to a placement: the order as booked, and the executions it made at once.
struct Placement {
    var order: BookedOrder
    var fills: [Execution]
}

/// The legs of a new OCO list, read from `POST /api/v3/orderList/oco` (or the older `order/oco`).
struct NewOCO {
    struct Leg {
        var type: String
        var price: Decimal?
        var stopPrice: Decimal?
        var timeInForce: String?
        var clientOrderID: String?
    }

    var symbol: String
    var side: Side
    var quantity: Decimal
    var listClientOrderID: String?
    /// The LIMIT_MAKER / TAKE_PROFIT(_LIMIT) leg.
    var limit: Leg
    /// The STOP_LOSS(_LIMIT) leg.
    var stop: Leg
}

extension ExchangeVenue {
    // MARK: Placing

    /// Books `new` for `apiKey` at sim time `now` (settled through `now` first), matching it at
    /// once where its type and the rule say so. Refusals as Binance's: -2010 with the matching
    /// engine's reason, -1013 MAX_NUM_ORDERS, 429 / -1015 past the ORDERS limits.
    func place(_ new: NewOrder, apiKey: String, now: Int64) throws(APIError) -> Placement {
        settle(through: now)
        let outcome: Result<Placement, APIError> = state.withLock { s in
            do throws(APIError) {
                try countOrders(&s, apiKey: apiKey, count: 1, now: now, add: false)
                let placed = try book(&s, new, apiKey: apiKey, listID: -1, now: now)
                try countOrders(&s, apiKey: apiKey, count: 1, now: now, add: true)
                return .success(placed)
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    /// Checks `count` new orders against the account's ORDERS windows (10 s and day, fixed and
    /// aligned as Binance's), refusing past either limit with 429 and the seconds to its reset;
    /// with `add`, counts them (orders are counted once booked, refused ones are not).
    private func countOrders(_ s: inout VenueState, apiKey: String, count: Int, now: Int64, add: Bool) throws(APIError) {
        guard var account = s.accounts[apiKey] else { throw APIError(status: 401, code: -2015, message: "Invalid API-key, IP, or permissions for action.") }
        let ten = now / 10_000
        let day = now / 86_400_000
        if account.tenSecondWindow != ten { (account.tenSecondWindow, account.ordersInTenSeconds) = (ten, 0) }
        if account.dayWindow != day { (account.dayWindow, account.ordersInDay) = (day, 0) }
        if settings.limitsEnabled {
            if account.ordersInTenSeconds + count > settings.ordersPer10Seconds {
                s.accounts[apiKey] = account
                throw APIError(
                    status: 429, code: -1015, message: "Too many new orders; current limit is \(settings.ordersPer10Seconds) orders per 10 SECOND.",
                    retryAfter: Int(((ten + 1) * 10_000 - now + 999) / 1_000)
                )
            }
            if account.ordersInDay + count > settings.ordersPerDay {
                s.accounts[apiKey] = account
                throw APIError(
                    status: 429, code: -1015, message: "Too many new orders; current limit is \(settings.ordersPerDay) orders per 1 DAY.",
                    retryAfter: Int(((day + 1) * 86_400_000 - now + 999) / 1_000)
                )
            }
        }
        if add {
            account.ordersInTenSeconds += count
            account.ordersInDay += count
        }
        s.accounts[apiKey] = account
    }

    /// The account's order counts in the current windows (`X-MBX-ORDER-COUNT-10S` / `-1D`).
    func orderCounts(apiKey: String, now: Int64) -> (tenSeconds: Int, day: Int) {
        state.withLock { s in
            guard let a = s.accounts[apiKey] else { return (0, 0) }
            return (a.tenSecondWindow == now / 10_000 ? a.ordersInTenSeconds : 0, a.dayWindow == now / 86_400_000 ? a.ordersInDay : 0)
        }
    }

    /// Books one order (checks, funds locked, the NEW report, then what it matches at once).
    private func book(_ s: inout VenueState, _ new: NewOrder, apiKey: String, listID: Int64, now: Int64) throws(APIError) -> Placement {
        guard let pair = market.pairs[new.symbol] else { throw .badSymbol }
        let filters = pair.filters
        let side: Side = new.side == .buy ? .buy : .sell
        let (base, quote) = Self.assets(new.symbol)
        if new.trailingDelta != nil {
            throw APIError(status: 400, code: -2010, message: "Trailing stops are not supported by this exchange.")
        }
        if let id = new.newClientOrderId, s.openOrders.contains(where: { $0.apiKey == apiKey && $0.clientOrderID == id }) {
            throw APIError(status: 400, code: -2010, message: "Duplicate order sent.")
        }
        if settings.limitsEnabled, s.openOrders.count(where: { $0.apiKey == apiKey && $0.symbol == new.symbol }) >= settings.maxOpenOrdersPerSymbol {
            throw APIError(status: 400, code: -1013, message: "Filter failure: MAX_NUM_ORDERS")
        }
        guard let last = market.state(new.symbol, at: now)?.price else { throw .badSymbol }
        let lastPrice = decimal(last, filters.priceDecimals)
        let book = market.book(new.symbol, at: now, levels: 20)
        // Stop orders that would trigger at once, and post-only orders that would take, are refused.
        var probe = BookedOrder(
            id: 0, apiKey: apiKey, symbol: new.symbol, clientOrderID: "", side: side, type: new.type, timeInForce: new.timeInForce,
            price: new.price, stopPrice: new.stopPrice, quantity: new.quantity ?? 0, quoteOrderQty: new.quoteOrderQty ?? 0,
            time: now, updateTime: now, workingTime: now, working: true, lockedAsset: side == .buy ? quote : base, locked: 0
        )
        if new.stopPrice != nil, Self.triggers(probe, at: lastPrice) {
            throw APIError(status: 400, code: -2010, message: "Order would trigger immediately.")
        }
        if new.type == "LIMIT_MAKER", let p = new.price, let book {
            let crosses = side == .buy ? book.asks.first.map { p >= decimal($0.0, filters.priceDecimals) } : book.bids.first.map { p <= decimal($0.0, filters.priceDecimals) }
            if crosses == true { throw APIError(status: 400, code: -2010, message: "Order would immediately match and take.") }
        }
        // Funds: resting orders lock what they may spend; a market order must be payable now.
        let free = s.accounts[apiKey]?.free ?? [:]
        var lock: Decimal = 0
        var marketWalk: [(Decimal, Decimal)] = []
        if new.type == "MARKET" {
            if settings.rule == .continuous {
                let levels = book.map { b in (side == .buy ? b.asks : b.bids).map { BookLevel(price: $0.0, quantity: $0.1) } }
                var quantity = new.quantity ?? 0
                if let quoteQty = new.quoteOrderQty, new.quantity == nil {
                    quantity = quantityFor(quote: quoteQty, levels: levels ?? [], reference: last, side: side, filters: filters)
                    guard quantity > 0 else { throw APIError(status: 400, code: -1013, message: "Filter failure: LOT_SIZE") }
                }
                probe.quantity = quantity
                let walk = settings.fillModel.market(side: side, quantity: NSDecimalNumber(decimal: quantity).doubleValue, reference: last, book: levels, filters: filters)
                marketWalk = onGrid(walk, total: quantity, filters)
                let spend = marketWalk.reduce(Decimal(0)) { $0 + (side == .buy ? $1.0 * $1.1 : $1.1) }
                if spend > (free[side == .buy ? quote : base] ?? 0) { throw APIError(status: 400, code: -2010, message: SimulatedVenue.insufficientBalance) }
            } else if side == .sell {
                // Parity mode: a waiting sell holds its base until the next open.
                lock = new.quantity ?? 0
                if lock > (free[base] ?? 0) { throw APIError(status: 400, code: -2010, message: SimulatedVenue.insufficientBalance) }
            }
        } else {
            let quantity = new.quantity ?? 0
            lock = side == .buy ? quantity * (new.price ?? new.stopPrice ?? 0) : quantity
            if listID >= 0, s.lists[listID].map({ !$0.orderIDs.isEmpty }) == true { lock = 0 }  // a list locks once
            if lock > (free[side == .buy ? quote : base] ?? 0) { throw APIError(status: 400, code: -2010, message: SimulatedVenue.insufficientBalance) }
        }
        s.nextOrderID += 1
        var order = probe
        order.id = s.nextOrderID
        order.clientOrderID = new.newClientOrderId ?? "x-\(s.nextOrderID)-\(now)"
        order.listID = listID
        order.working = new.stopPrice == nil
        order.workingTime = order.working ? now : -1
        order.locked = lock
        if lock > 0 {
            s.accounts[apiKey]?.free[order.lockedAsset, default: 0] -= lock
            s.accounts[apiKey]?.locked[order.lockedAsset, default: 0] += lock
        }
        s.orders[order.id] = order
        s.open.insert(order.id)
        if listID >= 0 { s.lists[listID]?.orderIDs.append(order.id) }
        publish(s, apiKey, executionReport(order, execution: nil, type: "NEW", time: now))
        let before = s.executions.count
        switch (new.type, settings.rule) {
        case ("MARKET", .continuous):
            execute(&s, id: order.id, fills: marketWalk, maker: false, time: now)
        case ("LIMIT", _):
            try limitAtOnce(&s, id: order.id, tif: new.timeInForce ?? "GTC", now: now)
        default:
            break
        }
        if lock > 0 || listID < 0 {
            publish(s, apiKey, accountPosition(s, apiKey, assets: [base, quote], time: now))
        }
        return Placement(order: s.orders[order.id] ?? order, fills: Array(s.executions[before...]))
    }

    /// A LIMIT order takes what the book offers through its price; IOC expires the rest, FOK
    /// expires the whole order unless the book fills it completely.
    private func limitAtOnce(_ s: inout VenueState, id: Int64, tif: String, now: Int64) throws(APIError) {
        guard let order = s.orders[id], let limit = order.price, let filters = market.pairs[order.symbol]?.filters else { return }
        let book = market.book(order.symbol, at: now, levels: 20)
        let levels = (order.side == .buy ? book?.asks : book?.bids) ?? []
        var fills: [(Decimal, Decimal)] = []
        var left = order.remaining
        for (p, q) in levels where left > 0 {
            let price = decimal(p, filters.priceDecimals)
            guard order.side == .buy ? price <= limit : price >= limit else { break }
            let take = min(left, floorStep(decimal(q, 8), filters))
            guard take > 0 else { continue }
            fills.append((price, take))
            left -= take
        }
        if tif == "FOK" && left > 0 {
            finish(&s, id: id, status: "EXPIRED", time: now, reason: "UNFILLED_FOK_ORDER_EXPIRED")
            return
        }
        if !fills.isEmpty { execute(&s, id: id, fills: fills, maker: false, time: now) }
        if tif == "IOC", s.orders[id]?.isOpen == true {
            finish(&s, id: id, status: "EXPIRED", time: now, reason: "UNFILLED_IOC_QUANTITY_EXPIRED")
        }
    }

    /// The quantity a market order for `quote` buys (or sells) walking `levels`, floored to the step.
    private func quantityFor(quote: Decimal, levels: [BookLevel], reference: Double, side: Side, filters: SymbolFilters) -> Decimal {
        // Level by level, each take on the lot step (so the decimals stay short and exact).
        var left = quote
        var quantity: Decimal = 0
        for level in levels where left > 0 {
            let price = decimal(level.price, filters.priceDecimals)
            guard price > 0 else { continue }
            let take = min(floorStep(decimal(level.quantity, 8), filters), floorStep(left / price, filters))
            guard take > 0 else { break }
            quantity += take
            left -= take * price
        }
        let last = decimal(settings.fillModel.slipped(levels.last?.price ?? reference, side: side, filters: filters), filters.priceDecimals)
        if left > 0, last > 0 { quantity += floorStep(left / last, filters) }
        return quantity
    }

    /// Books an OCO list: the stop leg, then the limit maker (or take-profit) leg (Binance's order),
    /// locking the quantity once; the list's EXEC_STARTED status is sent.
    func placeOCO(_ new: NewOCO, apiKey: String, now: Int64) throws(APIError) -> (BookedList, [Placement]) {
        settle(through: now)
        let outcome: Result<(BookedList, [Placement]), APIError> = state.withLock { s in
            do throws(APIError) {
                guard let last = market.state(new.symbol, at: now)?.price, let filters = market.pairs[new.symbol]?.filters else { throw .badSymbol }
                let lastPrice = decimal(last, filters.priceDecimals)
                // Binance's price relationship: sell above > last > below (buy: the mirror).
                let limitLevel = new.limit.type == "TAKE_PROFIT" ? new.limit.stopPrice : new.limit.price
                let stopLevel = new.stop.stopPrice
                if let a = limitLevel, let b = stopLevel {
                    let ordered = new.side == .sell ? (a > lastPrice && lastPrice > b) : (a < lastPrice && lastPrice < b)
                    if !ordered { throw APIError(status: 400, code: -2010, message: "The relationship of the prices for the orders is not correct.") }
                }
                let (base, quote) = Self.assets(new.symbol)
                let lock = new.side == .sell ? new.quantity : new.quantity * (new.stop.price ?? stopLevel ?? 0)
                let asset = new.side == .sell ? base : quote
                if lock > (s.accounts[apiKey]?.free[asset] ?? 0) {
                    throw APIError(status: 400, code: -2010, message: SimulatedVenue.insufficientBalance)
                }
                if let id = new.listClientOrderID, s.lists.values.contains(where: { $0.apiKey == apiKey && $0.clientID == id && !$0.done }) {
                    throw APIError(status: 400, code: -2010, message: "Duplicate order sent.")
                }
                try countOrders(&s, apiKey: apiKey, count: 2, now: now, add: false)
                s.nextListID += 1
                let listID = s.nextListID
                s.lists[listID] = BookedList(
                    id: listID, apiKey: apiKey, symbol: new.symbol, clientID: new.listClientOrderID ?? "list-\(listID)-\(now)", orderIDs: [], time: now
                )
                var placements: [Placement] = []
                for leg in [new.stop, new.limit] {
                    let order = NewOrder(
                        symbol: new.symbol, side: new.side == .buy ? .buy : .sell, type: leg.type, timeInForce: leg.timeInForce,
                        quantity: new.quantity, quoteOrderQty: nil, price: leg.price, stopPrice: leg.stopPrice, trailingDelta: nil,
                        newClientOrderId: leg.clientOrderID, newOrderRespType: nil
                    )
                    placements.append(try book(&s, order, apiKey: apiKey, listID: listID, now: now))
                }
                guard let list = s.lists[listID] else { throw APIError(status: 500, code: -1000, message: "list lost") }
                try countOrders(&s, apiKey: apiKey, count: 2, now: now, add: true)
                publish(s, apiKey, listStatus(list, s, type: "EXEC_STARTED", orderStatus: "EXECUTING", time: now))
                publish(s, apiKey, accountPosition(s, apiKey, assets: [base, quote], time: now))
                return .success((list, placements))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    // MARK: Cancelling

    /// Cancels an open order found by id or client id (a list's leg cancels its whole list).
    func cancel(apiKey: String, symbol: String, orderID: Int64?, clientOrderID: String?, cancelID: String?, now: Int64) throws(APIError) -> [BookedOrder] {
        settle(through: now)
        let outcome: Result<[BookedOrder], APIError> = state.withLock { s in
            guard let order = find(s, apiKey: apiKey, symbol: symbol, orderID: orderID, clientOrderID: clientOrderID), order.isOpen else {
                return .failure(APIError(status: 400, code: -2011, message: "Unknown order sent."))
            }
            let ids = order.listID >= 0 ? (s.lists[order.listID]?.orderIDs ?? [order.id]) : [order.id]
            for id in ids { finish(&s, id: id, status: "CANCELED", time: now, cancelID: cancelID) }
            return .success(ids.compactMap { s.orders[$0] })
        }
        return try outcome.get()
    }

    /// Cancels an open list by id or client id.
    func cancelList(apiKey: String, symbol: String, listID: Int64?, clientID: String?, now: Int64) throws(APIError) -> (BookedList, [BookedOrder]) {
        settle(through: now)
        let outcome: Result<(BookedList, [BookedOrder]), APIError> = state.withLock { s in
            let list = s.lists.values.first { l in
                l.apiKey == apiKey && l.symbol == symbol && !l.done && (listID.map { l.id == $0 } ?? true) && (clientID.map { l.clientID == $0 } ?? true)
            }
            guard let list, listID != nil || clientID != nil else {
                return .failure(APIError(status: 400, code: -2011, message: "Unknown order list sent."))
            }
            for id in list.orderIDs { finish(&s, id: id, status: "CANCELED", time: now) }
            return .success((s.lists[list.id] ?? list, list.orderIDs.compactMap { s.orders[$0] }))
        }
        return try outcome.get()
    }

    /// Cancels every open order of `symbol` (lists whole); returns plain orders and lists cancelled.
    func cancelAll(apiKey: String, symbol: String, now: Int64) -> (orders: [BookedOrder], lists: [(BookedList, [BookedOrder])]) {
        settle(through: now)
        return state.withLock { s in
            let open = s.openOrders.filter { $0.apiKey == apiKey && $0.symbol == symbol }.sorted { $0.id < $1.id }
            var plain: [BookedOrder] = []
            var lists: [(BookedList, [BookedOrder])] = []
            var seen = Set<Int64>()
            for order in open where s.orders[order.id]?.isOpen == true {
                if order.listID >= 0, let list = s.lists[order.listID] {
                    guard seen.insert(list.id).inserted else { continue }
                    for id in list.orderIDs { finish(&s, id: id, status: "CANCELED", time: now) }
                    lists.append((s.lists[list.id] ?? list, list.orderIDs.compactMap { s.orders[$0] }))
                } else {
                    finish(&s, id: order.id, status: "CANCELED", time: now)
                    if let o = s.orders[order.id] { plain.append(o) }
                }
            }
            return (plain, lists)
        }
    }

    // MARK: Reading

    private func find(_ s: VenueState, apiKey: String, symbol: String, orderID: Int64?, clientOrderID: String?) -> BookedOrder? {
        if let orderID {
            guard let o = s.orders[orderID], o.apiKey == apiKey, o.symbol == symbol else { return nil }
            if let clientOrderID, o.clientOrderID != clientOrderID { return nil }
            return o
        }
        guard let clientOrderID else { return nil }
        // The latest order with that client id (ids may be reused once an order is done).
        return s.orders.values.filter { $0.apiKey == apiKey && $0.symbol == symbol && $0.clientOrderID == clientOrderID }.max { $0.id < $1.id }
    }

    /// One order (GET /api/v3/order).
    func order(apiKey: String, symbol: String, orderID: Int64?, clientOrderID: String?, now: Int64) -> BookedOrder? {
        settle(through: now)
        return state.withLock { find($0, apiKey: apiKey, symbol: symbol, orderID: orderID, clientOrderID: clientOrderID) }
    }

    /// Open orders of the account (of one symbol, or all), oldest first.
    func openOrders(apiKey: String, symbol: String?, now: Int64) -> [BookedOrder] {
        settle(through: now)
        return state.withLock { s in
            s.openOrders.filter { $0.apiKey == apiKey && (symbol == nil || $0.symbol == symbol) }.sorted { $0.id < $1.id }
        }
    }

    /// Orders of a symbol (all states), from `fromID` or in a time range, at most `limit`.
    func allOrders(apiKey: String, symbol: String, fromID: Int64?, start: Int64?, end: Int64?, limit: Int, now: Int64) -> [BookedOrder] {
        settle(through: now)
        let all = state.withLock { s in
            s.orders.values.filter { o in
                o.apiKey == apiKey && o.symbol == symbol && o.id >= (fromID ?? 0) && o.time >= (start ?? .min) && o.time <= (end ?? .max)
            }.sorted { $0.id < $1.id }
        }
        // Binance: without orderId the most recent `limit`; from an orderId the first `limit`.
        return fromID != nil || start != nil ? Array(all.prefix(limit)) : Array(all.suffix(limit))
    }

    /// Executions of a symbol (myTrades): of one order, from a trade id, or in a time range.
    func trades(apiKey: String, symbol: String, orderID: Int64?, fromID: Int64?, start: Int64?, end: Int64?, limit: Int, now: Int64) -> [Execution] {
        settle(through: now)
        let all = state.withLock { s in
            s.executions.filter { e in
                s.orders[e.orderID]?.apiKey == apiKey && e.symbol == symbol && (orderID.map { e.orderID == $0 } ?? true)
                    && e.id >= (fromID ?? 0) && e.time >= (start ?? .min) && e.time <= (end ?? .max)
            }
        }
        return fromID != nil || start != nil ? Array(all.prefix(limit)) : Array(all.suffix(limit))
    }

    /// The account's balances (free, locked) by asset.
    func balances(apiKey: String, now: Int64) -> [(asset: String, free: Decimal, locked: Decimal)] {
        settle(through: now)
        return state.withLock { s in
            guard let a = s.accounts[apiKey] else { return [] }
            return Set(a.free.keys).union(a.locked.keys).sorted().map { ($0, a.free[$0] ?? 0, a.locked[$0] ?? 0) }
        }
    }

    /// The list an order belongs to.
    func list(_ id: Int64) -> BookedList? { state.withLock { $0.lists[id] } }
}
