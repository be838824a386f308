import Foundation
public import Logging
import ScalperCore

/// How a shell writes the engine's records to the log: one place for their wording and levels.
public enum RecordLog {
    /// Logs `record` through `logger`.
    ///
    /// A session (`verbose`) logs every signal, refusal and trade at INFO, as the seed does; a
    /// backtest logs those at DEBUG (a year of replay would flood the terminal) but still logs at
    /// INFO the entries that were approved and then dropped at fill time. Anomalies are WARNING and
    /// the kill switch CRITICAL in both. Equity points are not logged.
    public static func log(_ record: TradingRecord, to logger: Logger, verbose: Bool) {
        let routine: Logger.Level = verbose ? .info : .debug
        func n(_ x: Double) -> Logger.MetadataValue { .string(String(format: "%.10g", x)) }
        func at(_ ms: Int64) -> Logger.MetadataValue { .string(UTC.isoString(ms)) }
        switch record {
        case .signal(let s):
            logger.log(
                level: routine,
                "signal",
                metadata: [
                    "symbol": "\(s.symbol)", "time": at(s.time), "price": n(s.entryPrice), "p": n(s.probability),
                    "confidence": n(s.confidence), "reason": "\(s.reason)",
                ]
            )
        case .refused(let symbol, let reason, let time):
            let dropped: Set<RefusalReason> = [.insufficientCashAtFill, .noBarAtFill, .venueRejected, .entryNotFilled]
            logger.log(
                level: dropped.contains(reason) ? .info : routine,
                dropped.contains(reason) ? "entry dropped at fill" : "signal refused",
                metadata: ["symbol": "\(symbol)", "reason": "\(reason.rawValue)", "time": at(time)]
            )
        case .trade(let t):
            logger.log(
                level: routine,
                "exit",
                metadata: [
                    "symbol": "\(t.symbol)", "reason": "\(t.exitReason.rawValue)", "entry": n(t.entryPrice), "exit": n(t.exitPrice),
                    "quantity": n(t.quantity), "pnl": n(t.pnlUSDT), "fees": n(t.fees), "time": at(t.exitTime),
                ]
            )
        case .equity:
            break
        case .killSwitch(let time, let equity, let peak):
            logger.critical("kill switch: drawdown limit reached", metadata: ["equity": n(equity), "peak": n(peak), "time": at(time)])
        case .anomaly(let message, let time):
            logger.warning("\(message)", metadata: ["time": at(time)])
        }
    }
}
