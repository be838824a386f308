public import ScalperCore
public import Trading

/// Everything a paper session must find again after a crash, committed with every event: the
/// trading core (engine and simulated venue, whose orders and fills live inside it, so the venue's
/// answers are stored with the state they produced), the minute assembler, and where the session's
/// history starts and ends.
///
/// What is not here is rebuilt on restart from the exchange: each symbol's feature kernel is fed
/// again from ``warmupStart`` (the kernel is causal, so the same bars give the same state), and the
/// bars after the last decided minute are fetched and decided in order.
public struct PaperState: SessionState {
    /// `paper`.
    public static var stateKind: String { "paper" }

    /// The followed symbols, in the order the session was started with (minutes list their bars in it).
    public var symbols: [String]
    /// Who owns exits (`tick` or `bar`).
    public var exits: ExitMode
    /// The trading core: bar rule (parity mode) or continuous (ticks).
    public var core: PaperCore
    /// Decides each minute once.
    public var assembler: MinuteAssembler
    /// Per symbol, the open time of the first bar its feature kernel saw (the warm-up's first).
    public var warmupStart: [String: Int64]
    /// Open time of the first minute that may trade (the first after the warm-up).
    public var tradableFrom: Int64
    /// Close time of the last minute the session trades (nil: until stopped).
    public var endTime: Int64?
    /// True once the session has ended (positions closed or kept as configured): a restart only reports.
    public var finished = false
    /// Minutes decided so far.
    public var minutesDecided = 0
    /// Bars skipped because their minute had been decided without them (after a deadline).
    public var lateBars = 0
    /// Followed symbols skipped at a deadline, summed over minutes.
    public var missedBars = 0
    /// True when the scanner chose the universe (``symbols``) and picks each minute's candidates
    /// (nil or false: the symbols were given and all are scored).
    public var scanning: Bool?
    /// The bundle deciding now (name and folder; nil: the one the session was started with). A
    /// `--model champion` session swaps it when the registry's champion changes; a restart resumes
    /// with this one.
    public var model: String?
    /// Its folder.
    public var modelPath: String?
    /// Per symbol, the model whose signal came last (it opens the next position).
    public var signalModels: [String: String]?
    /// Per open position's symbol, the model that opened it.
    public var positionModels: [String: String]?
    /// The model that opened each closed trade, in the store's trade order (`trades.csv`'s model
    /// column), run-length encoded: swaps are rare, so the state stays small however many trades.
    public var tradeModels: [ModelRun]?

    /// The engine inside the core.
    public var tradingEngine: TradingEngine { core.engine }

    /// Creates the state of a new session.
    public init(
        symbols: [String],
        exits: ExitMode,
        core: PaperCore,
        assembler: MinuteAssembler,
        warmupStart: [String: Int64],
        tradableFrom: Int64,
        endTime: Int64?
    ) {
        self.symbols = symbols
        self.exits = exits
        self.core = core
        self.assembler = assembler
        self.warmupStart = warmupStart
        self.tradableFrom = tradableFrom
        self.endTime = endTime
    }
}

/// The trading core of a paper session: the engine with the simulated venue in-process.
///
/// - ``bar(_:)``: the backtest's ``BarReplay`` itself (`--exits bar`, parity mode): market orders
///   decided at a close fill at the next open, stops and targets trigger inside bars.
/// - ``continuous(_:)``: ``ContinuousReplay`` (`--exits tick`): market orders fill at once on
///   the live book (or the last price ± slippage), the engine watches trades for its exits.
public enum PaperCore: Codable, Sendable {
    /// Parity mode.
    case bar(BarReplay)
    /// Tick mode.
    case continuous(ContinuousReplay)
    /// Orders to an exchange (`--venue exchange`): the engine alone; its orders go out through the
    /// shell and the exchange's answers come back as order updates.
    case venue(VenueCore)

    /// The engine.
    public var engine: TradingEngine {
        switch self {
        case .bar(let r): r.engine
        case .continuous(let r): r.engine
        case .venue(let v): v.engine
        }
    }

    /// Sets a symbol's filters on the engine and the venue.
    public mutating func setFilters(_ f: SymbolFilters, for symbol: String) {
        switch self {
        case .bar(var r):
            r.setFilters(f, for: symbol)
            self = .bar(r)
        case .continuous(var r):
            r.setFilters(f, for: symbol)
            self = .continuous(r)
        case .venue(var v):
            v.engine.setFilters(f, for: symbol)
            self = .venue(v)
        }
    }

    /// One decided minute.
    public mutating func step(_ minute: MinuteClose) -> [TradingRecord] {
        switch self {
        case .bar(var r):
            let out = r.step(minute)
            self = .bar(r)
            return out
        case .continuous(var r):
            let out = r.step(minute)
            self = .continuous(r)
            return out
        case .venue(var v):
            let out = v.run(v.engine.minuteClosed(minute))
            self = .venue(v)
            return out
        }
    }

    /// Whether the core acts on trade prints (tick and venue exits); the bar rule does not.
    public var watchesTrades: Bool {
        switch self {
        case .bar: false
        case .continuous: true
        case .venue(let v): v.engine.settings.exits == .tick
        }
    }

    /// A trade print (continuous core; the bar rule ignores it).
    public mutating func trade(symbol: String, price: Double, time: Int64) -> [TradingRecord] {
        if case .venue(var v) = self {
            let out = v.run(v.engine.trade(symbol: symbol, price: price, time: time))
            self = .venue(v)
            return out
        }
        guard case .continuous(var r) = self else { return [] }
        let out = r.trade(symbol: symbol, price: price, time: time)
        self = .continuous(r)
        return out
    }

    /// The shell's clock (continuous core: timeouts of positions without trades).
    public mutating func timer(time: Int64) -> [TradingRecord] {
        if case .venue(var v) = self {
            let out = v.run(v.engine.timer(time: time))
            self = .venue(v)
            return out
        }
        guard case .continuous(var r) = self else { return [] }
        let out = r.timer(time: time)
        self = .continuous(r)
        return out
    }

    /// A user's control.
    public mutating func control(_ c: UserControl, time: Int64) -> [TradingRecord] {
        switch self {
        case .bar(var r):
            let out = r.control(c, time: time)
            self = .bar(r)
            return out
        case .continuous(var r):
            let out = r.control(c, time: time)
            self = .continuous(r)
            return out
        case .venue(var v):
            let out = v.run(v.engine.control(c, time: time))
            self = .venue(v)
            return out
        }
    }

    /// The end of the session with positions closed.
    public mutating func finish(time: Int64) -> [TradingRecord] {
        switch self {
        case .bar(var r):
            let out = r.finish(time: time)
            self = .bar(r)
            return out
        case .continuous(var r):
            let out = r.finish(time: time)
            self = .continuous(r)
            return out
        case .venue(var v):
            // Positions close at market on the exchange; their fills come back as updates.
            let out = v.run(v.engine.control(.closeAll, time: time))
            self = .venue(v)
            return out
        }
    }

    /// An exchange's answer about an order (``venue`` core only).
    public mutating func orderUpdated(_ u: OrderUpdate) -> [TradingRecord] {
        guard case .venue(var v) = self else { return [] }
        let out = v.run(v.engine.orderUpdated(u))
        self = .venue(v)
        return out
    }

    /// Keeps the simulated venue's fills for ``takeFills()`` (a dashboard shows them).
    public mutating func keepFills() {
        switch self {
        case .bar(var r):
            r.keepFills()
            self = .bar(r)
        case .continuous(var r):
            r.keepFills()
            self = .continuous(r)
        case .venue: break
        }
    }

    /// The simulated venue's fills since the last call (an exchange's come as order updates).
    public mutating func takeFills() -> [ExecutedFill] {
        switch self {
        case .bar(var r):
            let out = r.takeFills()
            self = .bar(r)
            return out
        case .continuous(var r):
            let out = r.takeFills()
            self = .continuous(r)
            return out
        case .venue: return []
        }
    }

    /// The simulated venue's orders ended since the last call, by final status.
    public mutating func takeOrderOutcomes() -> [String: Int] {
        switch self {
        case .bar(var r):
            let out = r.takeOrderOutcomes()
            self = .bar(r)
            return out
        case .continuous(var r):
            let out = r.takeOrderOutcomes()
            self = .continuous(r)
            return out
        case .venue: return [:]
        }
    }

    /// The orders and cancels decided since the last call, to be stored as intents and then sent
    /// (``venue`` core only).
    public mutating func takeOutbox() -> [TradingCommand] {
        guard case .venue(var v) = self else { return [] }
        let out = v.outbox
        v.outbox = []
        self = .venue(v)
        return out
    }
}

/// The engine of a session whose orders go to an exchange: its records are returned at once, its
/// orders and cancels wait in ``outbox`` until the shell stores them and sends them.
public struct VenueCore: Codable, Sendable {
    /// The engine.
    public var engine: TradingEngine
    /// Decided, not yet taken by the shell (always empty in a stored state: taken before each commit).
    public var outbox: [TradingCommand] = []

    /// A core over an engine.
    public init(engine: TradingEngine) { self.engine = engine }

    /// Splits an engine's commands: records out, orders and cancels into the outbox.
    mutating func run(_ commands: [TradingCommand]) -> [TradingRecord] {
        var records: [TradingRecord] = []
        for command in commands {
            if case .record(let r) = command { records.append(r) } else { outbox.append(command) }
        }
        return records
    }
}

/// `trades` consecutive closed trades opened by `model`.
public struct ModelRun: Codable, Equatable, Sendable {
    /// The bundle's name.
    public var model: String
    /// How many trades in a row.
    public var trades: Int

    /// A run.
    public init(model: String, trades: Int) {
        self.model = model
        self.trades = trades
    }
}

extension [ModelRun] {
    /// Appends one trade of `model`.
    mutating func append(trade model: String) {
        if let last = self.last, last.model == model {
            self[count - 1].trades += 1
        } else {
            append(ModelRun(model: model, trades: 1))
        }
    }

    /// The model of every trade, in order.
    var perTrade: [String] { flatMap { [String](repeating: $0.model, count: $0.trades) } }
}
