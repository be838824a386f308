import Backtest
import Foundation
import Research
import ScalperCore
import Trading

/// The grade of a whole walk-forward (Research/Grade.swift), stored with each of its out-of-sample
/// runs.
///
/// One grade for the walk-forward, not one per window: a week's window rarely holds the 30 trades
/// a grade needs, and the question a walk-forward answers is whether the strategy holds across all
/// its windows. Its inputs (``Grade/walkForwardInputs(_:capital:drawdownLimit:monteCarloPaths:seed:)``):
/// the windows' out-of-sample returns added, the walk-forward efficiency the command prints (mean
/// out-of-sample return a day over mean in-sample return a day), the DSR with N = 1 (each window's
/// model is used, none chosen from trials: the PSR of the concatenated out-of-sample per-trade
/// returns against 0), the 95 % band of the maximum drawdown over 10,000 bootstrap paths (seed 1)
/// of the concatenated out-of-sample trades, and their count. Every window's out-of-sample run
/// carries the same grade, so `scalper runs show` on any of them prints it.
enum WalkForwardGrade {
    /// Grades the walk-forward whose windows are `results`, reading each out-of-sample run's
    /// trades back from `database`, and stores the grade with every out-of-sample run.
    ///
    /// - Parameter settings: the trading settings the windows ran under (capital, and the kill
    ///   switch's `risk.max_drawdown_pct` the drawdown criterion is measured against).
    static func record(
        _ results: [WalkForwardCommand.Window],
        settings: BacktestSettings,
        database: RunDatabase
    ) throws -> Grade {
        let day = 86_400_000.0
        let windows = try results.map { r in
            let trades = try database.tradePnL(run: r.outRun)
            return Grade.WindowFigures(
                inSampleReturn: r.inSample.totalReturn,
                inSampleDays: Double(r.trainEnd - r.trainStart) / day,
                outOfSampleReturn: r.outOfSample.totalReturn,
                outOfSampleDays: Double(r.testEnd - r.trainEnd) / day,
                outOfSampleTradePnL: trades.map(\.pnlUSDT),
                outOfSampleTradeReturns: trades.map { $0.pnlPct / 100 }
            )
        }
        let span = results.first.map { "\(UTC.minuteString($0.trainEnd)) → " } ?? ""
        let end = results.last.map { UTC.minuteString($0.testEnd) } ?? ""
        let grade = Grade(
            Grade.walkForwardInputs(windows, capital: settings.capital, drawdownLimit: settings.risk.maxDrawdownPct),
            scope: "walk-forward of \(results.count) windows, out of sample \(span)\(end) (the same grade on each window's out-of-sample run)"
        )
        let stored = RunGrade(
            letter: grade.letter?.rawValue, summary: grade.summary, reasonsJSON: try grade.json(), gradedAt: UTC.isoString(UTC.now())
        )
        for r in results { try database.record(grade: stored, forRun: r.outRun) }
        return grade
    }
}
