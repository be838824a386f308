import Foundation
import ScalperCore
import ScalperTestSupport
import Testing
import Trading

private let t0 = Int64(1_690_848_000_000)  // 2023-08-01 00:00 UTC

/// A 1-minute bar at minute `i` of 2023-08-01.
private func bar(_ i: Int, open: Double, high: Double, low: Double, close: Double) -> Kline {
    let t = t0 + Int64(i) * 60_000
    return Kline(
        openTime: t, open: open, high: high, low: low, close: close, volume: 1_000, closeTime: t + 59_999,
        quoteVolume: 1_000 * close, tradeCount: 10, takerBuyBaseVolume: 500, takerBuyQuoteVolume: 500 * close
    )
}

private func flat(_ i: Int, _ price: Double = 100) -> Kline { bar(i, open: price, high: price, low: price, close: price) }

private let filters = SymbolFilters(lotStep: 0.001, tickSize: 0.01, minNotional: 5)

private func settings(
    fee: Double = 0,
    slippage: Double = 0,
    timeout: Double = 300,
    trailing: Double = 0,
    risk: RiskConfiguration? = nil,
    capital: Double = 10_000,
    exits: ExitMode = .bar
) -> EngineSettings {
    var signals = SignalConfiguration()
    signals.takeProfitPct = 0.01
    signals.stopLossPct = 0.01
    var execution = ExecutionConfiguration()
    execution.takerFee = fee
    execution.slippageBps = slippage
    execution.timeoutSeconds = timeout
    execution.trailingStopPct = trailing
    var r = RiskConfiguration()
    r.maxLossPerTradePct = 1  // size by max_position_pct unless a test says otherwise
    return EngineSettings(capital: capital, signals: signals, risk: risk ?? r, execution: execution, exits: exits, session: "test")
}

private func replay(_ s: EngineSettings) -> BarReplay {
    var r = BarReplay(
        engine: TradingEngine(settings: s, startTime: t0),
        venue: SimulatedVenue(model: FillModel(s.execution), rule: .bar, quoteBalance: s.capital)
    )
    r.setFilters(filters, for: "TESTUSDT")
    return r
}

/// Runs bars of TESTUSDT with a strong prediction at the closes in `signalAt`; returns the records.
@discardableResult
private func run(_ r: inout BarReplay, _ bars: [Kline], signalAt: Set<Int> = [0], finish: Bool = false) -> [TradingRecord] {
    var records: [TradingRecord] = []
    for (i, b) in bars.enumerated() {
        let p = signalAt.contains(i)
            ? [Prediction(symbol: "TESTUSDT", time: b.closeTime + 1, price: b.close, probabilityUp: 0.9, confidence: 0.9, predictedMovePct: 0.5)]
            : []
        records += r.step(MinuteClose(openTime: b.openTime, bars: [SymbolBar(symbol: "TESTUSDT", bar: b)], predictions: p))
    }
    if finish, let last = bars.last { records += r.finish(time: last.closeTime + 1) }
    return records
}

private func trades(_ records: [TradingRecord]) -> [TradeRecord] {
    records.compactMap { if case .trade(let t) = $0 { t } else { nil } }
}

@Suite("The trading core under the bar rule (backtests and parity mode)")
struct BarRuleTests {
    @Test("Take-profit: entry at the next open, the target rests and fills at its price inside a later bar")
    func takeProfit() throws {
        var r = replay(settings())
        let t = trades(run(&r, [flat(0), flat(1), bar(2, open: 100, high: 101.5, low: 99.5, close: 101), flat(3, 101)]))
        let trade = try #require(t.first)
        #expect(t.count == 1)
        #expect(trade.entryTime == t0 + 60_000 && trade.entryPrice == 100)
        #expect(trade.exitReason == .takeProfit && trade.exitPrice == 101)
        #expect(trade.quantity == 10)  // 10 % of 10,000 at 100
        #expect(abs(trade.pnlUSDT - 10) < 1e-9)
    }

    @Test("Stop-loss inside a bar, and a bar opening through the stop exits at its open")
    func stopLoss() throws {
        var r = replay(settings())
        let inside = trades(run(&r, [flat(0), flat(1), bar(2, open: 100, high: 100, low: 98.9, close: 99.2)]))
        #expect(inside.first?.exitReason == .stopLoss && inside.first?.exitPrice == 99)
        var g = replay(settings())
        let gap = trades(run(&g, [flat(0), flat(1), bar(2, open: 98.5, high: 98.6, low: 98.0, close: 98.2)]))
        #expect(gap.first?.exitReason == .stopLoss && gap.first?.exitPrice == 98.5)
    }

    @Test("Stop-loss and take-profit inside one bar: the stop counts first (configurable)")
    func bothInOneBar() {
        var r = replay(settings())
        #expect(trades(run(&r, [flat(0), flat(1), bar(2, open: 100, high: 102, low: 98, close: 100)])).first?.exitReason == .stopLoss)
        var s = settings()
        s.execution.stopFirstWhenBothHit = false
        var q = replay(s)
        #expect(trades(run(&q, [flat(0), flat(1), bar(2, open: 100, high: 102, low: 98, close: 100)])).first?.exitReason == .takeProfit)
    }

    @Test("A timeout decided at a close fills at the next bar's open, not at that close")
    func timeoutAtNextOpen() throws {
        var r = replay(settings(timeout: 180))
        // Entry at the open of bar 1 (t0+1m); at the close of bar 3 (t0+4m) 180 s have passed.
        let bars = (0..<6).map { i in bar(i, open: 100 + Double(i) * 0.05, high: 100 + Double(i) * 0.05 + 0.02, low: 100 + Double(i) * 0.05 - 0.02, close: 100 + Double(i) * 0.05 + 0.01) }
        let trade = try #require(trades(run(&r, bars)).first)
        #expect(trade.exitReason == .timeout)
        #expect(trade.exitTime == t0 + 4 * 60_000)
        #expect(trade.exitPrice == bars[4].open)  // not bars[3].close
        #expect(trade.durationSeconds == 180)
    }

    @Test("The trailing stop moves up with each close's high and exits as TRAILING")
    func trailing() throws {
        var r = replay(settings(timeout: 3_600, trailing: 0.005))
        let t = trades(run(&r, [
            flat(0), flat(1), bar(2, open: 100, high: 100.9, low: 100, close: 100.8),
            bar(3, open: 100.8, high: 100.8, low: 100.3, close: 100.4),
        ]))
        let trade = try #require(t.first)
        #expect(trade.exitReason == .trailing)
        // The stop rests at 100.9 × 0.995 = 100.3955, on the tick grid downwards: 100.39.
        #expect(trade.exitPrice == 100.39)
    }

    @Test("Commission as Binance takes it: a buy pays in base, the exit sells the held quantity floored to the step, the rest is dust")
    func commissionInBase() throws {
        var r = replay(settings(fee: 0.001))
        let t = trades(run(&r, [flat(0), flat(1), bar(2, open: 100, high: 101.5, low: 99.5, close: 101)]))
        let trade = try #require(t.first)
        // Bought 10, commission 0.01 base: held 9.99, a whole number of steps; sold 9.99 at 101, commission in quote.
        #expect(trade.quantity == 9.99)
        #expect(abs(trade.fees - (0.01 * 100 + 9.99 * 101 * 0.001)) < 1e-9)
        #expect(abs(trade.pnlUSDT - (9.99 * 101 * 0.999 - 1_000)) < 1e-9)
        #expect(r.engine.dust["TESTUSDT"] == nil)
        // An odd quantity leaves dust below one step, tracked, and valued in equity.
        var o = replay(settings(fee: 0.00075, capital: 10_003.3))
        let odd = trades(run(&o, [flat(0), flat(1), bar(2, open: 100, high: 101.5, low: 99.5, close: 101)]))
        let dust = try #require(o.engine.dust["TESTUSDT"])
        #expect(dust > 0 && dust < filters.lotStep)
        #expect(abs(o.venue.baseBalance["TESTUSDT", default: 0] - dust) < 1e-12)
        #expect(odd.count == 1)
    }

    @Test("The kill switch exits at the next open, refuses entries, and a reset allows them again")
    func killSwitch() {
        var risk = RiskConfiguration()
        risk.maxDrawdownPct = 0.005
        risk.maxLossPerTradePct = 1
        risk.maxPositionPct = 1
        var r = replay(settings(timeout: 3_600, risk: risk))
        let records = run(&r, [flat(0), flat(1), bar(2, open: 100, high: 100, low: 99.4, close: 99.4), flat(3, 99.4), flat(4, 99.4)], signalAt: [0, 3])
        #expect(records.contains { if case .killSwitch = $0 { true } else { false } })
        let t = trades(records)
        #expect(t.count == 1 && t.first?.exitReason == .killSwitch)
        #expect(t.first?.exitTime == t0 + 3 * 60_000)
        #expect(records.contains(.refused(symbol: "TESTUSDT", reason: .killSwitch, time: t0 + 4 * 60_000)))
        _ = r.control(.resetKillSwitch, time: t0 + 5 * 60_000)
        let after = run(&r, [flat(5, 99.4), flat(6, 99.4)], signalAt: [0])
        #expect(r.engine.holdings["TESTUSDT"] != nil || after.contains { if case .trade = $0 { true } else { false } })
    }

    @Test("Slippage moves market fills against the trader on the tick; the resting target fills at its price with the maker fee")
    func feesAndSlippage() throws {
        var r = replay(settings(fee: 0.001, slippage: 10))
        let trade = try #require(trades(run(&r, [flat(0), flat(1), bar(2, open: 100, high: 101.5, low: 99.5, close: 101)])).first)
        #expect(abs(trade.entryPrice - 100.1) < 1e-9)  // 10 bp above the open, on the tick
        #expect(abs(trade.exitPrice - 101.11) < 1e-9)  // 100.1 × 1.01 = 101.101, the target rounded up to the tick
        let bought = 1_000 / 100.0  // sized at the signal's close
        #expect(abs(trade.quantity - 9.99) < 1e-12)  // 10 less the 0.01 base commission
        #expect(abs(trade.fees - (bought * 0.001 * 100.1 + 9.99 * 101.11 * 0.001)) < 1e-9)
        #expect(abs(trade.pnlUSDT - (9.99 * 101.11 * 0.999 - bought * 100.1)) < 1e-9)
    }

    @Test("The daily loss limit refuses new entries until the next UTC day")
    func dailyLimit() {
        var risk = RiskConfiguration()
        risk.dailyLossLimitPct = 0.0005
        risk.maxLossPerTradePct = 1
        var r = replay(settings(risk: risk))
        // 23:55: a stop-out loses 1 % of a 10 % position = 0.1 % of equity, past the 0.05 % limit.
        let first = 1_435
        var bars = [flat(first), flat(first + 1), bar(first + 2, open: 100, high: 100, low: 98.5, close: 99)]
        bars += (first + 3...first + 5).map { flat($0, 99) }  // 23:58 … 00:00
        let records = run(&r, bars, signalAt: [0, 3, 4])
        #expect(trades(records).count == 1)
        #expect(records.contains(.refused(symbol: "TESTUSDT", reason: .dailyLossLimit, time: t0 + Int64(first + 4) * 60_000)))
        // The signal at 23:59's close (00:00) is on the next UTC day: allowed.
        #expect(!records.contains { if case .refused(_, _, t0 + Int64(first + 5) * 60_000) = $0 { true } else { false } })
        #expect(r.engine.holdings["TESTUSDT"] != nil)
    }

    @Test("An order below the minimum notional is refused")
    func minNotional() {
        var r = replay(settings(capital: 40))  // 10 % of 40 = 4 USDT < 5
        let records = run(&r, [flat(0), flat(1), flat(2)])
        #expect(records.contains(.refused(symbol: "TESTUSDT", reason: .belowMinNotional, time: t0 + 60_000)))
        #expect(trades(records).isEmpty && r.engine.holdings.isEmpty)
    }

    @Test("A gap up past the cash the account holds: the venue refuses the buy (−2010), counted as INSUFFICIENT_CASH_AT_FILL")
    func insufficientBalanceAtOpen() {
        var risk = RiskConfiguration()
        risk.maxPositionPct = 1
        risk.maxLossPerTradePct = 1
        var r = replay(settings(risk: risk, capital: 1_000))
        let records = run(&r, [flat(0), bar(1, open: 105, high: 105, low: 105, close: 105)])
        #expect(records.contains(.refused(symbol: "TESTUSDT", reason: .insufficientCashAtFill, time: t0 + 60_000)))
        #expect(r.engine.holdings.isEmpty && r.engine.cash == 1_000 && r.venue.quoteBalance == 1_000)
        #expect(r.engine.risk.refusals[.insufficientCashAtFill] == 1)
    }

    @Test("An entry whose symbol has no bar at the next open expires, counted as NO_BAR_AT_FILL")
    func noBarAtOpen() {
        var r = replay(settings())
        let p = Prediction(symbol: "TESTUSDT", time: t0 + 60_000, price: 100, probabilityUp: 0.9, confidence: 0.9, predictedMovePct: 0.5)
        _ = r.step(MinuteClose(openTime: t0, bars: [SymbolBar(symbol: "TESTUSDT", bar: flat(0))], predictions: [p]))
        let records = r.step(MinuteClose(openTime: t0 + 60_000, bars: [SymbolBar(symbol: "OTHERUSDT", bar: flat(1, 5))], predictions: []))
        #expect(records.contains(.refused(symbol: "TESTUSDT", reason: .noBarAtFill, time: t0 + 60_000)))
        #expect(r.engine.holdings.isEmpty && r.engine.reserved.isEmpty && r.engine.cash == 10_000)
    }

    @Test("At the end of a replay open positions close at the last price, reason MANUAL")
    func finishCloses() throws {
        var r = replay(settings(timeout: 3_600))
        let t = trades(run(&r, [flat(0), flat(1), flat(2, 100.2)], finish: true))
        #expect(t.count == 1 && t.first?.exitReason == .manual && t.first?.exitPrice == 100.2)
        #expect(r.engine.holdings.isEmpty && r.venue.waiting.isEmpty)
    }
}

@Suite("The trading core as a state machine")
struct EngineStateMachineTests {
    @Test("Stopped and restored from its encoded state at every minute, a replay gives the very same records")
    func codableResume() throws {
        var prices: [Double] = []
        var rng = SplitMix64(seed: 7)
        var p = 100.0
        for _ in 0..<600 {
            p *= 1 + (Double(rng.next() % 2_001) / 1_000 - 1) * 0.004
            prices.append(p)
        }
        let bars = prices.enumerated().map { i, c in
            bar(i, open: i == 0 ? c : prices[i - 1], high: max(c, i == 0 ? c : prices[i - 1]) * 1.002, low: min(c, i == 0 ? c : prices[i - 1]) * 0.998, close: c)
        }
        let signals = Set(stride(from: 0, to: 600, by: 7))
        var plain = replay(settings(fee: 0.001, slippage: 2, trailing: 0.004))
        let expected = run(&plain, bars, signalAt: signals, finish: true)
        var resumed = replay(settings(fee: 0.001, slippage: 2, trailing: 0.004))
        var got: [TradingRecord] = []
        for (i, b) in bars.enumerated() {
            let data = try JSONEncoder().encode(resumed)
            resumed = try JSONDecoder().decode(BarReplay.self, from: data)
            got += run(&resumed, [b], signalAt: signals.contains(i) ? [0] : [])
        }
        got += resumed.finish(time: bars[bars.count - 1].closeTime + 1)
        #expect(trades(expected).count > 10)
        #expect(got == expected)
    }

    @Test("A repeated fill is applied once; an update for an unknown order is recorded and changes nothing")
    func duplicatesAndUnknown() throws {
        var e = TradingEngine(settings: settings(exits: .tick), startTime: t0)
        e.setFilters(filters, for: "TESTUSDT")
        let p = Prediction(symbol: "TESTUSDT", time: t0 + 60_000, price: 100, probabilityUp: 0.9, confidence: 0.9, predictedMovePct: 0.5)
        let commands = e.minuteClosed(MinuteClose(openTime: t0, bars: [SymbolBar(symbol: "TESTUSDT", bar: flat(0))], predictions: [p]))
        let order = try #require(commands.compactMap { if case .submit(let o) = $0 { o } else { nil } }.first)
        let fill = OrderFill(tradeID: 1, price: 100, quantity: order.quantity, commission: 0, commissionAsset: .base, time: t0 + 60_000)
        let filled = OrderUpdate(clientOrderID: order.clientOrderID, symbol: "TESTUSDT", status: .filled, fill: fill, time: t0 + 60_000)
        _ = e.orderUpdated(OrderUpdate(clientOrderID: order.clientOrderID, symbol: "TESTUSDT", status: .accepted, time: t0 + 60_000))
        _ = e.orderUpdated(filled)
        let cash = e.cash
        let again = e.orderUpdated(filled)
        #expect(again.count == 1 && e.cash == cash && e.holdings["TESTUSDT"]?.held == order.quantity)
        let unknown = e.orderUpdated(OrderUpdate(clientOrderID: "csXXXXXE0abc-TESTUSDT", symbol: "TESTUSDT", status: .filled, fill: fill, time: t0))
        #expect(unknown.count == 1 && e.cash == cash)
        if case .record(.anomaly) = unknown[0] {} else { Issue.record("expected an anomaly record, got \(unknown)") }
    }

    @Test("Client order ids are deterministic, carry the session prefix, and match Binance's pattern")
    func clientOrderIDs() {
        let a = ClientOrderID.make(session: "paper-1", leg: .entry, attempt: 0, decisionTime: t0 + 60_000, symbol: "FILUSDT")
        #expect(a == ClientOrderID.make(session: "paper-1", leg: .entry, attempt: 0, decisionTime: t0 + 60_000, symbol: "FILUSDT"))
        #expect(a != ClientOrderID.make(session: "paper-2", leg: .entry, attempt: 0, decisionTime: t0 + 60_000, symbol: "FILUSDT"))
        #expect(ClientOrderID.belongs(a, to: "paper-1") && !ClientOrderID.belongs(a, to: "paper-2"))
        for leg in OrderLeg.allCases {
            let id = ClientOrderID.make(session: "a much longer session name ✓", leg: leg, attempt: 9, decisionTime: 4_102_444_800_000, symbol: "1000SATSFDUSD")
            #expect(ClientOrderID.isValid(id), "\(id)")
        }
        #expect(!ClientOrderID.isValid("has space") && !ClientOrderID.isValid(String(repeating: "a", count: 37)) && !ClientOrderID.isValid(""))
    }

    @Test("Tick exits: a trade through the stop sends a market exit that walks the book")
    func tickExit() throws {
        let s = settings(exits: .tick)
        var e = TradingEngine(settings: s, startTime: t0)
        var v = SimulatedVenue(model: FillModel(s.execution), rule: .continuous, quoteBalance: s.capital)
        e.setFilters(filters, for: "TESTUSDT")
        v.setFilters(filters, for: "TESTUSDT")
        v.setBook(.init(bids: [.init(price: 99.99, quantity: 50)], asks: [.init(price: 100.01, quantity: 4), .init(price: 100.02, quantity: 100)]), for: "TESTUSDT")
        func execute(_ commands: [TradingCommand]) -> [TradingRecord] {
            var queue = commands
            var records: [TradingRecord] = []
            var i = 0
            while i < queue.count {
                switch queue[i] {
                case .submit(let o): for u in v.submit(o, time: o.decisionTime) { queue += e.orderUpdated(u) }
                case .record(let r): records.append(r)
                default: Issue.record("unexpected \(queue[i])")
                }
                i += 1
            }
            return records
        }
        let p = Prediction(symbol: "TESTUSDT", time: t0 + 60_000, price: 100, probabilityUp: 0.9, confidence: 0.9, predictedMovePct: 0.5)
        _ = execute(e.minuteClosed(MinuteClose(openTime: t0, bars: [SymbolBar(symbol: "TESTUSDT", bar: flat(0))], predictions: [p])))
        let h = try #require(e.holdings["TESTUSDT"])
        // 10 bought: 4 at 100.01, 6 at 100.02.
        #expect(abs(h.cost - (4 * 100.01 + 6 * 100.02)) < 1e-9)
        v.setBook(.init(bids: [.init(price: 98.9, quantity: 3), .init(price: 98.8, quantity: 100)], asks: [.init(price: 99.0, quantity: 5)]), for: "TESTUSDT")
        _ = v.trade(symbol: "TESTUSDT", price: 98.95, time: t0 + 90_000)
        let records = execute(e.trade(symbol: "TESTUSDT", price: 98.95, time: t0 + 90_000))
        let trade = try #require(trades(records).first)
        #expect(trade.exitReason == .stopLoss)
        #expect(abs(trade.exitPrice - (3 * 98.9 + 7 * 98.8) / 10) < 1e-9)
        #expect(trade.exitTime == t0 + 90_000)
    }
}

@Suite("The trading core's books balance")
struct EngineConservationTests {
    @Test(
        "On random markets with gaps the engine's cash and holdings equal the venue's balances at every minute",
        arguments: 0..<12
    )
    func balancesMatchVenue(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var s = settings(fee: 0.001, slippage: 3, timeout: Double(60 * (1 + Int(rng.next() % 8))), trailing: rng.next() % 2 == 0 ? 0 : 0.003)
        s.risk.maxOpenPositions = 2
        s.risk.maxPositionPct = 0.4
        var r = BarReplay(engine: TradingEngine(settings: s, startTime: t0), venue: SimulatedVenue(model: FillModel(s.execution), rule: .bar, quoteBalance: s.capital))
        let symbols = ["AUSDT", "BUSDT", "CUSDT"]
        var price = ["AUSDT": 100.0, "BUSDT": 5.0, "CUSDT": 0.5]
        for (sym, p) in price { r.setFilters(.derived(price: p), for: sym) }
        var tradesSeen = 0
        for i in 0..<400 {
            var bars: [SymbolBar] = []
            var predictions: [Prediction] = []
            for sym in symbols where rng.next() % 10 != 0 {  // a gap now and then
                let open = price[sym]!
                let close = open * (1 + (Double(rng.next() % 2_001) / 1_000 - 1) * 0.006)
                let b = bar(i, open: open, high: max(open, close) * 1.002, low: min(open, close) * 0.998, close: close)
                price[sym] = close
                bars.append(SymbolBar(symbol: sym, bar: b))
                if rng.next() % 4 == 0 {
                    predictions.append(Prediction(symbol: sym, time: b.closeTime + 1, price: close, probabilityUp: 0.9, confidence: 0.9, predictedMovePct: 0.4))
                }
            }
            let records = r.step(MinuteClose(openTime: t0 + Int64(i) * 60_000, bars: bars, predictions: predictions))
            tradesSeen += records.filter { if case .trade = $0 { true } else { false } }.count
            let engineQuote = r.engine.cash + r.engine.reserved.values.reduce(0, +)
            #expect(abs(engineQuote - r.venue.quoteBalance) < 1e-6, "minute \(i): engine \(engineQuote) venue \(r.venue.quoteBalance)")
            for sym in symbols {
                let engineBase = (r.engine.holdings[sym]?.held ?? 0) + (r.engine.dust[sym] ?? 0)
                #expect(abs(engineBase - r.venue.baseBalance[sym, default: 0]) < 1e-9, "minute \(i) \(sym)")
            }
        }
        #expect(tradesSeen > 10)
    }
}

@Suite("The trading core when the venue says no")
struct VenueRefusalTests {
    /// A tick-mode engine holding 10 TESTUSDT bought at 100, with its entry order's id.
    private func holding() throws -> TradingEngine {
        var e = TradingEngine(settings: settings(exits: .tick), startTime: t0)
        e.setFilters(filters, for: "TESTUSDT")
        let p = Prediction(symbol: "TESTUSDT", time: t0 + 60_000, price: 100, probabilityUp: 0.9, confidence: 0.9, predictedMovePct: 0.5)
        let commands = e.minuteClosed(MinuteClose(openTime: t0, bars: [SymbolBar(symbol: "TESTUSDT", bar: flat(0))], predictions: [p]))
        let order = try #require(commands.compactMap { if case .submit(let o) = $0 { o } else { nil } }.first)
        let fill = OrderFill(tradeID: 1, price: 100, quantity: order.quantity, commission: 0, commissionAsset: .base, time: t0 + 60_000)
        _ = e.orderUpdated(OrderUpdate(clientOrderID: order.clientOrderID, symbol: "TESTUSDT", status: .filled, fill: fill, time: t0 + 60_000))
        return e
    }

    private func exitOrder(_ commands: [TradingCommand]) -> OrderRequest? {
        commands.compactMap { if case .submit(let o) = $0, o.leg == .exit { o } else { nil } }.first
    }

    @Test("An exit the venue can never take (a filter failure) settles the rest as dust, once, with no retry loop")
    func permanentRejection() throws {
        var e = try holding()
        let exit = try #require(exitOrder(e.trade(symbol: "TESTUSDT", price: 98.9, time: t0 + 90_000)))
        let out = e.orderUpdated(
            OrderUpdate(clientOrderID: exit.clientOrderID, symbol: "TESTUSDT", status: .rejected, reason: "Filter failure: NOTIONAL", time: t0 + 90_000)
        )
        #expect(exitOrder(out) == nil)
        #expect(out.contains { if case .record(.trade) = $0 { true } else { false } })
        #expect(e.holdings.isEmpty && e.dust["TESTUSDT"] == 10)
        // The next minute sends nothing for it.
        let next = e.minuteClosed(MinuteClose(openTime: t0 + 60_000, bars: [SymbolBar(symbol: "TESTUSDT", bar: flat(1, 99))], predictions: []))
        #expect(exitOrder(next) == nil)
    }

    @Test("An exit turned away for now is tried again at the next minute with a new id, not in a loop within the event")
    func transientRejection() throws {
        var e = try holding()
        let exit = try #require(exitOrder(e.trade(symbol: "TESTUSDT", price: 98.9, time: t0 + 90_000)))
        let out = e.orderUpdated(
            OrderUpdate(clientOrderID: exit.clientOrderID, symbol: "TESTUSDT", status: .rejected, reason: "Too many new orders.", time: t0 + 90_000)
        )
        #expect(exitOrder(out) == nil && e.holdings["TESTUSDT"]?.closing == .stopLoss)
        let again = try #require(exitOrder(e.minuteClosed(MinuteClose(openTime: t0 + 60_000, bars: [SymbolBar(symbol: "TESTUSDT", bar: flat(1, 99))], predictions: []))))
        #expect(again.clientOrderID != exit.clientOrderID && again.quantity == exit.quantity)
    }

    @Test("The kill switch cancels a partly filled entry and sells what came, at market")
    func killSwitchPartialEntry() throws {
        var e = TradingEngine(settings: settings(exits: .bar), startTime: t0)
        e.setFilters(filters, for: "TESTUSDT")
        let p = Prediction(symbol: "TESTUSDT", time: t0 + 60_000, price: 100, probabilityUp: 0.9, confidence: 0.9, predictedMovePct: 0.5)
        let commands = e.minuteClosed(MinuteClose(openTime: t0, bars: [SymbolBar(symbol: "TESTUSDT", bar: flat(0))], predictions: [p]))
        let order = try #require(commands.compactMap { if case .submit(let o) = $0 { o } else { nil } }.first)
        let part = OrderFill(tradeID: 1, price: 100, quantity: 4, commission: 0, commissionAsset: .base, time: t0 + 60_000)
        _ = e.orderUpdated(OrderUpdate(clientOrderID: order.clientOrderID, symbol: "TESTUSDT", status: .partiallyFilled, fill: part, time: t0 + 60_000))
        let cancel = e.control(.closeAll, time: t0 + 61_000)
        #expect(cancel == [.cancel(symbol: "TESTUSDT", clientOrderID: order.clientOrderID)])
        let after = e.orderUpdated(OrderUpdate(clientOrderID: order.clientOrderID, symbol: "TESTUSDT", status: .cancelled, time: t0 + 61_000))
        let exit = try #require(exitOrder(after))
        #expect(exit.quantity == 4 && exit.type == .market)
        #expect(!after.contains { if case .submitList = $0 { true } else { false } })
    }

    @Test("A bar opening above the target settles the target at the open, even when its low also reaches the stop")
    func openThroughTarget() {
        let model = FillModel(takerFee: 0, slippageBps: 0)
        let b = bar(5, open: 102, high: 102.5, low: 98, close: 99)
        #expect(model.barTrigger(stop: 99, target: 101, bar: b, filters: filters)! == (.target, 102))
        let down = bar(5, open: 98.5, high: 101.5, low: 98, close: 101)
        var targetFirst = FillModel(takerFee: 0, slippageBps: 0)
        targetFirst.stopFirstWhenBothHit = false
        #expect(targetFirst.barTrigger(stop: 99, target: 101, bar: down, filters: filters)! == (.stop, 98.5))
    }

    @Test("An entry whose held quantity after the base commission would be unsellable at the stop is refused up front")
    func sizedToStaySellable() {
        var risk = RiskConfiguration()
        risk.maxLossPerTradePct = 1
        var r = replay(settings(fee: 0.001, risk: risk, capital: 50.05))  // 10 % = 5.005 USDT at 100: 0.05 bought, 0.0499 held
        let records = run(&r, [flat(0), flat(1), flat(2)])
        #expect(records.contains(.refused(symbol: "TESTUSDT", reason: .belowMinNotional, time: t0 + 60_000)))
        #expect(r.engine.holdings.isEmpty)
    }
}
