public import ScalperCore

/// The tick shell core (`--exits tick` with the simulated venue): market orders fill at once on the
/// latest book (or the last trade ± slippage), the engine judges its stop, trailing stop, target and
/// timeout on each trade print (event time from the trade's `T`), and every command is answered by
/// the venue and fed back in order until nothing is left, as ``BarReplay`` does for the bar rule.
public struct ContinuousReplay: Codable, Sendable {
    /// The engine.
    public private(set) var engine: TradingEngine
    /// The simulated venue (continuous rule).
    public private(set) var venue: SimulatedVenue
    /// Fills since a session last took them (nil: not kept, as in a backtest; not saved: see ``FillLog``).
    private var fillLog: FillLog?

    private enum CodingKeys: String, CodingKey { case engine, venue }

    /// Creates a core over an engine and a continuous-rule venue.
    public init(engine: TradingEngine, venue: SimulatedVenue) {
        precondition(venue.rule == .continuous, "ContinuousReplay needs a continuous-rule venue")
        self.engine = engine
        self.venue = venue
    }

    /// Keeps the fills from now on, for ``takeFills()``.
    public mutating func keepFills() { if fillLog == nil { fillLog = FillLog() } }

    /// The fills since the last call (a session shows them; empty unless ``keepFills()``).
    public mutating func takeFills() -> [ExecutedFill] { fillLog?.take() ?? [] }

    /// Orders ended since the last call, by final status (empty unless ``keepFills()``).
    public mutating func takeOrderOutcomes() -> [String: Int] { fillLog?.takeOutcomes() ?? [:] }

    /// Sets a symbol's filters on both the engine and the venue.
    public mutating func setFilters(_ f: SymbolFilters, for symbol: String) {
        engine.setFilters(f, for: symbol)
        venue.setFilters(f, for: symbol)
    }

    /// A decided minute: the engine decides at its close; entries fill at once.
    public mutating func step(_ minute: MinuteClose) -> [TradingRecord] {
        var records: [TradingRecord] = []
        execute(engine.minuteClosed(minute), time: minute.closeTime, into: &records)
        return records
    }

    /// A trade print: resting orders it reaches fill, then the engine judges its exits on it.
    public mutating func trade(symbol: String, price: Double, time: Int64) -> [TradingRecord] {
        var records: [TradingRecord] = []
        for u in venue.trade(symbol: symbol, price: price, time: time) {
            fillLog?.updated(u)
            execute(engine.orderUpdated(u), time: time, into: &records)
        }
        execute(engine.trade(symbol: symbol, price: price, time: time), time: time, into: &records)
        return records
    }

    /// The latest book of a symbol (market orders walk it).
    public mutating func book(_ book: SimulatedVenue.Book, for symbol: String) {
        venue.setBook(book, for: symbol)
    }

    /// The shell's clock: timeouts of positions without trades.
    public mutating func timer(time: Int64) -> [TradingRecord] {
        var records: [TradingRecord] = []
        execute(engine.timer(time: time), time: time, into: &records)
        return records
    }

    /// A user's control.
    public mutating func control(_ c: UserControl, time: Int64) -> [TradingRecord] {
        var records: [TradingRecord] = []
        execute(engine.control(c, time: time), time: time, into: &records)
        return records
    }

    /// The end of a session with positions closed at market.
    public mutating func finish(time: Int64) -> [TradingRecord] {
        var records: [TradingRecord] = []
        execute(engine.control(.closeAll, time: time), time: time, into: &records)
        for u in venue.flush(time: time) {
            fillLog?.updated(u)
            execute(engine.orderUpdated(u), time: time, into: &records)
        }
        return records
    }

    private mutating func execute(_ commands: [TradingCommand], time: Int64, into records: inout [TradingRecord]) {
        var queue = commands
        var i = 0
        while i < queue.count {
            let answers: [OrderUpdate]
            switch queue[i] {
            case .submit(let order): answers = venue.submit(order, time: time)
            case .submitList(let list): answers = venue.submitList(list, time: time)
            case .cancel(_, let id): answers = venue.cancel(clientOrderID: id, time: time)
            case .cancelList(_, let id): answers = venue.cancelList(listClientOrderID: id, time: time)
            case .record(let r):
                records.append(r)
                answers = []
            }
            fillLog?.sent(queue[i])
            for u in answers {
                fillLog?.updated(u)
                queue += engine.orderUpdated(u)
            }
            i += 1
        }
    }
}
