public import ScalperCore

/// How a simulated venue decides fills.
public enum FillRule: String, Codable, Sendable {
    /// The backtest's bar rule: market orders fill at the next bar's open, resting stop/target lists
    /// trigger from each bar's OHLC (LIVE-DESIGN §4). Backtests and `--exits bar` sessions.
    case bar
    /// Continuous: market orders fill at once against the latest book (or the last trade ±
    /// slippage); resting orders trigger on trades that reach them.
    case continuous
}

/// The simulated venue: the one in-process matching of orders against market data, used by the
/// backtest and by paper sessions. A deterministic value (`Codable`: a session stores it with its
/// orders); every call returns the order updates it causes, in order.
public struct SimulatedVenue: Codable, Sendable {
    /// The fill model.
    public let model: FillModel
    /// The fill rule.
    public let rule: FillRule
    /// Filters per symbol (the shell sets them from exchangeInfo or the derivation).
    public private(set) var filters: [String: SymbolFilters] = [:]
    /// Market orders waiting for their symbol's next bar (bar rule).
    public private(set) var waiting: [OrderRequest] = []
    /// Resting OCO lists by list id.
    public private(set) var lists: [String: OCORequest] = [:]
    /// Latest book per symbol (continuous rule).
    public private(set) var books: [String: Book] = [:]
    /// Last trade price per symbol.
    public private(set) var lastPrice: [String: Double] = [:]
    /// The account's free quote balance (USDT), as the venue holds it.
    public private(set) var quoteBalance: Double
    /// The account's base balance per symbol.
    public private(set) var baseBalance: [String: Double] = [:]
    private var nextTradeID: Int64 = 1

    /// Binance's text for −2010.
    public static let insufficientBalance = "Account has insufficient balance for requested action."
    /// Why a waiting entry expires when its symbol has no bar at the next open.
    public static let noBarAtOpen = "no bar at the next open (a gap): the order expired"

    /// A book's two sides, best first.
    public struct Book: Codable, Equatable, Sendable {
        /// Bids, highest first.
        public var bids: [BookLevel]
        /// Asks, lowest first.
        public var asks: [BookLevel]

        /// Creates a book.
        public init(bids: [BookLevel], asks: [BookLevel]) {
            self.bids = bids
            self.asks = asks
        }
    }

    /// Creates a venue holding `quoteBalance` of the quote asset for the account.
    public init(model: FillModel, rule: FillRule, quoteBalance: Double) {
        self.model = model
        self.rule = rule
        self.quoteBalance = quoteBalance
    }

    /// Sets a symbol's filters.
    public mutating func setFilters(_ f: SymbolFilters, for symbol: String) { filters[symbol] = f }

    /// A symbol's filters (derived from the last price when none were set).
    public func filters(for symbol: String) -> SymbolFilters? {
        filters[symbol] ?? lastPrice[symbol].map { SymbolFilters.derived(price: $0) }
    }

    // MARK: Orders in

    /// Accepts or rejects an order; under the continuous rule a market order also fills at once.
    public mutating func submit(_ order: OrderRequest, time: Int64) -> [OrderUpdate] {
        if let reason = check(order) {
            return [OrderUpdate(clientOrderID: order.clientOrderID, symbol: order.symbol, status: .rejected, reason: reason, time: time)]
        }
        guard order.type == .market else {
            return [
                OrderUpdate(
                    clientOrderID: order.clientOrderID,
                    symbol: order.symbol,
                    status: .rejected,
                    reason: "the simulated venue rests orders only as OCO lists",
                    time: time
                )
            ]
        }
        var updates = [OrderUpdate(clientOrderID: order.clientOrderID, symbol: order.symbol, status: .accepted, time: time)]
        switch rule {
        case .bar:
            waiting.append(order)
        case .continuous:
            let reference = lastPrice[order.symbol] ?? order.referencePrice
            let book = books[order.symbol].map { order.side == .buy ? $0.asks : $0.bids }
            updates += fill(order, at: model.market(side: order.side, quantity: order.quantity, reference: reference, book: book, filters: filters(for: order.symbol) ?? .derived(price: reference)), maker: false, time: time)
        }
        return updates
    }

    /// Accepts or rejects an OCO list (both legs answered).
    public mutating func submitList(_ list: OCORequest, time: Int64) -> [OrderUpdate] {
        for leg in [list.target, list.stop] {
            if let reason = check(leg) {
                return [list.target, list.stop].map {
                    OrderUpdate(clientOrderID: $0.clientOrderID, symbol: list.symbol, status: .rejected, reason: reason, time: time)
                }
            }
        }
        lists[list.listClientOrderID] = list
        return [list.target, list.stop].map {
            OrderUpdate(clientOrderID: $0.clientOrderID, symbol: list.symbol, status: .accepted, time: time)
        }
    }

    /// Cancels a waiting market order.
    public mutating func cancel(clientOrderID: String, time: Int64) -> [OrderUpdate] {
        guard let i = waiting.firstIndex(where: { $0.clientOrderID == clientOrderID }) else {
            return [OrderUpdate(clientOrderID: clientOrderID, symbol: "", status: .rejected, reason: "Unknown order sent.", time: time)]
        }
        let order = waiting.remove(at: i)
        return [OrderUpdate(clientOrderID: clientOrderID, symbol: order.symbol, status: .cancelled, time: time)]
    }

    /// Cancels a resting list (both legs).
    public mutating func cancelList(listClientOrderID: String, time: Int64) -> [OrderUpdate] {
        guard let list = lists.removeValue(forKey: listClientOrderID) else {
            return [OrderUpdate(clientOrderID: listClientOrderID, symbol: "", status: .rejected, reason: "Unknown order list sent.", time: time)]
        }
        return [list.target, list.stop].map {
            OrderUpdate(clientOrderID: $0.clientOrderID, symbol: list.symbol, status: .cancelled, time: time)
        }
    }

    // MARK: Market data in

    /// Bar rule, a new minute: entries waiting for a symbol with no bar in it expire (they are
    /// not filled late); exits keep waiting for the symbol's next bar.
    public mutating func minuteOpened(openTime: Int64, symbols: Set<String>) -> [OrderUpdate] {
        guard !waiting.isEmpty else { return [] }
        var updates: [OrderUpdate] = []
        waiting.removeAll { order in
            guard order.leg == .entry, !symbols.contains(order.symbol) else { return false }
            updates.append(OrderUpdate(clientOrderID: order.clientOrderID, symbol: order.symbol, status: .expired, reason: Self.noBarAtOpen, time: openTime))
            return true
        }
        return updates
    }

    /// The end of a replay: waiting orders fill at each symbol's last price, slipped.
    public mutating func flush(time: Int64) -> [OrderUpdate] {
        var updates: [OrderUpdate] = []
        let all = waiting
        waiting = []
        for order in all {
            let last = lastPrice[order.symbol] ?? order.referencePrice
            let f = filters(for: order.symbol) ?? .derived(price: last)
            updates += fill(order, at: [(model.slipped(last, side: order.side, filters: f), order.quantity)], maker: false, time: time)
        }
        return updates
    }

    /// Bar rule, first half of a bar: market orders waiting for `symbol` fill at its open.
    public mutating func barOpened(symbol: String, bar: Kline) -> [OrderUpdate] {
        lastPrice[symbol] = bar.open
        guard waiting.contains(where: { $0.symbol == symbol }) else { return [] }
        var updates: [OrderUpdate] = []
        var keep: [OrderRequest] = []
        for order in waiting {
            guard order.symbol == symbol else {
                keep.append(order)
                continue
            }
            let f = filters(for: symbol) ?? .derived(price: bar.open)
            let price = model.slipped(bar.open, side: order.side, filters: f)
            updates += fill(order, at: [(price, order.quantity)], maker: false, time: bar.openTime)
        }
        waiting = keep
        return updates
    }

    /// Bar rule, second half: resting lists of `symbol` trigger from the bar's range.
    public mutating func barTraded(symbol: String, bar: Kline) -> [OrderUpdate] {
        lastPrice[symbol] = bar.close
        guard !lists.isEmpty else { return [] }
        var updates: [OrderUpdate] = []
        for id in lists.keys.sorted() {
            guard let list = lists[id], list.symbol == symbol, let stop = list.stop.stopPrice, let target = list.target.price else { continue }
            let f = filters(for: symbol) ?? .derived(price: bar.open)
            guard let (leg, price) = model.barTrigger(stop: stop, target: target, bar: bar, filters: f) else { continue }
            lists[id] = nil
            let (hit, other) = leg == .stop ? (list.stop, list.target) : (list.target, list.stop)
            // The fill is stamped at the bar's close: the engine sees it before the close's decisions.
            updates += fill(hit, at: [(price, hit.quantity)], maker: leg == .target, time: bar.closeTime + 1)
            updates.append(OrderUpdate(clientOrderID: other.clientOrderID, symbol: symbol, status: .expired, reason: "the other leg of the list filled", time: bar.closeTime + 1))
        }
        return updates
    }

    /// Continuous rule: a trade; resting lists it reaches fill (the stop as a market order on the book).
    public mutating func trade(symbol: String, price: Double, time: Int64) -> [OrderUpdate] {
        lastPrice[symbol] = price
        var updates: [OrderUpdate] = []
        for id in lists.keys.sorted() {
            guard let list = lists[id], list.symbol == symbol, let stop = list.stop.stopPrice, let target = list.target.price else { continue }
            let f = filters(for: symbol) ?? .derived(price: price)
            if price <= stop {
                lists[id] = nil
                let bids = books[symbol]?.bids
                updates += fill(list.stop, at: model.market(side: .sell, quantity: list.stop.quantity, reference: price, book: bids, filters: f), maker: false, time: time)
                updates.append(OrderUpdate(clientOrderID: list.target.clientOrderID, symbol: symbol, status: .expired, reason: "the other leg of the list filled", time: time))
            } else if price >= target {
                lists[id] = nil
                updates += fill(list.target, at: [(target, list.target.quantity)], maker: true, time: time)
                updates.append(OrderUpdate(clientOrderID: list.stop.clientOrderID, symbol: symbol, status: .expired, reason: "the other leg of the list filled", time: time))
            }
        }
        return updates
    }

    /// Continuous rule: the latest book of `symbol`.
    public mutating func setBook(_ book: Book, for symbol: String) { books[symbol] = book }

    // MARK: Internals

    /// Binance's filter checks (LOT_SIZE, PRICE_FILTER, NOTIONAL) with its reasons.
    private func check(_ order: OrderRequest) -> String? {
        guard order.quantity > 0, order.quantity.isFinite else { return "Invalid quantity." }
        let reference = order.price ?? order.stopPrice ?? lastPrice[order.symbol] ?? order.referencePrice
        guard let f = filters(for: order.symbol) ?? (reference > 0 ? .derived(price: reference) : nil) else { return "Invalid symbol." }
        if abs(Double(f.steps(order.quantity)) * f.lotStep - order.quantity) > f.lotStep * 1e-6 { return "Filter failure: LOT_SIZE" }
        for p in [order.price, order.stopPrice].compactMap({ $0 }) where abs(f.roundPrice(p) - p) > f.tickSize * 1e-6 {
            return "Filter failure: PRICE_FILTER"
        }
        if order.quantity * reference < f.minNotional { return "Filter failure: NOTIONAL" }
        return nil
    }

    /// Fills `order` with `executions` when the account can pay for them (Binance's −2010 otherwise),
    /// moving the balances: a buy pays quote and receives base less the base commission; a sell
    /// pays base and receives quote less the quote commission.
    private mutating func fill(_ order: OrderRequest, at executions: [(price: Double, quantity: Double)], maker: Bool, time: Int64) -> [OrderUpdate] {
        let quote = executions.reduce(0) { $0 + $1.price * $1.quantity }
        let base = executions.reduce(0) { $0 + $1.quantity }
        let affordable = order.side == .buy ? quote <= quoteBalance + 1e-9 : base <= (baseBalance[order.symbol] ?? 0) + 1e-9
        guard affordable else {
            return [OrderUpdate(clientOrderID: order.clientOrderID, symbol: order.symbol, status: .rejected, reason: Self.insufficientBalance, time: time)]
        }
        var updates: [OrderUpdate] = []
        for (i, e) in executions.enumerated() {
            let (fee, asset) = model.commission(side: order.side, price: e.price, quantity: e.quantity, maker: maker)
            if order.side == .buy {
                quoteBalance -= e.price * e.quantity
                baseBalance[order.symbol, default: 0] += e.quantity - fee
            } else {
                baseBalance[order.symbol, default: 0] -= e.quantity
                quoteBalance += e.price * e.quantity - fee
            }
            let last = i == executions.count - 1
            updates.append(
                OrderUpdate(
                    clientOrderID: order.clientOrderID,
                    symbol: order.symbol,
                    status: last ? .filled : .partiallyFilled,
                    fill: OrderFill(tradeID: nextTradeID, price: e.price, quantity: e.quantity, commission: fee, commissionAsset: asset, time: time),
                    time: time
                )
            )
            nextTradeID += 1
        }
        return updates
    }
}
