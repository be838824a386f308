public import Foundation
import Binance
import ScalperCore
import Synchronization
public import Trading

/// How the local exchange fills orders and which order limits it enforces.
public struct ExchangeTradingSettings: Sendable {
    /// The one fill model (fees, slippage, the bar rule's stop-first choice).
    public var fillModel = FillModel(takerFee: 0.001, slippageBps: 2)
    /// `.continuous`: market orders walk the served book, resting orders fill from the replayed
    /// trades that reach them (at most each trade's quantity: partial fills). `.bar`: the parity
    /// mode, the backtest's bar rule (LIVE-DESIGN §4) applied to the exchange's orders.
    public var rule: FillRule = .continuous
    /// ORDERS per account per 10 s window (Binance's example: 100); 429 / -1015 past it.
    public var ordersPer10Seconds = 100
    /// ORDERS per account per UTC day (Binance: 200,000).
    public var ordersPerDay = 200_000
    /// MAX_NUM_ORDERS: open orders per account and symbol (Binance: 200); -1013 past it.
    public var maxOpenOrdersPerSymbol = 200
    /// False: no ORDERS, MAX_NUM_ORDERS or REQUEST_WEIGHT limit (capacity benchmarks only; the
    /// exchange says so when it starts).
    public var limitsEnabled = true

    /// Defaults.
    public init() {}
}

/// One order on the local exchange, as `GET /api/v3/order` shows it.
struct BookedOrder: Sendable {
    var id: Int64
    var apiKey: String
    var symbol: String
    var clientOrderID: String
    var side: Side
    var type: String
    var timeInForce: String?
    var price: Decimal?
    var stopPrice: Decimal?
    var quantity: Decimal
    var quoteOrderQty: Decimal
    var executed: Decimal = 0
    var cumulativeQuote: Decimal = 0
    var status = "NEW"
    var time: Int64
    var updateTime: Int64
    /// -1 until a stop order triggers.
    var workingTime: Int64
    var listID: Int64 = -1
    /// Triggered (stop types) or working from the start.
    var working: Bool
    /// Funds held for it: asset and amount still locked.
    var lockedAsset: String
    var locked: Decimal

    var isOpen: Bool { status == "NEW" || status == "PARTIALLY_FILLED" }
    var remaining: Decimal { quantity - executed }
    /// Whether it was placed with `quoteOrderQty` (a market order sized in quote).
    var byQuote: Bool { quoteOrderQty > 0 }
}

/// One execution of an order (`myTrades`, `fills`).
struct Execution: Sendable {
    var id: Int64
    var orderID: Int64
    var listID: Int64
    var symbol: String
    var price: Decimal
    var quantity: Decimal
    var quote: Decimal
    var commission: Decimal
    var commissionAsset: String
    var time: Int64
    var isBuyer: Bool
    var isMaker: Bool
}

/// An OCO list.
struct BookedList: Sendable {
    var id: Int64
    var apiKey: String
    var symbol: String
    var clientID: String
    /// Below (stop) leg first, then above: Binance's order.
    var orderIDs: [Int64]
    var done = false
    var time: Int64
}

/// The state of one account: balances, and its order counts per window.
struct AccountBook: Sendable {
    var free: [String: Decimal]
    var locked: [String: Decimal] = [:]
    var tenSecondWindow: Int64 = -1
    var ordersInTenSeconds = 0
    var dayWindow: Int64 = -1
    var ordersInDay = 0
}

/// Accounts, their orders and the matching of those orders against the replayed market: the
/// local exchange as a venue. Every price comes from the one ``FillModel`` (market orders walk
/// the book served by `/api/v3/depth` at the same instant, resting orders fill from the trade
/// tape the `trade` stream sends, the parity mode uses the backtest's bar rule); balances and
/// commissions are exact decimals, a buy paying its commission in the base asset and a sell in
/// the quote asset, as Binance takes it without BNB. A thread-safe reference: the REST handlers,
/// the WebSocket API and the clock's settlement share it.
public final class ExchangeVenue: Sendable {
    let market: ReplayMarket
    /// How it fills and limits orders.
    public let settings: ExchangeTradingSettings
    let state: Mutex<VenueState>
    let faults = Mutex(FaultState())

    /// A venue over `market` for the accounts of `accounts`.
    public init(market: ReplayMarket, accounts: ExchangeAccounts, settings: ExchangeTradingSettings) {
        self.market = market
        self.settings = settings
        var books: [String: AccountBook] = [:]
        for account in accounts.all { books[account.apiKey] = AccountBook(free: account.free) }
        state = Mutex(VenueState(accounts: books))
    }

    /// Queues `fault` for the next order placement (before the configured ones).
    public func inject(_ fault: OrderFault) { faults.withLock { $0.queued.append(fault) } }

    /// Registers a user data subscriber of `apiKey` (a WebSocket API connection); returns its id.
    func subscribe(apiKey: String, subscription: Int, send: @escaping @Sendable (String) -> Void) -> UInt64 {
        state.withLock { s in
            s.nextSubscriber += 1
            s.subscribers[apiKey, default: [:]][s.nextSubscriber] = send
            s.subscriptionIDs[s.nextSubscriber] = subscription
            return s.nextSubscriber
        }
    }

    /// Removes a subscriber.
    func unsubscribe(apiKey: String, id: UInt64) {
        state.withLock { s in
            _ = s.subscribers[apiKey]?.removeValue(forKey: id)
            s.subscriptionIDs[id] = nil
        }
    }

    /// Matches every order through sim time `time` (monotonic; a later call with an earlier time
    /// does nothing): resting orders against the trades replayed up to it, or, in parity mode,
    /// market orders at each bar's open and resting ones from each bar's range at its close.
    public func settle(through time: Int64) {
        state.withLock { s in
            // Nothing was placed before the first settlement (every request settles first).
            guard s.settledThrough != .min else {
                s.settledThrough = time
                return
            }
            defer { s.settledThrough = max(s.settledThrough, time) }
            guard !s.open.isEmpty else { return }
            switch settings.rule {
            case .continuous:
                if time > s.settledThrough { settleContinuous(&s, through: time) }
            case .bar:
                if time > s.settledThrough {
                    settleBars(&s, through: time)
                } else {
                    // A market order placed at a minute's open after that instant was settled (a
                    // decision at the previous close) fills at that open all the same.
                    openFills(&s, upTo: time / 60_000 * 60_000)
                }
            }
        }
    }

    /// Free and locked balance of `asset` of `apiKey`.
    public func balance(_ apiKey: String, _ asset: String) -> (free: Decimal, locked: Decimal) {
        state.withLock { s in (s.accounts[apiKey]?.free[asset] ?? 0, s.accounts[apiKey]?.locked[asset] ?? 0) }
    }

    /// Every execution of `apiKey` so far, oldest first (tests and audits).
    func executions(_ apiKey: String) -> [Execution] {
        state.withLock { s in s.executions.filter { s.orders[$0.orderID]?.apiKey == apiKey } }
    }

    // MARK: Continuous rule

    private func settleContinuous(_ s: inout VenueState, through time: Int64) {
        let symbols = Set(s.openOrders.map(\.symbol)).sorted()
        for symbol in symbols {
            for trade in market.trades(symbol, after: s.settledThrough, upTo: time) {
                tradeReached(&s, symbol: symbol, trade: trade)
            }
        }
    }

    /// A replayed trade: stop orders it reaches trigger, limit orders it reaches fill from its quantity.
    private func tradeReached(_ s: inout VenueState, symbol: String, trade: Trade) {
        guard let filters = market.pairs[symbol]?.filters else { return }
        let price = decimal(trade.price, filters.priceDecimals)
        var available = decimal(trade.quantity, filters.quantityDecimals)
        let ids = s.openOrders.filter { $0.symbol == symbol }.map(\.id).sorted()
        for id in ids {
            guard let order = s.orders[id], order.isOpen else { continue }
            if !order.working {
                guard Self.triggers(order, at: price) else { continue }
                trigger(&s, id: id, at: trade.time, reference: trade.price)
                continue
            }
            guard let limit = order.price, available > 0 else { continue }
            let reached = order.side == .buy ? price <= limit : price >= limit
            guard reached else { continue }
            let quantity = min(order.remaining, available)
            available -= quantity
            execute(&s, id: id, fills: [(limit, quantity)], maker: true, time: trade.time)
        }
    }

    /// Whether `price` reaches a stop order's trigger: a sell stop-loss (or buy take-profit) at or
    /// below its stop price, a sell take-profit (or buy stop-loss) at or above it.
    static func triggers(_ order: BookedOrder, at price: Decimal) -> Bool {
        guard let stop = order.stopPrice else { return false }
        let below = order.type.hasPrefix("STOP_LOSS") == (order.side == .sell)
        return below ? price <= stop : price >= stop
    }

    /// A stop order triggers at `time`: its list's other leg expires; a market type fills on the
    /// book now, a limit type starts working at its price (taking what the book offers through it).
    private func trigger(_ s: inout VenueState, id: Int64, at time: Int64, reference: Double) {
        guard var order = s.orders[id] else { return }
        order.working = true
        order.workingTime = time
        order.updateTime = time
        s.orders[id] = order
        expireOtherLeg(&s, of: id, time: time)
        if order.price == nil {
            marketFill(&s, id: id, reference: reference, time: time)
        } else {
            takeFromBook(&s, id: id, time: time)
        }
    }

    /// A working limit order takes what the served book offers at its price or better (taker).
    private func takeFromBook(_ s: inout VenueState, id: Int64, time: Int64) {
        guard let order = s.orders[id], let limit = order.price, let filters = market.pairs[order.symbol]?.filters,
            let book = market.book(order.symbol, at: time, levels: 20)
        else { return }
        let side = order.side == .buy ? book.asks : book.bids
        var left = order.remaining
        var fills: [(Decimal, Decimal)] = []
        for (p, q) in side where left > 0 {
            let price = decimal(p, filters.priceDecimals)
            guard order.side == .buy ? price <= limit : price >= limit else { break }
            let take = min(left, floorStep(decimal(q, 8), filters))
            guard take > 0 else { continue }
            fills.append((price, take))
            left -= take
        }
        if !fills.isEmpty { execute(&s, id: id, fills: fills, maker: false, time: time) }
    }

    /// A market order (or a triggered stop) fills now: the fill model's walk of the served book
    /// from the reference price, quantities on the lot step.
    func marketFill(_ s: inout VenueState, id: Int64, reference: Double, time: Int64) {
        guard let order = s.orders[id], let filters = market.pairs[order.symbol]?.filters else { return }
        let book = market.book(order.symbol, at: time, levels: 20).map { b in
            (order.side == .buy ? b.asks : b.bids).map { BookLevel(price: $0.0, quantity: $0.1) }
        }
        let walk = settings.fillModel.market(side: order.side, quantity: NSDecimalNumber(decimal: order.remaining).doubleValue, reference: reference, book: book, filters: filters)
        execute(&s, id: id, fills: onGrid(walk, total: order.remaining, filters), maker: false, time: time)
    }

    /// A walk's executions on the grid: prices on the tick, quantities floored to the step with the
    /// rest on the last one, so they add up to `total` exactly.
    func onGrid(_ walk: [(price: Double, quantity: Double)], total: Decimal, _ filters: SymbolFilters) -> [(Decimal, Decimal)] {
        var out: [(Decimal, Decimal)] = []
        var left = total
        for (i, e) in walk.enumerated() where left > 0 {
            let q = i == walk.count - 1 ? left : min(left, floorStep(decimal(e.quantity, 8), filters))
            guard q > 0 else { continue }
            out.append((decimal(e.price, filters.priceDecimals), q))
            left -= q
        }
        return out
    }

    // MARK: Bar rule (parity mode)

    private func settleBars(_ s: inout VenueState, through time: Int64) {
        var boundary = (s.settledThrough / 60_000 + 1) * 60_000
        while boundary <= time {
            // Bar [boundary − 1 min, boundary) closes: resting orders trigger from its range.
            let symbols = Set(s.openOrders.filter { $0.type != "MARKET" }.map(\.symbol)).sorted()
            for symbol in symbols {
                guard let bar = market.klines(symbol, from: boundary - 60_000, to: boundary - 60_000, limit: 1, now: boundary).first else { continue }
                barTraded(&s, symbol: symbol, bar: bar, time: boundary)
            }
            // The next bar opens: market orders placed up to it fill at its open.
            openFills(&s, upTo: boundary)
            boundary += 60_000
        }
        // Orders placed at a minute's open after it was settled (a decision at the previous close)
        // fill at that open too.
        openFills(&s, upTo: time / 60_000 * 60_000)
    }

    /// Bar rule: market orders waiting for the open at or after their placement, up to `upTo`, fill
    /// at that bar's open slipped (in placement order); an entry whose symbol has no bar there
    /// expires (the backtest's rule), an exit waits for the symbol's next bar.
    private func openFills(_ s: inout VenueState, upTo: Int64) {
        let waiting = s.openOrders.filter { $0.type == "MARKET" && Self.openAfter($0.time) <= upTo }.sorted { $0.id < $1.id }
        for order in waiting {
            guard let filters = market.pairs[order.symbol]?.filters else { continue }
            let open = max(Self.openAfter(order.time), s.waitingSince[order.id] ?? .min)
            guard open <= upTo else { continue }
            guard let bar = market.klines(order.symbol, from: open, to: open, limit: 1, now: open + 60_000).first, bar.openTime == open else {
                if order.side == .buy {
                    finish(&s, id: order.id, status: "EXPIRED", time: open, reason: SimulatedVenue.noBarAtOpen)
                } else {
                    s.waitingSince[order.id] = open + 60_000
                }
                continue
            }
            let price = decimal(settings.fillModel.slipped(bar.open, side: order.side, filters: filters), filters.priceDecimals)
            if order.byQuote && order.quantity == 0 {
                // Sized in quote: the quantity the open buys, on the step.
                s.orders[order.id]?.quantity = price > 0 ? floorStep(order.quoteOrderQty / price, filters) : 0
            }
            guard let quantity = s.orders[order.id]?.remaining, quantity > 0 else {
                finish(&s, id: order.id, status: "EXPIRED", time: open, reason: "INSUFFICIENT_LIQUIDITY")
                continue
            }
            execute(&s, id: order.id, fills: [(price, quantity)], maker: false, time: open)
        }
    }

    /// The first minute open at or after `time`.
    static func openAfter(_ time: Int64) -> Int64 { (time + 59_999) / 60_000 * 60_000 }

    /// Bar rule: resting orders of `symbol` trigger from `bar`'s range (an OCO list through
    /// ``FillModel/barTrigger(stop:target:bar:filters:)``, the stop first when both lie in it).
    private func barTraded(_ s: inout VenueState, symbol: String, bar: Kline, time: Int64) {
        guard let filters = market.pairs[symbol]?.filters else { return }
        let open = s.openOrders.filter { $0.symbol == symbol && $0.type != "MARKET" && $0.time < bar.closeTime + 1 }
        var handledLists = Set<Int64>()
        for order in open.sorted(by: { $0.id < $1.id }) {
            guard s.orders[order.id]?.isOpen == true else { continue }
            if order.listID >= 0, let list = s.lists[order.listID] {
                guard handledLists.insert(list.id).inserted else { continue }
                let legs = list.orderIDs.compactMap { s.orders[$0] }
                // A sell list (the engine's protection): the fill model's bar trigger, stop first.
                guard order.side == .sell, let stopLeg = legs.first(where: { $0.type.hasPrefix("STOP_LOSS") }),
                    let targetLeg = legs.first(where: { !$0.type.hasPrefix("STOP_LOSS") }),
                    let stop = stopLeg.stopPrice, let target = targetLeg.price ?? targetLeg.stopPrice
                else {
                    handledLists.remove(list.id)
                    if let price = barPrice(order, bar: bar, filters: filters) {
                        execute(&s, id: order.id, fills: [(decimal(price.price, filters.priceDecimals), order.remaining)], maker: price.maker, time: time)
                    }
                    continue
                }
                let levels = (stop: NSDecimalNumber(decimal: stop).doubleValue, target: NSDecimalNumber(decimal: target).doubleValue)
                guard let (leg, price) = settings.fillModel.barTrigger(stop: levels.stop, target: levels.target, bar: bar, filters: filters) else { continue }
                let hit = leg == .stop ? stopLeg : targetLeg
                if var h = s.orders[hit.id], leg == .stop {
                    h.working = true
                    h.workingTime = time
                    s.orders[hit.id] = h
                }
                expireOtherLeg(&s, of: hit.id, time: time)
                execute(&s, id: hit.id, fills: [(decimal(price, filters.priceDecimals), hit.remaining)], maker: leg == .target, time: time)
                continue
            }
            guard let price = barPrice(order, bar: bar, filters: filters) else { continue }
            execute(&s, id: order.id, fills: [(decimal(price.price, filters.priceDecimals), order.remaining)], maker: price.maker, time: time)
        }
    }

    /// Bar rule for a single resting order: a limit fills at its price (the open when the bar
    /// opens through it), a stop at its stop slipped (the open when the bar opens through it).
    private func barPrice(_ order: BookedOrder, bar: Kline, filters: SymbolFilters) -> (price: Double, maker: Bool)? {
        let buy = order.side == .buy
        if let stop = order.stopPrice.map({ NSDecimalNumber(decimal: $0).doubleValue }) {
            let below = order.type.hasPrefix("STOP_LOSS") == !buy
            let reached = below ? bar.low <= stop : bar.high >= stop
            guard reached else { return nil }
            let at = below ? min(stop, bar.open) : max(stop, bar.open)
            if let limit = order.price.map({ NSDecimalNumber(decimal: $0).doubleValue }) { return (limit, false) }
            return (settings.fillModel.slipped(at, side: order.side, filters: filters), false)
        }
        guard let limit = order.price.map({ NSDecimalNumber(decimal: $0).doubleValue }) else { return nil }
        if buy {
            guard bar.low <= limit else { return nil }
            return (min(limit, bar.open), true)
        }
        guard bar.high >= limit else { return nil }
        return (max(limit, bar.open), true)
    }

    // MARK: Executions and balances

    /// Executes `fills` of order `id` if the account can pay for them, moving balances and
    /// commissions, and sends the execution reports. An account that cannot pay (only possible
    /// for a market order, the rest locked their funds) gets the order EXPIRED.
    func execute(_ s: inout VenueState, id: Int64, fills: [(Decimal, Decimal)], maker: Bool, time: Int64) {
        guard s.orders[id]?.isOpen == true, !fills.isEmpty else { return }
        // An OCO leg that starts filling ends its list's other leg first (which gives back the funds
        // the list held).
        expireOtherLeg(&s, of: id, time: time)
        guard var order = s.orders[id] else { return }
        let (base, quote) = Self.assets(order.symbol)
        let spend = fills.reduce(Decimal(0)) { $0 + (order.side == .buy ? $1.0 * $1.1 : $1.1) }
        let payAsset = order.side == .buy ? quote : base
        let available = (s.accounts[order.apiKey]?.free[payAsset] ?? 0) + (order.lockedAsset == payAsset ? order.locked : 0)
        guard spend <= available else {
            finish(&s, id: id, status: "EXPIRED", time: time, reason: SimulatedVenue.insufficientBalance)
            return
        }
        let rate = BinanceDecimal.plain("\(maker ? settings.fillModel.makerFee : settings.fillModel.takerFee)") ?? 0
        var reports: [String] = []
        let subscribed = hasSubscribers(s, order.apiKey)
        for (price, quantity) in fills {
            let quoteAmount = price * quantity
            let commission = round8(order.side == .buy ? quantity * rate : quoteAmount * rate)
            let asset = order.side == .buy ? base : quote
            // Funds: the paying side comes out of what the order locked first, then free.
            let pays = order.side == .buy ? quoteAmount : quantity
            let fromLock = order.lockedAsset == payAsset ? min(order.locked, pays) : 0
            order.locked -= fromLock
            s.accounts[order.apiKey]?.locked[payAsset, default: 0] -= fromLock
            s.accounts[order.apiKey]?.free[payAsset, default: 0] -= pays - fromLock
            let receives = order.side == .buy ? quantity : quoteAmount
            s.accounts[order.apiKey]?.free[asset, default: 0] += receives - commission
            order.executed += quantity
            order.cumulativeQuote += quoteAmount
            order.updateTime = time
            order.status = order.executed >= order.quantity ? "FILLED" : "PARTIALLY_FILLED"
            s.nextTradeID += 1
            let execution = Execution(
                id: s.nextTradeID, orderID: id, listID: order.listID, symbol: order.symbol, price: price, quantity: quantity,
                quote: quoteAmount, commission: commission, commissionAsset: asset, time: time, isBuyer: order.side == .buy, isMaker: maker
            )
            s.executions.append(execution)
            s.orders[id] = order
            if subscribed { reports.append(executionReport(order, execution: execution, type: "TRADE", time: time)) }
        }
        if !order.isOpen { s.open.remove(id) }
        // A filled order releases what it still held (a buy limit filled below its price).
        if order.status == "FILLED", order.locked > 0 {
            s.accounts[order.apiKey]?.locked[order.lockedAsset, default: 0] -= order.locked
            s.accounts[order.apiKey]?.free[order.lockedAsset, default: 0] += order.locked
            order.locked = 0
            s.orders[id] = order
        }
        for r in reports { publish(s, order.apiKey, r) }
        if order.status == "FILLED", order.listID >= 0 { listDone(&s, listID: order.listID, time: time) }
        publish(s, order.apiKey, accountPosition(s, order.apiKey, assets: [base, quote], time: time))
    }

    /// Ends an open order (CANCELED or EXPIRED): its locked funds go back, its report is sent.
    func finish(_ s: inout VenueState, id: Int64, status: String, time: Int64, reason: String? = nil, cancelID: String? = nil) {
        guard var order = s.orders[id], order.isOpen else { return }
        if order.locked > 0 {
            s.accounts[order.apiKey]?.locked[order.lockedAsset, default: 0] -= order.locked
            s.accounts[order.apiKey]?.free[order.lockedAsset, default: 0] += order.locked
            order.locked = 0
        }
        order.status = status
        order.updateTime = time
        s.orders[id] = order
        s.open.remove(id)
        s.expiryReasons[id] = reason
        if hasSubscribers(s, order.apiKey) {
            var report = executionReport(order, execution: nil, type: status, time: time, expiry: reason)
            if let cancelID {
                report = report.replacingOccurrences(of: #""c":"\#(order.clientOrderID)","#, with: #""c":"\#(cancelID)","#)
                    .replacingOccurrences(of: #""C":"""#, with: #""C":"\#(order.clientOrderID)""#)
            }
            publish(s, order.apiKey, report)
        }
        if order.listID >= 0 { listDone(&s, listID: order.listID, time: time) }
        let (base, quote) = Self.assets(order.symbol)
        publish(s, order.apiKey, accountPosition(s, order.apiKey, assets: [base, quote], time: time))
    }

    /// The other leg of `id`'s list expires (Binance: once one leg triggers or fills).
    private func expireOtherLeg(_ s: inout VenueState, of id: Int64, time: Int64) {
        guard let listID = s.orders[id]?.listID, listID >= 0, let list = s.lists[listID] else { return }
        for other in list.orderIDs where other != id && s.orders[other]?.isOpen == true {
            finish(&s, id: other, status: "EXPIRED", time: time, reason: Self.otherLegFilled)
        }
    }

    /// A list whose orders are all done reports ALL_DONE once.
    private func listDone(_ s: inout VenueState, listID: Int64, time: Int64) {
        guard var list = s.lists[listID], !list.done else { return }
        guard list.orderIDs.allSatisfy({ s.orders[$0]?.isOpen == false }) else { return }
        list.done = true
        s.lists[listID] = list
        publish(s, list.apiKey, listStatus(list, s, type: "ALL_DONE", orderStatus: "ALL_DONE", time: time))
    }

    /// Sends `event` to `apiKey`'s user data subscribers; the event is written only when there is one.
    func publish(_ s: borrowing VenueState, _ apiKey: String, _ event: @autoclosure () -> String) {
        guard let subscribers = s.subscribers[apiKey], !subscribers.isEmpty else { return }
        let text = event()
        for (id, send) in subscribers.sorted(by: { $0.key < $1.key }) {
            send(#"{"subscriptionId":\#(s.subscriptionIDs[id] ?? 0),"event":\#(text)}"#)
        }
    }

    /// Whether `apiKey` has a user data subscriber (events are written only for one).
    func hasSubscribers(_ s: borrowing VenueState, _ apiKey: String) -> Bool { s.subscribers[apiKey]?.isEmpty == false }

    // MARK: Events

    /// Why a leg expires when the other leg of its list starts working.
    static let otherLegFilled = "the other leg of the list filled"

    func executionReport(_ o: BookedOrder, execution e: Execution?, type: String, time: Int64, expiry: String? = nil) -> String {
        let tif = o.timeInForce ?? "GTC"
        let commission = e.map { #""n":"\#(decimalText($0.commission))","N":"\#($0.commissionAsset)""# } ?? #""n":"0","N":null"#
        let working = o.working && o.isOpen
        let w = o.working ? #","W":\#(o.workingTime)"# : ""
        // Why an order expired, in Binance's words: `r` for funds, `eR` for the rest.
        var rejectReason = "NONE"
        var reason = ""
        if type == "EXPIRED" {
            switch expiry {
            case SimulatedVenue.insufficientBalance?: rejectReason = "INSUFFICIENT_BALANCES"
            case SimulatedVenue.noBarAtOpen?: reason = #","eR":"INSUFFICIENT_LIQUIDITY""#
            case ExchangeVenue.otherLegFilled?: reason = #","eR":"OCO_TRIGGER""#
            case let r?: reason = #","eR":"\#(r)""#
            case nil: reason = #","eR":"EXCHANGE_CANCELED""#
            }
        }
        return #"{"e":"executionReport","E":\#(time),"s":"\#(o.symbol)","c":"\#(o.clientOrderID)","S":"\#(o.side.rawValue)","o":"\#(o.type)","f":"\#(tif)","q":"\#(decimalText(o.quantity))","p":"\#(decimalText(o.price ?? 0))","P":"\#(decimalText(o.stopPrice ?? 0))","F":"0.00000000","g":\#(o.listID),"C":"","x":"\#(type)","X":"\#(o.status)","r":"\#(rejectReason)","i":\#(o.id),"l":"\#(decimalText(e?.quantity ?? 0))","z":"\#(decimalText(o.executed))","L":"\#(decimalText(e?.price ?? 0))",\#(commission),"T":\#(time),"t":\#(e?.id ?? -1),"w":\#(working),"m":\#(e?.isMaker ?? false),"M":false,"O":\#(o.time),"Z":"\#(decimalText(o.cumulativeQuote))","Y":"\#(decimalText(e?.quote ?? 0))","Q":"\#(decimalText(o.quoteOrderQty))"\#(w),"V":"NONE"\#(reason)}"#
    }

    func listStatus(_ list: BookedList, _ s: VenueState, type: String, orderStatus: String, time: Int64) -> String {
        let orders = list.orderIDs.compactMap { s.orders[$0] }.map { #"{"s":"\#($0.symbol)","i":\#($0.id),"c":"\#($0.clientOrderID)"}"# }
        return #"{"e":"listStatus","E":\#(time),"s":"\#(list.symbol)","g":\#(list.id),"c":"OCO","l":"\#(type)","L":"\#(orderStatus)","r":"NONE","C":"\#(list.clientID)","T":\#(time),"O":[\#(orders.joined(separator: ","))]}"#
    }

    func accountPosition(_ s: VenueState, _ apiKey: String, assets: [String], time: Int64) -> String {
        let account = s.accounts[apiKey]
        let balances = assets.map { a in
            #"{"a":"\#(a)","f":"\#(decimalText(account?.free[a] ?? 0))","l":"\#(decimalText(account?.locked[a] ?? 0))"}"#
        }
        return #"{"e":"outboundAccountPosition","E":\#(time),"u":\#(time),"B":[\#(balances.joined(separator: ","))]}"#
    }

    // MARK: Helpers

    /// Base and quote asset of a USDT pair.
    static func assets(_ symbol: String) -> (base: String, quote: String) {
        symbol.hasSuffix("USDT") ? (String(symbol.dropLast(4)), "USDT") : (symbol, "USDT")
    }

    /// `x` as a decimal with `places` decimals (the grid's text).
    func decimal(_ x: Double, _ places: Int) -> Decimal {
        BinanceDecimal.plain(String(format: "%.\(max(0, min(places, 12)))f", x)) ?? 0
    }

    /// `q` floored to the symbol's lot step.
    func floorStep(_ q: Decimal, _ filters: SymbolFilters) -> Decimal {
        let step = BinanceDecimal.plain(filters.lotStepText) ?? 1
        var ratio = q / step
        var whole = Decimal()
        NSDecimalRound(&whole, &ratio, 0, .down)
        return whole * step
    }

    /// Rounded to 8 decimals (Binance's commission precision).
    func round8(_ x: Decimal) -> Decimal {
        var input = x
        var out = Decimal()
        NSDecimalRound(&out, &input, 8, .plain)
        return out
    }
}

/// The venue's mutable state (under its lock).
struct VenueState: Sendable {
    var accounts: [String: AccountBook]
    var orders: [Int64: BookedOrder] = [:]
    /// Ids of the orders still open (NEW or PARTIALLY_FILLED): what matching and the limits scan.
    var open: Set<Int64> = []
    var lists: [Int64: BookedList] = [:]
    var executions: [Execution] = []
    var expiryReasons: [Int64: String] = [:]
    /// Bar rule: an exit market order whose symbol had no bar at an open waits from this open on.
    var waitingSince: [Int64: Int64] = [:]
    var nextOrderID: Int64 = 0
    var nextListID: Int64 = -1
    var nextTradeID: Int64 = 0
    var settledThrough: Int64 = .min
    var subscribers: [String: [UInt64: @Sendable (String) -> Void]] = [:]
    var subscriptionIDs: [UInt64: Int] = [:]
    var nextSubscriber: UInt64 = 0

    init(accounts: [String: AccountBook]) { self.accounts = accounts }

    /// The open orders (any order).
    var openOrders: [BookedOrder] { open.compactMap { orders[$0] } }
}
