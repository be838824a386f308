import Logging
public import ScalperCore

/// Why a position ended.
public enum ExitReason: String, Codable, Sendable, CaseIterable {
    /// Take-profit reached.
    case takeProfit = "TP"
    /// Stop-loss reached.
    case stopLoss = "SL"
    /// Held for the timeout.
    case timeout = "TIMEOUT"
    /// Trailing stop reached.
    case trailing = "TRAILING"
    /// Closed by the kill switch.
    case killSwitch = "KILL_SWITCH"
    /// Closed by the user (or at the end of a backtest).
    case manual = "MANUAL"
}

/// An open long position.
public struct Position: Equatable, Sendable {
    /// The symbol.
    public var symbol: String
    /// Quantity held.
    public var quantity: Double
    /// Entry fill price.
    public var entryPrice: Double
    /// Entry time (ms).
    public var entryTime: Int64
    /// Fee paid on entry.
    public var entryFee: Double
    /// Stop-loss price.
    public var stopLoss: Double
    /// Take-profit price.
    public var takeProfit: Double
    /// Highest price since entry (for the trailing stop).
    public var highest: Double
    /// The signal's reason.
    public var reason: String
}

/// A closed trade (the columns of `trades.csv`).
public struct TradeRecord: Equatable, Sendable, Codable {
    /// Entry time (ms).
    public var entryTime: Int64
    /// Exit time (ms).
    public var exitTime: Int64
    /// The symbol.
    public var symbol: String
    /// Always BUY (long entries) for now.
    public var side: Side
    /// Entry fill price.
    public var entryPrice: Double
    /// Exit fill price.
    public var exitPrice: Double
    /// Quantity.
    public var quantity: Double
    /// Net profit in quote currency: quantity × (exit − entry) − fees.
    public var pnlUSDT: Double
    /// Net profit as a share of the entry notional, percent.
    public var pnlPct: Double
    /// Seconds held.
    public var durationSeconds: Double
    /// Why it ended.
    public var exitReason: ExitReason
    /// Fees on both sides.
    public var fees: Double
}

/// Cash, positions and what has been realised; conserved exactly:
/// cash + Σ open quantity × entry price + fees paid = starting capital + realised gross P&L.
public struct Portfolio: Sendable {
    /// Starting capital.
    public let startingCapital: Double
    /// Cash.
    public private(set) var cash: Double
    /// Open positions by symbol.
    public private(set) var positions: [String: Position] = [:]
    /// All fees paid.
    public private(set) var feesPaid = 0.0
    /// Σ quantity × (exit − entry) over closed trades (before fees).
    public private(set) var realisedGross = 0.0
    /// Closed trades in order.
    public private(set) var trades: [TradeRecord] = []

    /// Creates a portfolio holding `capital` in cash.
    public init(capital: Double) {
        startingCapital = capital
        cash = capital
    }

    mutating func open(_ position: Position) {
        cash -= position.quantity * position.entryPrice + position.entryFee
        feesPaid += position.entryFee
        positions[position.symbol] = position
    }

    mutating func close(_ symbol: String, fill: Fill, reason: ExitReason) {
        guard let p = positions.removeValue(forKey: symbol) else { return }
        cash += p.quantity * fill.price - fill.fee
        feesPaid += fill.fee
        let gross = p.quantity * (fill.price - p.entryPrice)
        realisedGross += gross
        let fees = p.entryFee + fill.fee
        let net = gross - fees
        trades.append(
            TradeRecord(
                entryTime: p.entryTime,
                exitTime: fill.time,
                symbol: symbol,
                side: .buy,
                entryPrice: p.entryPrice,
                exitPrice: fill.price,
                quantity: p.quantity,
                pnlUSDT: net,
                pnlPct: net / (p.quantity * p.entryPrice) * 100,
                durationSeconds: Double(fill.time - p.entryTime) / 1000,
                exitReason: reason,
                fees: fees
            )
        )
    }

    mutating func updateHighest(_ symbol: String, _ high: Double) {
        if var p = positions[symbol], high > p.highest {
            p.highest = high
            positions[symbol] = p
        }
    }

    /// Equity at the given marks (positions without a mark count at entry price).
    public func equity(marks: [String: Double]) -> Double {
        cash + positions.values.reduce(0) { $0 + $1.quantity * (marks[$1.symbol] ?? $1.entryPrice) }
    }
}

/// The trading loop shared by backtests and paper trading: pending entries fill at the next bar's
/// open, exits are checked inside each bar, equity is marked at each close, and predictions at the
/// close become signals for the next bar. Only the executor and the source of bars differ between
/// a backtest and a live run; the engine takes its time from the bars (no wall clock).
public struct TradingEngine<E: Executor>: Sendable {
    /// Signal thresholds.
    public let signals: SignalGenerator
    /// Execution rules.
    public let execution: ExecutionConfiguration
    /// The risk manager.
    public private(set) var risk: RiskManager
    /// The account.
    public private(set) var portfolio: Portfolio
    /// Where fills come from.
    public var executor: E
    /// Filters per symbol.
    private let filters: @Sendable (String) -> SymbolFilters
    /// Approved entries waiting for the next bar's open.
    public private(set) var pending: [String: (signal: Signal, quantity: Double)] = [:]
    /// Last close per symbol.
    public private(set) var marks: [String: Double] = [:]
    /// Signals generated (before risk).
    public private(set) var signalCount = 0
    /// Equity after each processed close: (time, equity).
    public private(set) var equityCurve: [(time: Int64, equity: Double)] = []
    /// Milliseconds during which at least one position was open.
    public private(set) var exposureMilliseconds: Int64 = 0

    /// Creates an engine.
    public init(
        capital: Double,
        startTime: Int64,
        signals: SignalConfiguration,
        risk: RiskConfiguration,
        execution: ExecutionConfiguration,
        executor: E,
        filters: @escaping @Sendable (String) -> SymbolFilters
    ) {
        self.signals = SignalGenerator(configuration: signals, risk: risk)
        self.execution = execution
        self.risk = RiskManager(configuration: risk, equity: capital, time: startTime)
        self.portfolio = Portfolio(capital: capital)
        self.executor = executor
        self.filters = filters
    }

    /// Processes the bars that opened at one instant (one per symbol at most), then the predictions
    /// made at their close.
    public mutating func process(bars: [(symbol: String, bar: Kline)], predictions: [Prediction]) {
        guard let first = bars.first else { return }
        let openTime = first.bar.openTime
        let closeTime = first.bar.closeTime + 1
        risk.observeTime(openTime, equity: portfolio.equity(marks: marks))

        // 1. Entries approved at the previous close fill at this bar's open.
        for (symbol, bar) in bars {
            guard let entry = pending.removeValue(forKey: symbol) else { continue }
            let fill = executor.marketOrder(symbol: symbol, side: .buy, quantity: entry.quantity, referencePrice: bar.open, time: openTime)
            // The stop and target keep their distances from the actual fill.
            let stopDistance = (entry.signal.entryPrice - entry.signal.stopLoss) / entry.signal.entryPrice
            let targetDistance = (entry.signal.takeProfit - entry.signal.entryPrice) / entry.signal.entryPrice
            guard portfolio.cash >= fill.price * fill.quantity + fill.fee else {
                risk.recordDropped(.insufficientCashAtFill)
                Self.logger.info(
                    "entry dropped at fill",
                    metadata: [
                        "symbol": "\(symbol)", "reason": "\(RefusalReason.insufficientCashAtFill.rawValue)",
                        "cost": "\(fill.price * fill.quantity + fill.fee)", "cash": "\(portfolio.cash)", "time": "\(openTime)",
                    ]
                )
                continue
            }
            portfolio.open(
                Position(
                    symbol: symbol,
                    quantity: fill.quantity,
                    entryPrice: fill.price,
                    entryTime: openTime,
                    entryFee: fill.fee,
                    stopLoss: fill.price * (1 - stopDistance),
                    takeProfit: fill.price * (1 + targetDistance),
                    highest: fill.price,
                    reason: entry.signal.reason
                )
            )
            risk.recordEntry(time: openTime)
        }
        // Entries for symbols with no bar now (a gap) are dropped rather than filled late.
        for symbol in pending.keys.sorted() {
            risk.recordDropped(.noBarAtFill)
            Self.logger.info(
                "entry dropped at fill",
                metadata: ["symbol": "\(symbol)", "reason": "\(RefusalReason.noBarAtFill.rawValue)", "time": "\(openTime)"]
            )
        }
        pending.removeAll()

        // 2. Exits inside the bar.
        let hadExposure = !portfolio.positions.isEmpty
        for (symbol, bar) in bars {
            marks[symbol] = bar.close
            guard let p = portfolio.positions[symbol] else { continue }
            if let (reason, price) = exit(p, bar: bar, closeTime: closeTime) {
                let fill = executor.marketOrder(symbol: symbol, side: .sell, quantity: p.quantity, referencePrice: price, time: closeTime)
                portfolio.close(symbol, fill: fill, reason: reason)
            } else {
                portfolio.updateHighest(symbol, bar.high)
            }
        }
        if hadExposure || !portfolio.positions.isEmpty { exposureMilliseconds += closeTime - openTime }

        // 3. Mark to market; a deep drawdown closes everything.
        var equity = portfolio.equity(marks: marks)
        if risk.observeEquity(equity) {
            closeAll(reason: .killSwitch, time: closeTime)
            equity = portfolio.equity(marks: marks)
        }
        equityCurve.append((closeTime, equity))

        // 4. Predictions at the close become signals for the next open.
        let excluded = Set(portfolio.positions.keys)
        let candidates = signals.signals(for: predictions, excluding: excluded)
        signalCount += candidates.count
        for signal in candidates {
            let decision = risk.evaluate(
                signal,
                equity: equity,
                cash: portfolio.cash - pending.values.reduce(0) { $0 + $1.quantity * $1.signal.entryPrice * 1.01 },
                openPositions: portfolio.positions.count,
                pendingEntries: pending.count,
                filters: filters(signal.symbol),
                takerFee: execution.takerFee,
                time: closeTime
            )
            switch decision {
            case .approved(let quantity):
                pending[signal.symbol] = (signal, quantity)
            case .refused(let reason):
                Self.logger.debug(
                    "signal refused",
                    metadata: ["symbol": "\(signal.symbol)", "reason": "\(reason.rawValue)", "time": "\(closeTime)"]
                )
            }
        }
    }

    private static var logger: Logger { Logger(label: "scalper.risk") }

    /// The exit (reason and reference price) a bar triggers for a position, if any.
    ///
    /// Inside one bar: a stop hit counts before a target when both are inside it (configurable); a
    /// bar opening through the stop exits at its open; the trailing stop uses the highest price
    /// before this bar; the timeout closes at the bar's close.
    func exit(_ p: Position, bar: Kline, closeTime: Int64) -> (ExitReason, Double)? {
        var stop = p.stopLoss
        var stopReason = ExitReason.stopLoss
        if execution.trailingStopPct > 0 {
            let trail = p.highest * (1 - execution.trailingStopPct)
            if trail > stop {
                stop = trail
                stopReason = .trailing
            }
        }
        let stopHit = bar.low <= stop
        let targetHit = bar.high >= p.takeProfit
        if stopHit && (!targetHit || execution.stopFirstWhenBothHit) {
            return (stopReason, min(stop, bar.open))
        }
        if targetHit { return (.takeProfit, max(p.takeProfit, bar.open)) }
        if Double(closeTime - p.entryTime) / 1000 >= execution.timeoutSeconds { return (.timeout, bar.close) }
        return nil
    }

    /// Closes every position at its last mark.
    public mutating func closeAll(reason: ExitReason, time: Int64) {
        for symbol in portfolio.positions.keys.sorted() {
            guard let p = portfolio.positions[symbol] else { continue }
            let fill = executor.marketOrder(symbol: symbol, side: .sell, quantity: p.quantity, referencePrice: marks[symbol] ?? p.entryPrice, time: time)
            portfolio.close(symbol, fill: fill, reason: reason)
        }
        pending.removeAll()
    }

    /// The user's reset of the kill switch.
    public mutating func resetKillSwitch() {
        risk.resetKillSwitch(equity: portfolio.equity(marks: marks))
    }
}
