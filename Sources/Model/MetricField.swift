import Foundation

/// One test metric, named once for every output: its label in the terminal tables and `report.md`,
/// and the JSON keys of its value before and after calibration.
///
/// The keys are the ones README documents for `scalper train --json` (`auc, logloss, brier, ece_raw,
/// ece_calibrated, precision_at_threshold`, …). A bare key holds the figure users act on: the
/// calibrated one, except `auc`, which is the raw model's ranking quality (isotonic calibration
/// flattens scores into ties and so lowers AUC without changing the model).
public struct MetricField: Sendable {
    /// The label in tables and `report.md`, e.g. `ECE (10 bins)`.
    public let name: String
    /// The JSON key of the uncalibrated value.
    public let rawKey: String
    /// The JSON key of the calibrated value.
    public let calibratedKey: String
    /// True for precision: its label names the threshold and its cells the rows above it.
    public let isAtThreshold: Bool
    private let read: @Sendable (ClassificationMetrics) -> Double

    init(
        name: String,
        rawKey: String,
        calibratedKey: String,
        isAtThreshold: Bool = false,
        read: @escaping @Sendable (ClassificationMetrics) -> Double
    ) {
        self.name = name
        self.rawKey = rawKey
        self.calibratedKey = calibratedKey
        self.isAtThreshold = isAtThreshold
        self.read = read
    }

    /// The metric's value in `metrics`.
    public func value(_ metrics: ClassificationMetrics) -> Double { read(metrics) }

    /// The label for metrics computed at `threshold` (`precision at p ≥ 0.65`).
    public func label(threshold: Double) -> String {
        isAtThreshold ? "\(name) at p ≥ \(String(format: "%.2f", threshold))" : name
    }

    /// ROC AUC.
    public static let auc = MetricField(name: "AUC", rawKey: "auc", calibratedKey: "auc_calibrated") { $0.auc }
    /// Mean log-loss.
    public static let logLoss = MetricField(name: "log-loss", rawKey: "logloss_raw", calibratedKey: "logloss") { $0.logLoss }
    /// Brier score.
    public static let brier = MetricField(name: "Brier", rawKey: "brier_raw", calibratedKey: "brier") { $0.brier }
    /// Expected calibration error.
    public static let ece = MetricField(name: "ECE (10 bins)", rawKey: "ece_raw", calibratedKey: "ece_calibrated") { $0.ece }
    /// Precision among rows at or above the threshold.
    public static let precision = MetricField(
        name: "precision",
        rawKey: "precision_at_threshold_raw",
        calibratedKey: "precision_at_threshold",
        isAtThreshold: true
    ) { $0.precisionAtThreshold }

    /// Every metric, in the order tables list them.
    public static let all: [MetricField] = [auc, logLoss, brier, ece, precision]

    /// JSON key of the rows at or above the threshold (calibrated).
    public static let countAtThresholdKey = "count_at_threshold"
    /// JSON key of the threshold.
    public static let thresholdKey = "threshold"
    /// JSON key of the share of positive labels.
    public static let positiveRateKey = "positive_rate"
}

/// Test metrics before and after calibration, and the one way every output shows them.
public struct CalibratedMetrics: Sendable {
    /// Metrics of the raw classifier probabilities.
    public var raw: ClassificationMetrics
    /// Metrics of the calibrated probabilities.
    public var calibrated: ClassificationMetrics

    /// Creates the pair.
    public init(raw: ClassificationMetrics, calibrated: ClassificationMetrics) {
        self.raw = raw
        self.calibrated = calibrated
    }

    /// Every metric under its ``MetricField`` keys, plus `threshold`, `count_at_threshold` and
    /// `positive_rate`, as a `JSONSerialization` object. An undefined value (NaN, e.g. precision with
    /// no row above the threshold) is `NSNull`, which JSON writes as `null`.
    public var jsonObject: [String: Any] {
        func defined(_ x: Double) -> Any { x.isNaN ? NSNull() : x }
        var object: [String: Any] = [:]
        for field in MetricField.all {
            object[field.rawKey] = defined(field.value(raw))
            object[field.calibratedKey] = defined(field.value(calibrated))
        }
        object[MetricField.thresholdKey] = calibrated.threshold
        object[MetricField.countAtThresholdKey] = calibrated.countAtThreshold
        object[MetricField.positiveRateKey] = defined(calibrated.positiveRate)
        return object
    }

    /// One row per metric, values to 4 decimals (`–` when undefined); precision cells carry the
    /// number of rows they are over.
    public var rows: [(label: String, raw: String, calibrated: String)] {
        func format(_ x: Double) -> String { x.isNaN ? "–" : String(format: "%.4f", x) }
        return MetricField.all.map { field in
            func cell(_ m: ClassificationMetrics) -> String {
                field.isAtThreshold ? "\(format(field.value(m))) (\(m.countAtThreshold) rows)" : format(field.value(m))
            }
            return (field.label(threshold: calibrated.threshold), cell(raw), cell(calibrated))
        }
    }

    /// The metrics as a Markdown table (`report.md`).
    public var markdownTable: String {
        var lines = ["| metric | raw | calibrated |", "|---|---|---|"]
        for row in rows { lines.append("| \(row.label) | \(row.raw) | \(row.calibrated) |") }
        return lines.joined(separator: "\n")
    }

    /// The metrics as an aligned plain-text table (the terminal), followed by `footer` lines
    /// (label, text) in the same label column.
    public func textTable(footer: [(label: String, text: String)] = []) -> String {
        let width = max(20, (rows.map(\.label) + footer.map(\.label)).map(\.count).max() ?? 0) + 2
        let rawWidth = max(10, rows.map(\.raw.count).max() ?? 0) + 2
        func pad(_ text: String, _ count: Int) -> String { text.padding(toLength: count, withPad: " ", startingAt: 0) }
        var lines = [pad("metric", width) + pad("raw", rawWidth) + "calibrated"]
        for row in rows { lines.append(pad(row.label, width) + pad(row.raw, rawWidth) + row.calibrated) }
        for line in footer { lines.append(pad(line.label, width) + line.text) }
        return lines.joined(separator: "\n")
    }
}
