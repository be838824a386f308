import Crypto
public import Features
import Foundation
public import LinearAlgebra
public import ScalperCore

/// Model-ready rows: features (Float, NaN = missing), labels and forward moves, in time order per symbol.
public struct LabeledRows: Sendable {
    /// rows × 42 features.
    public var features: Matrix<Float>
    /// 0/1 labels.
    public var labels: [Double]
    /// Forward maximum return over the label's horizon in bars (fraction).
    public var moves: [Double]
    /// Open time of each row's bar.
    public var openTimes: [Int64]
    /// Index into ``symbols`` of each row.
    public var symbolIndex: [Int]
    /// The symbols the rows come from.
    public var symbols: [String]

    /// Number of rows.
    public var count: Int { labels.count }

    /// Share of positive labels.
    public var positiveRate: Double { labels.isEmpty ? .nan : labels.reduce(0, +) / Double(labels.count) }

    /// The rows at `indices`.
    public func subset(_ indices: [Int]) -> LabeledRows {
        LabeledRows(
            features: features.rows(at: indices),
            labels: indices.map { labels[$0] },
            moves: indices.map { moves[$0] },
            openTimes: indices.map { openTimes[$0] },
            symbolIndex: indices.map { symbolIndex[$0] },
            symbols: symbols
        )
    }

    /// The labels as `Float` for XGBoost.
    public var floatLabels: [Float] { labels.map(Float.init) }
    /// The moves as `Float` for XGBoost.
    public var floatMoves: [Float] { moves.map(Float.init) }
}

/// One split's extent and balance, recorded in the model metadata.
public struct SplitSummary: Codable, Equatable, Sendable {
    /// `train`, `validation` or `test`.
    public var name: String
    /// Rows.
    public var rows: Int
    /// Positive labels.
    public var positives: Int
    /// Share of positive labels.
    public var positiveRate: Double
    /// First bar time in the split (ISO 8601).
    public var from: String
    /// Last bar time in the split (ISO 8601).
    public var to: String

    /// Creates a summary.
    public init(name: String, rows: Int, positives: Int, positiveRate: Double, from: String, to: String) {
        self.name = name
        self.rows = rows
        self.positives = positives
        self.positiveRate = positiveRate
        self.from = from
        self.to = to
    }
}

/// The pooled dataset split by time.
public struct PooledDataset: Sendable {
    /// Training rows (bar time < first boundary).
    public var train: LabeledRows
    /// Validation rows (first boundary + purge ≤ time < second boundary).
    public var validation: LabeledRows
    /// Test rows (time ≥ second boundary + purge).
    public var test: LabeledRows
    /// Summaries in train, validation, test order.
    public var splits: [SplitSummary]
    /// SHA-256 of the rows the model learns from (train and validation features and labels).
    public var dataHash: String
    /// Gaps found in the input (each restarted the features' warm-up).
    public var gapCount: Int

    /// A dataset from parts split elsewhere (a retrain's windows).
    public init(train: LabeledRows, validation: LabeledRows, test: LabeledRows, splits: [SplitSummary], dataHash: String, gapCount: Int) {
        self.train = train
        self.validation = validation
        self.test = test
        self.splits = splits
        self.dataHash = dataHash
        self.gapCount = gapCount
    }
}

/// How a feature table is computed from one symbol's bars: ``FeatureSource/batch`` (the one
/// kernel) everywhere; the leakage guards' tests pass a deliberately leaky one to see it caught.
public struct FeatureSource: Sendable {
    /// The computation.
    public var compute: @Sendable ([Kline], KlineInterval, LabelSpec?) throws -> FeatureTable

    /// A source from a closure.
    public init(_ compute: @escaping @Sendable ([Kline], KlineInterval, LabelSpec?) throws -> FeatureTable) {
        self.compute = compute
    }

    /// The batch kernel (``BatchFeatures``).
    public static let batch = FeatureSource { klines, interval, label in
        try BatchFeatures.compute(klines, interval: interval, label: label)
    }
}

/// Builds model-ready rows from klines and splits them by time.
public enum DatasetBuilder {
    /// Features, labels and moves for several symbols pooled, dropping each segment's warm-up rows
    /// and rows whose label horizon runs past the data.
    public static func rows(
        from series: [(symbol: String, klines: [Kline])],
        interval: KlineInterval,
        configuration: ModelConfiguration,
        features source: FeatureSource = .batch
    ) throws -> (rows: LabeledRows, gapCount: Int) {
        let spec = configuration.labelSpec(interval: interval)
        var storage: [Float] = []
        var labels: [Double] = []
        var moves: [Double] = []
        var times: [Int64] = []
        var symbolIndex: [Int] = []
        var gaps = 0
        for (s, entry) in series.enumerated() {
            let table = try source.compute(entry.klines, interval, spec)
            gaps += table.gapCount
            let forward = Labels.forwardMaxReturn(entry.klines, horizon: spec.horizon, segmentStarts: table.segmentStarts)
            // Non-nil: a label was asked for.
            let y = table.labels!
            let isPastWarmup = table.isPastWarmup(warmupBars: configuration.warmupBars)
            for i in 0..<entry.klines.count {
                guard isPastWarmup[i], !y[i].isNaN else { continue }
                for value in table.features.row(i) { storage.append(Float(value)) }
                labels.append(y[i])
                moves.append(forward[i])
                times.append(entry.klines[i].openTime)
                symbolIndex.append(s)
            }
        }
        let rows = LabeledRows(
            features: Matrix(rows: labels.count, columns: FeatureSpec.count, storage: storage),
            labels: labels,
            moves: moves,
            openTimes: times,
            symbolIndex: symbolIndex,
            symbols: series.map(\.symbol)
        )
        return (rows, gaps)
    }

    /// Splits pooled rows by time across all symbols.
    ///
    /// With T the sorted distinct bar times, c1 = T[⌊train·|T|⌋] and c2 = T[⌊validation·|T|⌋]:
    /// train is t < c1, validation c1 + H bars ≤ t < c2, test t ≥ c2 + H bars (H: the label's
    /// horizon, ``ModelConfiguration/labelHorizonBars(interval:)``), so no label window crosses a split.
    public static func split(
        _ rows: LabeledRows,
        interval: KlineInterval,
        configuration: ModelConfiguration,
        gapCount: Int = 0
    ) throws(ModelError) -> PooledDataset {
        let distinct = Array(Set(rows.openTimes)).sorted()
        guard distinct.count >= 200 else {
            throw .insufficientData("\(rows.count) usable rows over \(distinct.count) bar times; need at least 200 bar times to split 70/15/15")
        }
        let c1 = distinct[Int(Double(distinct.count) * configuration.trainFraction)]
        let c2 = distinct[Int(Double(distinct.count) * configuration.validationFraction)]
        return try split(rows, trainEnd: c1, validationEnd: c2, testEnd: .max, interval: interval, configuration: configuration, gapCount: gapCount)
    }

    /// Splits at explicit times: train t < `trainEnd`, validation `trainEnd` + H bars ≤ t <
    /// `validationEnd`, test `validationEnd` + H bars ≤ t < `testEnd` (walk-forward windows).
    public static func split(
        _ rows: LabeledRows,
        trainEnd c1: Int64,
        validationEnd c2: Int64,
        testEnd: Int64,
        interval: KlineInterval,
        configuration: ModelConfiguration,
        gapCount: Int = 0
    ) throws(ModelError) -> PooledDataset {
        let purge = Int64(configuration.labelHorizonBars(interval: interval)) * interval.milliseconds
        var trainIndex: [Int] = []
        var validationIndex: [Int] = []
        var testIndex: [Int] = []
        for (i, t) in rows.openTimes.enumerated() {
            if t < c1 {
                trainIndex.append(i)
            } else if t >= c1 + purge && t < c2 {
                validationIndex.append(i)
            } else if t >= c2 + purge && t < testEnd {
                testIndex.append(i)
            }
        }
        let parts = [("train", trainIndex), ("validation", validationIndex), ("test", testIndex)].map { ($0.0, rows.subset($0.1)) }
        var summaries: [SplitSummary] = []
        for (name, part) in parts {
            let positives = Int(part.labels.reduce(0, +))
            guard part.count >= 50 else { throw .insufficientData("the \(name) split has \(part.count) rows; need at least 50") }
            guard positives > 0 && positives < part.count else {
                throw .singleClass("every label in the \(name) split is \(positives == 0 ? 0 : 1) (\(part.count) rows)")
            }
            summaries.append(
                SplitSummary(
                    name: name,
                    rows: part.count,
                    positives: positives,
                    positiveRate: part.positiveRate,
                    from: UTC.isoString(part.openTimes.min() ?? 0),
                    to: UTC.isoString(part.openTimes.max() ?? 0)
                )
            )
        }
        return PooledDataset(
            train: parts[0].1,
            validation: parts[1].1,
            test: parts[2].1,
            splits: summaries,
            dataHash: hash([parts[0].1, parts[1].1]),
            gapCount: gapCount
        )
    }

    /// SHA-256 (hex) of the features and labels of `parts`.
    public static func hash(_ parts: [LabeledRows]) -> String {
        var hasher = SHA256()
        for part in parts {
            part.features.storage.withUnsafeBytes { hasher.update(bufferPointer: $0) }
            part.labels.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
