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

/// One backtest figure, named once for every output: its key in `scalper backtest --json`, its row
/// in `metrics.csv`, its key in the runs database (`scalper runs show/compare`) and the name
/// `scalper sweep --metric` ranks by.
///
/// Counts by reason are one field per reason (`refused_<reason>`, `exits_<reason>`, lower case),
/// every reason listed even when it never happened, so the set of names is the same for every run.
/// A value that is not a number (NaN: no trades; ±∞: profit factor without losers) is `null` in
/// JSON and `NULL` in the database, and `nan`, `inf` or `-inf` in `metrics.csv`.
public struct BacktestMetricField: Sendable {
    /// What a figure measures, which decides how it is written.
    public enum Unit: String, Sendable {
        /// A number of things: written as an integer.
        case count
        /// Quote currency (USDT).
        case usdt
        /// A share or a return: 0.12 is 12 %.
        case fraction
        /// A dimensionless ratio (profit factor, Sharpe, Sortino).
        case ratio
        /// Seconds.
        case seconds
    }

    /// The name in every output, e.g. `total_pnl_usdt`.
    public let name: String
    /// What the value measures.
    public let unit: Unit
    private let read: @Sendable (BacktestMetrics) -> Double

    init(_ name: String, _ unit: Unit, read: @escaping @Sendable (BacktestMetrics) -> Double) {
        self.name = name
        self.unit = unit
        self.read = read
    }

    /// The figure in `metrics`.
    public func value(_ metrics: BacktestMetrics) -> Double { read(metrics) }

    /// The figure as a `JSONSerialization` value: an `Int` for counts, a `Double` otherwise, and
    /// `NSNull` when it is not finite.
    public func jsonValue(_ metrics: BacktestMetrics) -> Any {
        let x = value(metrics)
        guard x.isFinite else { return NSNull() }
        return unit == .count ? Int(x) : x
    }

    /// The figure as `metrics.csv` writes it: an integer for counts, 8 decimals otherwise (exact to
    /// the cent for money), `nan`, `inf` or `-inf` when not finite.
    public func csvText(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return unit == .count ? String(format: "%.0f", value) : String(format: "%.8f", value)
    }

    /// The figure for a terminal table: an integer for counts, 2 decimals for USDT, 1 for seconds,
    /// 4 for fractions and ratios (1 from 100 up); `–` when missing or not finite.
    public func displayText(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "–" }
        switch unit {
        case .count: return String(format: "%.0f", value)
        case .usdt: return String(format: "%.2f", value)
        case .seconds: return String(format: "%.1f", value)
        case .fraction, .ratio: return abs(value) >= 100 ? String(format: "%.1f", value) : String(format: "%.4f", value)
        }
    }

    /// Closed trades.
    public static let trades = BacktestMetricField("trades", .count) { Double($0.trades) }
    /// Share of trades with a positive net P&L.
    public static let winRate = BacktestMetricField("win_rate", .fraction) { $0.winRate }
    /// Gross profit of winners over gross loss of losers.
    public static let profitFactor = BacktestMetricField("profit_factor", .ratio) { $0.profitFactor }
    /// Σ net P&L of all trades.
    public static let totalPnL = BacktestMetricField("total_pnl_usdt", .usdt) { $0.totalPnL }
    /// Mean net P&L per trade.
    public static let averagePnL = BacktestMetricField("average_pnl_usdt", .usdt) { $0.averagePnL }
    /// Fees paid.
    public static let feesPaid = BacktestMetricField("fees_paid_usdt", .usdt) { $0.feesPaid }
    /// Largest fall of equity from a previous peak.
    public static let maxDrawdown = BacktestMetricField("max_drawdown", .fraction) { $0.maxDrawdown }
    /// Annualised Sharpe ratio of daily returns.
    public static let sharpe = BacktestMetricField("sharpe", .ratio) { $0.sharpe }
    /// Annualised Sortino ratio of daily returns.
    public static let sortino = BacktestMetricField("sortino", .ratio) { $0.sortino }
    /// Mean time in a trade.
    public static let averageDuration = BacktestMetricField("average_duration_sec", .seconds) { $0.averageDurationSeconds }
    /// Best trade's net P&L.
    public static let bestTrade = BacktestMetricField("best_trade_usdt", .usdt) { $0.bestTrade }
    /// Worst trade's net P&L.
    public static let worstTrade = BacktestMetricField("worst_trade_usdt", .usdt) { $0.worstTrade }
    /// Share of the replayed time with a position open.
    public static let exposure = BacktestMetricField("exposure", .fraction) { $0.exposure }
    /// Return of the account over the window.
    public static let totalReturn = BacktestMetricField("total_return", .fraction) { $0.totalReturn }
    /// Equal-weight buy-and-hold return of the same symbols.
    public static let buyAndHoldReturn = BacktestMetricField("buy_and_hold_return", .fraction) { $0.buyAndHoldReturn }
    /// Starting capital.
    public static let startingCapital = BacktestMetricField("starting_capital", .usdt) { $0.startingCapital }
    /// Final equity.
    public static let finalEquity = BacktestMetricField("final_equity", .usdt) { $0.finalEquity }
    /// Signals the generator produced.
    public static let signals = BacktestMetricField("signals", .count) { Double($0.signals) }

    /// Risk refusals for `reason` (`refused_max_open_positions`).
    public static func refused(_ reason: RefusalReason) -> BacktestMetricField {
        BacktestMetricField("refused_\(reason.rawValue.lowercased())", .count) { Double($0.refusals[reason.rawValue] ?? 0) }
    }

    /// Trades closed for `reason` (`exits_tp`).
    public static func exits(_ reason: ExitReason) -> BacktestMetricField {
        BacktestMetricField("exits_\(reason.rawValue.lowercased())", .count) { Double($0.exits[reason.rawValue] ?? 0) }
    }

    /// Every figure, in the order `metrics.csv` and `scalper runs show` list them.
    public static let all: [BacktestMetricField] =
        [
            trades, winRate, profitFactor, totalPnL, averagePnL, feesPaid, maxDrawdown, sharpe, sortino, averageDuration,
            bestTrade, worstTrade, exposure, totalReturn, buyAndHoldReturn, startingCapital, finalEquity, signals,
        ]
        + RefusalReason.allCases.sorted { $0.rawValue < $1.rawValue }.map(BacktestMetricField.refused)
        + ExitReason.allCases.sorted { $0.rawValue < $1.rawValue }.map(BacktestMetricField.exits)

    /// Every name, in table order.
    public static var names: [String] { all.map(\.name) }

    /// The field called `name`, or an error listing every valid name.
    public static func named(_ name: String) throws(UnknownBacktestMetric) -> BacktestMetricField {
        guard let field = all.first(where: { $0.name == name }) else { throw UnknownBacktestMetric(name: name) }
        return field
    }
}

/// A metric name that is not in ``BacktestMetricField/all``.
public struct UnknownBacktestMetric: Error, Equatable, CustomStringConvertible {
    /// The name asked for.
    public var name: String

    public var description: String {
        "unknown backtest metric '\(name)'; valid names: \(BacktestMetricField.names.joined(separator: ", "))"
    }
}

extension BacktestMetrics {
    /// Every field of ``BacktestMetricField/all`` under its name, as a `JSONSerialization` object.
    public var jsonObject: [String: Any] {
        var object: [String: Any] = [:]
        for field in BacktestMetricField.all { object[field.name] = field.jsonValue(self) }
        return object
    }
}
