import Foundation
public import ScalperCore
public import Trading

/// The figures a backtest is judged by.
public struct BacktestMetrics: Codable, Equatable, Sendable {
    /// Closed trades.
    public var trades: Int
    /// Share of trades with a positive net P&L.
    public var winRate: Double
    /// Gross profit of winners over gross loss of losers (net of fees); ∞ without losers.
    public var profitFactor: Double
    /// Σ net P&L of all trades, quote currency.
    public var totalPnL: Double
    /// Mean net P&L per trade.
    public var averagePnL: Double
    /// Fees paid on both sides of every trade.
    public var feesPaid: Double
    /// Largest fall of equity from a previous peak, fraction.
    public var maxDrawdown: Double
    /// Annualised Sharpe ratio of daily returns: mean / std (ddof 1) × √365 (crypto trades every day).
    public var sharpe: Double
    /// Annualised Sortino ratio: mean / downside deviation (root mean square of negative daily returns) × √365.
    public var sortino: Double
    /// Mean seconds in a trade.
    public var averageDurationSeconds: Double
    /// Best trade's net P&L.
    public var bestTrade: Double
    /// Worst trade's net P&L.
    public var worstTrade: Double
    /// Share of the replayed time with at least one position open.
    public var exposure: Double
    /// Return of the account over the window, fraction.
    public var totalReturn: Double
    /// Equal-weight buy-and-hold of the same symbols over the same window, fraction.
    public var buyAndHoldReturn: Double
    /// Starting capital.
    public var startingCapital: Double
    /// Final equity.
    public var finalEquity: Double
    /// Signals the generator produced.
    public var signals: Int
    /// Risk refusals by reason.
    public var refusals: [String: Int]
    /// Trades by exit reason.
    public var exits: [String: Int]

    /// Computes the metrics from the trades and the equity curve.
    public static func compute(
        trades: [TradeRecord],
        equityCurve: [BacktestEquityPoint],
        startingCapital: Double,
        finalEquity: Double,
        feesPaid: Double,
        exposureMilliseconds: Int64,
        series: [(symbol: String, klines: [Kline])],
        signals: Int,
        refusals: [RefusalReason: Int]
    ) -> BacktestMetrics {
        let pnls = trades.map(\.pnlUSDT)
        let wins = pnls.filter { $0 > 0 }
        let losses = pnls.filter { $0 < 0 }
        let grossWin = wins.reduce(0, +)
        let grossLoss = -losses.reduce(0, +)
        var peak = startingCapital
        var maxDrawdown = 0.0
        for point in equityCurve {
            peak = max(peak, point.equity)
            if peak > 0 { maxDrawdown = max(maxDrawdown, (peak - point.equity) / peak) }
        }
        // Daily returns from the equity at the last close of each UTC day.
        var dayEnd: [Int64: Double] = [:]
        for point in equityCurve { dayEnd[(point.time - 1) / 86_400_000] = point.equity }
        var previous = startingCapital
        var daily: [Double] = []
        for day in dayEnd.keys.sorted() {
            // Non-nil: the key comes from the dictionary.
            let equity = dayEnd[day]!
            daily.append(equity / previous - 1)
            previous = equity
        }
        let mean = daily.isEmpty ? 0 : daily.reduce(0, +) / Double(daily.count)
        let variance = daily.count > 1 ? daily.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(daily.count - 1) : 0
        let downside = daily.isEmpty ? 0 : (daily.reduce(0) { $0 + min($1, 0) * min($1, 0) } / Double(daily.count)).squareRoot()
        let span = (equityCurve.last?.time ?? 0) - (series.compactMap { $0.klines.first?.openTime }.min() ?? 0)
        let holds = series.compactMap { s -> Double? in
            guard let first = s.klines.first, let last = s.klines.last else { return nil }
            return last.close / first.open - 1
        }
        var exits: [String: Int] = [:]
        for t in trades { exits[t.exitReason.rawValue, default: 0] += 1 }
        return BacktestMetrics(
            trades: trades.count,
            winRate: trades.isEmpty ? .nan : Double(wins.count) / Double(trades.count),
            profitFactor: grossLoss > 0 ? grossWin / grossLoss : (grossWin > 0 ? .infinity : .nan),
            totalPnL: pnls.reduce(0, +),
            averagePnL: trades.isEmpty ? .nan : pnls.reduce(0, +) / Double(trades.count),
            feesPaid: feesPaid,
            maxDrawdown: maxDrawdown,
            sharpe: variance > 0 ? mean / variance.squareRoot() * 365.0.squareRoot() : .nan,
            sortino: downside > 0 ? mean / downside * 365.0.squareRoot() : .nan,
            averageDurationSeconds: trades.isEmpty ? .nan : trades.map(\.durationSeconds).reduce(0, +) / Double(trades.count),
            bestTrade: pnls.max() ?? .nan,
            worstTrade: pnls.min() ?? .nan,
            exposure: span > 0 ? Double(exposureMilliseconds) / Double(span) : 0,
            totalReturn: finalEquity / startingCapital - 1,
            buyAndHoldReturn: holds.isEmpty ? .nan : holds.reduce(0, +) / Double(holds.count),
            startingCapital: startingCapital,
            finalEquity: finalEquity,
            signals: signals,
            refusals: Dictionary(uniqueKeysWithValues: refusals.map { ($0.key.rawValue, $0.value) }),
            exits: exits
        )
    }
}
