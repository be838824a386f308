import Features
import Foundation
import LinearAlgebra
import Model
import ScalperCore
import ScalperTestSupport
import Testing
import XGBoost

/// Two weeks of the sample for FILUSDT and NEARUSDT, and a quick configuration.
private func smallSeries() throws -> [(symbol: String, klines: [Kline])] {
    let fil = try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")
    let near = try Fixtures.sampleKlines("NEARUSDT-1m-2023-08.zip")
    return [("FILUSDT", Array(fil.prefix(20_160))), ("NEARUSDT", Array(near.prefix(20_160)))]
}

private var quick: ModelConfiguration {
    var c = ModelConfiguration()
    c.maxRounds = 60
    c.earlyStoppingRounds = 10
    c.threads = 2
    return c
}

@Suite("Dataset, training, bundle round trip")
struct TrainingTests {
    @Test("Splits never overlap, keep the H-bar purge, and are in time order across symbols")
    func splits() throws {
        let (rows, _) = try DatasetBuilder.rows(from: smallSeries(), interval: .oneMinute, configuration: quick)
        let d = try DatasetBuilder.split(rows, interval: .oneMinute, configuration: quick)
        let purge = Int64(quick.labelHorizon) * 60_000
        let trainMax = try #require(d.train.openTimes.max())
        let validationMin = try #require(d.validation.openTimes.min())
        let validationMax = try #require(d.validation.openTimes.max())
        let testMin = try #require(d.test.openTimes.min())
        #expect(validationMin - trainMax > purge)
        #expect(testMin - validationMax > purge)
        #expect(d.train.count + d.validation.count + d.test.count <= rows.count)
        #expect(Set(d.train.symbolIndex) == [0, 1] && Set(d.test.symbolIndex) == [0, 1])
        // Warm-up rows are gone and labels exist for every row.
        #expect(d.train.labels.allSatisfy { $0 == 0 || $0 == 1 })
        #expect(rows.count == 2 * (20_160 - quick.warmupBars - quick.labelHorizon))
        #expect(d.splits.map(\.name) == ["train", "validation", "test"])
    }

    @Test("Training is deterministic for a fixed seed, and save → load → predict gives identical probabilities")
    func deterministicAndRoundTrip() throws {
        let (rows, _) = try DatasetBuilder.rows(from: smallSeries(), interval: .oneMinute, configuration: quick)
        let d = try DatasetBuilder.split(rows, interval: .oneMinute, configuration: quick)
        let a = try Trainer.train(d, configuration: quick)
        let b = try Trainer.train(d, configuration: quick)
        let test = try DMatrix(rowMajor: d.test.features.storage, rowCount: d.test.count, columnCount: 42)
        let pa = try a.classifier.predict(test)
        let pb = try b.classifier.predict(test)
        #expect(pa == pb)
        #expect(a.bestIteration == b.bestIteration)
        #expect(a.testRaw.auc > 0.55, "a model that learned nothing: AUC \(a.testRaw.auc)")

        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let metadata = makeMetadata(a, d, name: "round-trip")
        try ModelBundle.write(a, metadata: metadata, report: "r", svgs: [:], to: dir.url)
        let predictor = try ModelBundle.load(dir.path("round-trip"))
        let raw = try predictor.rawProbabilities(d.test.features)
        #expect(raw == pa.map(Double.init))
        let calibrated = try predictor.probabilities(d.test.features)
        #expect(calibrated == a.calibration.apply(pa.map(Double.init)))
        let single = try predictor.probability(Array(d.test.features.row(7)))
        #expect(single == calibrated[7])
        let full = try predictor.predict(row: Array(d.test.features.row(7)))
        #expect(full.probabilityUp == calibrated[7])
        #expect(full.confidence >= 0 && full.confidence <= 1)
        #expect(full.predictedMovePct.isFinite)
    }

    @Test("A bundle that is missing a file, or was written for other features, refuses to load")
    func badBundles() throws {
        let (rows, _) = try DatasetBuilder.rows(from: smallSeries(), interval: .oneMinute, configuration: quick)
        let d = try DatasetBuilder.split(rows, interval: .oneMinute, configuration: quick)
        var config = quick
        config.maxRounds = 5
        let model = try Trainer.train(d, configuration: config)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try ModelBundle.write(model, metadata: makeMetadata(model, d, name: "a"), report: "", svgs: [:], to: dir.url)
        // Writing over an existing bundle is refused and leaves no partial folder behind.
        #expect(throws: ModelError.self) {
            try ModelBundle.write(model, metadata: makeMetadata(model, d, name: "a"), report: "", svgs: [:], to: dir.url)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["a"])

        var other = makeMetadata(model, d, name: "b")
        other.featureSpecVersion = "v0"
        try ModelBundle.write(model, metadata: other, report: "", svgs: [:], to: dir.url)
        let mismatch = #expect(throws: ModelError.self) { _ = try ModelBundle.load(dir.path("b")) }
        #expect(mismatch?.description.contains("trained on features v0") == true)

        try FileManager.default.removeItem(atPath: dir.path("a/calibration.json"))
        let missing = #expect(throws: ModelError.self) { _ = try ModelBundle.load(dir.path("a")) }
        #expect(missing?.description == "\(dir.path("a")): the bundle is missing calibration.json")
    }

    @Test("Too little data and a single class are clear errors")
    func insufficient() throws {
        let tiny = try smallSeries().map { ($0.symbol, Array($0.klines.prefix(200))) }
        let (rows, _) = try DatasetBuilder.rows(from: tiny, interval: .oneMinute, configuration: quick)
        #expect(throws: ModelError.self) { _ = try DatasetBuilder.split(rows, interval: .oneMinute, configuration: quick) }
        let (many, _) = try DatasetBuilder.rows(from: smallSeries(), interval: .oneMinute, configuration: quick)
        var flat = many
        flat.labels = flat.labels.map { _ in 0 }
        let error = #expect(throws: ModelError.self) { _ = try DatasetBuilder.split(flat, interval: .oneMinute, configuration: quick) }
        #expect(error?.description.hasPrefix("only one class: every label in the train split is 0") == true)
    }

    @Test("The Swift tree walk gives XGBoost's probabilities, moves and slice margins bit for bit, missing values included, and the predictor's results do not depend on the path")
    func treeWalkEqualsXGBoost() throws {
        let (rows, _) = try DatasetBuilder.rows(from: smallSeries(), interval: .oneMinute, configuration: quick)
        let d = try DatasetBuilder.split(rows, interval: .oneMinute, configuration: quick)
        let model = try Trainer.train(d, configuration: quick)
        let classifier = try TreeEnsemble(json: Data(model.classifier.serialized()))
        let regressor = try TreeEnsemble(json: Data(model.regressor.serialized()))
        #expect(classifier.objective == .logistic && regressor.objective == .squaredError)
        #expect(classifier.treeCount == (try model.classifier.boostedRounds))
        // The test rows, then the same rows with a feature in seven missing (NaN) in turn.
        var values = d.test.features.storage
        let n = d.test.count
        for i in 0..<n {
            var row = Array(d.test.features.row(i))
            for j in stride(from: i % 7, to: 42, by: 7) { row[j] = .nan }
            values += row
        }
        let count = 2 * n
        let wantP = try model.classifier.predict(rowMajor: values, rowCount: count, columnCount: 42)
        let wantMove = try model.regressor.predict(rowMajor: values, rowCount: count, columnCount: 42)
        let trees = classifier.treeCount
        let slices = [0..<(trees / 3), (trees / 3)..<(2 * trees / 3), (2 * trees / 3)..<trees]
        let wantMargins = try slices.map {
            try model.classifier.predict(rowMajor: values, rowCount: count, columnCount: 42, kind: .margin, iterations: $0)
        }
        var mismatches = 0
        values.withUnsafeBufferPointer { all in
            for i in 0..<count {
                let row = UnsafeBufferPointer(rebasing: all[(i * 42)..<((i + 1) * 42)])
                if classifier.value(row).bitPattern != wantP[i].bitPattern { mismatches += 1 }
                if regressor.value(row).bitPattern != wantMove[i].bitPattern { mismatches += 1 }
                for (k, slice) in slices.enumerated() where classifier.margin(row, trees: slice).bitPattern != wantMargins[k][i].bitPattern {
                    mismatches += 1
                }
            }
        }
        #expect(count > 2_000)
        #expect(mismatches == 0, "\(mismatches) values differ from XGBoost's")

        // The predictor's compiled trees and its XGBoost path give the same results, row by row
        // and in batches (long ones split over the cores).
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try ModelBundle.write(model, metadata: makeMetadata(model, d, name: "walk"), report: "r", svgs: [:], to: dir.url)
        let predictor = try ModelBundle.load(dir.path("walk"))
        #expect(predictor.compileProblem == nil)
        #expect(predictor.scoring == .trees)
        let large = Matrix(rows: count, columns: 42, storage: values)
        let viaTrees = try predictor.predict(large)
        let treeProbabilities = try predictor.probabilities(large)
        predictor.scoring = .xgboost
        #expect(try predictor.predict(large) == viaTrees)
        #expect(try predictor.probabilities(large) == treeProbabilities)
        #expect(treeProbabilities == viaTrees.map(\.probabilityUp))
    }

    private func makeMetadata(_ m: TrainedModel, _ d: PooledDataset, name: String) -> ModelMetadata {
        ModelMetadata(
            name: name, featureSpecVersion: FeatureSpec.version, featureNames: FeatureSpec.names, klineOnly: true,
            labelHorizon: 3, labelThreshold: 0.002, interval: "1m", symbols: ["FILUSDT", "NEARUSDT"],
            windowFrom: "2023-08-01T00:00:00Z", windowTo: "2023-08-15T00:00:00Z", splits: d.splits, gapCount: 0,
            dataHash: d.dataHash, xgboostVersion: XGBoostLibrary.version, trainingThreads: 2, configuration: quick,
            bestIteration: m.bestIteration, regressorBestIteration: m.regressorBestIteration,
            bestValidationAUC: m.bestValidationAUC, calibration: m.calibrationChoice, confidenceSlices: 4,
            testRaw: m.testRaw, testCalibrated: m.testCalibrated, timings: m.timings, createdAt: "", gitCommit: ""
        )
    }
}
