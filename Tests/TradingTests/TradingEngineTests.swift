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

/// One entry the engine made, read from its output: a closed trade or a position still open.
private struct Entry {
    var symbol: String
    var entryTime: Int64
    /// nil while the position is open.
    var exitTime: Int64?
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
    ///   approving close, taken from the venue's balances and the bars' closes, minus the equity at
    ///   the start of that close's UTC day (a close at 00:00 starts a day), is above −limit × day-start equity;
    /// - the engine's equity curve equals the venue's balances marked at the closes, and the closed
    ///   trades' net P&L equals the change in the venue's quote balance (open positions' cost and
    ///   leftover dust accounted for).
    /// The test also requires the hour and open-position limits to have been reached on every path, and
    /// the day limit or the daily loss limit, so a path that never comes near a limit cannot pass unseen.
    @Test(
        "Counted from the trades: entries per hour and per UTC day and open positions stay within their limits, no entry is approved past the daily loss limit, equity and P&L match the venue's balances",
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
        risk.maxLossPerTradePct = 1
        var signals = SignalConfiguration()
        signals.takeProfitPct = 0.01
        signals.stopLossPct = 0.01
        var execution = ExecutionConfiguration()
        execution.takerFee = 0.001
        execution.slippageBps = 3
        execution.timeoutSeconds = 240
        execution.trailingStopPct = seed % 2 == 0 ? 0.004 : 0
        let settings = EngineSettings(capital: 10_000, signals: signals, risk: risk, execution: execution, exits: .bar, session: "property")
        let start: Int64 = 1_690_848_000_000  // 2023-08-01 00:00 UTC, the engine's start
        var core = BarReplay(
            engine: TradingEngine(settings: settings, startTime: start),
            venue: SimulatedVenue(model: FillModel(execution), rule: .bar, quoteBalance: settings.capital)
        )
        let symbols = ["AAAUSDT", "BBBUSDT", "CCCUSDT"]
        var prices = [100.0, 50.0, 10.0]
        for (s, symbol) in symbols.enumerated() { core.setFilters(.derived(price: prices[s]), for: symbol) }
        let minutes = 4_320  // three UTC days
        let minute: Int64 = 60_000
        let day: Int64 = 86_400_000
        var trades: [TradeRecord] = []
        var reported: [Double] = []
        // Equity from the venue's own balances, marked at each close: independent of the engine's books.
        var venueEquity: [Double] = []
        // Each trade's change in leftover dust, valued at its exit price (part of its P&L).
        var dustValued = 0.0
        for i in 0..<minutes {
            var bars: [SymbolBar] = []
            var predictions: [Prediction] = []
            var closes: [String: Double] = [:]
            for (s, symbol) in symbols.enumerated() {
                let open = prices[s]
                let close = open * (1 + Double.random(in: -0.006...0.006, using: &rng))
                let high = max(open, close) * (1 + Double.random(in: 0...0.004, using: &rng))
                let low = min(open, close) * (1 - Double.random(in: 0...0.004, using: &rng))
                prices[s] = close
                closes[symbol] = close
                let b = bar(i, open: open, high: high, low: low, close: close)
                bars.append(SymbolBar(symbol: symbol, bar: b))
                if Double.random(in: 0...1, using: &rng) < 0.2 {
                    predictions.append(
                        Prediction(symbol: symbol, time: b.closeTime + 1, price: close, probabilityUp: 0.9, confidence: 0.9, predictedMovePct: 0.5)
                    )
                }
            }
            let dustBefore = core.engine.dust
            for record in core.step(MinuteClose(openTime: start + Int64(i) * minute, bars: bars, predictions: predictions)) {
                switch record {
                case .trade(let t):
                    trades.append(t)
                    dustValued += ((core.engine.dust[t.symbol] ?? 0) - (dustBefore[t.symbol] ?? 0)) * t.exitPrice
                case .equity(_, let equity): reported.append(equity)
                default: break
                }
            }
            let v = core.venue
            venueEquity.append(v.quoteBalance + symbols.reduce(0) { $0 + v.baseBalance[$1, default: 0] * closes[$1, default: 0] })
            #expect(v.quoteBalance >= -1e-9 && core.engine.cash >= -1e-9)
        }
        let open = core.engine.holdings.values.filter { $0.bought > 0 }
        let entries =
            trades.map { Entry(symbol: $0.symbol, entryTime: $0.entryTime, exitTime: $0.exitTime) }
            + open.map { Entry(symbol: $0.symbol, entryTime: $0.entryTime, exitTime: nil) }
        let times = entries.map(\.entryTime).sorted()
        try #require(times.count > 40, "too few entries (\(times.count)) for the limits to mean anything")

        // Per hour: entries in (T − 1 h, T] for every entry time T.
        var busiestHour = 0
        for t in times {
            let inHour = times.filter { $0 > t - 3_600_000 && $0 <= t }.count
            busiestHour = max(busiestHour, inHour)
            #expect(inHour <= risk.maxTradesPerHour, "\(inHour) entries in the hour up to \(UTC.minuteString(t))")
        }
        // Per UTC day.
        let perDay = Dictionary(grouping: times) { $0 / day }.mapValues(\.count)
        for (d, count) in perDay.sorted(by: { $0.key < $1.key }) {
            #expect(count <= risk.maxTradesPerDay, "\(count) entries on \(UTC.dayString(d * day))")
        }
        // Open positions at each entry (the most there can be at once).
        var mostOpen = 0
        for t in times {
            let count = entries.filter { $0.entryTime <= t && ($0.exitTime.map { $0 > t } ?? true) }.count
            mostOpen = max(mostOpen, count)
            #expect(count <= risk.maxOpenPositions, "\(count) positions open at \(UTC.minuteString(t))")
        }

        // The engine's reported equity is the venue's balances at the closes (a waiting order's
        // reserved cash is still the venue's quote).
        #expect(reported.count == minutes)
        let curveDiffers = zip(reported, venueEquity).enumerated().filter { abs($1.0 - $1.1) > 1e-6 }
        #expect(curveDiffers.isEmpty, "equity differs from the venue's balances at \(curveDiffers.count) closes, first \(curveDiffers.first.map { "\($0)" } ?? "")")
        // Equity at the start of a UTC day: at the close that ends the previous day (the capital on the first day).
        func dayStart(_ d: Int64) -> Double {
            let i = Int((d * day - start) / minute) - 1
            return i < 0 ? settings.capital : venueEquity[i]
        }
        // Every entry at T was approved at the close T of the minute that opened at T − 1 min.
        var lossLimitReached = false
        for i in 0..<minutes {
            let closeTime = start + Int64(i + 1) * minute
            // A decision at 00:00 belongs to the day that starts then (its start equity is that close's).
            let startEquity = dayStart(closeTime / day)
            // Clearly past the limit: the engine's own sum may differ from this one in the last bits.
            let pastLimit = venueEquity[i] - startEquity <= -risk.dailyLossLimitPct * startEquity - 1e-6
            lossLimitReached = lossLimitReached || pastLimit
            #expect(
                !(pastLimit && times.contains(closeTime)),
                "entry at \(UTC.minuteString(closeTime)) approved with the day's loss at \(venueEquity[i] - startEquity) of \(startEquity)"
            )
        }
        // Closed trades' net P&L adds up to the change in the venue's quote balance, less what the open
        // positions cost and plus the dust's value (at each trade's exit price).
        let openCost = open.reduce(0) { $0 + $1.cost }
        let quoteChange = core.venue.quoteBalance - settings.capital
        let closedNet = trades.reduce(0) { $0 + $1.pnlUSDT }
        #expect(abs(quoteChange + openCost + dustValued - closedNet) < 1e-6)

        // The path must come near the limits, or the checks above could pass on an engine without them.
        #expect(busiestHour == risk.maxTradesPerHour && mostOpen == risk.maxOpenPositions)
        #expect(perDay.values.max() == risk.maxTradesPerDay || lossLimitReached)
    }
}
