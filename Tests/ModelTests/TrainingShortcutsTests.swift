import Features
import Foundation
import LinearAlgebra
import Model
import ScalperCore
import ScalperTestSupport
import Testing
import XGBoost

/// One week of the sample for FILUSDT and NEARUSDT: enough rows for early stopping to pick a
/// best round well before the last one.
private func weekDataset(_ configuration: ModelConfiguration) throws -> PooledDataset {
    let fil = try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")
    let near = try Fixtures.sampleKlines("NEARUSDT-1m-2023-08.zip")
    let series = [("FILUSDT", Array(fil.prefix(10_080))), ("NEARUSDT", Array(near.prefix(10_080)))]
    let (rows, _) = try DatasetBuilder.rows(from: series, interval: .oneMinute, configuration: configuration)
    return try DatasetBuilder.split(rows, interval: .oneMinute, configuration: configuration)
}

private var quick: ModelConfiguration {
    var c = ModelConfiguration()
    c.maxRounds = 80
    c.earlyStoppingRounds = 10
    c.threads = 2
    return c
}

/// Training reads scores XGBoost already holds instead of predicting again (issue #15); these
/// tests pin that the shortcuts give what a fresh prediction of the saved model gives.
@Suite("Training shortcuts: cached scores, train AUC, histogram bins")
struct TrainingShortcutsTests {
    @Test("Calibration fitted on the cached best-round validation scores equals one fitted on a fresh prediction")
    func cachedValidationScores() throws {
        let d = try weekDataset(quick)
        let model = try Trainer.train(d, configuration: quick)
        let validation = try DMatrix(rowMajor: d.validation.features.storage, rowCount: d.validation.count, columnCount: 42)
        let fresh = try model.classifier.predict(validation).map(Double.init)
        let (calibration, choice) = Trainer.chooseCalibration(
            scores: fresh,
            labels: d.validation.labels,
            times: d.validation.openTimes,
            candidates: quick.calibrationCandidates
        )
        #expect(choice == model.calibrationChoice)
        #expect(calibration.apply(fresh) == model.calibration.apply(fresh))
        // Field by field: empty reliability bins hold NaN, which no `==` matches.
        let metrics = Metrics.classification(model.calibration.apply(fresh), d.validation.labels, threshold: quick.threshold)
        let kept = model.validationCalibrated
        #expect(metrics.auc == kept.auc && metrics.logLoss == kept.logLoss && metrics.brier == kept.brier && metrics.ece == kept.ece)
        #expect(metrics.reliability.map(\.count) == kept.reliability.map(\.count))
    }

    @Test("The train AUC from cached margins minus the rounds after the best is the sliced model's within 2e-4")
    func trainAUC() throws {
        let d = try weekDataset(quick)
        let model = try Trainer.train(d, configuration: quick)
        // The shortcut only differs from a full prediction when rounds ran past the best.
        #expect(model.bestIteration + 1 < quick.maxRounds)
        let train = try DMatrix(rowMajor: d.train.features.storage, rowCount: d.train.count, columnCount: 42)
        let fresh = Metrics.auc(try model.classifier.predict(train).map(Double.init), d.train.labels)
        // Float sums in another order reorder a few nearly tied rows: 7e-5 on this sample, against
        // the retrain guard's 0.25 limit on train − holdout AUC.
        #expect(abs(fresh - model.trainAUC) < 2e-4, "fresh \(fresh), shortcut \(model.trainAUC)")
        #expect(model.trainAUC > model.testRaw.auc)
    }

    @Test("model.max_bin reaches XGBoost and changes the trees")
    func maxBin() throws {
        let d = try weekDataset(quick)
        var coarse = quick
        coarse.maxBin = 8
        let a = try Trainer.train(d, configuration: coarse)
        let b = try Trainer.train(d, configuration: quick)
        #expect(try a.classifier.jsonConfiguration().contains(#""max_bin":"8""#))
        #expect(try b.classifier.jsonConfiguration().contains(#""max_bin":"256""#))
        #expect(try a.regressor.jsonConfiguration().contains(#""max_bin":"8""#))
        let rows = d.test.features.storage
        let pa = try a.classifier.predict(rowMajor: rows, rowCount: d.test.count, columnCount: 42)
        let pb = try b.classifier.predict(rowMajor: rows, rowCount: d.test.count, columnCount: 42)
        #expect(pa != pb)
    }

    @Test("Metadata written before model.max_bin existed decodes as 256 bins; the key round-trips; below 2 is refused")
    func maxBinKey() throws {
        var configuration = ModelConfiguration()
        configuration.maxBin = 128
        let data = try JSONEncoder().encode(configuration)
        #expect(try JSONDecoder().decode(ModelConfiguration.self, from: data).maxBin == 128)
        var tree = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(tree.removeValue(forKey: "max_bin") != nil)
        let old = try JSONSerialization.data(withJSONObject: tree)
        var before = ModelConfiguration()
        before.maxBin = 256
        #expect(try JSONDecoder().decode(ModelConfiguration.self, from: old) == before)
        #expect(try JSONDecoder().decode(ModelConfiguration.self, from: old).maxBin == 256)
        configuration.maxBin = 1
        #expect(throws: ModelError.configuration("model.max_bin: must be ≥ 2")) { try configuration.validate() }
    }
}
