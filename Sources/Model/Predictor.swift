import Features
import Foundation
public import LinearAlgebra
public import XGBoost

/// What the model says about one row (the spec's prediction result).
public struct PredictionResult: Codable, Equatable, Sendable {
    /// Calibrated probability that the price reaches close × (1 + θ) within H bars.
    public var probabilityUp: Double
    /// 0…1: √(|2p − 1| · agreement), agreement = |Σ m_k| / Σ |m_k| over the margins m_k that K
    /// consecutive slices of the trees add (1 when every slice pushes the same way).
    public var confidence: Double
    /// The move regressor's forward maximum return over H bars, in percent.
    public var predictedMovePct: Double
    /// The classifier's probability before calibration.
    public var rawProbability: Double
}

/// How a ``Predictor`` scores rows.
public enum Scoring: String, CaseIterable, Sendable {
    /// The saved trees compiled into flat arrays and walked in Swift (``TreeEnsemble``): the
    /// default, bit for bit XGBoost's answers without its per-call cost.
    case trees
    /// XGBoost's own predictor through its C API: the reference the compiled trees are checked
    /// against, kept so the two can always be compared (`--scoring xgboost`).
    case xgboost
}

/// A loaded model bundle ready to predict.
///
/// Not `Sendable` (it owns XGBoost handles): confine it to one task or an actor.
public final class Predictor {
    /// The bundle's metadata.
    public let metadata: ModelMetadata
    let classifier: Booster
    let regressor: Booster
    /// The calibration applied after the classifier.
    public let calibration: IsotonicCalibration
    private let slices: [Range<Int>]
    private let baseMargin: Double
    /// The two boosters compiled (nil when ``compileProblem`` says why not).
    private let compiled: (classifier: TreeEnsemble, regressor: TreeEnsemble)?
    /// Why the trees are not walked in Swift (a model the compiled walk does not reproduce exactly,
    /// or one whose answers differed from XGBoost's on the load-time probe); nil when they are.
    public let compileProblem: String?
    /// How rows are scored: ``Scoring/trees`` whenever the model compiled and passed the probe.
    public var scoring: Scoring {
        didSet { if compiled == nil { scoring = .xgboost } }
    }

    init(
        metadata: ModelMetadata,
        classifier: Booster,
        regressor: Booster,
        calibration: IsotonicCalibration,
        classifierJSON: Data,
        regressorJSON: Data
    ) throws {
        self.metadata = metadata
        self.classifier = classifier
        self.regressor = regressor
        self.calibration = calibration
        for booster in [classifier, regressor] { try booster.setParameter("nthread", "1") }
        let rounds = try classifier.boostedRounds
        let k = max(1, min(metadata.confidenceSlices, rounds))
        slices = (0..<k).map { i in (i * rounds / k)..<((i + 1) * rounds / k) }
        baseMargin = try Self.baseMargin(of: classifier)
        var problem: String?
        var compiled: (classifier: TreeEnsemble, regressor: TreeEnsemble)?
        do {
            let c = try TreeEnsemble(json: classifierJSON)
            let r = try TreeEnsemble(json: regressorJSON)
            if c.objective != .logistic || r.objective != .squaredError {
                problem = "objectives \(c.objective.rawValue) and \(r.objective.rawValue) are not a classifier and a regressor"
            } else if c.treeCount != rounds || r.featureCount != c.featureCount {
                problem = "the compiled trees do not match the boosters (\(c.treeCount) trees for \(rounds) rounds)"
            } else {
                problem = try Self.probe(classifier: (c, classifier), regressor: (r, regressor))
            }
            if problem == nil { compiled = (c, r) }
        } catch let error as JSONModelError {
            problem = error.why
        } catch {
            problem = "the probe against XGBoost failed: \(error)"
        }
        self.compiled = compiled
        compileProblem = problem
        scoring = compiled == nil ? .xgboost : .trees
    }

    /// Compares the compiled trees with XGBoost on rows made to reach every branch: each value is
    /// one of the model's own split conditions for its column (which goes right), the float just
    /// below it (left), a missing value (the default side), or a value beyond every condition.
    /// Returns what differed, or nil when every answer is identical bit for bit.
    public static func probe(
        classifier: (trees: TreeEnsemble, booster: Booster),
        regressor: (trees: TreeEnsemble, booster: Booster)
    ) throws -> String? {
        let columns = classifier.trees.featureCount
        var conditions = [[Float]](repeating: [], count: columns)
        for ensemble in [classifier.trees, regressor.trees] {
            ensemble.forEachSplit { feature, condition in conditions[feature].append(condition) }
        }
        let rows = 256
        var state: UInt64 = 0x5EED_0F_7EE5
        func next() -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int(truncatingIfNeeded: (z ^ (z >> 31)) >> 1)
        }
        var values = [Float](repeating: 0, count: rows * columns)
        for i in 0..<rows {
            for j in 0..<columns {
                let known = conditions[j]
                let pick = next() % 8
                let value: Float
                switch pick {
                case 0: value = .nan
                case 1: value = (known.max() ?? 0) + 1
                case 2: value = (known.min() ?? 0) - 1
                default:
                    let c = known.isEmpty ? 0 : known[next() % known.count]
                    value = pick % 2 == 0 ? c : c.nextDown
                }
                values[i * columns + j] = value
            }
        }
        let wantP = try classifier.booster.predict(rowMajor: values, rowCount: rows, columnCount: columns)
        let wantMove = try regressor.booster.predict(rowMajor: values, rowCount: rows, columnCount: columns)
        var mismatches = 0
        values.withUnsafeBufferPointer { all in
            for i in 0..<rows {
                let row = UnsafeBufferPointer(rebasing: all[(i * columns)..<((i + 1) * columns)])
                if classifier.trees.value(row).bitPattern != wantP[i].bitPattern { mismatches += 1 }
                if regressor.trees.value(row).bitPattern != wantMove[i].bitPattern { mismatches += 1 }
            }
        }
        return mismatches == 0 ? nil : "\(mismatches) of \(2 * rows) probe answers differ from XGBoost's"
    }

    /// Sets the threads XGBoost may use for prediction under ``Scoring/xgboost`` (1 suits single
    /// requests; cores suit batches). The compiled trees split long batches over the cores themselves.
    public func setThreads(_ count: Int) throws {
        for booster in [classifier, regressor] { try booster.setParameter("nthread", String(max(1, count))) }
    }

    /// Calibrated probabilities for every row.
    public func probabilities(_ features: Matrix<Float>) throws -> [Double] {
        let raw = try rawProbabilities(features)
        return calibration.apply(raw)
    }

    /// Uncalibrated classifier probabilities for every row.
    public func rawProbabilities(_ features: Matrix<Float>) throws -> [Double] {
        let (rows, columns) = (features.rows, features.columns)
        if scoring == .trees, let trees = compiled?.classifier, columns == trees.featureCount {
            var margins = [Float](repeating: 0, count: rows)
            features.storage.withUnsafeBufferPointer { all in
                margins.withUnsafeMutableBufferPointer { trees.margins(rows: all, count: rows, into: $0) }
            }
            return margins.map { Double(trees.output($0)) }
        }
        return try classifier.predict(rowMajor: features.storage, rowCount: rows, columnCount: columns).map(Double.init)
    }

    /// The calibrated probability of one row of 42 features.
    public func probability(_ row: [Float]) throws -> Double {
        if scoring == .trees, let trees = compiled?.classifier, row.count == trees.featureCount {
            return calibration.apply(Double(row.withUnsafeBufferPointer { trees.value($0) }))
        }
        return try probabilities(Matrix(rows: 1, columns: row.count, storage: row))[0]
    }

    /// Full prediction results for every row of `features`.
    public func predict(_ features: Matrix<Float>) throws -> [PredictionResult] {
        let (rows, columns, values) = (features.rows, features.columns, features.storage)
        guard rows > 0 else { return [] }
        if scoring == .trees, let compiled, columns == compiled.classifier.featureCount {
            // One pass a row: the classifier's margin and its slices' together, then the regressor.
            return values.withUnsafeBufferPointer { all in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: slices.count) { parts in
                    (0..<rows).map { i in
                        let row = UnsafeBufferPointer(rebasing: all[(i * columns)..<((i + 1) * columns)])
                        let margin = compiled.classifier.margins(row, slices: slices, into: parts)
                        var signed = 0.0
                        var absolute = 0.0
                        for m in parts {
                            let d = Double(m) - baseMargin
                            signed += d
                            absolute += abs(d)
                        }
                        return result(
                            raw: compiled.classifier.output(margin),
                            move: compiled.regressor.value(row),
                            signed: signed,
                            absolute: absolute
                        )
                    }
                }
            }
        }
        let raw = try classifier.predict(rowMajor: values, rowCount: rows, columnCount: columns)
        let moves = try regressor.predict(rowMajor: values, rowCount: rows, columnCount: columns)
        var signed = [Double](repeating: 0, count: rows)
        var absolute = [Double](repeating: 0, count: rows)
        for slice in slices {
            let margins = try classifier.predict(rowMajor: values, rowCount: rows, columnCount: columns, kind: .margin, iterations: slice)
            for i in 0..<rows {
                let m = Double(margins[i]) - baseMargin
                signed[i] += m
                absolute[i] += abs(m)
            }
        }
        return (0..<rows).map { i in result(raw: raw[i], move: moves[i], signed: signed[i], absolute: absolute[i]) }
    }

    /// A row's result from the classifier's probability, the regressor's move and the sums of
    /// the slices' margins (from the base margin) and of their magnitudes.
    private func result(raw: Float, move: Float, signed: Double, absolute: Double) -> PredictionResult {
        let p = calibration.apply(Double(raw))
        let agreement = absolute > 0 ? abs(signed) / absolute : 0
        return PredictionResult(
            probabilityUp: p,
            confidence: (abs(2 * p - 1) * agreement).squareRoot(),
            predictedMovePct: Double(move) * 100,
            rawProbability: Double(raw)
        )
    }

    /// Full results only for rows whose calibrated probability is at least `threshold`; nil elsewhere.
    ///
    /// A backtest needs confidence and move only where a signal is possible, which is rarely more
    /// than a few percent of rows: every row gets its probability, the few the rest.
    public func predict(_ features: Matrix<Float>, whereProbabilityAtLeast threshold: Double) throws -> [PredictionResult?] {
        try scored(features, whereProbabilityAtLeast: threshold).results
    }

    /// Every row's calibrated probability, and the full result of the rows at or above `threshold`
    /// (nil elsewhere): the one scoring rule of backtests and sessions.
    public func scored(
        _ features: Matrix<Float>,
        whereProbabilityAtLeast threshold: Double
    ) throws -> (probabilities: [Double], results: [PredictionResult?]) {
        let calibrated = try probabilities(features)
        let selected = calibrated.indices.filter { calibrated[$0] >= threshold }
        var out = [PredictionResult?](repeating: nil, count: features.rows)
        guard !selected.isEmpty else { return (calibrated, out) }
        let full = try predict(features.rows(at: selected))
        for (i, row) in selected.enumerated() { out[row] = full[i] }
        return (calibrated, out)
    }

    /// The full prediction for one row.
    public func predict(row: [Float]) throws -> PredictionResult {
        try predict(Matrix(rows: 1, columns: row.count, storage: row))[0]
    }

    /// logit(base_score) of a binary:logistic booster: what every margin starts from.
    static func baseMargin(of booster: Booster) throws -> Double {
        let config = try booster.jsonConfiguration()
        guard let object = try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any],
            let learner = object["learner"] as? [String: Any],
            let parameters = learner["learner_model_param"] as? [String: Any],
            let text = parameters["base_score"] as? String
        else { throw ModelError.library("cannot read base_score from the booster configuration") }
        let trimmed = text.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        guard let p = Double(trimmed), p > 0, p < 1 else { throw ModelError.library("base_score '\(text)' is not a probability") }
        return log(p / (1 - p))
    }
}
