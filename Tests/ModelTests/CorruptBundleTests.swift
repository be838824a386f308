import Features
import Foundation
import Model
import ScalperCore
import ScalperTestSupport
import Testing
import XGBoost

/// A small real bundle (a few rounds on four days of FILUSDT and NEARUSDT) written into `dir` as `good`.
private func makeGoodBundle(in dir: TemporaryDirectory) throws -> String {
    let series = [
        ("FILUSDT", Array(try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").prefix(6_000))),
        ("NEARUSDT", Array(try Fixtures.sampleKlines("NEARUSDT-1m-2023-08.zip").prefix(6_000))),
    ]
    var configuration = ModelConfiguration()
    configuration.maxRounds = 4
    configuration.earlyStoppingRounds = 4
    configuration.threads = 1
    let (rows, _) = try DatasetBuilder.rows(from: series, interval: .oneMinute, configuration: configuration)
    let dataset = try DatasetBuilder.split(rows, interval: .oneMinute, configuration: configuration)
    let model = try Trainer.train(dataset, configuration: configuration)
    let metadata = ModelMetadata(
        name: "good", featureSpecVersion: FeatureSpec.version, featureNames: FeatureSpec.names, klineOnly: true,
        labelHorizon: configuration.labelHorizon, labelThreshold: configuration.labelThreshold, interval: "1m",
        symbols: ["FILUSDT", "NEARUSDT"], windowFrom: "2023-08-01T00:00:00Z", windowTo: "2023-08-05T04:00:00Z",
        splits: dataset.splits, gapCount: 0, dataHash: dataset.dataHash, xgboostVersion: XGBoostLibrary.version,
        trainingThreads: 1, configuration: configuration, bestIteration: model.bestIteration,
        regressorBestIteration: model.regressorBestIteration, bestValidationAUC: model.bestValidationAUC,
        calibration: model.calibrationChoice, confidenceSlices: configuration.confidenceSlices,
        testRaw: model.testRaw, testCalibrated: model.testCalibrated, timings: [:], createdAt: "", gitCommit: ""
    )
    return try ModelBundle.write(model, metadata: metadata, report: "", svgs: [:], to: dir.url).path
}

/// A copy of the bundle at `good` named `name`, with `file` rewritten by `change`.
private func corrupted(
    _ good: String,
    _ name: String,
    _ file: String,
    _ change: (String) throws -> String
) throws -> String {
    let copy = URL(fileURLWithPath: good).deletingLastPathComponent().appendingPathComponent(name).path
    try FileManager.default.copyItem(atPath: good, toPath: copy)
    let text = try String(contentsOfFile: "\(copy)/\(file)", encoding: .utf8)
    try change(text).write(toFile: "\(copy)/\(file)", atomically: true, encoding: .utf8)
    return copy
}

/// `text` with the first match of `pattern` replaced by `replacement`; fails the test if nothing matched.
private func replacingFirst(_ pattern: String, in text: String, with replacement: String) throws -> String {
    let range = try #require(text.range(of: pattern, options: .regularExpression), "no \(pattern) in the file")
    return text.replacingCharacters(in: range, with: replacement)
}

/// Loads `bundle`, which must be refused with one line that starts with the broken file's path and
/// contains `expected`; returns that line.
@discardableResult
private func expectRefusal(_ bundle: String, file: String, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
    let error = #expect(throws: ModelError.self, sourceLocation: sourceLocation) { _ = try ModelBundle.load(bundle) }
    guard let line = error?.description else { return nil }
    #expect(line.hasPrefix("\(bundle)/\(file): "), "\(line)", sourceLocation: sourceLocation)
    #expect(line.contains(expected), "\(line)", sourceLocation: sourceLocation)
    #expect(!line.contains("\n") && !line.contains("Stack trace"), "\(line)", sourceLocation: sourceLocation)
    return line
}

@Suite("Corrupt bundles are refused at load, naming the file")
struct CorruptBundleTests {
    @Test("calibration.json: wrong shape, unusable knots, or a method metadata.json does not know")
    func calibration() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let good = try makeGoodBundle(in: dir)
        _ = try ModelBundle.load(good)
        let cases: [(name: String, json: String, expected: String)] = [
            ("empty-knots", #"{"x": [], "y": []}"#, "no knots (x is empty)"),
            ("unequal", #"{"x": [0, 0.5, 1], "y": [0, 1]}"#, "x has 3 knots but y has 2"),
            ("above-one", #"{"x": [0, 0.5, 1], "y": [0, 0.4, 1.5]}"#, "y[2] = 1.5 is not a probability in [0, 1]"),
            ("negative", #"{"x": [-0.1, 0.5], "y": [0, 1]}"#, "x[0] = -0.1 is not a probability in [0, 1]"),
            ("nan", #"{"x": [0, "nan", 1], "y": [0, 0.5, 1]}"#, "x[1] = nan is not a probability"),
            ("unsorted", #"{"x": [0, 0.6, 0.3, 1], "y": [0, 0.1, 0.2, 1]}"#, "x is not strictly increasing: x[1] = 0.6, x[2] = 0.3"),
            ("repeated", #"{"x": [0, 0.5, 0.5, 1], "y": [0, 0.1, 0.2, 1]}"#, "x is not strictly increasing"),
            ("decreasing", #"{"x": [0, 0.5, 1], "y": [0, 0.7, 0.6]}"#, "y decreases: y[1] = 0.7, y[2] = 0.6"),
            ("other-shape", #"{"method": "isotonic", "knots": [[0, 0], [1, 1]]}"#, "key 'x' is missing"),
            ("strings", #"{"x": ["a", "b"], "y": [0, 1]}"#, "x[0] is not a number"),
            ("not-object", #"[0, 1]"#, "the top level is not an object"),
            ("truncated", #"{"x": [0, 0.5, 1], "y": [0, 0.5"#, "not valid JSON"),
        ]
        for c in cases {
            let bundle = try corrupted(good, c.name, "calibration.json") { _ in c.json }
            expectRefusal(bundle, file: "calibration.json", c.expected)
            // What used to crash: the predictor would have applied these knots to the first row.
        }
        let method = try corrupted(good, "method", "metadata.json") { text in
            try replacingFirst(#""method" : "[a-z-]+""#, in: text, with: #""method" : "platt""#)
        }
        expectRefusal(method, file: "metadata.json", "unknown calibration method 'platt' (known: isotonic, isotonic-recent, isotonic-shift, none)")
    }

    @Test("model.json and move.json: truncated, empty, not a model, or internally inconsistent")
    func boosters() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let good = try makeGoodBundle(in: dir)
        let cases: [(name: String, file: String, change: (String) throws -> String, expected: String)] = [
            ("half", "model.json", { String($0.prefix($0.count / 2)) }, "not valid JSON"),
            ("one-byte-short", "model.json", { String($0.dropLast()) }, "not valid JSON"),
            ("move-half", "move.json", { String($0.prefix($0.count / 2)) }, "not valid JSON"),
            ("empty", "model.json", { _ in "" }, "empty file"),
            ("braces", "model.json", { _ in "{}" }, "version is missing"),
            ("array", "move.json", { _ in "[1, 2, 3]" }, "the top level is not an object"),
            // XGBoost 1.7.4 dies with SIGSEGV loading this one.
            ("tree-info", "model.json", { try replacingFirst(#""tree_info":\[[0-9,]*\]"#, in: $0, with: #""tree_info":[]"#) },
             "tree_info has 0 entries for"),
            ("num-trees", "model.json", { try replacingFirst(#""num_trees":"[0-9]+""#, in: $0, with: #""num_trees":"999""#) },
             "gbtree_model_param.num_trees says 999 trees but the file holds"),
            ("split-feature", "model.json", { try replacingFirst(#""split_indices":\[[0-9]+"#, in: $0, with: #""split_indices":[4242"#) },
             "trees[0] node 0: split feature 4242 is not one of the 42 features"),
            ("child", "move.json", { try replacingFirst(#""left_children":\[[0-9]+"#, in: $0, with: #""left_children":[70000"#) },
             "trees[0] node 0: children 70000 and"),
            ("node-count", "model.json", { try replacingFirst(#""num_nodes":"[0-9]+""#, in: $0, with: #""num_nodes":"100000""#) },
             "trees[0].left_children has"),
            // Every tree_param repeats num_feature; 43 keeps every split in range, so only the count is wrong.
            ("features", "model.json", { $0.replacingOccurrences(of: #""num_feature":"42""#, with: #""num_feature":"43""#) },
             "the model reads 43 features; this build computes 42"),
            ("objective", "model.json", { $0.replacingOccurrences(of: #""name":"binary:logistic""#, with: #""name":"binary:hinge""#) },
             "objective is 'binary:hinge', expected 'binary:logistic'"),
            ("booster-kind", "move.json", { $0.replacingOccurrences(of: #""name":"gbtree""#, with: #""name":"gblinear""#) },
             "learner.gradient_booster.name is 'gblinear'; only tree models (gbtree) are supported"),
        ]
        for c in cases {
            let bundle = try corrupted(good, c.name, c.file, c.change)
            expectRefusal(bundle, file: c.file, c.expected)
        }
    }

    @Test("metadata.json that does not decode is named with the key at fault")
    func metadata() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let good = try makeGoodBundle(in: dir)
        let truncated = try corrupted(good, "truncated", "metadata.json") { String($0.prefix(200)) }
        expectRefusal(truncated, file: "metadata.json", "not valid JSON")
        let missing = try corrupted(good, "missing", "metadata.json") { text in
            try replacingFirst(#""bestIteration" : [0-9]+,"#, in: text, with: "")
        }
        expectRefusal(missing, file: "metadata.json", "key 'bestIteration' is missing")
        let wrongType = try corrupted(good, "wrong-type", "metadata.json") { text in
            try replacingFirst(#""warmup_bars" : [0-9]+"#, in: text, with: #""warmup_bars" : "fifty""#)
        }
        expectRefusal(wrongType, file: "metadata.json", "configuration.warmup_bars is not an integer")
    }

    @Test("XGBoost's own refusal reaches the user as one line, without its C++ stack trace")
    func libraryMessage() {
        let error = #expect(throws: XGBoostError.self) { _ = try Booster(modelBytes: Array(#"{"learner": ["#.utf8)) }
        guard let error else { return }
        #expect(!error.message.isEmpty)
        #expect(!error.message.contains("\n") && !error.message.contains("Stack trace") && !error.message.contains("[bt]"))
        #expect(!error.message.hasPrefix("["), "the timestamp is dropped: \(error.message)")
    }
}
