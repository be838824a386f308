import Features
import ScalperCore
import ScalperTestSupport
import Testing
import Trading

/// The triple-barrier label against the trades the backtest's own core makes (here, in the one test
/// target that has both the engine and the sample data): on real FILUSDT
/// bars, a signal at every bar while flat, one position at a time and no risk limit that could
/// bite, replayed by ``BarReplay`` (the bar rule's core `BacktestEngine.replay` runs). Every trade
/// it closes on its own (take-profit, stop or timeout) must carry the label of its signal bar:
/// 1 exactly when it ended at the take-profit. (Library level: the engine and venue the backtest
/// drives, fed minute by minute as `BacktestEngine.replay` feeds them.)
@Suite("Triple-barrier label = the backtest's trade")
struct TripleBarrierParityTests {
    @Test("On FILUSDT 2023-08, every trade's exit reason is its signal bar's label", arguments: [true, false])
    func labelIsTheTrade(stopFirst: Bool) throws {
        let klines = Array(try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").prefix(20_000))
        var signals = SignalConfiguration()
        signals.minProbability = 0.5
        signals.minConfidence = 0
        signals.maxSignalsPerBar = 1
        // Barriers closer than the defaults' (0.4 % / 0.3 %, which a calm August reaches ~30 times
        // in 20,000 bars), so every way out occurs hundreds of times.
        signals.takeProfitPct = 0.002
        signals.stopLossPct = 0.0015
        var risk = RiskConfiguration()
        risk.maxOpenPositions = 1
        risk.maxTradesPerHour = 1_000
        risk.maxTradesPerDay = 100_000
        risk.dailyLossLimitPct = 1
        risk.maxDrawdownPct = 0.99
        var execution = ExecutionConfiguration()
        execution.stopFirstWhenBothHit = stopFirst
        let settings = EngineSettings(capital: 10_000, signals: signals, risk: risk, execution: execution, exits: .bar, session: "parity")
        var core = BarReplay(
            engine: TradingEngine(settings: settings, startTime: klines[0].openTime),
            venue: SimulatedVenue(model: FillModel(execution), rule: .bar, quoteBalance: 10_000)
        )
        let filters = try #require(SymbolFilters.derived(from: klines))
        core.setFilters(filters, for: "FILUSDT")
        var trades: [TradeRecord] = []
        for bar in klines {
            let p = Prediction(symbol: "FILUSDT", time: bar.closeTime + 1, price: bar.close, probabilityUp: 0.9, confidence: 1, predictedMovePct: 1)
            for case .trade(let t) in core.step(MinuteClose(openTime: bar.openTime, bars: [SymbolBar(symbol: "FILUSDT", bar: bar)], predictions: [p])) {
                trades.append(t)
            }
        }

        let label = LabelSpec.tripleBarrier(
            TripleBarrier(
                takeProfitPct: signals.takeProfitPct, stopLossPct: signals.stopLossPct, slippageBps: execution.slippageBps,
                takerFee: execution.takerFee, timeoutSeconds: execution.timeoutSeconds, stopFirstWhenBothHit: stopFirst
            ),
            intervalMilliseconds: 60_000
        )
        var starts = [0]
        for i in klines.indices.dropFirst() where klines[i].openTime - klines[i - 1].openTime != 60_000 { starts.append(i) }
        let labels = Labels.compute(klines, spec: label, segmentStarts: starts, tickSize: filters.tickSize)
        var index: [Int64: Int] = [:]
        for (i, k) in klines.enumerated() { index[k.openTime] = i }

        var compared = 0
        var byReason: [ExitReason: Int] = [:]
        for trade in trades where trade.exitReason != .manual {
            // The entry fills at the open of the bar after the signal bar.
            let signalBar = try #require(index[trade.entryTime - 60_000])
            guard !labels[signalBar].isNaN else { continue }
            #expect(
                labels[signalBar] == (trade.exitReason == .takeProfit ? 1 : 0),
                "signal bar \(UTC.minuteString(klines[signalBar].openTime)): trade \(trade.exitReason.rawValue), label \(labels[signalBar])"
            )
            compared += 1
            byReason[trade.exitReason, default: 0] += 1
        }
        // Every way out occurred, on enough trades to mean something.
        let summary = "\(compared) trades compared: \(byReason.map { "\($0.key.rawValue) \($0.value)" }.sorted().joined(separator: ", "))"
        #expect(compared > 2_000, "\(summary)")
        #expect(byReason[.takeProfit, default: 0] > 100, "\(summary)")
        #expect(byReason[.stopLoss, default: 0] > 100, "\(summary)")
        #expect(byReason[.timeout, default: 0] > 100, "\(summary)")
        #expect(byReason.keys.allSatisfy { [.takeProfit, .stopLoss, .timeout].contains($0) }, "\(byReason)")
    }
}
