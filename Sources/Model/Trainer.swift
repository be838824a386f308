public import Features
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

/// The signal threshold chosen for a model on its validation rows, and why.
public struct SignalThresholdChoice: Codable, Equatable, Sendable {
    /// The calibrated probability from which signals are taken.
    public var threshold: Double
    /// How it was chosen, in words (recorded in the bundle and its report).
    public var rule: String
    /// Validation rows at or above it.
    public var validationSignals: Int
    /// Their share of positive labels (NaN with none).
    public var validationPrecision: Double

    /// Creates a record of a threshold choice.
    public init(threshold: Double, rule: String, validationSignals: Int, validationPrecision: Double) {
        self.threshold = threshold
        self.rule = rule
        self.validationSignals = validationSignals
        self.validationPrecision = validationPrecision
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
    /// The classifier's AUC on its own training rows (in-sample): far above the held-out AUC
    /// means memorised rows or a leak.
    public var trainAUC: Double
    /// The signal threshold chosen on the calibration (validation) rows, never on test rows.
    public var signalThreshold: SignalThresholdChoice
}

/// Trains the classifier and the move regressor with early stopping, then calibrates.
public enum Trainer {
    /// Trains on `dataset.train`, stops early on `dataset.validation`, calibrates on validation and
    /// reports on `dataset.test`, which neither training nor calibration has seen.
    ///
    /// - Parameters:
    ///   - calibrationRows: rows to calibrate on instead of `dataset.validation` (a retrain's
    ///     calibration days, after the early-stopping tail); nil: calibrate on validation.
    ///   - shuffleLabelsSeed: train (and stop early) on labels permuted at random with this seed:
    ///     the shuffled-label canary, which must score near AUC 0.5 on any held-out rows.
    public static func train(
        _ dataset: PooledDataset,
        configuration: ModelConfiguration,
        calibrationRows: LabeledRows? = nil,
        shuffleLabelsSeed: UInt64? = nil,
        progress: (TrainingProgress) -> Void = { _ in }
    ) throws -> TrainedModel {
        try configuration.validate()
        var dataset = dataset
        if let seed = shuffleLabelsSeed {
            var generator = SplitMix64(seed: seed)
            dataset.train.labels.shuffle(using: &generator)
            dataset.validation.labels.shuffle(using: &generator)
        }
        var timings: [String: Double] = [:]
        let clock = ContinuousClock()
        let columns = dataset.train.features.columns
        let threads = configuration.effectiveThreads

        var start = clock.now
        let train = try DMatrix(rowMajor: dataset.train.features.storage, rowCount: dataset.train.count, columnCount: columns, threads: threads)
        try train.setLabels(dataset.train.floatLabels)
        let validation = try DMatrix(
            rowMajor: dataset.validation.features.storage,
            rowCount: dataset.validation.count,
            columnCount: columns,
            threads: threads
        )
        try validation.setLabels(dataset.validation.floatLabels)
        timings["dmatrix_s"] = seconds(clock.now - start)

        start = clock.now
        let classifierRun = try boost(
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

        // Before the regressor reuses the matrices (and their quantised copy) with move targets.
        start = clock.now
        let trainAUC = Metrics.auc(try classifierRun.trainMargins(train).map(Double.init), dataset.train.labels)
        timings["train_auc_s"] = seconds(clock.now - start)

        start = clock.now
        let finiteMoves = dataset.train.moves.filter(\.isFinite)
        let meanMove = finiteMoves.isEmpty ? 0 : finiteMoves.reduce(0, +) / Double(finiteMoves.count)
        try train.setLabels(dataset.train.floatMoves)
        try validation.setLabels(dataset.validation.floatMoves)
        let regressorRun = try boost(
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

        let classifier = try classifierRun.best()
        let regressor = try regressorRun.best()
        start = clock.now
        let calibrationSet = calibrationRows ?? dataset.validation
        let calibrationRaw: [Double]
        if let calibrationRows {
            calibrationRaw = try classifier.predict(
                rowMajor: calibrationRows.features.storage,
                rowCount: calibrationRows.count,
                columnCount: columns
            ).map(Double.init)
        } else if classifierRun.bestValidationScores.count == dataset.validation.count {
            // The validation scores XGBoost kept while boosting, at the best round: the same trees
            // summed in the same order as a fresh prediction of the sliced model.
            calibrationRaw = classifierRun.bestValidationScores.map(Double.init)
        } else {
            // No round ever scored (a NaN metric): predict as the sliced model.
            calibrationRaw = try classifier.predict(validation).map(Double.init)
        }
        let (calibration, choice) = chooseCalibration(
            scores: calibrationRaw,
            labels: calibrationSet.labels,
            times: calibrationSet.openTimes,
            candidates: configuration.calibrationCandidates
        )
        timings["calibration_s"] = seconds(clock.now - start)

        // The signal threshold, on the rows the calibration was fitted on (validation, or a
        // retrain's calibration days): never on test rows.
        let calibrationP = calibration.apply(calibrationRaw)
        let signalThreshold = chooseSignalThreshold(
            probabilities: calibrationP,
            labels: calibrationSet.labels,
            barriers: configuration.label == LabelKind.tripleBarrier.rawValue ? configuration.tripleBarrier : nil,
            minimumSignals: configuration.thresholdMinSignals,
            fallback: configuration.threshold
        )

        start = clock.now
        // In-place prediction on the rows as they are: no DMatrix copy for rows predicted once.
        let testRaw = try classifier.predict(rowMajor: dataset.test.features.storage, rowCount: dataset.test.count, columnCount: columns)
            .map(Double.init)
        let threshold = configuration.threshold
        let result = TrainedModel(
            classifier: classifier,
            regressor: regressor,
            bestIteration: classifierRun.bestRound,
            regressorBestIteration: regressorRun.bestRound,
            bestValidationAUC: classifierRun.bestValue,
            calibration: calibration,
            calibrationChoice: choice,
            testRaw: Metrics.classification(testRaw, dataset.test.labels, threshold: threshold),
            testCalibrated: Metrics.classification(calibration.apply(testRaw), dataset.test.labels, threshold: threshold),
            validationCalibrated: Metrics.classification(calibrationP, calibrationSet.labels, threshold: threshold),
            timings: timings,
            trainAUC: trainAUC,
            signalThreshold: signalThreshold
        )
        timings["evaluation_s"] = seconds(clock.now - start)
        var withTimings = result
        withTimings.timings = timings
        return withTimings
    }

    /// The probability from which a model's signals are taken, chosen on validation rows.
    ///
    /// For a triple-barrier label (`barriers` given) a positive is a trade that reached its
    /// take-profit, so the rule is: the smallest calibrated probability `θ` among the validation
    /// rows' own values such that the rows with `p ≥ θ` number at least `minimumSignals` and
    /// their positive share reaches ``TripleBarrier/breakEvenWinRate`` (every non-positive counted
    /// as a full stop, so the rule errs high); if no `θ` does, `fallback` (`model.threshold`).
    /// The forward-high label is not the trade, so its precision says nothing about break-even:
    /// its threshold is `fallback`, with the validation figures at it recorded.
    public static func chooseSignalThreshold(
        probabilities: [Double],
        labels: [Double],
        barriers: TripleBarrier?,
        minimumSignals: Int,
        fallback: Double
    ) -> SignalThresholdChoice {
        precondition(probabilities.count == labels.count, "one label per probability")
        func at(_ threshold: Double) -> (signals: Int, precision: Double) {
            var n = 0
            var positives = 0.0
            for (p, y) in zip(probabilities, labels) where p >= threshold {
                n += 1
                positives += y
            }
            return (n, n > 0 ? positives / Double(n) : .nan)
        }
        func fixed(_ x: Double) -> String { String(format: "%.4f", x) }
        guard let barriers else {
            let (n, precision) = at(fallback)
            return SignalThresholdChoice(
                threshold: fallback,
                rule: "model.threshold \(fixed(fallback)): the forward-high label is not the trade, so no break-even rule applies",
                validationSignals: n,
                validationPrecision: precision
            )
        }
        let breakEven = barriers.breakEvenWinRate
        // Rows by probability, highest first: the rows with p ≥ θ are a prefix.
        let order = probabilities.indices.filter { probabilities[$0].isFinite }.sorted { probabilities[$0] > probabilities[$1] }
        var n = 0
        var positives = 0.0
        var best: (threshold: Double, signals: Int, precision: Double)?
        var k = 0
        while k < order.count {
            // Every row tied at this probability enters together.
            let value = probabilities[order[k]]
            while k < order.count && probabilities[order[k]] == value {
                n += 1
                positives += labels[order[k]]
                k += 1
            }
            let precision = positives / Double(n)
            if value > 0 && n >= minimumSignals && precision >= breakEven {
                // Lower thresholds come later: the last that qualifies is the smallest.
                best = (value, n, precision)
            }
        }
        if let best {
            return SignalThresholdChoice(
                threshold: best.threshold,
                rule: "validation: the smallest calibrated probability whose \(best.signals) validation signals (at least \(minimumSignals)) reach precision \(fixed(best.precision)) ≥ the break-even win rate \(fixed(breakEven)) = (sl + 2·fee + slip) / (tp + sl)",
                validationSignals: best.signals,
                validationPrecision: best.precision
            )
        }
        let (m, precision) = at(fallback)
        return SignalThresholdChoice(
            threshold: fallback,
            rule: "model.threshold \(fixed(fallback)): no calibrated probability had \(minimumSignals) validation signals at precision ≥ the break-even win rate \(fixed(breakEven))",
            validationSignals: m,
            validationPrecision: precision
        )
    }

    /// The shuffled-label canary, a check of the pipeline: every row gets a random label drawn
    /// from the training positive rate and keyed by the row's identity (symbol, bar time), so
    /// labels have nothing to do with features, yet a row that appears twice carries the same
    /// label both times. A classifier built to memorise is trained on the train and validation
    /// rows' random labels and scored against the test rows' random labels. With the test rows
    /// unseen, nothing can beat chance there and the AUC is 0.5 within sampling error (~0.005 for
    /// 10,000 rows; unlike a canary scored on true labels, whose random function of strong
    /// features can land well off 0.5 either way). If test rows were trained on, their labels
    /// were memorised and the AUC rises. Returns the test AUC, the rounds and the test rows'
    /// random positives (for the AUC's spread under no signal).
    public static func canary(_ dataset: PooledDataset, configuration: ModelConfiguration, seed: UInt64) throws -> (auc: Double, rounds: Int, positives: Int) {
        let columns = dataset.train.features.columns
        let rate = dataset.train.positiveRate
        func randomLabels(_ rows: LabeledRows) -> [Float] {
            zip(rows.symbolIndex, rows.openTimes).map { symbol, time in
                var generator = SplitMix64(seed: seed ^ (UInt64(symbol) &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(bitPattern: time))
                _ = generator.next()
                return Double(generator.next() >> 11) / Double(1 << 53) < rate ? 1 : 0
            }
        }
        let threads = configuration.effectiveThreads
        let train = try DMatrix(rowMajor: dataset.train.features.storage, rowCount: dataset.train.count, columnCount: columns, threads: threads)
        try train.setLabels(randomLabels(dataset.train))
        let validation = try DMatrix(
            rowMajor: dataset.validation.features.storage,
            rowCount: dataset.validation.count,
            columnCount: columns,
            threads: threads
        )
        try validation.setLabels(randomLabels(dataset.validation))
        let testLabels = randomLabels(dataset.test).map(Double.init)
        // Built to memorise: no early stopping (on permuted labels it would stop at the first tree,
        // which memorises nothing and so could not show a leak), deep trees, full steps, every row
        // and feature in every tree.
        var configuration = configuration
        configuration.maxDepth = 12
        configuration.eta = 1
        configuration.subsample = 1
        configuration.colsampleByTree = 1
        configuration.maxRounds = 30
        configuration.earlyStoppingRounds = 30
        let run = try boost(
            stage: "canary",
            train: train,
            validation: validation,
            parameters: configuration.classifierParameters,
            metric: "validation-auc",
            higherIsBetter: true,
            configuration: configuration,
            progress: { _ in }
        )
        // Every round, not only the best: on permuted labels the best is an early accident.
        let test = try run.booster.predict(rowMajor: dataset.test.features.storage, rowCount: dataset.test.count, columnCount: columns)
        return (Metrics.auc(test.map(Double.init), testLabels), configuration.maxRounds, Int(testLabels.reduce(0, +)))
    }

    /// A finished boosting run: the booster with every round it ran, and the early-stopping record.
    struct BoostRun {
        /// Every round run (the best and the rounds after it that did not beat it).
        var booster: Booster
        /// Rounds run.
        var rounds: Int
        /// Best round (0-based).
        var bestRound: Int
        /// The validation metric at the best round.
        var bestValue: Double
        /// Validation predictions (the objective's output) at the best round, from XGBoost's
        /// prediction cache.
        var bestValidationScores: [Float]

        /// The trees up to the best round.
        func best() throws -> Booster {
            try booster.sliced(0..<(bestRound + 1))
        }

        /// Margins of the trees up to the best round on `train` (the matrix the booster was
        /// trained on, so its cache holds the margins of every round), without their base score:
        /// all rounds from the cache minus a fresh prediction of the rounds after the best, which
        /// are `rounds − bestRound − 1` trees instead of `bestRound + 1`. The sums run in another
        /// order than the sliced booster's, so nearly tied rows may swap: the train AUC (a
        /// diagnostic for the retrain's train − holdout guard, limit 0.25) moved by 7e-5 in tests.
        func trainMargins(_ train: DMatrix) throws -> [Float] {
            let all = try booster.predict(train, kind: .margin)
            guard bestRound + 1 < rounds else { return all }
            let after = try booster.predict(train, kind: .margin, iterations: (bestRound + 1)..<rounds)
            return zip(all, after).map { $0 - $1 }
        }
    }

    /// Boosts on `train`, evaluating `metric` on `validation` after every round and stopping when
    /// `earlyStoppingRounds` rounds have not beaten the best.
    ///
    /// Both matrices are cached by the booster, so XGBoost's evaluation predicts only the new
    /// tree on the validation rows each round; at every new best their scores are read back from
    /// that cache (a copy, no trees walked), which spares predicting the validation rows again
    /// with the sliced model afterwards.
    static func boost(
        stage: String,
        train: DMatrix,
        validation: DMatrix,
        parameters: [(String, String)],
        metric: String,
        higherIsBetter: Bool,
        configuration: ModelConfiguration,
        progress: (TrainingProgress) -> Void
    ) throws -> BoostRun {
        let booster = try Booster(cache: [train, validation], parameters: parameters)
        var best = higherIsBetter ? -Double.infinity : Double.infinity
        var bestRound = 0
        var bestScores: [Float] = []
        var rounds = 0
        for round in 0..<configuration.maxRounds {
            try booster.update(iteration: round, train: train)
            rounds = round + 1
            guard let value = try booster.evaluate(iteration: round, on: [("validation", validation)])[metric] else {
                throw ModelError.library("no \(metric) in the evaluation output")
            }
            if higherIsBetter ? value > best : value < best {
                best = value
                bestRound = round
                bestScores = try booster.predict(validation)
            }
            progress(
                TrainingProgress(stage: stage, round: round, validationMetric: value, bestRound: bestRound, maxRounds: configuration.maxRounds)
            )
            if round - bestRound >= configuration.earlyStoppingRounds { break }
        }
        return BoostRun(booster: booster, rounds: rounds, bestRound: bestRound, bestValue: best, bestValidationScores: bestScores)
    }

    /// Picks the calibration that does best on held-out validation rows, then refits it on all of them.
    ///
    /// Candidates are fitted on the earliest 60 % of validation (by bar time) and scored on the
    /// latest 40 %: `isotonic` uses all of that 60 %, `isotonic-recent` its most recent half (closer
    /// to the data it will meet), `isotonic-shift` the isotonic shape of all of it moved in log-odds
    /// until its mean equals the positive rate of the most recent quarter (it follows the base rate),
    /// `none` leaves scores as they are. The lowest held-out ECE wins
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
            calibration(method, scores: scores, labels: labels, timeOrder: indices)
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

    /// The calibration `method` fits to the rows at `timeOrder` (indices into `scores`/`labels`,
    /// oldest first): `isotonic`, `isotonic-recent`, `isotonic-shift` or `none` (see
    /// ``chooseCalibration(scores:labels:times:candidates:)``).
    public static func calibration(_ method: String, scores: [Double], labels: [Double], timeOrder indices: [Int]) -> IsotonicCalibration {
        switch method {
        case "isotonic":
            return IsotonicCalibration.fit(scores: indices.map { scores[$0] }, labels: indices.map { labels[$0] })
        case "isotonic-recent":
            let recent = Array(indices[(indices.count / 2)...])
            return IsotonicCalibration.fit(scores: recent.map { scores[$0] }, labels: recent.map { labels[$0] })
        case "isotonic-shift":
            // The shape from all rows, the level from the most recent quarter: regime shifts move
            // the base rate long before they change how the scores rank.
            let shape = IsotonicCalibration.fit(scores: indices.map { scores[$0] }, labels: indices.map { labels[$0] })
            let recent = Array(indices[(indices.count * 3 / 4)...])
            return shape.shifted(toMeanOf: recent.map { labels[$0] }, at: recent.map { scores[$0] })
        default:
            return .identity
        }
    }

    /// A deterministic generator for shuffles (SplitMix64): the same seed, the same permutation.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// A duration in seconds.
    public static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
