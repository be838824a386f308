public import ScalperCore

/// The bar rule's shell core, shared by the backtest and by sessions in parity mode (`--exits bar`
/// with the simulated venue): one minute at a time, market orders waiting from the previous close
/// fill at the bars' opens, resting stop/target lists trigger inside the bars, then the engine
/// decides at the close; every command is answered by the venue and every answer fed back, in
/// order, until nothing is left. The same minutes in give the same trades out, whoever feeds them.
public struct BarReplay: Codable, Sendable {
    /// The engine.
    public private(set) var engine: TradingEngine
    /// The simulated venue (bar rule).
    public private(set) var venue: SimulatedVenue
    /// Fills since a session last took them (nil: not kept, as in a backtest; not saved: see ``FillLog``).
    private var fillLog: FillLog?
    /// The engine's commands of the minute being stepped: one buffer reused for every minute (not
    /// state: empty between calls, not saved).
    private var minuteCommands: [TradingCommand] = []

    private enum CodingKeys: String, CodingKey { case engine, venue }

    /// Creates a replay over an engine and a bar-rule venue.
    public init(engine: TradingEngine, venue: SimulatedVenue) {
        precondition(venue.rule == .bar, "BarReplay needs a bar-rule venue")
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

    /// One minute; returns what the engine recorded.
    public mutating func step(_ minute: MinuteClose) -> [TradingRecord] {
        var records: [TradingRecord] = []
        step(minute, into: &records)
        return records
    }

    /// One minute; appends what the engine recorded to `records` (a backtest reuses one buffer).
    public mutating func step(_ minute: MinuteClose, into records: inout [TradingRecord]) {
        // The opens: market orders waiting since the last close fill. With none waiting, the opens
        // change nothing anyone reads: `barTraded` sets each symbol's last price to its close before
        // any read, so the whole half is skipped (most minutes of a replay).
        if !venue.waiting.isEmpty {
            var opened = venue.minuteOpened(openTime: minute.openTime, symbols: Set(minute.bars.map(\.symbol)))
            for b in minute.bars { opened += venue.barOpened(symbol: b.symbol, bar: b.bar) }
            feed(opened, into: &records)
        }
        var traded: [OrderUpdate] = []
        for b in minute.bars { traded += venue.barTraded(symbol: b.symbol, bar: b.bar) }
        feed(traded, into: &records)
        // Empty here: every step leaves it so.
        engine.minuteClosed(minute, into: &minuteCommands)
        execute(minuteCommands, into: &records)
        minuteCommands.removeAll(keepingCapacity: true)
    }

    /// The end of a replay: every position closes at market, and what is still waiting fills at
    /// each symbol's last price (the last close), reason MANUAL.
    public mutating func finish(time: Int64) -> [TradingRecord] {
        var records: [TradingRecord] = []
        execute(engine.control(.closeAll, time: time), into: &records)
        feed(venue.flush(time: time), into: &records)
        return records
    }

    /// A user's control between minutes.
    public mutating func control(_ c: UserControl, time: Int64) -> [TradingRecord] {
        var records: [TradingRecord] = []
        execute(engine.control(c, time: time), into: &records)
        return records
    }

    private mutating func feed(_ updates: [OrderUpdate], into records: inout [TradingRecord]) {
        for u in updates {
            fillLog?.updated(u)
            execute(engine.orderUpdated(u), into: &records)
        }
    }

    private mutating func execute(_ commands: [TradingCommand], into records: inout [TradingRecord]) {
        var queue = commands
        var i = 0
        while i < queue.count {
            let answers: [OrderUpdate]
            switch queue[i] {
            case .submit(let order): answers = venue.submit(order, time: order.decisionTime)
            case .submitList(let list): answers = venue.submitList(list, time: list.stop.decisionTime)
            case .cancel(_, let id): answers = venue.cancel(clientOrderID: id, time: engine.lastMinute.map { $0 + 60_000 } ?? 0)
            case .cancelList(_, let id): answers = venue.cancelList(listClientOrderID: id, time: engine.lastMinute.map { $0 + 60_000 } ?? 0)
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
