import Foundation

extension Grade {
    /// One walk-forward window's figures, as the grade of a whole walk-forward reads them.
    public struct WindowFigures: Equatable, Sendable {
        /// In-sample return over the window's training span (fraction).
        public var inSampleReturn: Double
        /// Days in the training span.
        public var inSampleDays: Double
        /// Out-of-sample return over the window's test span (fraction).
        public var outOfSampleReturn: Double
        /// Days in the test span.
        public var outOfSampleDays: Double
        /// Net P&L of each out-of-sample trade in order (quote currency).
        public var outOfSampleTradePnL: [Double]
        /// Net return of each out-of-sample trade in order (fraction).
        public var outOfSampleTradeReturns: [Double]

        /// Every figure.
        public init(
            inSampleReturn: Double,
            inSampleDays: Double,
            outOfSampleReturn: Double,
            outOfSampleDays: Double,
            outOfSampleTradePnL: [Double],
            outOfSampleTradeReturns: [Double]
        ) {
            self.inSampleReturn = inSampleReturn
            self.inSampleDays = inSampleDays
            self.outOfSampleReturn = outOfSampleReturn
            self.outOfSampleDays = outOfSampleDays
            self.outOfSampleTradePnL = outOfSampleTradePnL
            self.outOfSampleTradeReturns = outOfSampleTradeReturns
        }
    }

    /// The inputs of one grade for a whole walk-forward (not one per window: a week's window
    /// rarely holds the 30 trades a grade needs, and the question is whether the strategy holds
    /// across all of them).
    ///
    /// - Out-of-sample return: the windows' out-of-sample returns added (each window trades the
    ///   same starting capital, so this is the walk-forward's P&L over that capital).
    /// - Walk-forward efficiency: the mean out-of-sample return a day over the mean in-sample
    ///   return a day, both over the windows — the figure `scalper walk-forward` prints.
    /// - Deflated Sharpe ratio with N = 1: every window's model is used, none is chosen from
    ///   trials, so there is no selection to deflate for and the DSR is the probabilistic Sharpe
    ///   ratio of the concatenated out-of-sample per-trade returns against 0.
    /// - Monte Carlo: `paths` bootstrap paths (seed `seed`) of the concatenated out-of-sample
    ///   trades from `capital`; the 95 % band of their maximum drawdown.
    /// - Trades: all out-of-sample trades.
    ///
    /// - Precondition: at least one window, `capital` > 0.
    public static func walkForwardInputs(
        _ windows: [WindowFigures],
        capital: Double,
        drawdownLimit: Double,
        monteCarloPaths: Int = 10_000,
        seed: UInt64 = 1
    ) -> Inputs {
        precondition(!windows.isEmpty && capital > 0, "a walk-forward grade needs windows and capital")
        func mean(_ xs: [Double]) -> Double {
            let finite = xs.filter(\.isFinite)
            return finite.isEmpty ? .nan : finite.reduce(0, +) / Double(finite.count)
        }
        let inPerDay = mean(windows.map { $0.inSampleReturn / $0.inSampleDays })
        let outPerDay = mean(windows.map { $0.outOfSampleReturn / $0.outOfSampleDays })
        let efficiency: Measured<Efficiency> =
            inPerDay.isFinite && outPerDay.isFinite
            ? .value(Efficiency(inSampleReturnPerDay: inPerDay, outOfSampleReturnPerDay: outPerDay))
            : .missing(reason: "no window has a finite return a day on both sides")
        let pnl = windows.flatMap(\.outOfSampleTradePnL)
        let returns = windows.flatMap(\.outOfSampleTradeReturns)
        let deflated: Measured<DeflatedSharpe>
        if let m = SharpeStatistics.moments(returns) {
            let p = SharpeStatistics.deflatedSharpe(
                sharpe: m.sharpe, observations: m.count, skewness: m.skewness, kurtosis: m.kurtosis, trials: 1, trialSharpeVariance: 0
            )
            deflated = .value(DeflatedSharpe(probability: p, trials: 1))
        } else {
            deflated = .missing(reason: "fewer than two out-of-sample trades")
        }
        let drawdown: Measured<Double>
        if pnl.isEmpty {
            drawdown = .missing(reason: "no out-of-sample trades to draw")
        } else {
            let mc = MonteCarlo.run(tradePnL: pnl, capital: capital, method: .bootstrap, paths: monteCarloPaths, seed: seed)
            drawdown = .value(mc.maxDrawdown.p95)
        }
        return Inputs(
            outOfSampleReturn: windows.map(\.outOfSampleReturn).reduce(0, +),
            trades: pnl.count,
            efficiency: efficiency,
            deflatedSharpe: deflated,
            monteCarloDrawdownP95: drawdown,
            drawdownLimit: drawdownLimit
        )
    }
}
