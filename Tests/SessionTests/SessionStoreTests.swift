import Foundation
import ScalperTestSupport
import Session
import Testing
import Trading

@Suite("The session store's tables")
struct SessionStoreTableTests {
    @Test(
        "meta: the first start is kept, a restart records its time and the settings now in force, another name is refused"
    )
    func meta() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock(1_000)
        let store = try SessionStore(path: dir.path("sessions/s1/session.sqlite"), now: clock.read)
        #expect(try store.meta() == nil)
        let first = try store.start(name: "s1", model: "m-a", profile: "paper", configurationJSON: #"{"capital":1000}"#)
        #expect(
            first
                == SessionMeta(
                    name: "s1",
                    model: "m-a",
                    profile: "paper",
                    configurationJSON: #"{"capital":1000}"#,
                    startedAt: 1_000,
                    resumedAt: nil,
                    schemaVersion: SessionStore.schemaVersion
                )
        )
        clock.set(5_000)
        let again = try store.start(name: "s1", model: "m-b", profile: "paper", configurationJSON: #"{"capital":2000}"#)
        #expect(
            again.startedAt == 1_000 && again.resumedAt == 5_000 && again.model == "m-b"
                && again.configurationJSON == #"{"capital":2000}"#
        )
        #expect(try store.meta() == again)
        #expect(throws: SessionStoreError.self) {
            try store.start(name: "s2", model: "m-b", profile: "paper", configurationJSON: "{}")
        }
    }
}

@Suite("The session store's round trips")
struct SessionStoreRoundTripTests {
    let dir: TemporaryDirectory
    let clock = ManualClock(7_000)
    let store: SessionStore

    init() throws {
        dir = try TemporaryDirectory()
        store = try SessionStore(path: dir.path("session.sqlite"), now: clock.read)
    }

    @Test(
        "engine_state and orders: the state, the event and the entry come back as committed; the list's legs carry their prices as exact text"
    )
    func engineStateAndOrders() throws {
        defer { dir.remove() }
        var (engine, minute, commands, entry) = try decidedEntry()
        let first = try store.commit(event: .minuteClosed(minute), newState: engine, commands: commands)
        #expect(first == CommitResult(sequence: 1, update: nil))
        var recovery = try store.recover(as: TradingEngine.self)
        #expect(try json(#require(recovery.state)) == json(engine))
        #expect(recovery.lastEvent == .minuteClosed(minute) && recovery.sequence == 1)
        let stored = try #require(try store.order(clientOrderID: entry.clientOrderID))
        #expect(stored.request == entry && stored.status == .intended && stored.listClientOrderID == nil)
        #expect(stored.quantityText == "10.000" && stored.priceText == nil && stored.stopPriceText == nil)
        #expect(
            stored.sequence == 1 && stored.createdAt == 7_000 && stored.updatedAt == 7_000 && stored.venueOrderID == nil
        )

        clock.set(8_000)
        try store.markSending(clientOrderID: entry.clientOrderID)
        let fill = filled(entry, tradeID: 1, price: 100, time: t0 + 60_000)
        let protection = engine.orderUpdated(fill)
        let result = try store.commit(event: .orderUpdated(fill), newState: engine, commands: protection)
        #expect(result.sequence == 2)
        #expect(
            result.update
                == UpdateOutcome(
                    isKnownOrder: true,
                    previousStatus: .sending,
                    status: .filled,
                    isDuplicateFill: false,
                    isStaleStatus: false
                )
        )
        let list = try #require(lists(protection).first)
        let target = try #require(try store.order(clientOrderID: list.target.clientOrderID))
        let stop = try #require(try store.order(clientOrderID: list.stop.clientOrderID))
        #expect(
            target.request == list.target && target.listClientOrderID == list.listClientOrderID
                && target.request.leg == .target
        )
        #expect(target.quantityText == "10.000" && target.priceText == "101.00" && target.stopPriceText == nil)
        #expect(
            stop.request == list.stop && stop.listClientOrderID == list.listClientOrderID && stop.request.leg == .stop
        )
        #expect(stop.quantityText == "10.000" && stop.priceText == nil && stop.stopPriceText == "99.00")
        #expect(try store.order(clientOrderID: entry.clientOrderID)?.updatedAt == 8_000)
        recovery = try store.recover(as: TradingEngine.self)
        #expect(try json(#require(recovery.state)) == json(engine))
        #expect(
            recovery.neverSent.map(\.clientOrderID) == [list.target.clientOrderID, list.stop.clientOrderID].sorted()
        )
    }

    @Test(
        "Quantities and prices are exact text: on the grid from whole steps and ticks, off the grid the Double's own shortest text"
    )
    func exactText() throws {
        defer { dir.remove() }
        let (engine, _, _, entry) = try decidedEntry()
        func order(_ id: String, quantity: Double, price: Double?) -> OrderRequest {
            var o = entry
            o.clientOrderID = id
            o.type = .limit
            o.quantity = quantity
            o.price = price
            return o
        }
        let commands: [TradingCommand] = [
            .submit(order("a", quantity: 0.1 + 0.2, price: 0.1 + 0.2)),  // 0.30000000000000004
            .submit(order("b", quantity: 0.0005, price: 12.345)),  // off the 0.001 step and the 0.01 tick
            .submit(order("c", quantity: 1_234.5, price: 100)),
        ]
        try store.commit(event: .timer(time: t0), newState: engine, commands: commands)
        let texts = try store.orders().map { [$0.clientOrderID, $0.quantityText, $0.priceText ?? "-"] }
        #expect(texts == [["a", "0.300", "0.30"], ["b", "0.0005", "12.345"], ["c", "1234.500", "100.00"]])
    }

    @Test(
        "fills: stored as exact text and read back bit for bit; a trade id stored once per symbol; a fill of an unknown order kept"
    )
    func fills() throws {
        defer { dir.remove() }
        let (engine, minute, commands, entry) = try decidedEntry()
        try store.commit(event: .minuteClosed(minute), newState: engine, commands: commands)
        let odd = OrderFill(
            tradeID: 42,
            price: 100 * 1.000_3,
            quantity: 0.1 + 0.2,
            commission: (0.1 + 0.2) * 0.000_75,
            commissionAsset: .base,
            time: t0 + 60_500
        )
        let partial = OrderUpdate(
            clientOrderID: entry.clientOrderID,
            symbol: "TESTUSDT",
            status: .partiallyFilled,
            fill: odd,
            time: odd.time
        )
        #expect(
            try store.apply(update: partial, venueOrderID: 9_001)
                == UpdateOutcome(
                    isKnownOrder: true,
                    previousStatus: .intended,
                    status: .partiallyFilled,
                    isDuplicateFill: false,
                    isStaleStatus: false
                )
        )
        #expect(
            try store.fills() == [
                StoredFill(symbol: "TESTUSDT", clientOrderID: entry.clientOrderID, fill: odd, recordedAt: 7_000)
            ]
        )
        #expect(
            try store.hasFill(symbol: "TESTUSDT", tradeID: 42) && !(try store.hasFill(symbol: "OTHERUSDT", tradeID: 42))
        )
        #expect(try store.order(clientOrderID: entry.clientOrderID)?.venueOrderID == 9_001)

        // The same update again (a reconnect replays it): the fill is not stored twice.
        let again = try store.apply(update: partial)
        #expect(again.isDuplicateFill && again.status == .partiallyFilled && !again.isStaleStatus)
        #expect(try store.fills().count == 1)
        // Through a commit too.
        let committed = try store.commit(event: .orderUpdated(partial), newState: engine, commands: [])
        #expect(committed.update?.isDuplicateFill == true && committed.sequence == 2)
        #expect(try store.fills().count == 1)

        // The same trade id on another symbol is another trade; a fill for an order never stored is kept.
        let other = OrderUpdate(
            clientOrderID: "someone-else",
            symbol: "OTHERUSDT",
            status: .filled,
            fill: odd,
            time: odd.time
        )
        #expect(
            try store.apply(update: other)
                == UpdateOutcome(
                    isKnownOrder: false,
                    previousStatus: nil,
                    status: nil,
                    isDuplicateFill: false,
                    isStaleStatus: false
                )
        )
        #expect(try store.fills().map(\.clientOrderID) == [entry.clientOrderID, "someone-else"])
    }

    @Test("A status never moves back: a late NEW after FILLED and a CANCELED after it are kept out and reported stale")
    func statusNeverMovesBack() throws {
        defer { dir.remove() }
        let (engine, minute, commands, entry) = try decidedEntry()
        try store.commit(event: .minuteClosed(minute), newState: engine, commands: commands)
        try store.markSending(clientOrderID: entry.clientOrderID)
        try store.apply(update: filled(entry, tradeID: 1, price: 100, time: t0 + 60_000))
        let late = try store.apply(update: accepted(entry, time: t0 + 60_000))
        #expect(late.isStaleStatus && late.status == .filled && late.previousStatus == .filled)
        let cancelled = OrderUpdate(
            clientOrderID: entry.clientOrderID,
            symbol: "TESTUSDT",
            status: .cancelled,
            reason: "late",
            time: t0 + 61_000
        )
        #expect(try store.apply(update: cancelled).isStaleStatus)
        let repeated = try store.apply(update: filled(entry, tradeID: 1, price: 100, time: t0 + 60_000))
        #expect(!repeated.isStaleStatus && repeated.isDuplicateFill)
        let order = try #require(try store.order(clientOrderID: entry.clientOrderID))
        #expect(order.status == .filled && order.lastReason == nil && order.venueTime == t0 + 60_000)
    }

    @Test("records: every kind of TradingRecord comes back in order with the commit that produced it")
    func records() throws {
        defer { dir.remove() }
        let (engine, minute, commands, _) = try decidedEntry()
        try store.commit(event: .minuteClosed(minute), newState: engine, commands: commands)
        let trade = TradeRecord(
            entryTime: t0,
            exitTime: t0 + 120_000,
            symbol: "TESTUSDT",
            side: .buy,
            entryPrice: 100,
            exitPrice: 101,
            quantity: 10,
            pnlUSDT: 9.5,
            pnlPct: 0.95,
            durationSeconds: 120,
            exitReason: .takeProfit,
            fees: 0.5,
            probability: 0.9,
            confidence: 0.8
        )
        let more: [TradingRecord] = [
            .refused(symbol: "TESTUSDT", reason: .maxOpenPositions, time: t0 + 60_000),
            .trade(trade),
            .equity(time: t0 + 120_000, equity: 10_009.5),
            .killSwitch(time: t0 + 120_000, equity: 9_000, peak: 10_009.5),
            .anomaly(message: "fill 7 of x repeated; applied once", time: t0 + 120_000),
        ]
        try store.commit(event: .timer(time: t0 + 120_000), newState: engine, commands: more.map { .record($0) })
        let firstRecords = commands.compactMap { if case .record(let r) = $0 { r } else { nil } }
        #expect(firstRecords.contains { if case .signal = $0 { true } else { false } })
        let stored = try store.records()
        #expect(stored.map(\.record) == firstRecords + more)
        #expect(
            stored.map(\.sequence) == Array(repeating: 1, count: firstRecords.count)
                + Array(repeating: 2, count: more.count)
        )
        #expect(try store.records(after: 1).map(\.record) == more)
    }

    @Test("controls: one requested from a second connection is seen by the first; its commit marks it applied once")
    func controlsFromAnotherConnection() throws {
        defer { dir.remove() }
        let (engine, minute, commands, _) = try decidedEntry()
        try store.commit(event: .minuteClosed(minute), newState: engine, commands: commands)
        #expect(FileManager.default.fileExists(atPath: store.path + "-wal"), "the store is not in WAL mode")
        let ctl = try SessionStore(path: store.path, createIfMissing: false, now: { 9_000 })
        let pause = try ctl.requestControl(.pause)
        let closeAll = try ctl.requestControl(.closeAll)
        #expect(
            try store.pendingControls() == [
                ControlRequest(id: pause.id, control: .pause, requestedAt: 9_000),
                ControlRequest(id: closeAll.id, control: .closeAll, requestedAt: 9_000),
            ]
        )
        var paused = engine
        let answer = paused.control(.pause, time: t0 + 61_000)
        let result = try store.commit(
            event: .control(.pause, time: t0 + 61_000, request: pause.id),
            newState: paused,
            commands: answer
        )
        #expect(try ctl.pendingControls().map(\.id) == [closeAll.id])
        #expect(
            try ctl.controls().first
                == ControlRequest(
                    id: pause.id,
                    control: .pause,
                    requestedAt: 9_000,
                    appliedAt: 7_000,
                    appliedSequence: result.sequence
                )
        )
        #expect(try store.recover(as: TradingEngine.self).pendingControls.map(\.id) == [closeAll.id])
        #expect(throws: SessionStoreError.self) { try store.markApplied(pause.id) }
        #expect(throws: SessionStoreError.self) { try store.markApplied(ControlRequestID(rawValue: 99)) }
        try store.markApplied(closeAll.id)
        #expect(try ctl.pendingControls().isEmpty && ctl.controls().last?.appliedSequence == nil)
        // A control event for a request applied already is refused with the whole commit.
        #expect(throws: SessionStoreError.self) {
            try store.commit(
                event: .control(.pause, time: t0 + 62_000, request: pause.id),
                newState: paused,
                commands: []
            )
        }
        #expect(try store.recover(as: TradingEngine.self).sequence == result.sequence)
    }

    @Test(
        "cancels: pending until the order (every leg of a list) is final; a cancel of an unknown order refuses the whole commit"
    )
    func cancels() throws {
        defer { dir.remove() }
        var (engine, minute, commands, entry) = try decidedEntry()
        try store.commit(event: .minuteClosed(minute), newState: engine, commands: commands)
        let cancel = engine.control(.closeAll, time: t0 + 61_000)
        #expect(cancel == [.cancel(symbol: "TESTUSDT", clientOrderID: entry.clientOrderID)])
        try store.commit(
            event: .control(.closeAll, time: t0 + 61_000, request: nil),
            newState: engine,
            commands: cancel
        )
        #expect(
            try store.recover(as: TradingEngine.self).pendingCancels == [
                PendingCancel(
                    target: .order(clientOrderID: entry.clientOrderID),
                    symbol: "TESTUSDT",
                    sequence: 2,
                    requestedAt: 7_000
                )
            ]
        )
        try store.apply(update: accepted(entry, time: t0 + 61_000))
        #expect(try store.recover(as: TradingEngine.self).pendingCancels.count == 1)
        try store.apply(
            update: OrderUpdate(
                clientOrderID: entry.clientOrderID,
                symbol: "TESTUSDT",
                status: .cancelled,
                time: t0 + 61_000
            )
        )
        #expect(try store.recover(as: TradingEngine.self).pendingCancels.isEmpty)

        // A list: both legs must be final.
        var (e2, m2, c2, entry2) = try decidedEntry()
        let fresh = try SessionStore(path: dir.path("second.sqlite"), now: clock.read)
        try fresh.commit(event: .minuteClosed(m2), newState: e2, commands: c2)
        let fill = filled(entry2, tradeID: 1, price: 100, time: t0 + 60_000)
        let protection = e2.orderUpdated(fill)
        try fresh.commit(event: .orderUpdated(fill), newState: e2, commands: protection)
        let list = try #require(lists(protection).first)
        let cancelList = e2.control(.closeAll, time: t0 + 61_000)
        #expect(cancelList == [.cancelList(symbol: "TESTUSDT", listClientOrderID: list.listClientOrderID)])
        try fresh.commit(
            event: .control(.closeAll, time: t0 + 61_000, request: nil),
            newState: e2,
            commands: cancelList
        )
        try fresh.apply(
            update: OrderUpdate(
                clientOrderID: list.target.clientOrderID,
                symbol: "TESTUSDT",
                status: .cancelled,
                time: t0 + 61_000
            )
        )
        #expect(
            try fresh.recover(as: TradingEngine.self).pendingCancels.map(\.target) == [
                .list(listClientOrderID: list.listClientOrderID)
            ]
        )
        try fresh.apply(
            update: OrderUpdate(
                clientOrderID: list.stop.clientOrderID,
                symbol: "TESTUSDT",
                status: .cancelled,
                time: t0 + 61_000
            )
        )
        #expect(try fresh.recover(as: TradingEngine.self).pendingCancels.isEmpty)

        // Nothing of a refused commit is stored: not the state, not its records.
        let before = try fresh.recover(as: TradingEngine.self)
        let recordsBefore = try fresh.records().count
        #expect(throws: SessionStoreError.self) {
            try fresh.commit(
                event: .timer(time: t0 + 62_000),
                newState: e2,
                commands: [
                    .record(.equity(time: t0 + 62_000, equity: 1)),
                    .cancel(symbol: "TESTUSDT", clientOrderID: "never-stored"),
                ]
            )
        }
        #expect(
            try fresh.recover(as: TradingEngine.self).sequence == before.sequence
                && fresh.records().count == recordsBefore
        )
    }

    @Test(
        "Sending: only an intended order can be marked sending, a list only whole; sending → unknown is to be looked up"
    )
    func sendingTransitions() throws {
        defer { dir.remove() }
        var (engine, minute, commands, entry) = try decidedEntry()
        try store.commit(event: .minuteClosed(minute), newState: engine, commands: commands)
        #expect(throws: SessionStoreError.self) {
            try store.markUnknown(clientOrderID: entry.clientOrderID, reason: "timeout")
        }
        try store.markSending(clientOrderID: entry.clientOrderID)
        #expect(throws: SessionStoreError.self) { try store.markSending(clientOrderID: entry.clientOrderID) }
        #expect(throws: SessionStoreError.self) { try store.markSending(clientOrderID: "never-stored") }
        try store.markUnknown(clientOrderID: entry.clientOrderID, reason: "no answer in 10 s")
        var recovery = try store.recover(as: TradingEngine.self)
        #expect(
            recovery.toLookUp.map(\.clientOrderID) == [entry.clientOrderID]
                && recovery.toLookUp.first?.lastReason == "no answer in 10 s"
        )
        #expect(throws: SessionStoreError.self) { try store.markSending(clientOrderID: entry.clientOrderID) }

        let fill = filled(entry, tradeID: 1, price: 100, time: t0 + 60_000)
        let protection = engine.orderUpdated(fill)
        try store.commit(event: .orderUpdated(fill), newState: engine, commands: protection)
        let list = try #require(lists(protection).first)
        #expect(throws: SessionStoreError.self) { try store.markSending(clientOrderID: list.target.clientOrderID) }
        try store.markSending(listClientOrderID: list.listClientOrderID)
        #expect(throws: SessionStoreError.self) { try store.markSending(listClientOrderID: list.listClientOrderID) }
        try store.markUnknown(listClientOrderID: list.listClientOrderID, reason: "connection dropped")
        recovery = try store.recover(as: TradingEngine.self)
        #expect(Set(recovery.toLookUp.map(\.clientOrderID)) == [list.target.clientOrderID, list.stop.clientOrderID])
        #expect(recovery.ordersByStatus[.unknown]?.count == 2 && recovery.neverSent.isEmpty && recovery.working.isEmpty)
    }

    @Test("A client id is stored once: the same intent committed again is no new order, a reused id is refused")
    func clientIDsOnce() throws {
        defer { dir.remove() }
        let (engine, minute, commands, entry) = try decidedEntry()
        try store.commit(event: .minuteClosed(minute), newState: engine, commands: commands)
        try store.commit(event: .minuteClosed(minute), newState: engine, commands: commands)
        #expect(try store.orders().count == 1)
        try store.markSending(clientOrderID: entry.clientOrderID)
        #expect(throws: SessionStoreError.self) {
            try store.commit(event: .minuteClosed(minute), newState: engine, commands: commands)
        }
        var changed = entry
        changed.quantity = 1
        try store.apply(
            update: OrderUpdate(
                clientOrderID: entry.clientOrderID,
                symbol: "TESTUSDT",
                status: .rejected,
                reason: "test",
                time: t0
            )
        )
        #expect(throws: SessionStoreError.self) {
            try store.commit(event: .timer(time: t0), newState: engine, commands: [.submit(changed)])
        }
        #expect(try store.orders().map(\.status) == [.rejected])
    }

    @Test(
        "A store holds one kind of state; a missing store is not created for ctl; session names that cannot be folders are refused"
    )
    func refusals() throws {
        defer { dir.remove() }
        let (engine, _, _, _) = try decidedEntry()
        try store.commit(event: .started(time: t0), newState: engine, commands: [])
        let s = engine.settings
        let replay = BarReplay(
            engine: engine,
            venue: SimulatedVenue(model: FillModel(s.execution), rule: .bar, quoteBalance: s.capital)
        )
        #expect(throws: SessionStoreError.self) {
            try store.commit(event: .started(time: t0), newState: replay, commands: [])
        }
        #expect(throws: SessionStoreError.self) { try store.recover(as: BarReplay.self) }
        let missing = dir.path("sessions/nobody/session.sqlite")
        #expect(throws: SessionStoreError.self) { try SessionStore(path: missing, createIfMissing: false) }
        #expect(!FileManager.default.fileExists(atPath: missing))
        #expect(try SessionStore.relativePath(session: "paper-1_a.b") == "sessions/paper-1_a.b/session.sqlite")
        for bad in ["", "../x", ".hidden", "a/b", "with space"] {
            #expect(throws: SessionStoreError.self, "\(bad)") { try SessionStore.relativePath(session: bad) }
        }
    }
}
