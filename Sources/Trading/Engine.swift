public import ScalperCore

/// Who owns a position's exits (`trading.exits`, `--exits`).
public enum ExitMode: String, Codable, Sendable, CaseIterable {
    /// The engine watches trades and sends a market exit when the stop, target or trailing stop is reached.
    case tick
    /// Parity mode: a stop/target list rests at the venue, which applies the backtest's bar rule.
    case bar
    /// A stop/target OCO list rests at the venue after each entry; the venue's own matching triggers it.
    case venue
}

/// Everything the engine is configured with.
public struct EngineSettings: Codable, Equatable, Sendable {
    /// Starting capital, quote asset.
    public var capital: Double
    /// Signal thresholds.
    public var signals: SignalConfiguration
    /// Risk rules.
    public var risk: RiskConfiguration
    /// Fees, slippage, timeout, trailing stop.
    public var execution: ExecutionConfiguration
    /// Who owns exits.
    public var exits: ExitMode
    /// The session name: client order ids start with its prefix.
    public var session: String

    /// Creates settings.
    public init(
        capital: Double,
        signals: SignalConfiguration = SignalConfiguration(),
        risk: RiskConfiguration = RiskConfiguration(),
        execution: ExecutionConfiguration = ExecutionConfiguration(),
        exits: ExitMode,
        session: String
    ) {
        self.capital = capital
        self.signals = signals
        self.risk = risk
        self.execution = execution
        self.exits = exits
        self.session = session
    }
}

/// One symbol's closed bar.
public struct SymbolBar: Codable, Equatable, Sendable {
    /// The symbol.
    public var symbol: String
    /// The bar.
    public var bar: Kline

    /// Creates one.
    public init(symbol: String, bar: Kline) {
        self.symbol = symbol
        self.bar = bar
    }
}

/// A minute decided once: every followed symbol's bar of that minute (those missing skipped) and
/// the model's predictions at its close.
public struct MinuteClose: Codable, Equatable, Sendable {
    /// Open time of the minute (ms).
    public var openTime: Int64
    /// The bars, one per symbol at most.
    public var bars: [SymbolBar]
    /// Predictions made at the close.
    public var predictions: [Prediction]

    /// Close time: the next minute's open (ms).
    public var closeTime: Int64 { openTime + 60_000 }

    /// Creates one.
    public init(openTime: Int64, bars: [SymbolBar], predictions: [Prediction]) {
        self.openTime = openTime
        self.bars = bars
        self.predictions = predictions
    }
}

/// A user's control of a running session (`scalper paper ctl`).
public enum UserControl: String, Codable, Sendable {
    /// No new entries until resumed.
    case pause
    /// Entries allowed again.
    case resume
    /// Clears the kill switch; the drawdown peak restarts at the equity now.
    case resetKillSwitch = "reset-kill-switch"
    /// Market-exits every position and drops entries in flight.
    case closeAll = "close-all"
}

/// What the engine asks its shell to do (STYLE §2.12).
public enum TradingCommand: Codable, Equatable, Sendable {
    /// Send an order.
    case submit(OrderRequest)
    /// Send a stop/target list.
    case submitList(OCORequest)
    /// Cancel an order.
    case cancel(symbol: String, clientOrderID: String)
    /// Cancel a list.
    case cancelList(symbol: String, listClientOrderID: String)
    /// Write something down (logs, trades.csv, the session store).
    case record(TradingRecord)
}

/// What the engine reports for the record.
public enum TradingRecord: Codable, Equatable, Sendable {
    /// A signal (before risk).
    case signal(Signal)
    /// A signal or an approved entry refused, with the reason.
    case refused(symbol: String, reason: RefusalReason, time: Int64)
    /// A closed trade.
    case trade(TradeRecord)
    /// Equity at a minute's close.
    case equity(time: Int64, equity: Double)
    /// The kill switch tripped at a drawdown.
    case killSwitch(time: Int64, equity: Double, peak: Double)
    /// Something a venue said that does not fit what the engine knows, and what was done about it.
    case anomaly(message: String, time: Int64)
}

/// An open position.
public struct Holding: Codable, Equatable, Sendable {
    /// The symbol.
    public var symbol: String
    /// Base quantity bought (fills, before commission).
    public var bought: Double
    /// Base quantity held now (bought − base commission − sold).
    public var held: Double
    /// Quote spent on the entry fills.
    public var cost: Double
    /// Entry commission valued in the quote asset.
    public var entryFees: Double
    /// Time of the first entry fill (ms).
    public var entryTime: Int64
    /// Stop-loss price.
    public var stopLoss: Double
    /// Take-profit price.
    public var takeProfit: Double
    /// Highest price seen since entry (trailing stop).
    public var highest: Double
    /// The signal's words.
    public var reason: String
    /// The model's calibrated probability at entry.
    public var probability: Double
    /// The model's confidence at entry.
    public var confidence: Double
    /// Whether the entry order is still working.
    public var entryWorking: Bool
    /// The resting stop/target list, if any.
    public var listID: String?
    /// The list legs' client ids (target, stop).
    public var legIDs: [String]
    /// A market exit in flight.
    public var exitOrderID: String?
    /// Why the position is being closed, once decided.
    public var closing: ExitReason?
    /// The price that decided the exit.
    public var exitReference: Double?
    /// Base sold so far and quote received (after quote commission), and the exit commission in quote.
    public var sold: Double
    /// Quote received.
    public var proceeds: Double
    /// Exit commission, quote.
    public var exitFees: Double
    /// A replacement list to send once the current one is cancelled (trailing stop moved).
    public var replaceStop: Double?
    /// Orders sent for this position so far (the attempt digit of new ids).
    public var attempts: Int
    /// Whether the resting stop has been moved up by the trailing stop.
    public var trailed: Bool

    /// The average entry price.
    public var entryPrice: Double { bought > 0 ? cost / bought : 0 }
}

/// The trading core shared by backtests and sessions: a deterministic state machine (STYLE §2.12).
///
/// Events in: a minute's closed bars with predictions, trades, order updates, timers, user controls.
/// Commands out: submit, cancel, record. It reads no clock (time comes inside events), does no I/O,
/// and its whole state is `Codable`, so a session stores it with every event and a restart resumes
/// exactly. Signals → risk → orders; positions follow fills as Binance reports them (a buy pays its
/// commission in the base asset; an exit sells the held quantity floored to the step; the rest is
/// dust, tracked and sold with the next exit of that symbol).
public struct TradingEngine: Codable, Sendable {
    /// The settings.
    public let settings: EngineSettings
    /// Free quote balance.
    public private(set) var cash: Double
    /// Quote set aside for entries in flight.
    public private(set) var reserved: [String: Double] = [:]
    /// Open positions by symbol.
    public private(set) var holdings: [String: Holding] = [:]
    /// Base left below one step after exits, by symbol.
    public private(set) var dust: [String: Double] = [:]
    /// Working orders this engine sent, by client id.
    public private(set) var orders: [String: OrderRequest] = [:]
    /// Trade ids already applied per order (a repeated update changes nothing).
    private var applied: [String: [Int64]] = [:]
    /// The risk manager.
    public private(set) var risk: RiskManager
    /// Last price per symbol.
    public private(set) var marks: [String: Double] = [:]
    /// Entries paused by the user.
    public private(set) var paused = false
    /// Signals generated (before risk).
    public private(set) var signalCount = 0
    /// Fees paid, valued in the quote asset.
    public private(set) var feesPaid = 0.0
    /// Milliseconds during which at least one position was open.
    public private(set) var exposureMilliseconds: Int64 = 0
    /// The last minute decided (its open time).
    public private(set) var lastMinute: Int64?
    /// Closed trades so far.
    public private(set) var tradeCount = 0
    private var exposedThisMinute = false
    private var filters: [String: SymbolFilters] = [:]

    /// An engine with `settings.capital` in cash, on the day containing `startTime`.
    public init(settings: EngineSettings, startTime: Int64) {
        self.settings = settings
        cash = settings.capital
        risk = RiskManager(configuration: settings.risk, equity: settings.capital, time: startTime)
    }

    /// Equity at the marks: cash, reserved cash, and every held and dust quantity at its last price.
    public var equity: Double { equity(marked: []) }

    /// ``equity`` right after `bars` set their symbols' marks: a symbol's mark is read from the
    /// last of its bars there (a few string comparisons) instead of hashed into ``marks``.
    ///
    /// Each dictionary is summed in symbol order, so the total is the same bit for bit in every
    /// process: a dictionary's own order follows the process's random hash seed and its insertion
    /// history, and floating-point sums depend on the order (two dust entries once made two runs
    /// of one backtest, or two engines in one process, differ in the last digit of their equity).
    private func equity(marked bars: [SymbolBar]) -> Double {
        // The closures below capture this dictionary, not `self`: capturing `self` copied the
        // whole engine (a retain per stored reference) twice a minute, a quarter of a replay.
        let marks = marks
        func mark(_ symbol: String) -> Double? {
            if bars.count <= 16, let i = bars.lastIndex(where: { $0.symbol == symbol }) { return bars[i].bar.close }
            return marks[symbol]
        }
        var reservedTotal = 0.0
        Self.forEachInSymbolOrder(reserved) { _, amount in reservedTotal += amount }
        var total = cash + reservedTotal
        Self.forEachInSymbolOrder(holdings) { symbol, h in total += h.held * (mark(symbol) ?? h.entryPrice) }
        Self.forEachInSymbolOrder(dust) { symbol, q in total += q * (mark(symbol) ?? 0) }
        return total
    }

    /// Calls `body` on every entry of `d` in ascending symbol order, allocating nothing for the
    /// few entries a replay holds (a selection pass per entry), sorting the keys beyond that.
    private static func forEachInSymbolOrder<Value>(_ d: [String: Value], _ body: (String, Value) -> Void) {
        switch d.count {
        case 0:
            return
        case 1:
            for (k, v) in d { body(k, v) }
        case 2...6:
            var last: String?
            for _ in 0..<d.count {
                var next: (key: String, value: Value)?
                for entry in d where last.map({ entry.key > $0 }) ?? true {
                    if next.map({ entry.key < $0.key }) ?? true { next = entry }
                }
                guard let next else { return }
                body(next.key, next.value)
                last = next.key
            }
        default:
            for k in d.keys.sorted() { if let v = d[k] { body(k, v) } }
        }
    }

    /// Sets a symbol's filters (exchangeInfo, or the derivation); until then the derivation from its price applies.
    public mutating func setFilters(_ f: SymbolFilters, for symbol: String) { filters[symbol] = f }

    /// A symbol's filters.
    public func filters(for symbol: String, price: Double) -> SymbolFilters { filters[symbol] ?? .derived(price: price) }

    // MARK: Events

    /// A minute closed: marks, exposure, timeouts and trailing stops, the drawdown check, then the
    /// predictions at the close become entries.
    public mutating func minuteClosed(_ minute: MinuteClose) -> [TradingCommand] {
        var out: [TradingCommand] = []
        minuteClosed(minute, into: &out)
        return out
    }

    /// ``minuteClosed(_:)`` appending its commands to `out`: a replay reuses one buffer for every
    /// minute instead of allocating an array per minute.
    ///
    /// Most minutes of a replay hold no position and no prediction; their path is the marks, one
    /// equity valuation and the equity record, with nothing allocated.
    public mutating func minuteClosed(_ minute: MinuteClose, into out: inout [TradingCommand]) {
        let time = minute.closeTime
        for i in minute.bars.indices {
            marks[minute.bars[i].symbol] = minute.bars[i].bar.close
        }
        // A decision at 00:00 belongs to the new UTC day, whose start equity is the equity at that
        // close. (The equity is valued only on the minute the day changes: the risk manager reads it
        // only then.)
        if time / 86_400_000 != risk.day { risk.observeTime(time, equity: equity(marked: minute.bars)) }
        if exposedThisMinute || !holdings.isEmpty { exposureMilliseconds += time - minute.openTime }
        exposedThisMinute = !holdings.isEmpty
        lastMinute = minute.openTime

        // Positions: exits the venue turned away last time are tried again (once a minute, never in a
        // loop within one event); then timeouts; then the trailing stop moves with the bar's high.
        for symbol in holdings.isEmpty ? [] : holdings.keys.sorted() {
            guard var h = holdings[symbol], !h.entryWorking else { continue }
            if let reason = h.closing {
                if h.exitOrderID == nil && h.listID == nil {
                    h.closing = nil
                    holdings[symbol] = h
                    out += close(symbol, reason: reason, reference: marks[symbol] ?? h.entryPrice, time: time)
                }
                continue
            }
            if Double(time - h.entryTime) / 1_000 >= settings.execution.timeoutSeconds {
                out += close(symbol, reason: .timeout, reference: marks[symbol] ?? h.entryPrice, time: time)
                continue
            }
            if let b = minute.bars.first(where: { $0.symbol == symbol }) {
                h.highest = max(h.highest, b.bar.high)
                holdings[symbol] = h
                // The resting stop moves up to the trailing stop from the next bar on (cancel, then replace).
                let trail = trailingStop(h)
                if settings.exits != .tick, let listID = h.listID, trail > h.stopLoss, h.replaceStop == nil {
                    h.replaceStop = trail
                    holdings[symbol] = h
                    out.append(.cancelList(symbol: symbol, listClientOrderID: listID))
                }
            }
        }

        // The drawdown check on the marked equity (the marks are still the bars' closes: nothing
        // above sets them).
        let now = equity(marked: minute.bars)
        if risk.observeEquity(now) {
            out.append(.record(.killSwitch(time: time, equity: now, peak: risk.equityPeak)))
            out += closeEverything(reason: .killSwitch, time: time)
        }
        out.append(.record(.equity(time: time, equity: now)))

        // Predictions at the close become entries (none: no signal can come of the minute).
        guard !minute.predictions.isEmpty else { return }
        let busy = Set(holdings.keys).union(reserved.keys)
        let candidates = SignalGenerator(configuration: settings.signals, risk: settings.risk)
            .signals(for: minute.predictions, excluding: busy)
        signalCount += candidates.count
        for signal in candidates {
            out.append(.record(.signal(signal)))
            if paused {
                out.append(.record(.refused(symbol: signal.symbol, reason: .paused, time: time)))
                risk.recordDropped(.paused)
                continue
            }
            let f = filters(for: signal.symbol, price: signal.entryPrice)
            let decision = risk.evaluate(
                signal,
                equity: now,
                cash: cash,
                openPositions: holdings.values.filter { !$0.entryWorking }.count,
                pendingEntries: reserved.count,
                filters: f,
                takerFee: settings.execution.takerFee,
                time: time
            )
            switch decision {
            case .refused(let reason):
                out.append(.record(.refused(symbol: signal.symbol, reason: reason, time: time)))
            case .approved(let quantity):
                let id = ClientOrderID.make(session: settings.session, leg: .entry, attempt: 0, decisionTime: time, symbol: signal.symbol)
                let order = OrderRequest(
                    clientOrderID: id,
                    symbol: signal.symbol,
                    side: .buy,
                    type: .market,
                    quantity: f.roundQuantity(quantity),
                    referencePrice: signal.entryPrice,
                    decisionTime: time,
                    leg: .entry
                )
                // Cash set aside for the fill with the risk manager's headroom (slippage, a gap at the open).
                let hold = min(cash, order.quantity * signal.entryPrice * 1.01)
                cash -= hold
                reserved[signal.symbol] = hold
                orders[id] = order
                let stopDistance = (signal.entryPrice - signal.stopLoss) / signal.entryPrice
                let targetDistance = (signal.takeProfit - signal.entryPrice) / signal.entryPrice
                holdings[signal.symbol] = Holding(
                    symbol: signal.symbol, bought: 0, held: 0, cost: 0, entryFees: 0, entryTime: time,
                    // Distances until the fill sets the prices.
                    stopLoss: stopDistance, takeProfit: targetDistance, highest: 0, reason: signal.reason,
                    probability: signal.probability, confidence: signal.confidence, entryWorking: true, listID: nil,
                    legIDs: [], exitOrderID: nil, closing: nil, exitReference: nil, sold: 0, proceeds: 0, exitFees: 0,
                    replaceStop: nil, attempts: 1, trailed: false
                )
                out.append(.submit(order))
            }
        }
    }

    /// A trade print: marks; under `--exits tick` the stop, trailing stop, target and timeout are
    /// judged on it (event time from the trade).
    public mutating func trade(symbol: String, price: Double, time: Int64) -> [TradingCommand] {
        marks[symbol] = price
        guard var h = holdings[symbol], !h.entryWorking, h.closing == nil, h.held > 0 else { return [] }
        h.highest = max(h.highest, price)
        holdings[symbol] = h
        guard settings.exits == .tick else { return [] }
        let trail = trailingStop(h)
        if price <= max(h.stopLoss, trail) {
            return close(symbol, reason: trail > h.stopLoss ? .trailing : .stopLoss, reference: price, time: time)
        }
        if price >= h.takeProfit { return close(symbol, reason: .takeProfit, reference: price, time: time) }
        if Double(time - h.entryTime) / 1_000 >= settings.execution.timeoutSeconds {
            return close(symbol, reason: .timeout, reference: price, time: time)
        }
        return []
    }

    /// The shell's clock (event time): timeouts of positions with no trade to judge them on.
    public mutating func timer(time: Int64) -> [TradingCommand] {
        var out: [TradingCommand] = []
        for symbol in holdings.keys.sorted() {
            guard let h = holdings[symbol], !h.entryWorking, h.closing == nil, h.held > 0 else { continue }
            if Double(time - h.entryTime) / 1_000 >= settings.execution.timeoutSeconds {
                out += close(symbol, reason: .timeout, reference: marks[symbol] ?? h.entryPrice, time: time)
            }
        }
        return out
    }

    /// A user's control.
    public mutating func control(_ control: UserControl, time: Int64) -> [TradingCommand] {
        switch control {
        case .pause:
            paused = true
            return []
        case .resume:
            paused = false
            return []
        case .resetKillSwitch:
            risk.resetKillSwitch(equity: equity)
            return []
        case .closeAll:
            return closeEverything(reason: .manual, time: time)
        }
    }

    /// A venue's answer about one of the orders.
    public mutating func orderUpdated(_ u: OrderUpdate) -> [TradingCommand] {
        guard let order = orders[u.clientOrderID] else {
            return [.record(.anomaly(message: "update \(u.status.rawValue) for unknown order \(u.clientOrderID) (\(u.symbol)) ignored", time: u.time))]
        }
        if let fill = u.fill {
            if applied[u.clientOrderID, default: []].contains(fill.tradeID) {
                return [.record(.anomaly(message: "fill \(fill.tradeID) of \(u.clientOrderID) repeated; applied once", time: u.time))]
            }
            applied[u.clientOrderID, default: []].append(fill.tradeID)
        }
        var out: [TradingCommand] = []
        if let fill = u.fill { out += apply(fill, of: order) }
        if u.status.isFinal { out += finished(order, status: u.status, reason: u.reason, time: u.time) }
        return out
    }

    // MARK: Fills

    private mutating func apply(_ fill: OrderFill, of order: OrderRequest) -> [TradingCommand] {
        let symbol = order.symbol
        guard var h = holdings[symbol] else {
            return [.record(.anomaly(message: "fill of \(order.clientOrderID) for \(symbol) with no position; ignored", time: fill.time))]
        }
        let commissionQuote = fill.commissionAsset == .base ? fill.commission * fill.price : fill.commission
        feesPaid += commissionQuote
        exposedThisMinute = true
        if order.side == .buy {
            let spend = fill.price * fill.quantity
            let fromReserve = min(spend, reserved[symbol] ?? 0)
            reserved[symbol] = (reserved[symbol] ?? 0) - fromReserve
            cash -= spend - fromReserve
            if h.bought == 0 {
                // The first fill sets the stop and target at their distances from the actual price.
                h.entryTime = fill.time
                h.stopLoss = fill.price * (1 - h.stopLoss)
                h.takeProfit = fill.price * (1 + h.takeProfit)
                h.highest = fill.price
            }
            h.bought += fill.quantity
            h.cost += spend
            h.held += fill.quantity - (fill.commissionAsset == .base ? fill.commission : 0)
            h.entryFees += commissionQuote
            if fill.commissionAsset == .quote { cash -= fill.commission }
        } else {
            h.held -= fill.quantity
            h.sold += fill.quantity
            let received = fill.price * fill.quantity - (fill.commissionAsset == .quote ? fill.commission : 0)
            h.proceeds += received
            h.exitFees += commissionQuote
            cash += received
            if fill.commissionAsset == .base { h.held -= fill.commission }
            if h.closing == nil {
                h.closing = order.leg == .stop ? (h.trailed ? .trailing : .stopLoss) : .takeProfit
            }
            if h.exitReference == nil { h.exitReference = order.stopPrice ?? order.price ?? order.referencePrice }
        }
        holdings[symbol] = h
        return []
    }

    private mutating func finished(_ order: OrderRequest, status: OrderStatus, reason: String?, time: Int64) -> [TradingCommand] {
        orders[order.clientOrderID] = nil
        applied[order.clientOrderID] = nil
        let symbol = order.symbol
        var out: [TradingCommand] = []
        guard var h = holdings[symbol] else { return out }
        switch order.leg {
        case .entry:
            h.entryWorking = false
            cash += reserved.removeValue(forKey: symbol) ?? 0
            if h.bought == 0 {
                holdings[symbol] = nil
                let why: RefusalReason =
                    switch (status, reason) {
                    case (.rejected, SimulatedVenue.insufficientBalance): .insufficientCashAtFill
                    case (.rejected, _): .venueRejected
                    case (.expired, SimulatedVenue.noBarAtOpen): .noBarAtFill
                    default: .entryNotFilled
                    }
                risk.recordDropped(why)
                out.append(.record(.refused(symbol: symbol, reason: why, time: time)))
                if let reason { out.append(.record(.anomaly(message: "entry \(order.clientOrderID) \(status.rawValue): \(reason)", time: time))) }
                return out
            }
            risk.recordEntry(time: h.entryTime)
            if let reason = h.closing {
                // The kill switch or the user cancelled an entry that had partly filled: exit what came.
                h.closing = nil
                holdings[symbol] = h
                out += close(symbol, reason: reason, reference: marks[symbol] ?? h.entryPrice, time: time)
                return out
            }
            holdings[symbol] = h
            if settings.exits != .tick { out += protect(symbol, time: time) }
        case .exit:
            h.exitOrderID = nil
            holdings[symbol] = h
            if status == .filled || h.held < filters(for: symbol, price: marks[symbol] ?? h.entryPrice).lotStep {
                out += settle(symbol, time: time)
            } else if status == .rejected, let reason, Self.isPermanent(reason) {
                // The venue will never take this quantity (below its filters, or not there to sell):
                // what is left is kept as dust, valued and sold with the symbol's next exit.
                out.append(
                    .record(.anomaly(message: "exit \(order.clientOrderID) rejected: \(reason); \(h.held) kept as dust", time: time))
                )
                out += settle(symbol, time: time)
            } else {
                // Turned away for now (cancelled, expired, a transient rejection): tried again at the next minute.
                out.append(
                    .record(
                        .anomaly(
                            message: "exit \(order.clientOrderID) \(status.rawValue)\(reason.map { ": \($0)" } ?? ""); retried at the next minute",
                            time: time
                        )
                    )
                )
            }
        case .target, .stop:
            h.legIDs.removeAll { $0 == order.clientOrderID }
            if !h.legIDs.isEmpty {
                holdings[symbol] = h
                return out
            }
            // Both legs are final.
            h.listID = nil
            holdings[symbol] = h
            if h.sold > 0 && h.held < filters(for: symbol, price: marks[symbol] ?? h.entryPrice).lotStep {
                out += settle(symbol, time: time)
            } else if let reason = h.closing, h.exitOrderID == nil {
                // A timeout, the kill switch or the user cancelled the list: now sell at market.
                h.closing = nil
                holdings[symbol] = h
                out += close(symbol, reason: reason, reference: h.exitReference ?? marks[symbol] ?? h.entryPrice, time: time)
            } else if let stop = h.replaceStop {
                h.replaceStop = nil
                h.stopLoss = stop
                h.trailed = true
                holdings[symbol] = h
                out += protect(symbol, time: time)
            } else if status == .rejected {
                out.append(.record(.anomaly(message: "protective list for \(symbol) rejected\(reason.map { ": \($0)" } ?? ""); exiting at market", time: time)))
                out += close(symbol, reason: .manual, reference: marks[symbol] ?? h.entryPrice, time: time)
            } else if h.sold == 0 {
                // The venue ended the list by itself with nothing sold: protect the position again.
                out.append(.record(.anomaly(message: "protective list for \(symbol) \(status.rawValue) by the venue; placed again", time: time)))
                out += protect(symbol, time: time)
            }
        case .list:
            break
        }
        return out
    }

    /// The stop/target list for what is held, floored to the step.
    private mutating func protect(_ symbol: String, time: Int64) -> [TradingCommand] {
        guard var h = holdings[symbol] else { return [] }
        let f = filters(for: symbol, price: h.entryPrice)
        let trail = trailingStop(h)
        if trail > h.stopLoss {
            h.stopLoss = trail
            h.trailed = true
        }
        let quantity = f.roundQuantity(h.held + (dust[symbol] ?? 0))
        guard quantity > 0 else { return [] }
        let attempt = h.attempts
        h.attempts += 1
        func id(_ leg: OrderLeg) -> String {
            ClientOrderID.make(session: settings.session, leg: leg, attempt: attempt, decisionTime: time, symbol: symbol)
        }
        let target = OrderRequest(
            clientOrderID: id(.target), symbol: symbol, side: .sell, type: .limitMaker, quantity: quantity,
            price: f.roundPrice(h.takeProfit, up: true), referencePrice: h.takeProfit, decisionTime: time, leg: .target
        )
        let stop = OrderRequest(
            clientOrderID: id(.stop), symbol: symbol, side: .sell, type: .stopLoss, quantity: quantity,
            stopPrice: f.roundPrice(h.stopLoss, up: false), referencePrice: h.stopLoss, decisionTime: time, leg: .stop
        )
        let list = OCORequest(listClientOrderID: id(.list), symbol: symbol, target: target, stop: stop)
        h.listID = list.listClientOrderID
        h.legIDs = [target.clientOrderID, stop.clientOrderID]
        holdings[symbol] = h
        orders[target.clientOrderID] = target
        orders[stop.clientOrderID] = stop
        return [.submitList(list)]
    }

    /// Starts closing a position at market (after cancelling its list, when one rests).
    private mutating func close(_ symbol: String, reason: ExitReason, reference: Double, time: Int64) -> [TradingCommand] {
        guard var h = holdings[symbol], h.closing == nil else { return [] }
        h.closing = reason
        h.exitReference = reference
        if let listID = h.listID {
            holdings[symbol] = h
            return [.cancelList(symbol: symbol, listClientOrderID: listID)]
        }
        let f = filters(for: symbol, price: reference)
        let quantity = f.roundQuantity(h.held + (dust[symbol] ?? 0))
        guard quantity > 0 else {
            holdings[symbol] = h
            return settle(symbol, time: time)
        }
        let id = ClientOrderID.make(session: settings.session, leg: .exit, attempt: h.attempts, decisionTime: time, symbol: symbol)
        h.attempts += 1
        h.exitOrderID = id
        holdings[symbol] = h
        let order = OrderRequest(
            clientOrderID: id, symbol: symbol, side: .sell, type: .market, quantity: quantity,
            referencePrice: reference, decisionTime: time, leg: .exit
        )
        orders[id] = order
        return [.submit(order)]
    }

    private mutating func closeEverything(reason: ExitReason, time: Int64) -> [TradingCommand] {
        var out: [TradingCommand] = []
        for symbol in holdings.keys.sorted() {
            guard let h = holdings[symbol] else { continue }
            if h.entryWorking {
                if let id = orders.values.first(where: { $0.symbol == symbol && $0.leg == .entry })?.clientOrderID {
                    var working = h
                    working.closing = reason
                    working.exitReference = marks[symbol] ?? h.entryPrice
                    holdings[symbol] = working
                    out.append(.cancel(symbol: symbol, clientOrderID: id))
                }
                continue
            }
            out += close(symbol, reason: reason, reference: marks[symbol] ?? h.entryPrice, time: time)
        }
        return out
    }

    /// The position is gone: the trade is recorded and what is left below a step becomes dust.
    private mutating func settle(_ symbol: String, time: Int64) -> [TradingCommand] {
        guard let h = holdings.removeValue(forKey: symbol) else { return [] }
        let dustBefore = dust[symbol] ?? 0
        // What was sold beyond this position's own holding came out of the dust.
        let step = filters(for: symbol, price: marks[symbol] ?? h.entryPrice).lotStep
        var dustAfter = max(0, h.held + dustBefore)
        if dustAfter < step * 1e-6 { dustAfter = 0 }  // binary representation error, not base left over
        let exitPrice = h.sold > 0 ? (h.proceeds + h.exitFees) / h.sold : (marks[symbol] ?? h.entryPrice)
        if dustAfter > 0 { dust[symbol] = dustAfter } else { dust[symbol] = nil }
        let pnl = h.proceeds - h.cost + (dustAfter - dustBefore) * exitPrice
        tradeCount += 1
        let record = TradeRecord(
            entryTime: h.entryTime,
            exitTime: time,
            symbol: symbol,
            side: .buy,
            entryPrice: h.entryPrice,
            exitPrice: exitPrice,
            quantity: h.sold,
            pnlUSDT: pnl,
            pnlPct: h.cost > 0 ? pnl / h.cost * 100 : 0,
            durationSeconds: Double(time - h.entryTime) / 1_000,
            exitReason: h.closing ?? .manual,
            fees: h.entryFees + h.exitFees,
            probability: h.probability,
            confidence: h.confidence
        )
        return [.record(.trade(record))]
    }

    /// Rejections no retry can cure: Binance's filter failures and an account without the asset.
    static func isPermanent(_ reason: String) -> Bool {
        reason.hasPrefix("Filter failure") || reason == SimulatedVenue.insufficientBalance || reason.hasPrefix("Invalid quantity")
    }

    private func trailingStop(_ h: Holding) -> Double {
        settings.execution.trailingStopPct > 0 ? h.highest * (1 - settings.execution.trailingStopPct) : 0
    }
}
