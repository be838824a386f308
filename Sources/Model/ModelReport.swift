import Features
import Foundation

/// The human-readable side of a bundle: `report.md` and two SVG plots.
public enum ModelReport {
    /// `report.md`: data, splits, parameters, test metrics before and after calibration, the
    /// reliability table, and a plain statement when calibration made the test set worse.
    public static func markdown(metadata m: ModelMetadata, importance: [Int: Double]) -> String {
        func f(_ v: Double, _ digits: Int = 4) -> String { v.isNaN ? "–" : String(format: "%.\(digits)f", v) }
        var lines: [String] = []
        lines.append("# Model \(m.name)")
        lines.append("")
        lines.append("Trained \(m.createdAt) at commit `\(m.gitCommit.isEmpty ? "unknown" : m.gitCommit)` with XGBoost \(m.xgboostVersion) (\(m.trainingThreads) threads).")
        lines.append("Symbols \(m.symbols.joined(separator: ", ")), \(m.interval) bars from \(m.windowFrom) to \(m.windowTo) (end exclusive); \(m.gapCount) gaps in the input.")
        lines.append("Features: spec \(m.featureSpecVersion), \(m.featureNames.count) columns; trained on klines only, so the 8 order-book features are missing (NaN) throughout.")
        lines.append("Label: \(m.labelSpec.summary).")
        if let b = m.labelSpec.barriers {
            lines.append("Taker fee \(b.takerFee) per side; break-even win rate (sl + 2·fee + slip) / (tp + sl) = \(f(b.breakEvenWinRate)).")
        }
        lines.append("Signal threshold (`signals.min_probability: model`): \(f(m.validatedSignalThreshold)) — \(m.signalThresholdRule ?? "model.threshold (the bundle predates validation-chosen thresholds)").")
        lines.append("")
        lines.append("## Splits (by time, \(m.labelHorizon)-bar purge between them)")
        lines.append("")
        lines.append("| split | rows | positives | positive rate | from | to |")
        lines.append("|---|---|---|---|---|---|")
        for s in m.splits {
            lines.append("| \(s.name) | \(s.rows) | \(s.positives) | \(f(s.positiveRate)) | \(s.from) | \(s.to) |")
        }
        lines.append("")
        lines.append("Early stopping on validation AUC: best round \(m.bestIteration) (AUC \(f(m.bestValidationAUC))); move regressor best round \(m.regressorBestIteration).")
        lines.append("")
        lines.append("## Test metrics (data neither training nor calibration saw)")
        lines.append("")
        let (r, c) = (m.testRaw, m.testCalibrated)
        lines.append(CalibratedMetrics(raw: r, calibrated: c).markdownTable)
        lines.append("")
        lines.append("## Calibration")
        lines.append("")
        let candidates = m.calibration.heldOutECE.keys.sorted()
        lines.append("Candidates were fitted on the first 60 % of the validation split and scored on its last 40 %; the lowest held-out ECE became the default and was refitted on \(m.calibration.fittedRows) validation rows.")
        lines.append("")
        lines.append("| candidate | held-out ECE | held-out log-loss |")
        lines.append("|---|---|---|")
        for name in candidates {
            let mark = name == m.calibration.method ? " (chosen)" : ""
            lines.append("| \(name)\(mark) | \(f(m.calibration.heldOutECE[name] ?? .nan)) | \(f(m.calibration.heldOutLogLoss[name] ?? .nan)) |")
        }
        lines.append("")
        let validationRate = m.splits.first { $0.name == "validation" }?.positiveRate ?? .nan
        let testRate = m.splits.first { $0.name == "test" }?.positiveRate ?? .nan
        if c.ece > r.ece {
            lines.append("**Calibration made the test set worse:** ECE \(f(r.ece)) → \(f(c.ece)). The positive rate moved from \(f(validationRate * 100, 2)) % in validation to \(f(testRate * 100, 2)) % in test; a calibration fitted on one regime misstates probabilities in another. Treat the calibrated probabilities with that in mind, retrain more often, or prefer the raw ones for this window.")
        } else {
            lines.append("Calibration improved the test ECE: \(f(r.ece)) → \(f(c.ece)) (positive rate \(f(validationRate * 100, 2)) % in validation, \(f(testRate * 100, 2)) % in test).")
        }
        lines.append("")
        lines.append("## Reliability (test, calibrated)")
        lines.append("")
        lines.append("![reliability diagram](reliability.svg)")
        lines.append("")
        lines.append("| bin | rows | mean predicted | observed rate |")
        lines.append("|---|---|---|---|")
        for b in c.reliability {
            lines.append("| \(f(b.lower, 1))–\(f(b.upper, 1)) | \(b.count) | \(f(b.meanPredicted)) | \(f(b.observedRate)) |")
        }
        lines.append("")
        lines.append("## Feature importance (gain)")
        lines.append("")
        lines.append("![feature importance](importance.svg)")
        lines.append("")
        for (index, gain) in importance.sorted(by: { $0.value > $1.value }).prefix(15) {
            lines.append("- \(FeatureSpec.names[index]): \(f(gain, 2))")
        }
        lines.append("")
        return lines.joined(separator: "\n")
    }

    /// A reliability diagram: observed rate against mean prediction per bin, raw and calibrated.
    public static func reliabilitySVG(
        raw: [ReliabilityBin],
        calibrated: [ReliabilityBin],
        names: (first: String, second: String) = ("raw", "calibrated")
    ) -> String {
        let size = 420.0
        let pad = 50.0
        let plot = size - 2 * pad
        func x(_ v: Double) -> Double { pad + v * plot }
        func y(_ v: Double) -> Double { size - pad - v * plot }
        var svg = #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(Int(size))" height="\#(Int(size))" font-family="sans-serif" font-size="12">"#
        svg += #"<rect width="100%" height="100%" fill="white"/>"#
        svg += #"<line x1="\#(x(0))" y1="\#(y(0))" x2="\#(x(1))" y2="\#(y(1))" stroke="gray" stroke-dasharray="4 3"/>"#
        svg += #"<rect x="\#(pad)" y="\#(pad)" width="\#(plot)" height="\#(plot)" fill="none" stroke="black"/>"#
        for t in stride(from: 0.0, through: 1.0, by: 0.2) {
            svg += #"<text x="\#(x(t))" y="\#(size - pad + 16)" text-anchor="middle">\#(String(format: "%.1f", t))</text>"#
            svg += #"<text x="\#(pad - 8)" y="\#(y(t) + 4)" text-anchor="end">\#(String(format: "%.1f", t))</text>"#
        }
        svg += #"<text x="\#(size / 2)" y="\#(size - 10)" text-anchor="middle">mean predicted probability</text>"#
        svg += #"<text x="14" y="\#(size / 2)" text-anchor="middle" transform="rotate(-90 14 \#(size / 2))">observed positive rate</text>"#
        for (bins, color, name, offset) in [(raw, "crimson", names.first, 0.0), (calibrated, "steelblue", names.second, 16.0)] {
            let points = bins.filter { $0.count > 0 }.map { "\(x($0.meanPredicted)),\(y($0.observedRate))" }
            svg += #"<polyline fill="none" stroke="\#(color)" stroke-width="2" points="\#(points.joined(separator: " "))"/>"#
            for b in bins where b.count > 0 {
                svg += #"<circle cx="\#(x(b.meanPredicted))" cy="\#(y(b.observedRate))" r="3" fill="\#(color)"/>"#
            }
            svg += #"<text x="\#(pad + 10)" y="\#(pad + 18 + offset)" fill="\#(color)">\#(name)</text>"#
        }
        return svg + "</svg>\n"
    }

    /// A horizontal bar chart of gain importance, largest first.
    public static func importanceSVG(_ importance: [Int: Double]) -> String {
        let entries = importance.sorted { $0.value > $1.value }.prefix(25)
        let width = 560.0
        let row = 18.0
        let left = 150.0
        let height = Double(entries.count) * row + 40
        let maxValue = entries.first?.value ?? 1
        var svg = #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(Int(width))" height="\#(Int(height))" font-family="sans-serif" font-size="12">"#
        svg += #"<rect width="100%" height="100%" fill="white"/>"#
        svg += #"<text x="10" y="16">feature importance (average gain per split)</text>"#
        for (i, entry) in entries.enumerated() {
            let yPos = 28 + Double(i) * row
            let barWidth = maxValue > 0 ? (width - left - 70) * entry.value / maxValue : 0
            svg += #"<text x="\#(left - 6)" y="\#(yPos + 12)" text-anchor="end">\#(FeatureSpec.names[entry.key])</text>"#
            svg += #"<rect x="\#(left)" y="\#(yPos + 2)" width="\#(barWidth)" height="\#(row - 5)" fill="steelblue"/>"#
            svg += #"<text x="\#(left + barWidth + 4)" y="\#(yPos + 12)">\#(String(format: "%.1f", entry.value))</text>"#
        }
        return svg + "</svg>\n"
    }
}
