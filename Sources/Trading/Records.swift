import Foundation
import ScalperCore

/// Buy or sell.
public enum Side: String, Codable, Sendable {
    /// Buy.
    case buy = "BUY"
    /// Sell.
    case sell = "SELL"
}

/// Why a position ended.
public enum ExitReason: String, Codable, Sendable, CaseIterable {
    /// Take-profit reached.
    case takeProfit = "TP"
    /// Stop-loss reached.
    case stopLoss = "SL"
    /// Held for the timeout.
    case timeout = "TIMEOUT"
    /// Trailing stop reached.
    case trailing = "TRAILING"
    /// Closed by the kill switch.
    case killSwitch = "KILL_SWITCH"
    /// Closed by the user (or at the end of a backtest).
    case manual = "MANUAL"
}

/// A closed trade (the columns of `trades.csv`).
public struct TradeRecord: Equatable, Sendable, Codable {
    /// Entry time (ms): the first entry fill.
    public var entryTime: Int64
    /// Exit time (ms): the last exit fill.
    public var exitTime: Int64
    /// The symbol.
    public var symbol: String
    /// Always BUY (long entries) for now.
    public var side: Side
    /// Average entry fill price.
    public var entryPrice: Double
    /// Average exit fill price (before the exit commission).
    public var exitPrice: Double
    /// Base quantity sold.
    public var quantity: Double
    /// Net profit in the quote asset: quote received − quote spent, with the change in dust valued at the exit price.
    public var pnlUSDT: Double
    /// Net profit as a share of the quote spent, percent.
    public var pnlPct: Double
    /// Seconds held.
    public var durationSeconds: Double
    /// Why it ended.
    public var exitReason: ExitReason
    /// Commissions of both sides, valued in the quote asset.
    public var fees: Double
    /// The model's calibrated probability at the entry decision.
    public var probability: Double
    /// The model's confidence at the entry decision.
    public var confidence: Double

    /// Creates a record.
    public init(
        entryTime: Int64,
        exitTime: Int64,
        symbol: String,
        side: Side,
        entryPrice: Double,
        exitPrice: Double,
        quantity: Double,
        pnlUSDT: Double,
        pnlPct: Double,
        durationSeconds: Double,
        exitReason: ExitReason,
        fees: Double,
        probability: Double,
        confidence: Double
    ) {
        self.entryTime = entryTime
        self.exitTime = exitTime
        self.symbol = symbol
        self.side = side
        self.entryPrice = entryPrice
        self.exitPrice = exitPrice
        self.quantity = quantity
        self.pnlUSDT = pnlUSDT
        self.pnlPct = pnlPct
        self.durationSeconds = durationSeconds
        self.exitReason = exitReason
        self.fees = fees
        self.probability = probability
        self.confidence = confidence
    }
}

extension TradeRecord {
    /// The seed's `trades.csv` columns plus the model's probability and confidence at entry.
    public static let csvHeader =
        "timestamp,symbol,side,entry_price,exit_price,quantity,pnl_usdt,pnl_pct,duration_sec,exit_reason,fees,probability,confidence"

    /// The trade as ``csvHeader``'s fields: money with 8 decimals so sums are exact to the cent.
    public var csvFields: [String] {
        func money(_ x: Double) -> String {
            if x.isNaN { return "nan" }
            if x.isInfinite { return x > 0 ? "inf" : "-inf" }
            return String(format: "%.8f", x)
        }
        return [
            UTC.isoString(entryTime), symbol, side.rawValue, money(entryPrice), money(exitPrice), money(quantity), money(pnlUSDT),
            String(format: "%.6f", pnlPct), String(format: "%.0f", durationSeconds), exitReason.rawValue, money(fees),
            String(format: "%.6f", probability), String(format: "%.6f", confidence),
        ]
    }
}
