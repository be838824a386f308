import Features
import Foundation
public import LinearAlgebra
import XGBoost

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
    /// The two boosters' trees walked in Swift (nil: the model is not one the walk reproduces
    /// exactly; every path then calls XGBoost).
    private let walk: (classifier: TreeEnsemble, regressor: TreeEnsemble)?
    /// Batches up to this many rows are walked in Swift; larger ones go to XGBoost, whose threads
    /// pay off there.
    public static let walkRows = 64

    init(metadata: ModelMetadata, classifier: Booster, regressor: Booster, calibration: IsotonicCalibration) throws {
        self.metadata = metadata
        self.classifier = classifier
        self.regressor = regressor
        self.calibration = calibration
        for booster in [classifier, regressor] { try booster.setParameter("nthread", "1") }
        let rounds = try classifier.boostedRounds
        let k = max(1, min(metadata.confidenceSlices, rounds))
        slices = (0..<k).map { i in (i * rounds / k)..<((i + 1) * rounds / k) }
        baseMargin = try Self.baseMargin(of: classifier)
        let c = try? TreeEnsemble(json: Data(classifier.serialized()))
        let r = try? TreeEnsemble(json: Data(regressor.serialized()))
        if let c, let r, c.objective == .logistic, c.treeCount == rounds, r.featureCount == c.featureCount {
            walk = (c, r)
        } else {
            walk = nil
        }
    }

    /// Whether `rows` rows are walked in Swift.
    private func walks(_ rows: Int) -> (classifier: TreeEnsemble, regressor: TreeEnsemble)? {
        rows <= Self.walkRows ? walk : nil
    }

    /// Sets the threads XGBoost may use for prediction (1 suits single requests; cores suit batches).
    public func setThreads(_ count: Int) throws {
        for booster in [classifier, regressor] { try booster.setParameter("nthread", String(max(1, count))) }
    }

    /// Calibrated probabilities for every row (the fast path: one booster call).
    public func probabilities(_ features: Matrix<Float>) throws -> [Double] {
        let raw = try rawProbabilities(features)
        return calibration.apply(raw)
    }

    /// Uncalibrated classifier probabilities for every row.
    public func rawProbabilities(_ features: Matrix<Float>) throws -> [Double] {
        if let walk = walks(features.rows), features.columns == walk.classifier.featureCount {
            return features.storage.withUnsafeBufferPointer { all in
                (0..<features.rows).map { i in
                    Double(walk.classifier.value(UnsafeBufferPointer(rebasing: all[(i * features.columns)..<((i + 1) * features.columns)])))
                }
            }
        }
        return try classifier.predict(rowMajor: features.storage, rowCount: features.rows, columnCount: features.columns).map(Double.init)
    }

    /// The calibrated probability of one row of 42 features.
    public func probability(_ row: [Float]) throws -> Double {
        try probabilities(Matrix(rows: 1, columns: row.count, storage: row))[0]
    }

    /// Full prediction results for every row of `features`.
    public func predict(_ features: Matrix<Float>) throws -> [PredictionResult] {
        let (rows, columns, values) = (features.rows, features.columns, features.storage)
        guard rows > 0 else { return [] }
        var raw: [Float]
        var moves: [Float]
        var signed = [Double](repeating: 0, count: rows)
        var absolute = [Double](repeating: 0, count: rows)
        if let walk = walks(rows), columns == walk.classifier.featureCount {
            // The same numbers as the calls below, without their fixed cost (see TreeEnsemble).
            (raw, moves) = values.withUnsafeBufferPointer { all in
                var raw = [Float](repeating: 0, count: rows)
                var moves = [Float](repeating: 0, count: rows)
                for i in 0..<rows {
                    let row = UnsafeBufferPointer(rebasing: all[(i * columns)..<((i + 1) * columns)])
                    raw[i] = walk.classifier.value(row)
                    moves[i] = walk.regressor.value(row)
                    for slice in slices {
                        let m = Double(walk.classifier.margin(row, trees: slice)) - baseMargin
                        signed[i] += m
                        absolute[i] += abs(m)
                    }
                }
                return (raw, moves)
            }
        } else {
            raw = try classifier.predict(rowMajor: values, rowCount: rows, columnCount: columns)
            moves = try regressor.predict(rowMajor: values, rowCount: rows, columnCount: columns)
            for slice in slices {
                let margins = try classifier.predict(rowMajor: values, rowCount: rows, columnCount: columns, kind: .margin, iterations: slice)
                for i in 0..<rows {
                    let m = Double(margins[i]) - baseMargin
                    signed[i] += m
                    absolute[i] += abs(m)
                }
            }
        }
        return (0..<rows).map { i in
            let p = calibration.apply(Double(raw[i]))
            let agreement = absolute[i] > 0 ? abs(signed[i]) / absolute[i] : 0
            return PredictionResult(
                probabilityUp: p,
                confidence: (abs(2 * p - 1) * agreement).squareRoot(),
                predictedMovePct: Double(moves[i]) * 100,
                rawProbability: Double(raw[i])
            )
        }
    }

    /// Full results only for rows whose calibrated probability is at least `threshold`; nil elsewhere.
    ///
    /// A backtest needs confidence and move only where a signal is possible, which is rarely more
    /// than a few percent of rows: one booster call scores every row, five more score the few.
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
