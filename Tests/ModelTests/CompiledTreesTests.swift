import Features
import Foundation
import LinearAlgebra
import Model
import ScalperCore
import ScalperTestSupport
import Testing
import XGBoost

/// A bundle trained on `series` with `configuration`, written under `dir` and loaded back.
private func bundle(
    _ series: [(symbol: String, klines: [Kline])],
    configuration: ModelConfiguration,
    name: String,
    in dir: TemporaryDirectory
) throws -> (TrainedModel, Predictor) {
    let (rows, _) = try DatasetBuilder.rows(from: series, interval: .oneMinute, configuration: configuration)
    let d = try DatasetBuilder.split(rows, interval: .oneMinute, configuration: configuration)
    let m = try Trainer.train(d, configuration: configuration)
    let metadata = ModelMetadata(
        name: name, featureSpecVersion: FeatureSpec.version, featureNames: FeatureSpec.names, klineOnly: true,
        labelHorizon: configuration.labelHorizon, labelThreshold: configuration.labelThreshold, interval: "1m",
        symbols: series.map(\.symbol), windowFrom: "2023-08-01T00:00:00Z", windowTo: "2023-09-01T00:00:00Z",
        splits: d.splits, gapCount: 0, dataHash: d.dataHash, xgboostVersion: XGBoostLibrary.version,
        trainingThreads: configuration.effectiveThreads, configuration: configuration, bestIteration: m.bestIteration,
        regressorBestIteration: m.regressorBestIteration, bestValidationAUC: m.bestValidationAUC,
        calibration: m.calibrationChoice, confidenceSlices: configuration.confidenceSlices, testRaw: m.testRaw,
        testCalibrated: m.testCalibrated, timings: m.timings, createdAt: "", gitCommit: ""
    )
    let folder = try ModelBundle.write(m, metadata: metadata, report: "r", svgs: [:], to: dir.url)
    return (m, try ModelBundle.load(folder.path))
}

/// Every row of `klines`' features (warm-up rows included: their NaN are missing values), float32.
private func featureRows(_ klines: [Kline]) throws -> Matrix<Float> {
    try BatchFeatures.compute(klines).features.converted(to: Float.self)
}

/// How many of the compiled trees' answers differ in any bit from XGBoost's own on `rows`: the
/// probability, the margin, every confidence slice's margin and the move, row by row and as a batch
/// (on the perfect trees and on the nodes alone, long and short).
private func mismatches(_ model: TrainedModel, _ rows: Matrix<Float>, slices k: Int) throws -> Int {
    let classifier = try TreeEnsemble(json: Data(model.classifier.serialized()))
    let regressor = try TreeEnsemble(json: Data(model.regressor.serialized()))
    let (n, columns, values) = (rows.rows, rows.columns, rows.storage)
    let trees = classifier.treeCount
    let slices = (0..<k).map { i in (i * trees / k)..<((i + 1) * trees / k) }
    let wantP = try model.classifier.predict(rowMajor: values, rowCount: n, columnCount: columns)
    let wantMargin = try model.classifier.predict(rowMajor: values, rowCount: n, columnCount: columns, kind: .margin)
    let wantMove = try model.regressor.predict(rowMajor: values, rowCount: n, columnCount: columns)
    let wantSlices = try slices.map {
        try model.classifier.predict(rowMajor: values, rowCount: n, columnCount: columns, kind: .margin, iterations: $0)
    }
    // Batches on the perfect trees (blocks of 16 rows, the rest on the nodes) and on the nodes alone.
    let nodesOnly = try TreeEnsemble(json: Data(model.classifier.serialized()), perfectTrees: false)
    #expect(!nodesOnly.walksPerfectTrees)
    var batch = [Float](repeating: 0, count: n)
    var nodeBatch = [Float](repeating: 0, count: n)
    values.withUnsafeBufferPointer { all in
        batch.withUnsafeMutableBufferPointer { classifier.margins(rows: all, count: n, into: $0) }
        nodeBatch.withUnsafeMutableBufferPointer { nodesOnly.margins(rows: all, count: n, into: $0) }
    }
    // Short batches take the node walk for their last rows: every length from 1 to 40 at odd offsets.
    var short = 0
    values.withUnsafeBufferPointer { all in
        for length in 1...min(40, n) {
            let first = (length * 977) % (n - length + 1)
            var part = [Float](repeating: 0, count: length)
            let rows = UnsafeBufferPointer(rebasing: all[(first * columns)..<((first + length) * columns)])
            part.withUnsafeMutableBufferPointer { classifier.margins(rows: rows, count: length, into: $0) }
            for r in 0..<length where part[r].bitPattern != wantMargin[first + r].bitPattern { short += 1 }
        }
    }
    var parts = [Float](repeating: 0, count: k)
    var bad = 0
    values.withUnsafeBufferPointer { all in
        parts.withUnsafeMutableBufferPointer { parts in
            for i in 0..<n {
                let row = UnsafeBufferPointer(rebasing: all[(i * columns)..<((i + 1) * columns)])
                let margin = classifier.margins(row, slices: slices, into: parts)
                if margin.bitPattern != wantMargin[i].bitPattern { bad += 1 }
                if batch[i].bitPattern != wantMargin[i].bitPattern { bad += 1 }
                if nodeBatch[i].bitPattern != wantMargin[i].bitPattern { bad += 1 }
                if classifier.output(margin).bitPattern != wantP[i].bitPattern { bad += 1 }
                if classifier.value(row).bitPattern != wantP[i].bitPattern { bad += 1 }
                if regressor.value(row).bitPattern != wantMove[i].bitPattern { bad += 1 }
                for s in 0..<k where parts[s].bitPattern != wantSlices[s][i].bitPattern { bad += 1 }
            }
        }
    }
    return bad + short
}

@Suite("Compiled trees: XGBoost's answers bit for bit, without calling it")
struct CompiledTreesTests {
    @Test("A model trained with the default configuration on real August bars gives XGBoost's float32 margin, probability, slices and move on every row of the real September that follows, warm-up NaN included; batches on the perfect trees and on the nodes, long ones split over the cores and short ones, agree")
    func realMonth() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var configuration = ModelConfiguration()
        configuration.threads = 2
        let fil = try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")
        let near = try Fixtures.sampleKlines("NEARUSDT-1m-2023-08.zip")
        let (model, predictor) = try bundle([("FILUSDT", fil), ("NEARUSDT", near)], configuration: configuration, name: "august", in: dir)
        #expect(predictor.compileProblem == nil)
        #expect(try TreeEnsemble(json: Data(model.classifier.serialized())).walksPerfectTrees, "depth-6 trees are padded for batches")
        #expect(try model.classifier.boostedRounds > 50)
        for name in ["FILUSDT-1m-2023-09.zip", "NEARUSDT-1m-2023-09.zip"] {
            let rows = try featureRows(Fixtures.sampleKlines(name))
            #expect(rows.rows > 40_000 && rows.rows > TreeEnsemble.parallelRows)
            #expect(rows.storage.contains { $0.isNaN }, "the warm-up rows hold missing values")
            #expect(try mismatches(model, rows, slices: configuration.confidenceSlices) == 0, "\(name)")
        }
    }

    @Test("A single-tree model, and rows where every feature in turn is missing, match XGBoost bit for bit")
    func singleTreeAndMissing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var configuration = ModelConfiguration()
        configuration.maxRounds = 1
        configuration.earlyStoppingRounds = 1
        configuration.confidenceSlices = 2
        configuration.threads = 1
        let fil = try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")
        let (model, predictor) = try bundle([("FILUSDT", Array(fil.prefix(15_000)))], configuration: configuration, name: "one", in: dir)
        #expect(try model.classifier.boostedRounds == 1)
        #expect(predictor.compileProblem == nil && predictor.scoring == .trees)
        // Real rows, then the same rows with features missing in a pattern that moves row by row.
        let real = try featureRows(Array(fil.suffix(6_000)))
        var values = real.storage
        for i in 0..<real.rows {
            var row = Array(real.row(i))
            for j in stride(from: i % 5, to: 42, by: 5) { row[j] = .nan }
            values += row
        }
        let rows = Matrix(rows: 2 * real.rows, columns: 42, storage: values)
        // One tree cannot make two slices; the predictor makes one, this check compares one.
        #expect(try mismatches(model, rows, slices: 1) == 0)
        let viaTrees = try predictor.predict(rows)
        predictor.scoring = .xgboost
        #expect(try predictor.predict(rows) == viaTrees)
    }

    @Test("A model with trees deeper than the perfect-tree limit walks its batches on the nodes and matches XGBoost bit for bit")
    func deepTrees() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var configuration = ModelConfiguration()
        configuration.maxRounds = 12
        configuration.earlyStoppingRounds = 12
        configuration.maxDepth = TreeEnsemble.maximumPerfectDepth + 3
        configuration.confidenceSlices = 2
        configuration.threads = 2
        let fil = try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")
        let (model, predictor) = try bundle([("FILUSDT", Array(fil.prefix(30_000)))], configuration: configuration, name: "deep", in: dir)
        let trees = try TreeEnsemble(json: Data(model.classifier.serialized()))
        var deepest = 0
        trees.forEachTree { deepest = max(deepest, $0) }
        #expect(deepest > TreeEnsemble.maximumPerfectDepth, "a tree of \(deepest) levels")
        #expect(!trees.walksPerfectTrees && predictor.compileProblem == nil)
        let rows = try featureRows(Array(fil.suffix(3_000)))
        #expect(try mismatches(model, rows, slices: 2) == 0)
    }

    @Test("The load-time probe passes a model's own trees and reports trees that answer differently from the booster")
    func probeCatchesADifference() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var configuration = ModelConfiguration()
        configuration.maxRounds = 20
        configuration.earlyStoppingRounds = 5
        configuration.threads = 1
        let fil = try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")
        let (a, _) = try bundle([("FILUSDT", Array(fil.prefix(15_000)))], configuration: configuration, name: "a", in: dir)
        configuration.seed = 7
        configuration.subsample = 0.5
        let (b, _) = try bundle([("FILUSDT", Array(fil.suffix(15_000)))], configuration: configuration, name: "b", in: dir)
        let treesA = try TreeEnsemble(json: Data(a.classifier.serialized()))
        let movesA = try TreeEnsemble(json: Data(a.regressor.serialized()))
        let treesB = try TreeEnsemble(json: Data(b.classifier.serialized()))
        #expect(try Predictor.probe(classifier: (treesA, a.classifier), regressor: (movesA, a.regressor)) == nil)
        let problem = try Predictor.probe(classifier: (treesB, a.classifier), regressor: (movesA, a.regressor))
        #expect(problem?.contains("differ from XGBoost's") == true)
    }
}
