public import Features
public import Foundation
import XGBoost
import ScalperCore

/// `metadata.json` of a model bundle: everything needed to know what the model is and to rerun it.
public struct ModelMetadata: Codable, Equatable, Sendable {
    /// Bundle format version.
    public var formatVersion = 1
    /// The bundle's name (its folder).
    public var name: String
    /// Feature specification version (`FeatureSpec.version`).
    public var featureSpecVersion: String
    /// Feature names in column order.
    public var featureNames: [String]
    /// True: trained on klines only, so order-book features were NaN (missing) throughout.
    public var klineOnly: Bool
    /// Label horizon in bars (the purge between splits; a triple barrier's timeout bars + 1).
    public var labelHorizon: Int
    /// Label threshold (fraction; a triple barrier's take-profit).
    public var labelThreshold: Double
    /// The label the model learnt; absent in bundles trained before labels were a choice, which
    /// all learnt the forward high of ``labelHorizon`` and ``labelThreshold`` (see ``labelSpec``).
    public var label: LabelSpec?
    /// The signal threshold chosen on validation rows when the model was trained (what
    /// `signals.min_probability: model` trades with); absent in older bundles (see
    /// ``validatedSignalThreshold``).
    public var signalThreshold: Double?
    /// How ``signalThreshold`` was chosen, in words.
    public var signalThresholdRule: String?
    /// Bar interval.
    public var interval: String
    /// Symbols pooled.
    public var symbols: [String]
    /// The requested window (ISO 8601, end exclusive).
    public var windowFrom: String
    /// End of the requested window.
    public var windowTo: String
    /// Each split's extent and balance.
    public var splits: [SplitSummary]
    /// Gaps in the input bars.
    public var gapCount: Int
    /// SHA-256 of the training and validation rows.
    public var dataHash: String
    /// XGBoost library version.
    public var xgboostVersion: String
    /// Threads XGBoost trained with.
    public var trainingThreads: Int
    /// Model configuration used.
    public var configuration: ModelConfiguration
    /// Best classifier round (0-based); the saved classifier holds rounds 0…best.
    public var bestIteration: Int
    /// Best regressor round (0-based).
    public var regressorBestIteration: Int
    /// Best validation AUC (early stopping).
    public var bestValidationAUC: Double
    /// How the calibration was chosen.
    public var calibration: CalibrationChoice
    /// Tree slices for the confidence.
    public var confidenceSlices: Int
    /// Test metrics before calibration.
    public var testRaw: ClassificationMetrics
    /// Test metrics after calibration.
    public var testCalibrated: ClassificationMetrics
    /// Seconds per training stage.
    public var timings: [String: Double]
    /// When the bundle was written (ISO 8601).
    public var createdAt: String
    /// The git commit of the code that trained it (empty when unknown).
    public var gitCommit: String

    /// Creates metadata from all its fields.
    public init(
        name: String,
        featureSpecVersion: String,
        featureNames: [String],
        klineOnly: Bool,
        labelHorizon: Int,
        labelThreshold: Double,
        interval: String,
        symbols: [String],
        windowFrom: String,
        windowTo: String,
        splits: [SplitSummary],
        gapCount: Int,
        dataHash: String,
        xgboostVersion: String,
        trainingThreads: Int,
        configuration: ModelConfiguration,
        bestIteration: Int,
        regressorBestIteration: Int,
        bestValidationAUC: Double,
        calibration: CalibrationChoice,
        confidenceSlices: Int,
        testRaw: ClassificationMetrics,
        testCalibrated: ClassificationMetrics,
        timings: [String: Double],
        createdAt: String,
        gitCommit: String,
        label: LabelSpec? = nil,
        signalThreshold: Double? = nil,
        signalThresholdRule: String? = nil
    ) {
        self.name = name
        self.featureSpecVersion = featureSpecVersion
        self.featureNames = featureNames
        self.klineOnly = klineOnly
        self.labelHorizon = labelHorizon
        self.labelThreshold = labelThreshold
        self.interval = interval
        self.symbols = symbols
        self.windowFrom = windowFrom
        self.windowTo = windowTo
        self.splits = splits
        self.gapCount = gapCount
        self.dataHash = dataHash
        self.xgboostVersion = xgboostVersion
        self.trainingThreads = trainingThreads
        self.configuration = configuration
        self.bestIteration = bestIteration
        self.regressorBestIteration = regressorBestIteration
        self.bestValidationAUC = bestValidationAUC
        self.calibration = calibration
        self.confidenceSlices = confidenceSlices
        self.testRaw = testRaw
        self.testCalibrated = testCalibrated
        self.timings = timings
        self.createdAt = createdAt
        self.gitCommit = gitCommit
        self.label = label
        self.signalThreshold = signalThreshold
        self.signalThresholdRule = signalThresholdRule
    }

    /// The label the model learnt (a bundle without `label` learnt the forward high).
    public var labelSpec: LabelSpec { label ?? LabelSpec(horizon: labelHorizon, threshold: labelThreshold) }

    /// The probability `signals.min_probability: model` trades this model at: the threshold chosen
    /// on validation rows, or the configured `model.threshold` of a bundle that has none.
    public var validatedSignalThreshold: Double { signalThreshold ?? configuration.threshold }
}

/// A model bundle on disk: `models/<name>/` with `model.json` (classifier), `move.json` (move
/// regressor), `calibration.json`, `metadata.json`, `report.md`, `reliability.svg`, `importance.svg`.
public enum ModelBundle {
    /// Files every bundle must have.
    public static let requiredFiles = ["model.json", "move.json", "calibration.json", "metadata.json"]

    /// Writes a bundle into `directory/name`, first into a temporary folder that is renamed into
    /// place, so a failure leaves nothing half-written.
    ///
    /// - Throws: ``ModelError/bundle(path:why:)`` if the target exists or cannot be written.
    @discardableResult
    public static func write(
        _ model: TrainedModel,
        metadata: ModelMetadata,
        report: String,
        svgs: [String: String],
        to directory: URL
    ) throws -> URL {
        let fm = FileManager.default
        let target = directory.appendingPathComponent(metadata.name)
        if fm.fileExists(atPath: target.path) {
            throw ModelError.bundle(path: target.path, why: "already exists; choose another --name or remove it")
        }
        let temporary = directory.appendingPathComponent(".\(metadata.name).partial-\(UUID().uuidString)")
        do {
            try fm.createDirectory(at: temporary, withIntermediateDirectories: true)
            try model.classifier.save(to: temporary.appendingPathComponent("model.json").path)
            try model.regressor.save(to: temporary.appendingPathComponent("move.json").path)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            try encoder.encode(model.calibration).write(to: temporary.appendingPathComponent("calibration.json"))
            try encoder.encode(metadata).write(to: temporary.appendingPathComponent("metadata.json"))
            try Data(report.utf8).write(to: temporary.appendingPathComponent("report.md"))
            for (name, svg) in svgs { try Data(svg.utf8).write(to: temporary.appendingPathComponent(name)) }
            try fm.moveItem(at: temporary, to: target)
        } catch {
            try? fm.removeItem(at: temporary)
            throw ModelError.bundle(path: target.path, why: "cannot write the bundle: \(error)")
        }
        return target
    }

    /// Writes a copy of the bundle at `source` under `metadata.name` in `directory`, with a new
    /// calibration and metadata (a calibration-only retrain: the boosters are the source's, byte for
    /// byte). Written into a temporary folder first and renamed into place, as ``write(_:metadata:report:svgs:to:)``.
    @discardableResult
    public static func writeRecalibrated(
        from source: URL,
        calibration: IsotonicCalibration,
        metadata: ModelMetadata,
        report: String,
        svgs: [String: String],
        to directory: URL
    ) throws -> URL {
        let fm = FileManager.default
        let target = directory.appendingPathComponent(metadata.name)
        if fm.fileExists(atPath: target.path) {
            throw ModelError.bundle(path: target.path, why: "already exists")
        }
        let temporary = directory.appendingPathComponent(".\(metadata.name).partial-\(UUID().uuidString)")
        do {
            try fm.createDirectory(at: temporary, withIntermediateDirectories: true)
            for file in ["model.json", "move.json", "importance.svg", "drift.json"] where fm.fileExists(atPath: source.appendingPathComponent(file).path) {
                try fm.copyItem(at: source.appendingPathComponent(file), to: temporary.appendingPathComponent(file))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            try encoder.encode(calibration).write(to: temporary.appendingPathComponent("calibration.json"))
            try encoder.encode(metadata).write(to: temporary.appendingPathComponent("metadata.json"))
            try Data(report.utf8).write(to: temporary.appendingPathComponent("report.md"))
            for (name, svg) in svgs { try Data(svg.utf8).write(to: temporary.appendingPathComponent(name)) }
            try fm.moveItem(at: temporary, to: target)
        } catch {
            try? fm.removeItem(at: temporary)
            throw ModelError.bundle(path: target.path, why: "cannot write the bundle: \(error)")
        }
        return target
    }

    /// The metadata of the bundle at `path`, read as ``load(_:)`` reads it (without the boosters).
    ///
    /// - Throws: ``ModelError/bundle(path:why:)`` naming `metadata.json` and what is wrong in it.
    public static func metadata(at path: String) throws -> ModelMetadata {
        let file = URL(fileURLWithPath: path).appendingPathComponent("metadata.json")
        let bytes: Data
        do {
            bytes = try Data(contentsOf: file)
        } catch {
            throw ModelError.bundle(path: file.path, why: "cannot be read: \(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            return try decoder.decode(ModelMetadata.self, from: bytes)
        } catch let error as DecodingError {
            throw ModelError.bundle(path: file.path, why: describe(error, in: bytes))
        }
    }

    /// Loads a bundle for prediction, refusing one that is incomplete, corrupt or built for other
    /// features.
    ///
    /// Every file is checked before it is used, so a damaged bundle fails here with one line that
    /// names the file and the problem (``ModelError/bundle(path:why:)``), never later inside a
    /// prediction: `metadata.json` must decode and hold a valid configuration and a known calibration
    /// method; `calibration.json` must hold usable knots (``IsotonicCalibration/problem(x:y:)``);
    /// `model.json` and `move.json` must pass ``JSONModelCheck`` (complete JSON, consistent trees) and
    /// match the metadata (feature count, objective, number of trees) before XGBoost parses them.
    public static func load(_ path: String) throws -> Predictor {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelError.bundle(path: path, why: "no model bundle here")
        }
        let folder = URL(fileURLWithPath: path)
        for file in requiredFiles where !fm.fileExists(atPath: folder.appendingPathComponent(file).path) {
            throw ModelError.bundle(path: path, why: "the bundle is missing \(file)")
        }
        func file(_ name: String) -> String { folder.appendingPathComponent(name).path }
        func contents(_ name: String) throws -> Data {
            do {
                return try Data(contentsOf: folder.appendingPathComponent(name))
            } catch {
                throw ModelError.bundle(path: file(name), why: "cannot be read: \(error.localizedDescription)")
            }
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")

        let metadataBytes = try contents("metadata.json")
        let metadata: ModelMetadata
        do {
            metadata = try decoder.decode(ModelMetadata.self, from: metadataBytes)
        } catch let error as DecodingError {
            throw ModelError.bundle(path: file("metadata.json"), why: describe(error, in: metadataBytes))
        }
        let running = "\(FeatureSpec.version) (\(FeatureSpec.count) features)"
        let bundled = "\(metadata.featureSpecVersion) (\(metadata.featureNames.count) features)"
        guard metadata.featureSpecVersion == FeatureSpec.version, metadata.featureNames == FeatureSpec.names else {
            throw ModelError.featureSpecMismatch(path: path, bundle: bundled, running: running)
        }
        do {
            try metadata.configuration.validate()
        } catch {
            throw ModelError.bundle(path: file("metadata.json"), why: "configuration is invalid: \(error)")
        }
        let method = metadata.calibration.method
        guard ModelConfiguration.calibrationMethods.contains(method) else {
            let known = ModelConfiguration.calibrationMethods.joined(separator: ", ")
            throw ModelError.bundle(path: file("metadata.json"), why: "unknown calibration method '\(method)' (known: \(known))")
        }

        let calibrationBytes = try contents("calibration.json")
        let calibration: IsotonicCalibration
        do {
            calibration = try decoder.decode(IsotonicCalibration.self, from: calibrationBytes)
        } catch let error as DecodingError {
            throw ModelError.bundle(path: file("calibration.json"), why: describe(error, in: calibrationBytes))
        }
        if method == "none" && calibration != .identity {
            throw ModelError.bundle(
                path: file("calibration.json"),
                why: "metadata.json says the calibration method is none, but these knots are not the identity"
            )
        }

        let classifierJSON = try contents("model.json")
        let regressorJSON = try contents("move.json")
        let classifier = try booster(
            file: file("model.json"),
            data: classifierJSON,
            objective: metadata.configuration.objective,
            trees: metadata.bestIteration + 1
        )
        let regressor = try booster(
            file: file("move.json"),
            data: regressorJSON,
            objective: ModelConfiguration.regressorObjective,
            trees: metadata.regressorBestIteration + 1
        )
        do {
            return try Predictor(
                metadata: metadata, classifier: classifier, regressor: regressor, calibration: calibration,
                classifierJSON: classifierJSON, regressorJSON: regressorJSON
            )
        } catch {
            throw ModelError.bundle(path: path, why: "cannot prepare the boosters: \(error)")
        }
    }

    /// A booster from a checked JSON model that must have the running feature count, `objective`
    /// and `trees` trees (the saved boosters hold rounds 0 … best, one tree per round).
    private static func booster(file: String, data: Data, objective: String, trees: Int) throws -> Booster {
        let summary: JSONModelSummary
        do {
            summary = try JSONModelCheck.check(data)
        } catch {
            throw ModelError.bundle(path: file, why: error.why)
        }
        guard summary.featureCount == FeatureSpec.count else {
            throw ModelError.bundle(path: file, why: "the model reads \(summary.featureCount) features; this build computes \(FeatureSpec.count)")
        }
        guard summary.objective == objective else {
            throw ModelError.bundle(path: file, why: "objective is '\(summary.objective)', expected '\(objective)'")
        }
        guard summary.treeCount == trees else {
            throw ModelError.bundle(path: file, why: "holds \(summary.treeCount) trees; metadata.json's best iteration implies \(trees)")
        }
        do {
            return try Booster(modelBytes: [UInt8](data))
        } catch {
            throw ModelError.bundle(path: file, why: "XGBoost refused it: \(error.message)")
        }
    }

    /// One line for a failure to decode `data`: where in the file, and what was wrong there.
    static func describe(_ error: DecodingError, in data: Data) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            var text = ""
            for key in codingPath {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return text
        }
        func place(_ codingPath: [any CodingKey]) -> String { codingPath.isEmpty ? "the top level" : path(codingPath) }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context.codingPath)
            return "key '\(parent.isEmpty ? key.stringValue : parent + "." + key.stringValue)' is missing"
        case .typeMismatch(let type, let context):
            return "\(place(context.codingPath)) is not \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "\(place(context.codingPath)) is null where \(typeName(type)) was expected"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                // JSONDecoder says only "The given data was not valid JSON."; JSONSerialization says where.
                do {
                    _ = try JSONSerialization.jsonObject(with: data)
                } catch {
                    let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? error.localizedDescription
                    let trimmed = detail.trimmingCharacters(in: CharacterSet(charactersIn: ". "))
                    return "not valid JSON (\(trimmed)); the file is truncated or damaged"
                }
            }
            let location = path(context.codingPath)
            return location.isEmpty ? context.debugDescription : "\(location): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Double.Type, is Float.Type: "a number"
        case is Int.Type: "an integer"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is [Any].Type: "an array"
        case is [String: Any].Type: "an object"
        default: "a \(type)"
        }
    }
}

extension ModelMetadata {
    /// The last bar time (ms) the model was fitted, stopped early or calibrated on: the end of its
    /// window, or a later calibration split (a recalibrated bundle). A session does not swap it in
    /// before this; a retrain does not judge or recalibrate it on data before this.
    public var seenThrough: Int64 {
        let splits = splits.filter { $0.name != "test" }.compactMap { UTC.parse($0.to) }
        return max(UTC.parse(windowTo) ?? .max, splits.max() ?? .min)
    }
}
