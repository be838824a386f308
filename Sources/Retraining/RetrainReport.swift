import Foundation

/// The report.md of a retrain run: the verdict first, then every figure it rests on.
enum RetrainReport {
    static func markdown(evidence e: RetrainEvidence, verdict: String) -> String {
        var lines: [String] = []
        lines.append("# Retrain run \(e.runID) (\(e.mode))")
        lines.append("")
        lines.append("**\(verdict)**")
        lines.append("")
        lines.append("As of \(e.asOf). Every figure below is on the holdout, which neither model was fitted, stopped or calibrated on.")
        lines.append("")
        lines.append("## Windows")
        lines.append("")
        lines.append("| window | from | to (exclusive) | rows | positive rate | symbols |")
        lines.append("|---|---|---|---:|---:|---|")
        for name in ["train", "early_stop", "calibration", "holdout"] {
            guard let w = e.windows[name] else { continue }
            let rate = e.positiveRates[name].map { fmt($0) } ?? "–"
            lines.append("| \(name.replacingOccurrences(of: "_", with: " ")) | \(w[0]) | \(w[1]) | \(e.rows[name] ?? 0) | \(rate) | \((e.symbols[name] ?? []).joined(separator: ", ")) |")
        }
        if !e.leftOut.isEmpty {
            lines.append("")
            for line in e.leftOut { lines.append("- left out: \(line)") }
        }
        lines.append("")
        lines.append("## Rules")
        lines.append("")
        lines.append("| rule | held | kind | detail |")
        lines.append("|---|---|---|---|")
        for r in e.rules {
            lines.append("| \(r.rule) | \(r.passed ? "yes" : "**no**") | \(r.blocking ? "leakage guard (blocks)" : "promotion") | \(r.detail) |")
        }
        if e.challenger != nil || e.champion != nil {
            lines.append("")
            lines.append("## Champion and challenger on the holdout")
            lines.append("")
            lines.append("| model | AUC | log-loss | ECE | Brier | mean p | backtest trades | backtest net P&L | max drawdown |")
            lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
            for (role, j) in [("champion", e.champion), ("challenger", e.challenger)] {
                guard let j else { continue }
                let bt = j.backtest
                lines.append(
                    "| \(role) \(j.name) | \(fmt(j.auc)) | \(fmt(j.logLoss, 5)) | \(fmt(j.ece)) | \(fmt(j.brier)) | \(fmt(j.meanProbability)) | \(bt.map { "\($0.trades)" } ?? "–") | \(bt.map { fmt($0.netPnL, 2) } ?? "–") | \(bt.map { fmt($0.maxDrawdown) } ?? "–") |"
                )
            }
            if let dm = e.dieboldMariano {
                lines.append("")
                lines.append(
                    "Diebold–Mariano on per-bar-time log-loss (challenger − champion): mean difference \(fmt(dm.meanDifference, 6)), statistic \(fmt(dm.statistic, 3)), one-sided p = \(fmt(dm.pValue, 4)), \(dm.count) bar times, Newey–West lag \(dm.lag)."
                )
            }
        }
        if !e.calibration.isEmpty {
            lines.append("")
            lines.append("## Calibration")
            lines.append("")
            lines.append("Chosen: **\(e.calibrationChosen ?? "–")**, by ECE on the calibration days' last 40 % (fitted on their first 60 %); the holdout columns show how each candidate, fitted on all calibration days, did there. They are reported, never used to choose: choosing on the holdout would tune the challenger on the rows it is judged on.")
            lines.append("")
            lines.append("| method | selection ECE | holdout ECE | holdout log-loss |")
            lines.append("|---|---:|---:|---:|")
            for c in e.calibration {
                lines.append("| \(c.method) | \(fmt(c.selectionECE)) | \(fmt(c.holdoutECE)) | \(fmt(c.holdoutLogLoss, 5)) |")
            }
        }
        let g = e.guards
        if g.truncation != nil || g.canaryAUC != nil {
            lines.append("")
            lines.append("## Leakage guards")
            lines.append("")
            if let t = g.truncation {
                lines.append("- Truncation check: \(t.cuts) cut points, \(t.valuesCompared) values compared: \(t.firstDifference ?? "every row up to each cut unchanged with the later bars removed or perturbed").")
            }
            if let auc = g.canaryAUC {
                lines.append("- Shuffled-label canary: holdout AUC \(fmt(auc)) after \(g.canaryRounds ?? 0) rounds.")
            }
            if let train = g.trainAUC, let gap = g.aucGap {
                lines.append("- In-sample training AUC \(fmt(train)); gap to the holdout \(fmt(gap)).")
            }
        }
        if !e.drift.isEmpty {
            lines.append("")
            lines.append("## Feature drift (PSI, training window → holdout)")
            lines.append("")
            lines.append("| feature | PSI |")
            lines.append("|---|---:|")
            for d in e.drift { lines.append("| \(d.feature) | \(fmt(d.psi)) |") }
        }
        if !e.warnings.isEmpty {
            lines.append("")
            lines.append("## Warnings")
            lines.append("")
            for w in e.warnings { lines.append("- \(w)") }
        }
        lines.append("")
        lines.append("## Stages")
        lines.append("")
        lines.append(e.timings.sorted { $0.key < $1.key }.map { "\($0.key) \(fmt($0.value, 2))" }.joined(separator: ", "))
        lines.append("")
        lines.append("Files: evidence.json (all of the above), reliability.svg, importance.svg.")
        lines.append("")
        return lines.joined(separator: "\n")
    }
}
