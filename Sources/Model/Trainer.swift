import Features
import Foundation
import LinearAlgebra
public import XGBoost

/// One boosting round as training reports it.
public struct TrainingProgress: Sendable {
    /// `classifier` or `move regressor`.
    public var stage: String
    /// The round just finished (0-based).
    public var round: Int
    /// Validation metric after this round (AUC for the classifier, RMSE for the regressor).
    public var validationMetric: Double
    /// The best round so far.
    public var bestRound: Int
    /// The most rounds training will run.
    public var maxRounds: Int
}

/// How each calibration candidate did on held-out validation rows.
public struct CalibrationChoice: Codable, Equatable, Sendable {
    /// The method chosen (`isotonic`, `isotonic-recent` or `none`).
    public var method: String
    /// Held-out ECE of every candidate (fitted on the earlier 60 % of validation, scored on the last 40 %).
    public var heldOutECE: [String: Double]
    /// Held-out log-loss of every candidate.
    public var heldOutLogLoss: [String: Double]
    /// Validation rows the final calibration was fitted on.
    public var fittedRows: Int

    /// Creates a record of a calibration choice.
    public init(method: String, heldOutECE: [String: Double], heldOutLogLoss: [String: Double], fittedRows: Int) {
        self.method = method
        self.heldOutECE = heldOutECE
        self.heldOutLogLoss = heldOutLogLoss
        self.fittedRows = fittedRows
    }
}

/// What training produced.
public struct TrainedModel {
    /// The classifier, trees up to the best round only.
    public var classifier: Booster
    /// The forward-move regressor, trees up to its best round only.
    public var regressor: Booster
    /// Best classifier round (0-based).
    public var bestIteration: Int
    /// Best regressor round (0-based).
    public var regressorBestIteration: Int
    /// Best validation AUC.
    public var bestValidationAUC: Double
    /// The calibration applied after the classifier.
    public var calibration: IsotonicCalibration
    /// How the calibration was chosen.
    public var calibrationChoice: CalibrationChoice
    /// Test metrics before calibration.
    public var testRaw: ClassificationMetrics
    /// Test metrics after calibration.
    public var testCalibrated: ClassificationMetrics
    /// Validation metrics after calibration (in-sample for the calibrator).
    public var validationCalibrated: ClassificationMetrics
    /// Seconds per stage.
    public var timings: [String: Double]
}

/// Trains the classifier and the move regressor with early stopping, then calibrates.
public enum Trainer {
    /// Trains on `dataset.train`, stops early on `dataset.validation`, calibrates on validation and
    /// reports on `dataset.test`, which neither training nor calibration has seen.
    public static func train(
        _ dataset: PooledDataset,
        configuration: ModelConfiguration,
        progress: (TrainingProgress) -> Void = { _ in }
    ) throws -> TrainedModel {
        try configuration.validate()
        var timings: [String: Double] = [:]
        let clock = ContinuousClock()
        let columns = dataset.train.features.columns

        var start = clock.now
        let train = try DMatrix(rowMajor: dataset.train.features.storage, rowCount: dataset.train.count, columnCount: columns)
        try train.setLabels(dataset.train.floatLabels)
        let validation = try DMatrix(
            rowMajor: dataset.validation.features.storage,
            rowCount: dataset.validation.count,
            columnCount: columns
        )
        try validation.setLabels(dataset.validation.floatLabels)
        timings["dmatrix_s"] = seconds(clock.now - start)

        start = clock.now
        let (classifier, best, bestAUC) = try boost(
            stage: "classifier",
            train: train,
            validation: validation,
            parameters: configuration.classifierParameters,
            metric: "validation-auc",
            higherIsBetter: true,
            configuration: configuration,
            progress: progress
        )
        timings["classifier_s"] = seconds(clock.now - start)

        // Validation scores first: the same matrices then take the move targets for the regressor,
        // which saves a second copy of the data inside XGBoost.
        let validationRaw = try classifier.predict(validation).map(Double.init)
        start = clock.now
        let finiteMoves = dataset.train.moves.filter(\.isFinite)
        let meanMove = finiteMoves.isEmpty ? 0 : finiteMoves.reduce(0, +) / Double(finiteMoves.count)
        try train.setLabels(dataset.train.floatMoves)
        try validation.setLabels(dataset.validation.floatMoves)
        let (regressor, regressorBest, _) = try boost(
            stage: "move regressor",
            train: train,
            validation: validation,
            // Start from the mean move rather than XGBoost's default 0.5, which is far off a return.
            parameters: configuration.regressorParameters + [("base_score", String(meanMove))],
            metric: "validation-rmse",
            higherIsBetter: false,
            configuration: configuration,
            progress: progress
        )
        timings["regressor_s"] = seconds(clock.now - start)

        start = clock.now
        let (calibration, choice) = chooseCalibration(
            scores: validationRaw,
            labels: dataset.validation.labels,
            times: dataset.validation.openTimes,
            candidates: configuration.calibrationCandidates
        )
        timings["calibration_s"] = seconds(clock.now - start)

        start = clock.now
        let test = try DMatrix(rowMajor: dataset.test.features.storage, rowCount: dataset.test.count, columnCount: columns)
        let testRaw = try classifier.predict(test).map(Double.init)
        let threshold = configuration.threshold
        let result = TrainedModel(
            classifier: classifier,
            regressor: regressor,
            bestIteration: best,
            regressorBestIteration: regressorBest,
            bestValidationAUC: bestAUC,
            calibration: calibration,
            calibrationChoice: choice,
            testRaw: Metrics.classification(testRaw, dataset.test.labels, threshold: threshold),
            testCalibrated: Metrics.classification(calibration.apply(testRaw), dataset.test.labels, threshold: threshold),
            validationCalibrated: Metrics.classification(
                calibration.apply(validationRaw),
                dataset.validation.labels,
                threshold: threshold
            ),
            timings: timings
        )
        timings["evaluation_s"] = seconds(clock.now - start)
        var withTimings = result
        withTimings.timings = timings
        return withTimings
    }

    private static func boost(
        stage: String,
        train: DMatrix,
        validation: DMatrix,
        parameters: [(String, String)],
        metric: String,
        higherIsBetter: Bool,
        configuration: ModelConfiguration,
        progress: (TrainingProgress) -> Void
    ) throws -> (Booster, Int, Double) {
        let booster = try Booster(cache: [train, validation], parameters: parameters)
        var best = higherIsBetter ? -Double.infinity : Double.infinity
        var bestRound = 0
        for round in 0..<configuration.maxRounds {
            try booster.update(iteration: round, train: train)
            guard let value = try booster.evaluate(iteration: round, on: [("validation", validation)])[metric] else {
                throw ModelError.library("no \(metric) in the evaluation output")
            }
            if higherIsBetter ? value > best : value < best {
                best = value
                bestRound = round
            }
            progress(
                TrainingProgress(stage: stage, round: round, validationMetric: value, bestRound: bestRound, maxRounds: configuration.maxRounds)
            )
            if round - bestRound >= configuration.earlyStoppingRounds { break }
        }
        return (try booster.sliced(0..<(bestRound + 1)), bestRound, best)
    }

    /// Picks the calibration that does best on held-out validation rows, then refits it on all of them.
    ///
    /// Candidates are fitted on the earliest 60 % of validation (by bar time) and scored on the
    /// latest 40 %: `isotonic` uses all of that 60 %, `isotonic-recent` its most recent half (closer
    /// to the data it will meet), `none` leaves scores as they are. The lowest held-out ECE wins
    /// (log-loss breaks ties). The winner is refitted on the whole validation split
    /// (`isotonic-recent`: its most recent half).
    public static func chooseCalibration(
        scores: [Double],
        labels: [Double],
        times: [Int64],
        candidates: [String]
    ) -> (IsotonicCalibration, CalibrationChoice) {
        let order = scores.indices.sorted { times[$0] < times[$1] }
        let cut = order.count * 6 / 10
        let fitPart = Array(order[..<cut])
        let heldOut = Array(order[cut...])
        func fit(_ method: String, on indices: [Int]) -> IsotonicCalibration {
            switch method {
            case "isotonic":
                return IsotonicCalibration.fit(scores: indices.map { scores[$0] }, labels: indices.map { labels[$0] })
            case "isotonic-recent":
                let recent = Array(indices[(indices.count / 2)...])
                return IsotonicCalibration.fit(scores: recent.map { scores[$0] }, labels: recent.map { labels[$0] })
            default:
                return .identity
            }
        }
        var eces: [String: Double] = [:]
        var losses: [String: Double] = [:]
        let heldScores = heldOut.map { scores[$0] }
        let heldLabels = heldOut.map { labels[$0] }
        for method in candidates {
            let p = fit(method, on: fitPart).apply(heldScores)
            eces[method] = Metrics.ece(p, heldLabels)
            losses[method] = Metrics.logLoss(p, heldLabels)
        }
        let winner = candidates.min { a, b in
            let (ea, eb) = (eces[a] ?? .infinity, eces[b] ?? .infinity)
            return ea != eb ? ea < eb : (losses[a] ?? .infinity) < (losses[b] ?? .infinity)
        } ?? "none"
        let final = fit(winner, on: order)
        let fitted = winner == "none" ? 0 : (winner == "isotonic-recent" ? order.count - order.count / 2 : order.count)
        return (final, CalibrationChoice(method: winner, heldOutECE: eces, heldOutLogLoss: losses, fittedRows: fitted))
    }

    /// A duration in seconds.
    public static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
