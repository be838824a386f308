/// The deflated Sharpe ratio of a strategy chosen out of a sweep's trials, as `scalper sweep`
/// reports it: per-trade Sharpe ratios, the variance of the trials' Sharpe ratios across the sweep,
/// N = every trial run.
public struct SweepDeflation: Equatable, Sendable {
    /// The chosen trial's per-trade returns' moments.
    public var moments: SharpeStatistics.Moments
    /// Trials run (N).
    public var trials: Int
    /// Sample variance of the finite per-trade Sharpe ratios across the trials.
    public var trialSharpeVariance: Double
    /// The deflated Sharpe ratio: the probability that the chosen trial beats the best of N unskilled ones.
    public var deflated: Double
    /// The probabilistic Sharpe ratio against 0 (what a single, unchosen trial would be judged by).
    public var probabilistic: Double

    /// Significant at 95 %.
    public var significant: Bool { deflated >= 0.95 }

    /// The deflation of trial `chosen` among `perTradeReturns` (one array of per-trade returns per
    /// trial); nil when the chosen trial has fewer than `minimumTrades` trades or fewer than two
    /// trials have a finite Sharpe ratio.
    public static func evaluate(perTradeReturns: [[Double]], chosen: Int, minimumTrades: Int) -> SweepDeflation? {
        let sharpes = perTradeReturns.compactMap { SharpeStatistics.moments($0)?.sharpe }.filter(\.isFinite)
        guard perTradeReturns.indices.contains(chosen), let m = SharpeStatistics.moments(perTradeReturns[chosen]),
            m.count >= minimumTrades, m.sharpe.isFinite, sharpes.count >= 2
        else { return nil }
        let mean = sharpes.reduce(0, +) / Double(sharpes.count)
        let variance = sharpes.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(sharpes.count - 1)
        let deflated = SharpeStatistics.deflatedSharpe(
            sharpe: m.sharpe, observations: m.count, skewness: m.skewness, kurtosis: m.kurtosis,
            trials: perTradeReturns.count, trialSharpeVariance: variance
        )
        let probabilistic = SharpeStatistics.probabilisticSharpe(
            sharpe: m.sharpe, benchmark: 0, observations: m.count, skewness: m.skewness, kurtosis: m.kurtosis
        )
        return SweepDeflation(
            moments: m, trials: perTradeReturns.count, trialSharpeVariance: variance, deflated: deflated, probabilistic: probabilistic
        )
    }
}
