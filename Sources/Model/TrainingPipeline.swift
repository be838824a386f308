import Features
public import Foundation
public import ScalperCore
import XGBoost

/// One training run as `scalper train` asks for it (and, later, `scalper retrain`).
public struct TrainingRequest {
    /// Each symbol's bars over the window, oldest first.
    public var series: [(symbol: String, klines: [Kline])]
    /// The bars' interval.
    public var interval: KlineInterval
    /// Model settings (the `model:` section).
    public var configuration: ModelConfiguration
    /// The window the series were read for (open times, ms; recorded in the bundle).
    public var windowFrom: Int64
    /// End of the window (exclusive).
    public var windowTo: Int64
    /// The bundle's name (its folder under ``modelsDirectory``).
    public var name: String
    /// Where bundles are written.
    public var modelsDirectory: URL
    /// The commit the binary was built from (recorded in the bundle; empty if unknown).
    public var gitCommit: String

    /// A request; every field is public for the caller to adjust.
    public init(
        series: [(symbol: String, klines: [Kline])],
        interval: KlineInterval,
        configuration: ModelConfiguration,
        windowFrom: Int64,
        windowTo: Int64,
        name: String,
        modelsDirectory: URL,
        gitCommit: String
    ) {
        self.series = series
        self.interval = interval
        self.configuration = configuration
        self.windowFrom = windowFrom
        self.windowTo = windowTo
        self.name = name
        self.modelsDirectory = modelsDirectory
        self.gitCommit = gitCommit
    }
}

/// What a training run made.
public struct TrainingOutcome {
    /// The pooled, split dataset.
    public var dataset: PooledDataset
    /// The boosters, calibration and test metrics.
    public var model: TrainedModel
    /// The bundle's metadata as written.
    public var metadata: ModelMetadata
    /// The bundle's folder.
    public var bundle: URL
    /// Wall seconds of the whole run.
    public var seconds: Double
}

/// Train → calibrate → evaluate → bundle, as a library use-case: the one path `scalper train` (and
/// the tests) run, so a retraining job can run it too.
public enum TrainingPipeline {
    /// Builds the dataset from the request's series, trains and calibrates on its time split,
    /// evaluates on the test split, and writes the bundle (model files, metadata, report.md,
    /// reliability and importance plots).
    ///
    /// - Throws: ``ModelError`` for too little data, one class, a bundle that exists, or a library failure.
    public static func run(_ request: TrainingRequest, progress: (TrainingProgress) -> Void = { _ in }) throws -> TrainingOutcome {
        let clock = ContinuousClock()
        let started = clock.now
        let configuration = request.configuration
        let (rows, gaps) = try DatasetBuilder.rows(from: request.series, interval: request.interval, configuration: configuration)
        let dataset = try DatasetBuilder.split(rows, interval: request.interval, configuration: configuration, gapCount: gaps)
        let featureSeconds = Trainer.seconds(clock.now - started)
        var outcome = try train(dataset, request: request, timings: ["features_s": featureSeconds], progress: progress)
        outcome.seconds = Trainer.seconds(clock.now - started)
        return outcome
    }

    /// Trains on a dataset split elsewhere (a retrain's windows): fits on `dataset.train`, stops
    /// early on `dataset.validation`, calibrates on `calibrationRows` (validation when nil),
    /// reports on `dataset.test`, and writes the bundle as ``run(_:progress:)`` does.
    ///
    /// - Parameters:
    ///   - shuffleLabelsSeed: train on shuffled labels (a deliberately worthless model, for tests
    ///     of the promotion rule).
    ///   - timings: stage seconds measured before (recorded in the bundle with training's own).
    public static func train(
        _ dataset: PooledDataset,
        calibrationRows: LabeledRows? = nil,
        request: TrainingRequest,
        shuffleLabelsSeed: UInt64? = nil,
        timings earlier: [String: Double] = [:],
        progress: (TrainingProgress) -> Void = { _ in }
    ) throws -> TrainingOutcome {
        let clock = ContinuousClock()
        let started = clock.now
        let configuration = request.configuration
        let model = try Trainer.train(
            dataset,
            configuration: configuration,
            calibrationRows: calibrationRows,
            shuffleLabelsSeed: shuffleLabelsSeed,
            progress: progress
        )
        var timings = model.timings
        timings.merge(earlier) { _, new in new }
        var start = clock.now
        let importance: [Int: Double]
        do {
            importance = try model.classifier.featureImportance(type: "gain")
        } catch {
            throw ModelError.library("feature importance: \(error)")
        }
        timings["importance_s"] = Trainer.seconds(clock.now - start)
        start = clock.now
        // The training rows' feature distribution: what a session measures drift against.
        let driftReference = FeatureReference.fit(dataset.train.features).jsonText()
        timings["drift_reference_s"] = Trainer.seconds(clock.now - start)
        let label = configuration.labelSpec(interval: request.interval)
        let metadata = ModelMetadata(
            name: request.name,
            featureSpecVersion: FeatureSpec.version,
            featureNames: FeatureSpec.names,
            klineOnly: true,
            labelHorizon: label.horizon,
            labelThreshold: label.threshold,
            interval: request.interval.name,
            symbols: request.series.map(\.symbol),
            windowFrom: UTC.isoString(request.windowFrom),
            windowTo: UTC.isoString(request.windowTo),
            splits: dataset.splits,
            gapCount: dataset.gapCount,
            dataHash: dataset.dataHash,
            xgboostVersion: XGBoostLibrary.version,
            trainingThreads: configuration.effectiveThreads,
            configuration: configuration,
            bestIteration: model.bestIteration,
            regressorBestIteration: model.regressorBestIteration,
            bestValidationAUC: model.bestValidationAUC,
            calibration: model.calibrationChoice,
            confidenceSlices: configuration.confidenceSlices,
            testRaw: model.testRaw,
            testCalibrated: model.testCalibrated,
            timings: timings,
            createdAt: UTC.isoString(UTC.now()),
            gitCommit: request.gitCommit,
            label: label,
            signalThreshold: model.signalThreshold.threshold,
            signalThresholdRule: model.signalThreshold.rule
        )
        try FileManager.default.createDirectory(at: request.modelsDirectory, withIntermediateDirectories: true)
        let bundle = try ModelBundle.write(
            model,
            metadata: metadata,
            report: ModelReport.markdown(metadata: metadata, importance: importance),
            svgs: [
                "reliability.svg": ModelReport.reliabilitySVG(raw: model.testRaw.reliability, calibrated: model.testCalibrated.reliability),
                "importance.svg": ModelReport.importanceSVG(importance),
                "drift.json": driftReference,
            ],
            to: request.modelsDirectory
        )
        let total = Trainer.seconds(clock.now - started) + earlier.values.reduce(0, +)
        return TrainingOutcome(dataset: dataset, model: model, metadata: metadata, bundle: bundle, seconds: total)
    }
}
