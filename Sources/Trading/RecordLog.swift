public import Logging

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
        switch record {
        case .signal(let s):
            logger.log(
                level: routine,
                "signal",
                metadata: [
                    "symbol": "\(s.symbol)", "time": "\(s.time)", "price": "\(s.entryPrice)", "p": "\(s.probability)",
                    "confidence": "\(s.confidence)", "reason": "\(s.reason)",
                ]
            )
        case .refused(let symbol, let reason, let time):
            let dropped: Set<RefusalReason> = [.insufficientCashAtFill, .noBarAtFill, .venueRejected, .entryNotFilled]
            logger.log(
                level: dropped.contains(reason) ? .info : routine,
                dropped.contains(reason) ? "entry dropped at fill" : "signal refused",
                metadata: ["symbol": "\(symbol)", "reason": "\(reason.rawValue)", "time": "\(time)"]
            )
        case .trade(let t):
            logger.log(
                level: routine,
                "exit",
                metadata: [
                    "symbol": "\(t.symbol)", "reason": "\(t.exitReason.rawValue)", "entry": "\(t.entryPrice)", "exit": "\(t.exitPrice)",
                    "quantity": "\(t.quantity)", "pnl": "\(t.pnlUSDT)", "fees": "\(t.fees)", "time": "\(t.exitTime)",
                ]
            )
        case .equity:
            break
        case .killSwitch(let time, let equity, let peak):
            logger.critical("kill switch: drawdown limit reached", metadata: ["equity": "\(equity)", "peak": "\(peak)", "time": "\(time)"])
        case .anomaly(let message, let time):
            logger.warning("\(message)", metadata: ["time": "\(time)"])
        }
    }
}
