import ScalperCore
import Testing
import Trading

/// A 1-minute bar of constant price at minute `i` of 2023-08-01, opening at `open`.
private func bar(_ i: Int, open: Double, close: Double) -> Kline {
    let t = Int64(1_690_848_000_000) + Int64(i) * 60_000
    return Kline(
        openTime: t, open: open, high: max(open, close), low: min(open, close), close: close, volume: 1_000,
        closeTime: t + 59_999, quoteVolume: 1_000 * close, tradeCount: 10, takerBuyBaseVolume: 500,
        takerBuyQuoteVolume: 500 * close
    )
}

private func prediction(_ symbol: String, at i: Int, price: Double) -> Prediction {
    Prediction(
        symbol: symbol, time: Int64(1_690_848_000_000) + Int64(i + 1) * 60_000, price: price, probabilityUp: 0.9,
        confidence: 0.9, predictedMovePct: 0.5
    )
}

private let filters = SymbolFilters(lotStep: 0.001, tickSize: 0.01, minNotional: 5)

/// All capital in one position (so a gap up makes the approved order unaffordable), no fees.
private func engine() -> TradingEngine<SimulatedExecutor> {
    var risk = RiskConfiguration()
    risk.maxPositionPct = 1
    risk.maxLossPerTradePct = 1
    return TradingEngine(
        capital: 1_000,
        startTime: 1_690_848_000_000,
        signals: SignalConfiguration(),
        risk: risk,
        execution: ExecutionConfiguration(),
        executor: SimulatedExecutor(takerFee: 0.001, slippageBps: 0, filters: [:], defaultFilters: filters),
        filters: { _ in filters }
    )
}

@Suite("Entries approved at a close but not filled at the next open")
struct DroppedEntryTests {
    @Test("A gap up that makes the approved order cost more than the cash drops it, counted as INSUFFICIENT_CASH_AT_FILL")
    func unaffordableAtFill() {
        var e = engine()
        e.process(bars: [("AUSDT", bar(0, open: 100, close: 100))], predictions: [prediction("AUSDT", at: 0, price: 100)])
        #expect(e.pending["AUSDT"] != nil)
        // The next bar opens 5 % higher: quantity × open exceeds the cash the approval reserved (1 % headroom).
        e.process(bars: [("AUSDT", bar(1, open: 105, close: 105))], predictions: [])
        #expect(e.portfolio.positions.isEmpty)
        #expect(e.portfolio.cash == 1_000)
        #expect(e.risk.refusals[.insufficientCashAtFill] == 1)
        #expect(e.risk.entriesCountToday == 0)
    }

    @Test("The same approval fills when the next open stays within the reserved headroom")
    func affordableAtFill() {
        var e = engine()
        e.process(bars: [("AUSDT", bar(0, open: 100, close: 100))], predictions: [prediction("AUSDT", at: 0, price: 100)])
        e.process(bars: [("AUSDT", bar(1, open: 100.5, close: 100.5))], predictions: [])
        #expect(e.portfolio.positions["AUSDT"] != nil)
        #expect(e.risk.refusals[.insufficientCashAtFill] == nil)
        #expect(e.risk.entriesCountToday == 1)
    }

    @Test("An approved symbol with no bar at the next open is dropped, counted as NO_BAR_AT_FILL")
    func noBarAtFill() {
        var e = engine()
        e.process(bars: [("AUSDT", bar(0, open: 100, close: 100)), ("BUSDT", bar(0, open: 50, close: 50))], predictions: [prediction("AUSDT", at: 0, price: 100)])
        #expect(e.pending["AUSDT"] != nil)
        e.process(bars: [("BUSDT", bar(1, open: 50, close: 50))], predictions: [])
        #expect(e.portfolio.positions.isEmpty && e.pending.isEmpty)
        #expect(e.risk.refusals[.noBarAtFill] == 1)
    }
}
