import Backtest
import Foundation
import Research
import ScalperCore
import Testing
import Trading

/// A random walk of `n` one-minute bars (log-returns N(0, σ²) by Box–Muller from a seeded SplitMix64),
/// prices on a 0.0001 grid; no drift, so no rule can have an edge on it.
private func randomWalk(n: Int, seed: UInt64, sigma: Double = 0.0012) -> [Kline] {
    var state = seed
    func uniform() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53) + 0x1p-54
    }
    func normal() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform()) }
    func tick(_ x: Double) -> Double { (x * 10_000).rounded() / 10_000 }
    var bars: [Kline] = []
    var price = 5.0
    let start: Int64 = 1_690_848_000_000
    for i in 0..<n {
        let open = tick(price)
        price *= exp(sigma * normal())
        let close = tick(price)
        let high = tick(max(open, close) * (1 + abs(normal()) * sigma / 3))
        let low = tick(min(open, close) * (1 - abs(normal()) * sigma / 3))
        let t = start + Int64(i) * 60_000
        bars.append(Kline(openTime: t, open: open, high: high, low: low, close: close, volume: 1_000, closeTime: t + 59_999,
                          quoteVolume: 5_000, tradeCount: 100, takerBuyBaseVolume: 500, takerBuyQuoteVolume: 2_500))
    }
    return bars
}

@Suite("The deflated Sharpe ratio of a sweep's best trial")
struct SweepDeflationTests {
    /// 50 trials: min_probability × take_profit_pct, no fees or slippage (so luck alone can look good).
    private func sweep(_ prepared: PreparedBacktest) throws -> [[Double]] {
        var base = BacktestSettings()
        base.execution.takerFee = 0
        base.execution.slippageBps = 0
        base.signals.minConfidence = 0
        let parameters = [
            try SweepParameter(parsing: "min_probability=0.5:0.95:0.05"),
            try SweepParameter(parsing: "take_profit_pct=0.002:0.006:0.001"),
        ]
        let results = try Sweep.run(prepared, base: base, parameters: parameters)
        #expect(results.count == 50)
        return results.map { $0.result.trades.map { $0.pnlPct / 100 } }
    }

    private func best(_ perTrade: [[Double]]) -> Int {
        perTrade.indices.filter { perTrade[$0].count >= 30 }.max {
            (SharpeStatistics.moments(perTrade[$0])?.sharpe ?? -.infinity) < (SharpeStatistics.moments(perTrade[$1])?.sharpe ?? -.infinity)
        }!
    }

    @Test("A 50-trial sweep of noise (random predictions on a random walk): its best per-trade Sharpe is positive, yet its DSR is not significant and below its naive PSR")
    func noiseIsNotSignificant() throws {
        let bars = randomWalk(n: 20_000, seed: 7)
        var state: UInt64 = 99
        let predictions: [Prediction?] = bars.map { bar in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            let p = Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
            return Prediction(symbol: "NOISEUSDT", time: bar.closeTime + 1, price: bar.close, probabilityUp: p, confidence: 1, predictedMovePct: 0.3)
        }
        let perTrade = try sweep(PreparedBacktest(series: [("NOISEUSDT", bars)], predictions: [predictions]))
        let chosen = best(perTrade)
        let d = try #require(SweepDeflation.evaluate(perTradeReturns: perTrade, chosen: chosen, minimumTrades: 30))
        #expect(d.trials == 50)
        #expect(d.moments.sharpe > 0, "the best of 50 noise trials looks profitable")
        #expect(!d.significant && d.deflated < d.probabilistic, "DSR \(d.deflated), PSR \(d.probabilistic)")
    }

    @Test("The same sweep with predictions that half the time know the next bars: its best trial's DSR is significant")
    func edgeIsSignificant() throws {
        let bars = randomWalk(n: 20_000, seed: 7)
        var state: UInt64 = 5
        func uniform() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
        let predictions: [Prediction?] = bars.indices.map { i in
            // Half the time it knows whether the close 3 bars on is 0.3 % higher; else it guesses.
            let up = i + 3 < bars.count && bars[i + 3].close >= bars[i].close * 1.003
            let p = uniform() < 0.5 ? (up ? 0.5 + 0.5 * uniform() : 0.5 * uniform()) : uniform()
            return Prediction(symbol: "NOISEUSDT", time: bars[i].closeTime + 1, price: bars[i].close, probabilityUp: p, confidence: 1, predictedMovePct: 0.3)
        }
        let perTrade = try sweep(PreparedBacktest(series: [("NOISEUSDT", bars)], predictions: [predictions]))
        let d = try #require(SweepDeflation.evaluate(perTradeReturns: perTrade, chosen: best(perTrade), minimumTrades: 30))
        #expect(d.significant, "DSR \(d.deflated)")
    }

    @Test("No verdict under the minimum trade count or with fewer than two finite Sharpe ratios")
    func noVerdict() {
        #expect(SweepDeflation.evaluate(perTradeReturns: [[0.01, -0.005], [0.002, 0.001, -0.001]], chosen: 0, minimumTrades: 30) == nil)
        let many = (0..<40).map { Double($0 % 5) * 0.001 - 0.001 }
        #expect(SweepDeflation.evaluate(perTradeReturns: [many, []], chosen: 0, minimumTrades: 30) == nil)
        #expect(SweepDeflation.evaluate(perTradeReturns: [many, many.map { $0 * 2 + 0.0005 }], chosen: 0, minimumTrades: 30) != nil)
    }
}
