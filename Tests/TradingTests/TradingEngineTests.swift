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

/// One entry the engine made, read from its output: a closed trade or a position still open.
private struct Holding {
    var symbol: String
    var entryTime: Int64
    /// nil while the position is open.
    var exitTime: Int64?
    var quantity: Double
    var entryPrice: Double
    /// Net P&L of a closed trade.
    var pnl: Double?
}

@Suite("Risk limits hold on random paths, counted from the trades and positions")
struct TradingPropertyTests {
    /// Each limit is checked against the engine's output alone (its closed trades, its open positions
    /// and the bars the test made), never against the risk manager's own counters:
    /// - every entry at time T has at most max_trades_per_hour entries in (T − 1 h, T], itself included
    ///   (the limit is checked at the close that approves it, which is the open it fills at);
    /// - every UTC day (by entry time) has at most max_trades_per_day entries;
    /// - at every entry at most max_open_positions positions are open (a position holds [entry, exit));
    /// - every entry was approved while the day's loss stayed inside daily_loss_limit_pct: equity at the
    ///   approving close, rebuilt from trades, open positions and the bars' closes, minus the equity at
    ///   the start of that close's UTC day, is above −limit × day-start equity;
    /// - the engine's equity curve equals that rebuilt equity, and its cash equals the starting capital
    ///   plus the closed trades' net P&L minus what the open positions cost with their entry fees.
    /// The test also requires the hour and open-position limits to have been reached on every path, and
    /// the day limit or the daily loss limit, so a path that never comes near a limit cannot pass unseen.
    @Test(
        "Counted from the trades: entries per hour and per UTC day and open positions stay within their limits, no entry is approved past the daily loss limit, equity and cash match the trades",
        arguments: 0..<25
    )
    func randomPaths(seed: Int) throws {
        var rng = SplitMix64(seed: UInt64(seed + 1))
        var risk = RiskConfiguration()
        risk.maxOpenPositions = 2
        risk.maxTradesPerHour = 4
        risk.maxTradesPerDay = 40
        risk.dailyLossLimitPct = 0.01
        risk.maxDrawdownPct = 0.05
        let fee = 0.001
        var e = engine(fee: fee, slippage: 3, timeout: 240, trailing: seed % 2 == 0 ? 0.004 : 0, risk: risk)
        let symbols = ["AAAUSDT", "BBBUSDT", "CCCUSDT"]
        var prices = [100.0, 50.0, 10.0]
        let minutes = 4_320  // three UTC days
        let start: Int64 = 1_690_848_000_000  // 2023-08-01 00:00 UTC, the engine's start
        let minute: Int64 = 60_000
        let day: Int64 = 86_400_000
        var closes: [String: [Double]] = [:]
        for i in 0..<minutes {
            var bars: [(symbol: String, bar: Kline)] = []
            var predictions: [Prediction] = []
            for (s, symbol) in symbols.enumerated() {
                let open = prices[s]
                let close = open * (1 + Double.random(in: -0.006...0.006, using: &rng))
                let high = max(open, close) * (1 + Double.random(in: 0...0.004, using: &rng))
                let low = min(open, close) * (1 - Double.random(in: 0...0.004, using: &rng))
                prices[s] = close
                closes[symbol, default: []].append(close)
                bars.append((symbol, bar(i, open: open, high: high, low: low, close: close)))
                if Double.random(in: 0...1, using: &rng) < 0.2 { predictions.append(prediction(at: i, price: close, symbol: symbol)) }
            }
            e.process(bars: bars, predictions: predictions)
            #expect(e.portfolio.cash >= -1e-9)
        }
        let p = e.portfolio
        let holdings =
            p.trades.map {
                Holding(symbol: $0.symbol, entryTime: $0.entryTime, exitTime: $0.exitTime, quantity: $0.quantity, entryPrice: $0.entryPrice, pnl: $0.pnlUSDT)
            }
            + p.positions.values.map {
                Holding(symbol: $0.symbol, entryTime: $0.entryTime, exitTime: nil, quantity: $0.quantity, entryPrice: $0.entryPrice, pnl: nil)
            }
        let entries = holdings.map(\.entryTime).sorted()
        try #require(entries.count > 40, "too few entries (\(entries.count)) for the limits to mean anything")

        // Per hour: entries in (T − 1 h, T] for every entry time T.
        var busiestHour = 0
        for t in entries {
            let inHour = entries.filter { $0 > t - 3_600_000 && $0 <= t }.count
            busiestHour = max(busiestHour, inHour)
            #expect(inHour <= risk.maxTradesPerHour, "\(inHour) entries in the hour up to \(UTC.minuteString(t))")
        }
        // Per UTC day.
        let perDay = Dictionary(grouping: entries) { $0 / day }.mapValues(\.count)
        for (d, count) in perDay.sorted(by: { $0.key < $1.key }) {
            #expect(count <= risk.maxTradesPerDay, "\(count) entries on \(UTC.dayString(d * day))")
        }
        // Open positions at each entry (the most there can be at once).
        var mostOpen = 0
        for t in entries {
            let open = holdings.filter { $0.entryTime <= t && ($0.exitTime.map { $0 > t } ?? true) }.count
            mostOpen = max(mostOpen, open)
            #expect(open <= risk.maxOpenPositions, "\(open) positions open at \(UTC.minuteString(t))")
        }

        // Equity at the close of each minute, rebuilt from the holdings and the bars.
        let equity: [Double] = (0..<minutes).map { i in
            let closeTime = start + Int64(i + 1) * minute
            var value = p.startingCapital
            for h in holdings where h.entryTime < closeTime {
                if let exit = h.exitTime, exit <= closeTime {
                    value += h.pnl ?? .nan
                } else {
                    let mark = closes[h.symbol]?[i] ?? .nan
                    value += h.quantity * (mark - h.entryPrice) - h.entryPrice * h.quantity * fee
                }
            }
            return value
        }
        #expect(e.equityCurve.count == minutes)
        let curveDiffers = zip(e.equityCurve, equity).enumerated().filter { abs($1.0.equity - $1.1) > 1e-6 }
        #expect(curveDiffers.isEmpty, "equity curve differs from the trades at \(curveDiffers.count) closes, first \(curveDiffers.first.map { "\($0)" } ?? "")")
        // Equity at the start of a UTC day: at the close that ends the previous day (the capital on the first day).
        func dayStart(_ d: Int64) -> Double {
            let i = Int((d * day - start) / minute) - 1
            return i < 0 ? p.startingCapital : equity[i]
        }
        // Every entry at T was approved at the close T of the minute that opened at T − 1 min.
        var lossLimitReached = false
        for i in 0..<minutes {
            let closeTime = start + Int64(i + 1) * minute
            let startEquity = dayStart((closeTime - minute) / day)
            // Clearly past the limit: the engine's own sum may differ from this one in the last bits.
            let pastLimit = equity[i] - startEquity <= -risk.dailyLossLimitPct * startEquity - 1e-6
            lossLimitReached = lossLimitReached || pastLimit
            let enteredNext = entries.contains(closeTime)
            #expect(
                !(pastLimit && enteredNext),
                "entry at \(UTC.minuteString(closeTime)) approved with the day's loss at \(equity[i] - startEquity) of \(startEquity)"
            )
        }

        // Cash: the capital, plus every closed trade's net P&L, minus the open positions' cost and entry fees.
        let closedNet = holdings.reduce(0) { $0 + ($1.pnl ?? 0) }
        let openCost = holdings.filter { $0.exitTime == nil }.reduce(0) { $0 + $1.quantity * $1.entryPrice * (1 + fee) }
        #expect(abs(p.cash - (p.startingCapital + closedNet - openCost)) < 1e-6)

        // The path must come near the limits, or the checks above could pass on an engine without them.
        #expect(busiestHour == risk.maxTradesPerHour && mostOpen == risk.maxOpenPositions)
        #expect(perDay.values.max() == risk.maxTradesPerDay || lossLimitReached)
    }
}
