import Features
import Foundation
import Model
import Testing

/// Raw and calibrated metrics whose every figure differs, so a key bound to the wrong side shows.
private func pair() -> CalibratedMetrics {
    let labels: [Double] = [0, 1, 0, 1, 1, 0, 0, 1, 0, 0]
    // Raw scores never reach 0.65, so raw precision is undefined (NaN).
    let raw = [0.10, 0.55, 0.30, 0.62, 0.45, 0.20, 0.35, 0.60, 0.50, 0.15]
    let calibrated = [0.05, 0.80, 0.20, 0.90, 0.40, 0.10, 0.30, 0.70, 0.66, 0.08]
    return CalibratedMetrics(
        raw: Metrics.classification(raw, labels, threshold: 0.65),
        calibrated: Metrics.classification(calibrated, labels, threshold: 0.65)
    )
}

@Suite("One definition of metric names for JSON, tables and report.md")
struct MetricFieldTests {
    @Test("The JSON object carries README's train --json keys, each bound to the documented side")
    func jsonKeys() throws {
        let m = pair()
        let object = m.jsonObject
        // README: `auc, logloss, brier, ece_raw, ece_calibrated, precision_at_threshold, threshold, …,
        // positive_rate`, "plus raw/calibrated variants".
        let documented = ["auc", "logloss", "brier", "ece_raw", "ece_calibrated", "precision_at_threshold", "threshold", "positive_rate"]
        for key in documented { #expect(object[key] != nil, "missing \(key)") }
        #expect(Set(object.keys) == Set(documented + ["auc_calibrated", "logloss_raw", "brier_raw", "precision_at_threshold_raw", "count_at_threshold"]))
        #expect(object["auc"] as? Double == m.raw.auc && object["auc_calibrated"] as? Double == m.calibrated.auc)
        #expect(object["logloss"] as? Double == m.calibrated.logLoss && object["logloss_raw"] as? Double == m.raw.logLoss)
        #expect(object["brier"] as? Double == m.calibrated.brier && object["brier_raw"] as? Double == m.raw.brier)
        #expect(object["ece_calibrated"] as? Double == m.calibrated.ece && object["ece_raw"] as? Double == m.raw.ece)
        #expect(object["precision_at_threshold"] as? Double == m.calibrated.precisionAtThreshold)
        #expect(object["count_at_threshold"] as? Int == 4)
        #expect(object["threshold"] as? Double == 0.65)
        // Undefined figures are JSON null, never NaN (which JSONSerialization refuses to write).
        #expect(m.raw.precisionAtThreshold.isNaN && object["precision_at_threshold_raw"] is NSNull)
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        #expect(String(decoding: data, as: UTF8.self).contains(#""precision_at_threshold_raw":null"#))
    }

    @Test("The terminal table and report.md list every metric under the same label with the same figures")
    func tables() {
        let m = pair()
        let text = m.textTable().split(separator: "\n").map(String.init)
        let markdown = m.markdownTable.split(separator: "\n").map(String.init)
        #expect(text.count == 1 + MetricField.all.count && markdown.count == 2 + MetricField.all.count)
        for (index, field) in MetricField.all.enumerated() {
            let label = field.label(threshold: 0.65)
            let raw = field.value(m.raw).isNaN ? "–" : String(format: "%.4f", field.value(m.raw))
            let calibrated = String(format: "%.4f", field.value(m.calibrated))
            #expect(text[1 + index].hasPrefix(label) && text[1 + index].contains(raw) && text[1 + index].contains(calibrated))
            #expect(markdown[2 + index].hasPrefix("| \(label) | \(raw)") && markdown[2 + index].contains(calibrated))
        }
        #expect(MetricField.precision.label(threshold: 0.65) == "precision at p ≥ 0.65")
        #expect(markdown[2 + 4].hasSuffix("(4 rows) |"))
    }

    @Test("report.md's test-metrics table is the shared Markdown table")
    func report() {
        let m = pair()
        let split = SplitSummary(name: "test", rows: 10, positives: 4, positiveRate: 0.4, from: "2023-08-01T00:00:00Z", to: "2023-08-01T00:09:00Z")
        let metadata = ModelMetadata(
            name: "report", featureSpecVersion: FeatureSpec.version, featureNames: FeatureSpec.names, klineOnly: true,
            labelHorizon: 3, labelThreshold: 0.002, interval: "1m", symbols: ["FILUSDT"], windowFrom: "2023-08-01T00:00:00Z",
            windowTo: "2023-08-02T00:00:00Z", splits: [split], gapCount: 0, dataHash: "", xgboostVersion: "1.7.4",
            trainingThreads: 1, configuration: ModelConfiguration(), bestIteration: 3, regressorBestIteration: 2,
            bestValidationAUC: 0.6, calibration: CalibrationChoice(method: "isotonic", heldOutECE: [:], heldOutLogLoss: [:], fittedRows: 10),
            confidenceSlices: 4, testRaw: m.raw, testCalibrated: m.calibrated, timings: [:], createdAt: "", gitCommit: ""
        )
        let report = ModelReport.markdown(metadata: metadata, importance: [:])
        #expect(report.contains("## Test metrics (data neither training nor calibration saw)\n\n" + m.markdownTable + "\n"))
    }
}
