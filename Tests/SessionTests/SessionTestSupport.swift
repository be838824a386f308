import Foundation
import ScalperCore
import ScalperTestSupport
import Session
import Synchronization
import Testing
import Trading

/// A wall clock the test sets (ms), for the store's own timestamps.
final class ManualClock: Sendable {
    private let value: Mutex<Int64>

    init(_ start: Int64) { value = Mutex(start) }

    func set(_ time: Int64) { value.withLock { $0 = time } }

    /// The store's `now`.
    var read: @Sendable () -> Int64 { { self.value.withLock { $0 } } }
}

let t0 = Int64(1_690_848_000_000)  // 2023-08-01 00:00 UTC

/// A 1-minute bar at minute `i` of 2023-08-01.
func bar(_ i: Int, open: Double, high: Double, low: Double, close: Double) -> Kline {
    let t = t0 + Int64(i) * 60_000
    return Kline(
        openTime: t,
        open: open,
        high: high,
        low: low,
        close: close,
        volume: 1_000,
        closeTime: t + 59_999,
        quoteVolume: 1_000 * close,
        tradeCount: 10,
        takerBuyBaseVolume: 500,
        takerBuyQuoteVolume: 500 * close
    )
}

func flat(_ i: Int, _ price: Double = 100) -> Kline { bar(i, open: price, high: price, low: price, close: price) }

let testFilters = SymbolFilters(lotStep: 0.001, tickSize: 0.01, minNotional: 5)

/// A strong prediction for TESTUSDT at the close of `b`.
func strongPrediction(_ b: Kline) -> Prediction {
    Prediction(
        symbol: "TESTUSDT",
        time: b.closeTime + 1,
        price: b.close,
        probabilityUp: 0.9,
        confidence: 0.9,
        predictedMovePct: 0.5
    )
}

func engineSettings(
    exits: ExitMode,
    session: String = "store-test",
    fee: Double = 0.001,
    slippage: Double = 2,
    trailing: Double = 0
) -> EngineSettings {
    var signals = SignalConfiguration()
    signals.takeProfitPct = 0.01
    signals.stopLossPct = 0.01
    var execution = ExecutionConfiguration()
    execution.takerFee = fee
    execution.slippageBps = slippage
    execution.trailingStopPct = trailing
    var risk = RiskConfiguration()
    risk.maxLossPerTradePct = 1  // size by max_position_pct
    return EngineSettings(
        capital: 10_000,
        signals: signals,
        risk: risk,
        execution: execution,
        exits: exits,
        session: session
    )
}

/// Sorted-keys JSON of a value: two states are the same state when their JSON is the same.
func json(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

func submits(_ commands: [TradingCommand]) -> [OrderRequest] {
    commands.compactMap { if case .submit(let o) = $0 { o } else { nil } }
}

func lists(_ commands: [TradingCommand]) -> [OCORequest] {
    commands.compactMap { if case .submitList(let l) = $0 { l } else { nil } }
}

// MARK: - A session's first steps, with named points to crash at

/// The named points of ``CrashScript``, in the order it reaches them.
enum CrashPoint: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// The entry is committed `intended`; not marked sending.
    case committed
    /// The entry is marked `sending`; not written to the venue.
    case sending
    /// The venue has the entry (and filled it); no answer stored.
    case sent
    /// The venue's NEW is committed with the engine's state.
    case accepted
    /// The fill is committed: the entry is FILLED and the engine's stop/target list `intended`.
    case filled
    /// The list is marked `sending`.
    case listSending = "list-sending"
    /// Both legs' NEW are committed: the list is working.
    case listAccepted = "list-accepted"

    var testDescription: String { rawValue }
}

/// A paper session's first steps under `--exits venue` with a continuous simulated venue, the way
/// the session shell runs them: commit, mark sending, write, store the answers with the state.
enum CrashScript {
    static let session = "crash-test"

    /// Runs the steps against `store`, calling `reached` at each named point with the engine as
    /// it is there; `reached` may throw (a crash in-process) or never return (the child process
    /// waits to be killed).
    static func run(store: SessionStore, reached: (CrashPoint, TradingEngine) throws -> Void) throws {
        let s = engineSettings(exits: .venue, session: session)
        var engine = TradingEngine(settings: s, startTime: t0)
        engine.setFilters(testFilters, for: "TESTUSDT")
        var venue = SimulatedVenue(model: FillModel(s.execution), rule: .continuous, quoteBalance: s.capital)
        venue.setFilters(testFilters, for: "TESTUSDT")
        try store.start(name: session, model: "test-model", profile: "paper", configurationJSON: try json(s))
        try store.commit(event: .started(time: t0), newState: engine, commands: [])

        let b = flat(0)
        _ = venue.trade(symbol: "TESTUSDT", price: b.close, time: b.closeTime)
        let minute = MinuteClose(
            openTime: b.openTime,
            bars: [SymbolBar(symbol: "TESTUSDT", bar: b)],
            predictions: [strongPrediction(b)]
        )
        let decided = engine.minuteClosed(minute)
        try store.commit(event: .minuteClosed(minute), newState: engine, commands: decided)
        try reached(.committed, engine)

        let entry = try #require(submits(decided).first)
        try store.markSending(clientOrderID: entry.clientOrderID)
        try reached(.sending, engine)
        let answers = venue.submit(entry, time: entry.decisionTime)
        try #require(answers.map(\.status) == [.accepted, .filled])
        try reached(.sent, engine)

        var protection: [OCORequest] = []
        for u in answers {
            let commands = engine.orderUpdated(u)
            try store.commit(event: .orderUpdated(u), newState: engine, commands: commands)
            protection += lists(commands)
            try reached(u.status == .accepted ? .accepted : .filled, engine)
        }

        let list = try #require(protection.first)
        try store.markSending(listClientOrderID: list.listClientOrderID)
        try reached(.listSending, engine)
        for u in venue.submitList(list, time: list.stop.decisionTime) {
            try store.commit(event: .orderUpdated(u), newState: engine, commands: engine.orderUpdated(u))
        }
        try reached(.listAccepted, engine)
    }

    /// The engine at `point`, from running the script against a throwaway store.
    static func engine(at point: CrashPoint) throws -> TradingEngine {
        struct Reached: Error { var engine: TradingEngine }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try SessionStore(path: dir.path("session.sqlite"))
        do {
            try run(store: store) { p, engine in if p == point { throw Reached(engine: engine) } }
        } catch let reached as Reached {
            return reached.engine
        }
        throw SessionStoreError(path: dir.path("session.sqlite"), message: "the script never reached \(point)")
    }

    /// What a store left at `point` must report on recovery: exactly the right orders, the state
    /// the engine had there, and only the fills that were committed.
    static func check(_ store: SessionStore, crashedAt point: CrashPoint) throws {
        let recovery = try store.recover(as: TradingEngine.self)
        let expected = try engine(at: point)
        let state = try #require(recovery.state, "no engine state after \(point)")
        #expect(try json(state) == json(expected), "the recovered engine differs from the engine at \(point)")
        #expect(recovery.meta?.name == session)
        #expect(recovery.pendingControls.isEmpty && recovery.pendingCancels.isEmpty)

        let orders = try store.orders()
        let entry = try #require(orders.first { $0.request.leg == .entry })
        let legs = orders.filter { $0.listClientOrderID != nil }
        func ids(_ o: [StoredOrder]) -> [String] { o.map(\.clientOrderID).sorted() }
        let (never, lookUp, working): ([StoredOrder], [StoredOrder], [StoredOrder])
        switch point {
        case .committed: (never, lookUp, working) = ([entry], [], [])
        case .sending, .sent: (never, lookUp, working) = ([], [entry], [])
        case .accepted: (never, lookUp, working) = ([], [], [entry])
        case .filled: (never, lookUp, working) = (legs, [], [])
        case .listSending: (never, lookUp, working) = ([], legs, [])
        case .listAccepted: (never, lookUp, working) = ([], [], legs)
        }
        #expect(ids(recovery.neverSent) == ids(never), "never sent at \(point)")
        #expect(ids(recovery.toLookUp) == ids(lookUp), "to look up at \(point)")
        #expect(ids(recovery.working) == ids(working), "working at \(point)")
        let reachedFill = [.filled, .listSending, .listAccepted].contains(point)
        #expect(orders.count == (reachedFill ? 3 : 1))
        #expect(legs.count == (reachedFill ? 2 : 0))
        #expect(try store.fills().map(\.clientOrderID) == (reachedFill ? [entry.clientOrderID] : []))
        #expect(
            entry.status
                == (reachedFill ? .filled : point == .accepted ? .accepted : point == .committed ? .intended : .sending)
        )
        let answered = ![.committed, .sending, .sent].contains(point)
        #expect(recovery.lastEvent?.kind == (answered ? "order-updated" : "minute-closed"))

        // What the restarted shell may do: send what was never sent; never send again what may be at the venue.
        for order in recovery.toLookUp {
            if let list = order.listClientOrderID {
                #expect(throws: SessionStoreError.self) { try store.markSending(listClientOrderID: list) }
            } else {
                #expect(throws: SessionStoreError.self) { try store.markSending(clientOrderID: order.clientOrderID) }
            }
        }
        if point == .committed { try store.markSending(clientOrderID: entry.clientOrderID) }
        if point == .filled, let list = legs.first?.listClientOrderID { try store.markSending(listClientOrderID: list) }
    }
}

/// An engine (no fees, no slippage, exits at the venue) that decided a TESTUSDT entry at the close of minute 0.
func decidedEntry() throws -> (
    engine: TradingEngine, minute: MinuteClose, commands: [TradingCommand], entry: OrderRequest
) {
    var engine = TradingEngine(settings: engineSettings(exits: .venue, fee: 0, slippage: 0), startTime: t0)
    engine.setFilters(testFilters, for: "TESTUSDT")
    let b = flat(0)
    let minute = MinuteClose(
        openTime: b.openTime,
        bars: [SymbolBar(symbol: "TESTUSDT", bar: b)],
        predictions: [strongPrediction(b)]
    )
    let commands = engine.minuteClosed(minute)
    return (engine, minute, commands, try #require(submits(commands).first))
}

/// A fill of `order` in full at `price`.
func filled(_ order: OrderRequest, tradeID: Int64, price: Double, time: Int64) -> OrderUpdate {
    OrderUpdate(
        clientOrderID: order.clientOrderID,
        symbol: order.symbol,
        status: .filled,
        fill: OrderFill(
            tradeID: tradeID,
            price: price,
            quantity: order.quantity,
            commission: 0,
            commissionAsset: .base,
            time: time
        ),
        time: time
    )
}

func accepted(_ order: OrderRequest, time: Int64) -> OrderUpdate {
    OrderUpdate(clientOrderID: order.clientOrderID, symbol: order.symbol, status: .accepted, time: time)
}
