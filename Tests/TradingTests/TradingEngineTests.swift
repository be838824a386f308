import Foundation
import ScalperCore
import ScalperTestSupport
import Testing
import Trading

/// A 1-minute bar at minute `i` of 2023-08-01.
private func bar(_ i: Int, open: Double, high: Double, low: Double, close: Double) -> Kline {
    let t = Int64(1_690_848_000_000) + Int64(i) * 60_000
    return Kline(
        openTime: t, open: open, high: high, low: low, close: close, volume: 1_000, closeTime: t + 59_999,
        quoteVolume: 1_000 * close, tradeCount: 10, takerBuyBaseVolume: 500, takerBuyQuoteVolume: 500 * close
    )
}

private func flat(_ i: Int, _ price: Double = 100) -> Kline { bar(i, open: price, high: price, low: price, close: price) }

private func prediction(at i: Int, price: Double = 100, symbol: String = "TESTUSDT") -> Prediction {
    Prediction(
        symbol: symbol, time: Int64(1_690_848_000_000) + Int64(i + 1) * 60_000, price: price, probabilityUp: 0.9,
        confidence: 0.9, predictedMovePct: 0.5
    )
}

private let filters = SymbolFilters(lotStep: 0.001, tickSize: 0.01, minNotional: 5)

/// An engine with no slippage and no fees unless asked, TP +1 %, SL −1 %, 10 % per position.
private func engine(
    fee: Double = 0,
    slippage: Double = 0,
    timeout: Double = 300,
    trailing: Double = 0,
    risk: RiskConfiguration = RiskConfiguration(),
    capital: Double = 10_000
) -> TradingEngine<SimulatedExecutor> {
    var signals = SignalConfiguration()
    signals.takeProfitPct = 0.01
    signals.stopLossPct = 0.01
    var execution = ExecutionConfiguration()
    execution.takerFee = fee
    execution.slippageBps = slippage
    execution.timeoutSeconds = timeout
    execution.trailingStopPct = trailing
    var r = risk
    r.maxLossPerTradePct = 1  // size by max_position_pct unless a test says otherwise
    if risk != RiskConfiguration() { r = risk }
    return TradingEngine(
        capital: capital,
        startTime: 1_690_848_000_000,
        signals: signals,
        risk: r,
        execution: execution,
        executor: SimulatedExecutor(takerFee: fee, slippageBps: slippage, filters: [:], defaultFilters: filters),
        filters: { _ in filters }
    )
}

private func run(_ e: inout TradingEngine<SimulatedExecutor>, _ bars: [Kline], signalAt: Set<Int> = [0]) {
    for (i, b) in bars.enumerated() {
        e.process(bars: [("TESTUSDT", b)], predictions: signalAt.contains(i) ? [prediction(at: i, price: b.close)] : [])
    }
}

@Suite("Hand-built price paths give exactly the expected trades")
struct TradingEngineTests {
    @Test("Take-profit: entry at the next open, exit at the target")
    func takeProfit() throws {
        var e = engine()
        run(&e, [flat(0), flat(1), bar(2, open: 100, high: 101.5, low: 99.5, close: 101), flat(3, 101)])
        let t = try #require(e.portfolio.trades.first)
        #expect(e.portfolio.trades.count == 1)
        #expect(t.exitReason == .takeProfit && t.entryPrice == 100 && abs(t.exitPrice - 101) < 1e-9)
        #expect(t.quantity == 10)  // 10 % of 10,000 at 100
        #expect(t.entryTime == 1_690_848_060_000)  // the open of bar 1
        #expect(abs(t.pnlUSDT - 10) < 1e-9)
    }

    @Test("Stop-loss, and a bar opening through the stop exits at its open")
    func stopLoss() throws {
        var e = engine()
        run(&e, [flat(0), flat(1), bar(2, open: 99.5, high: 99.6, low: 98.5, close: 99)])
        #expect(e.portfolio.trades.first?.exitReason == .stopLoss)
        #expect(abs((e.portfolio.trades.first?.exitPrice ?? 0) - 99) < 1e-9)
        var gap = engine()
        run(&gap, [flat(0), flat(1), bar(2, open: 97, high: 97.5, low: 96, close: 97)])
        #expect(gap.portfolio.trades.first?.exitReason == .stopLoss && gap.portfolio.trades.first?.exitPrice == 97)
    }

    @Test("Stop-loss and take-profit inside one bar: the stop counts first (configurable)")
    func bothInOneBar() {
        var e = engine()
        run(&e, [flat(0), flat(1), bar(2, open: 100, high: 102, low: 98, close: 100)])
        #expect(e.portfolio.trades.map(\.exitReason) == [.stopLoss])
    }

    @Test("Timeout closes at the close of the bar that reaches it")
    func timeout() throws {
        var e = engine(timeout: 180)
        run(&e, (0..<6).map { flat($0, 100 + Double($0) * 0.01) })
        let t = try #require(e.portfolio.trades.first)
        #expect(t.exitReason == .timeout)
        #expect(t.durationSeconds == 180)
        #expect(abs(t.exitPrice - 100.03) < 1e-9)
    }

    @Test("Trailing stop follows the high since entry")
    func trailing() throws {
        var e = engine(timeout: 3_600, trailing: 0.005)
        run(&e, [
            flat(0), flat(1), bar(2, open: 100, high: 100.8, low: 100, close: 100.7),
            bar(3, open: 100.7, high: 100.75, low: 100.2, close: 100.3),
        ])
        let t = try #require(e.portfolio.trades.first)
        #expect(t.exitReason == .trailing)
        #expect(abs(t.exitPrice - 100.8 * 0.995) < 0.011)
    }

    @Test("The kill switch closes everything and refuses new entries until reset")
    func killSwitch() {
        var risk = RiskConfiguration()
        risk.maxDrawdownPct = 0.005
        risk.maxPositionPct = 0.9
        risk.maxLossPerTradePct = 1
        var e = engine(timeout: 3_600, risk: risk)
        // Falls 0.6 % after entry (above the 1 % stop) with 90 % of equity in: a 0.54 % drawdown.
        run(&e, [flat(0), flat(1), flat(2, 99.4), flat(3, 99.4), flat(4, 99.4)], signalAt: [0, 3])
        #expect(e.portfolio.trades.map(\.exitReason) == [.killSwitch])
        #expect(e.risk.isKillSwitchActive)
        #expect(e.risk.refusals[.killSwitch] == 1)
        #expect(e.portfolio.positions.isEmpty)
        e.resetKillSwitch()
        #expect(!e.risk.isKillSwitchActive)
    }

    @Test("The daily loss limit refuses new trades until the next UTC day")
    func dailyLimit() {
        var risk = RiskConfiguration()
        risk.dailyLossLimitPct = 0.0005
        risk.maxLossPerTradePct = 1
        var e = engine(fee: 0.001, risk: risk)
        // Enter, stop out (−1 % on 1,000 plus fees ≈ −12), then a signal the same day is refused.
        run(&e, [flat(0), flat(1), bar(2, open: 100, high: 100, low: 98, close: 98.5), flat(3, 98.5), flat(4, 98.5)], signalAt: [0, 3])
        #expect(e.portfolio.trades.count == 1)
        #expect(e.risk.refusals[.dailyLossLimit] == 1)
        // The next day the same signal is taken.
        let nextDay = 1_440
        e.process(bars: [("TESTUSDT", flat(nextDay, 98.5))], predictions: [prediction(at: nextDay, price: 98.5)])
        e.process(bars: [("TESTUSDT", flat(nextDay + 1, 98.5))], predictions: [])
        #expect(e.portfolio.positions.count == 1)
    }

    @Test("An order below the minimum notional is refused")
    func minNotional() {
        var e = engine(capital: 40)  // 10 % of 40 = 4 USDT < 5
        run(&e, [flat(0), flat(1), flat(2)])
        #expect(e.portfolio.trades.isEmpty && e.portfolio.positions.isEmpty)
        #expect(e.risk.refusals[.belowMinNotional] == 1)
    }

    @Test("Fees are charged on both sides and slippage moves fills against the trader")
    func feesAndSlippage() throws {
        var e = engine(fee: 0.001, slippage: 10)
        run(&e, [flat(0), flat(1), bar(2, open: 100, high: 101.5, low: 99.5, close: 101)])
        let t = try #require(e.portfolio.trades.first)
        #expect(abs(t.entryPrice - 100.1) < 1e-9)  // 10 bp above the open, on the tick
        #expect(abs(t.exitPrice - 101.101 * 0.999) < 0.011)
        #expect(abs(t.fees - (t.entryPrice + t.exitPrice) * t.quantity * 0.001) < 1e-9)
        #expect(abs(t.pnlUSDT - (t.quantity * (t.exitPrice - t.entryPrice) - t.fees)) < 1e-9)
    }
}

@Suite("Risk limits and capital conservation hold on random paths")
struct TradingPropertyTests {
    @Test("Open positions, trades per hour and daily loss never exceed their limits; capital is conserved", arguments: 0..<25)
    func randomPaths(seed: Int) {
        var rng = SplitMix64(seed: UInt64(seed + 1))
        var risk = RiskConfiguration()
        risk.maxOpenPositions = 2
        risk.maxTradesPerHour = 4
        risk.dailyLossLimitPct = 0.01
        risk.maxDrawdownPct = 0.05
        var e = engine(fee: 0.001, slippage: 3, timeout: 240, trailing: seed % 2 == 0 ? 0.004 : 0, risk: risk)
        let symbols = ["AAAUSDT", "BBBUSDT", "CCCUSDT"]
        var prices = [100.0, 50.0, 10.0]
        for i in 0..<3_000 {
            var bars: [(symbol: String, bar: Kline)] = []
            var predictions: [Prediction] = []
            for (s, symbol) in symbols.enumerated() {
                let open = prices[s]
                let close = open * (1 + Double.random(in: -0.006...0.006, using: &rng))
                let high = max(open, close) * (1 + Double.random(in: 0...0.004, using: &rng))
                let low = min(open, close) * (1 - Double.random(in: 0...0.004, using: &rng))
                prices[s] = close
                bars.append((symbol, bar(i, open: open, high: high, low: low, close: close)))
                if Double.random(in: 0...1, using: &rng) < 0.2 { predictions.append(prediction(at: i, price: close, symbol: symbol)) }
            }
            e.process(bars: bars, predictions: predictions)
            let p = e.portfolio
            #expect(p.positions.count <= risk.maxOpenPositions)
            let time = bars[0].bar.openTime
            #expect(e.risk.entriesInLastHour(before: time + 1) <= risk.maxTradesPerHour)
            let openCost = p.positions.values.reduce(0) { $0 + $1.quantity * $1.entryPrice }
            #expect(abs(p.cash + openCost + p.feesPaid - (p.startingCapital + p.realisedGross)) < 1e-6)
            #expect(p.cash >= -1e-9)
        }
        // Entries happen only while the day's loss is inside the limit: every entry's day-start
        // equity minus the equity just before it stays above the limit.
        let totalNet = e.portfolio.trades.reduce(0) { $0 + $1.pnlUSDT }
        #expect(abs(totalNet - (e.portfolio.realisedGross - e.portfolio.trades.reduce(0) { $0 + $1.fees })) < 1e-6)
    }
}
