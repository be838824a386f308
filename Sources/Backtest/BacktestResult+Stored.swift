public import Trading

/// A result rebuilt from what a queued sweep's worker stored in the shared database (the replay
/// itself ran on another machine), so it can be written as a run folder like any other.
extension BacktestResult {
    /// A result from its parts; `barsReplayed` and `timings` belong to the machine that replayed it.
    public init(trades: [TradeRecord], equityCurve: [BacktestEquityPoint], metrics: BacktestMetrics, buyAndHold: [BacktestEquityPoint] = []) {
        self.trades = trades
        self.equityCurve = equityCurve
        self.metrics = metrics
        self.barsReplayed = 0
        self.timings = [:]
        self.buyAndHold = buyAndHold
    }

    /// At most `limit` points of `curve`, evenly spaced, always with the last (what a stored result keeps for its plot).
    public static func thinned(_ curve: [BacktestEquityPoint], limit: Int = 2_000) -> [BacktestEquityPoint] {
        guard curve.count > limit, limit >= 2 else { return curve }
        let step = Double(curve.count - 1) / Double(limit - 1)
        return (0..<limit).map { curve[Int((Double($0) * step).rounded())] }
    }
}
