import Features
public import Foundation
import XGBoost

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
    /// Label horizon in bars.
    public var labelHorizon: Int
    /// Label threshold (fraction).
    public var labelThreshold: Double
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
        gitCommit: String
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
    }
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

    /// Loads a bundle for prediction, refusing one that is incomplete or built for other features.
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
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let metadata: ModelMetadata
        do {
            metadata = try decoder.decode(ModelMetadata.self, from: Data(contentsOf: folder.appendingPathComponent("metadata.json")))
        } catch {
            throw ModelError.bundle(path: path, why: "metadata.json is unreadable: \(error)")
        }
        let running = "\(FeatureSpec.version) (\(FeatureSpec.count) features)"
        let bundled = "\(metadata.featureSpecVersion) (\(metadata.featureNames.count) features)"
        guard metadata.featureSpecVersion == FeatureSpec.version, metadata.featureNames == FeatureSpec.names else {
            throw ModelError.featureSpecMismatch(path: path, bundle: bundled, running: running)
        }
        let calibration: IsotonicCalibration
        do {
            calibration = try decoder.decode(
                IsotonicCalibration.self,
                from: Data(contentsOf: folder.appendingPathComponent("calibration.json"))
            )
        } catch {
            throw ModelError.bundle(path: path, why: "calibration.json is unreadable: \(error)")
        }
        do {
            let classifier = try Booster(contentsOf: folder.appendingPathComponent("model.json").path)
            let regressor = try Booster(contentsOf: folder.appendingPathComponent("move.json").path)
            return try Predictor(metadata: metadata, classifier: classifier, regressor: regressor, calibration: calibration)
        } catch let error as XGBoostError {
            throw ModelError.bundle(path: path, why: "cannot load the boosters: \(error)")
        }
    }
}
