public import ScalperCore

/// Why the risk manager refused an entry.
public enum RefusalReason: String, Codable, Sendable, CaseIterable {
    /// The kill switch is on until the user resets it.
    case killSwitch = "KILL_SWITCH"
    /// The loss since UTC midnight reached the daily limit.
    case dailyLossLimit = "DAILY_LOSS_LIMIT"
    /// Too many positions already open.
    case maxOpenPositions = "MAX_OPEN_POSITIONS"
    /// Too many entries in the last hour.
    case maxTradesPerHour = "MAX_TRADES_PER_HOUR"
    /// Too many entries today (UTC).
    case maxTradesPerDay = "MAX_TRADES_PER_DAY"
    /// The sized order is below the exchange's minimum notional.
    case belowMinNotional = "BELOW_MIN_NOTIONAL"
    /// Not enough cash for the order.
    case insufficientCash = "INSUFFICIENT_CASH"
    /// The stop-loss is not below the entry.
    case invalidStop = "INVALID_STOP"
    /// Approved at a close, dropped at the next open: the fill would have cost more than the cash left.
    case insufficientCashAtFill = "INSUFFICIENT_CASH_AT_FILL"
    /// Approved at a close, dropped because the symbol had no bar at the next open (a gap).
    case noBarAtFill = "NO_BAR_AT_FILL"
    /// Entries are paused by the user.
    case paused = "PAUSED"
    /// The venue rejected the entry order.
    case venueRejected = "VENUE_REJECTED"
    /// The entry order ended (cancelled, expired) with nothing filled.
    case entryNotFilled = "ENTRY_NOT_FILLED"
}

/// The risk manager's answer to a signal.
public enum RiskDecision: Equatable, Sendable {
    /// Enter with this quantity.
    case approved(quantity: Double)
    /// Refused, with the reason.
    case refused(RefusalReason)
}

/// Enforces every rule of ``RiskConfiguration``; refusals are counted by reason.
///
/// Size = min(equity × max_position_pct, equity × max_loss_per_trade_pct / stop distance) / price,
/// rounded down to the lot step, and refused below the minimum notional. The daily loss is
/// equity now against equity at the last UTC midnight; the kill switch trips at a drawdown of
/// max_drawdown_pct from the equity peak and stays on until ``resetKillSwitch()``.
public struct RiskManager: Codable, Sendable {
    /// The rules.
    public let configuration: RiskConfiguration
    /// Whether the kill switch is on.
    public private(set) var isKillSwitchActive = false
    /// The highest equity seen.
    public private(set) var equityPeak: Double
    /// Equity at the start of the current UTC day.
    public private(set) var dayStartEquity: Double
    /// The current UTC day (days since the epoch).
    public private(set) var day: Int64
    /// Refusals by reason.
    public private(set) var refusals: [RefusalReason: Int] = [:]
    private var entryTimes: [Int64] = []
    private var entriesToday = 0

    /// Creates a risk manager starting at `equity` on the day containing `time` (ms).
    public init(configuration: RiskConfiguration, equity: Double, time: Int64) {
        self.configuration = configuration
        equityPeak = equity
        dayStartEquity = equity
        day = time / 86_400_000
    }

    /// Rolls the daily figures over at UTC midnight.
    public mutating func observeTime(_ time: Int64, equity: Double) {
        let today = time / 86_400_000
        if today != day {
            day = today
            dayStartEquity = equity
            entriesToday = 0
        }
    }

    /// Updates the peak and trips the kill switch on a deep drawdown; returns true when it just tripped.
    @discardableResult
    public mutating func observeEquity(_ equity: Double) -> Bool {
        equityPeak = max(equityPeak, equity)
        guard !isKillSwitchActive, equityPeak > 0 else { return false }
        if (equityPeak - equity) / equityPeak >= configuration.maxDrawdownPct {
            isKillSwitchActive = true
            return true
        }
        return false
    }

    /// The user's reset after a kill switch; the peak restarts at `equity`.
    public mutating func resetKillSwitch(equity: Double) {
        isKillSwitchActive = false
        equityPeak = equity
    }

    /// Decides on one signal given the account now.
    public mutating func evaluate(
        _ signal: Signal,
        equity: Double,
        cash: Double,
        openPositions: Int,
        pendingEntries: Int = 0,
        filters: SymbolFilters,
        takerFee: Double,
        time: Int64
    ) -> RiskDecision {
        let decision = decide(
            signal,
            equity: equity,
            cash: cash,
            openPositions: openPositions,
            pendingEntries: pendingEntries,
            filters: filters,
            takerFee: takerFee,
            time: time
        )
        if case .refused(let reason) = decision { refusals[reason, default: 0] += 1 }
        return decision
    }

    private mutating func decide(
        _ signal: Signal,
        equity: Double,
        cash: Double,
        openPositions: Int,
        pendingEntries: Int,
        filters: SymbolFilters,
        takerFee: Double,
        time: Int64
    ) -> RiskDecision {
        let c = configuration
        if isKillSwitchActive { return .refused(.killSwitch) }
        if equity - dayStartEquity <= -c.dailyLossLimitPct * dayStartEquity { return .refused(.dailyLossLimit) }
        // Approved entries that have not filled yet count against every limit already.
        if openPositions + pendingEntries >= c.maxOpenPositions { return .refused(.maxOpenPositions) }
        entryTimes.removeAll { $0 <= time - 3_600_000 }
        if entryTimes.count + pendingEntries >= c.maxTradesPerHour { return .refused(.maxTradesPerHour) }
        if entriesToday + pendingEntries >= c.maxTradesPerDay { return .refused(.maxTradesPerDay) }
        let price = signal.entryPrice
        let stopDistance = (price - signal.stopLoss) / price
        guard stopDistance > 0 else { return .refused(.invalidStop) }
        let notional = min(equity * c.maxPositionPct, equity * c.maxLossPerTradePct / stopDistance)
        var quantity = filters.roundQuantity(notional / price)
        // Cash must cover the order and its fee at a price a little above the reference (slippage).
        let affordable = filters.roundQuantity(cash / (price * 1.01 * (1 + takerFee)))
        if affordable < quantity { quantity = affordable }
        // What is held after a base-asset commission, floored to the step, must still be sellable at
        // the stop: an exit below the minimum notional would be refused by the venue.
        let held = filters.roundQuantity(quantity * (1 - takerFee))
        if quantity * price < filters.minNotional || held * signal.stopLoss < filters.minNotional {
            return .refused(quantity <= 0 && cash < equity * 0.01 ? .insufficientCash : .belowMinNotional)
        }
        return .approved(quantity: quantity)
    }

    /// Counts an approved entry that was dropped before it filled (a refusal after approval).
    public mutating func recordDropped(_ reason: RefusalReason) {
        refusals[reason, default: 0] += 1
    }

    /// Records an entry that was filled (for the per-hour and per-day limits).
    public mutating func recordEntry(time: Int64) {
        entryTimes.append(time)
        entriesToday += 1
    }

    /// Entries in the hour before `time`.
    public func entriesInLastHour(before time: Int64) -> Int { entryTimes.filter { $0 > time - 3_600_000 }.count }

    /// Entries today.
    public var entriesCountToday: Int { entriesToday }
}
