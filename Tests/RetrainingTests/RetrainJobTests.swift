import Backtest
import Features
import Foundation
import LinearAlgebra
import Model
import Registry
import Retraining
import ScalperCore
import ScalperTestSupport
import Testing

/// August 2023 of FILUSDT and NEARUSDT (the bundled sample), read once per test process.
private actor August {
    static let shared = August()
    private var loaded: [(symbol: String, klines: [Kline])]?

    func series() throws -> [(symbol: String, klines: [Kline])] {
        if let loaded { return loaded }
        let s = [
            ("FILUSDT", try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")),
            ("NEARUSDT", try Fixtures.sampleKlines("NEARUSDT-1m-2023-08.zip")),
        ].map { (symbol: $0.0, klines: $0.1) }
        loaded = s
        return s
    }
}

/// A small retrain over August (10 days train, 2 calibration, 2 holdout), quick settings.
private func request(
    registry: ModelRegistry,
    asOf: String = "2023-08-20",
    run: String,
    features: FeatureSource = .batch,
    shuffle: UInt64? = nil
) async throws -> RetrainRequest {
    var configuration = ModelConfiguration()
    configuration.maxRounds = 80
    configuration.earlyStoppingRounds = 10
    configuration.threads = 1
    var settings = RetrainSettings()
    settings.trainDays = 10
    settings.calibrationDays = 2
    settings.holdoutDays = 2
    settings.truncationCuts = 4
    var r = RetrainRequest(
        series: try await August.shared.series(),
        interval: .oneMinute,
        configuration: configuration,
        settings: settings,
        backtest: BacktestSettings(),
        tradingWarmupBars: 100,
        filters: [:],
        asOf: UTC.parse(asOf)!,
        registry: registry,
        runID: run,
        challengerName: "challenger-\(run)",
        gitCommit: "test"
    )
    r.features = features
    r.shuffleLabelsSeed = shuffle
    return r
}

/// The batch features with column `ret_1` replaced by the next bar's return: a feature that reads
/// the future, as a careless feature would.
private let leaky = FeatureSource { klines, interval, label in
    var table = try BatchFeatures.compute(klines, interval: interval, label: label)
    let column = FeatureSpec.names.firstIndex(of: "ret_1")!
    var storage = table.features.storage
    for i in klines.indices {
        storage[i * FeatureSpec.count + column] = i + 1 < klines.count ? klines[i + 1].close / klines[i].close - 1 : .nan
    }
    table.features = Matrix(rows: klines.count, columns: FeatureSpec.count, storage: storage)
    return table
}

@Suite("Retraining", .serialized)
struct RetrainJobTests {
    @Test("windows end at the as-of time and are separated by purges of at least the label horizon")
    func windows() {
        var settings = RetrainSettings()
        settings.trainDays = 40
        let asOf = UTC.parse("2023-10-01")!
        let w = RetrainWindows(asOf: asOf, settings: settings, intervalMs: 60_000, labelHorizon: 3)
        #expect(w.asOf == asOf)
        #expect(w.holdoutStart == asOf - 7 * 86_400_000)
        #expect(w.calibrationEnd == w.holdoutStart - 180_000)
        #expect(w.calibrationStart == w.calibrationEnd - 7 * 86_400_000)
        #expect(w.trainEnd == w.calibrationStart - 180_000)
        #expect(w.trainStart == w.trainEnd - 40 * 86_400_000)
        #expect(w.earlyStopStart == w.trainEnd - 6 * 86_400_000)
        settings.purgeBars = 10
        #expect(RetrainWindows(asOf: asOf, settings: settings, intervalMs: 60_000, labelHorizon: 3).purgeMs == 600_000)
    }

    @Test("the truncation check passes the batch kernel and names a feature that reads the next bar")
    func truncationCheck() async throws {
        let series = try await August.shared.series().map { ($0.symbol, Array($0.klines.prefix(8_000))) }.map { (symbol: $0.0, klines: $0.1) }
        let clean = try LeakageGuards.truncationCheck(series: series, interval: .oneMinute, source: .batch, cutsPerSymbol: 5, seed: 1)
        #expect(clean.passed)
        #expect(clean.cuts == 10)
        #expect(clean.valuesCompared == 10 * 2 * FeatureSpec.count)
        let caught = try LeakageGuards.truncationCheck(series: series, interval: .oneMinute, source: leaky, cutsPerSymbol: 5, seed: 1)
        #expect(!caught.passed)
        #expect(caught.firstDifference?.contains("feature ret_1") == true)
        #expect(caught.firstDifference?.hasPrefix("FILUSDT") == true)
    }

    @Test("a challenger built on a feature that reads the next bar is blocked by the truncation check, before training")
    func leakyFeatureBlocked() async throws {
        let dir = try TemporaryDirectory(prefix: "scalper-retrain-leak")
        let registry = try ModelRegistry(path: dir.path("models/registry.sqlite"))
        let outcome = try RetrainJob.run(try await request(registry: registry, run: "leak", features: leaky))
        #expect(outcome.status == .blocked)
        #expect(outcome.challenger == nil)
        #expect(outcome.verdict.contains("truncation check failed"))
        #expect(outcome.evidence.rules.first { $0.rule == "truncation" }?.passed == false)
        #expect(try registry.champion() == nil)
        #expect(try registry.models().isEmpty)
        #expect(FileManager.default.fileExists(atPath: outcome.report.path))
    }

    @Test("first run promotes on AUC; a challenger trained on shuffled labels is then rejected and the champion stays")
    func shuffledChallengerRejected() async throws {
        let dir = try TemporaryDirectory(prefix: "scalper-retrain-shuffle")
        let registry = try ModelRegistry(path: dir.path("models/registry.sqlite"))

        // With no champion, a shuffled-label challenger fails the seed's AUC check.
        let worthless = try RetrainJob.run(try await request(registry: registry, run: "s0", shuffle: 11))
        #expect(worthless.status != .promoted)
        #expect(try registry.champion() == nil)
        let auc = try #require(worthless.evidence.challenger?.auc)
        #expect(abs(auc - 0.5) < 0.05)

        let first = try RetrainJob.run(try await request(registry: registry, run: "r1"))
        #expect(first.status == .promoted, "\(first.verdict)")
        #expect(try registry.champion()?.name == "challenger-r1")
        #expect(first.evidence.rules.allSatisfy { $0.passed })
        #expect(first.evidence.guards.canaryAUC.map { abs($0 - 0.5) <= 0.03 } == true)

        let second = try RetrainJob.run(try await request(registry: registry, run: "s2", shuffle: 12))
        #expect(second.status != .promoted)
        #expect(try registry.champion()?.name == "challenger-r1")
        #expect(try registry.model(named: "challenger-s2")?.status == .rejected)
        let decision = try #require(try registry.decisions(about: "challenger-s2").last)
        #expect(decision.kind == "reject")
        #expect(decision.previousChampion == "challenger-r1")
        #expect(decision.evidence.contains("\"log_loss_margin\"") || decision.evidence.contains("\"canary\""))
        // The evidence holds both models' holdout figures and the test.
        #expect(second.evidence.champion?.name == "challenger-r1")
        #expect(second.evidence.champion?.backtest != nil)
        #expect(second.evidence.challenger?.backtest != nil)
        if second.status == .kept {
            #expect(second.evidence.rules.contains { $0.rule == "log_loss_margin" && !$0.passed })
            #expect(second.evidence.dieboldMariano != nil)
        }

        // A run killed after its decision was recorded: closed as what was decided, not abandoned.
        try registry.beginRun(id: "killed", asOf: "", mode: "retrain", pid: 1)
        try registry.updateRun(id: "killed", asOf: "2023-08-20T00:00:00Z", challenger: "challenger-s2")
        #expect(try registry.abandonUnfinishedRuns().map(\.status) == ["kept"])

        // A promotion judged against a champion that has changed meanwhile does not happen.
        let third = try RetrainJob.run(try await request(registry: registry, run: "r3"))
        if third.status == .promoted { try registry.rollback(reason: "test: back to r1") }
        #expect(try registry.champion()?.name == "challenger-r1")
        let moved = try registry.promote("challenger-r3", replacing: "someone-else", reason: "test", evidence: "{}")
        #expect(!moved)
        #expect(try registry.champion()?.name == "challenger-r1")
        #expect(try registry.decisions(about: "challenger-r3").last?.reason.hasPrefix("not promoted: the champion changed while it was judged") == true)
    }

    @Test("the canary scores chance on unseen rows and far above it on rows it was trained on")
    func canary() async throws {
        let series = try await August.shared.series()
        var configuration = ModelConfiguration()
        configuration.threads = 1
        let rows = try DatasetBuilder.rows(from: series.map { ($0.symbol, Array($0.klines.prefix(20_000))) }, interval: .oneMinute, configuration: configuration).rows
        let dataset = try DatasetBuilder.split(rows, interval: .oneMinute, configuration: configuration)
        let honest = try Trainer.canary(dataset, configuration: configuration, seed: 3)
        #expect(abs(honest.auc - 0.5) <= 0.03, "canary AUC \(honest.auc) on unseen rows")
        // Leak: the test rows are training rows.
        var leaked = dataset
        leaked.test = dataset.train.subset(Array(0..<min(5_000, dataset.train.count)))
        let caught = try Trainer.canary(leaked, configuration: configuration, seed: 3)
        #expect(caught.auc > 0.7, "canary AUC \(caught.auc) on rows it was trained on")
    }

    @Test("isotonic-shift keeps the ranking and moves the mean to the recent base rate")
    func shiftedCalibration() {
        var generator = SplitMix64(seed: 9)
        let scores = (0..<4_000).map { _ in Double.random(in: 0..<1, using: &generator) }
        let labels = scores.map { Double.random(in: 0..<1, using: &generator) < 0.4 * $0 ? 1.0 : 0.0 }
        let base = IsotonicCalibration.fit(scores: scores, labels: labels)
        let recentScores = Array(scores[3_000...])
        let recentLabels = recentScores.map { Double.random(in: 0..<1, using: &generator) < 0.7 * $0 ? 1.0 : 0.0 }  // a higher base rate
        let target = recentLabels.reduce(0, +) / Double(recentLabels.count)
        let before = base.apply(recentScores).reduce(0, +) / Double(recentScores.count)
        #expect(target - before > 0.1)
        let moved = base.shifted(toMeanOf: recentLabels, at: recentScores)
        let mean = moved.apply(recentScores).reduce(0, +) / Double(recentScores.count)
        #expect(abs(mean - target) < 1e-6)
        #expect(zip(moved.y, moved.y.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(IsotonicCalibration.problem(x: moved.x, y: moved.y) == nil)
        // Nothing to match: unchanged.
        #expect(base.shifted(toMeanOf: [0, 0], at: [0.2, 0.3]) == base)
    }

    @Test("PSI is near zero for the same distribution and large for a shifted one")
    func psi() {
        var generator = SplitMix64(seed: 5)
        let a = (0..<5_000).map { _ in Double.random(in: 0..<1, using: &generator) }
        let b = (0..<5_000).map { _ in Double.random(in: 0..<1, using: &generator) }
        let shifted = b.map { $0 * 0.5 + 0.5 }
        #expect(Drift.psi(reference: a, recent: b) < 0.02)
        #expect(Drift.psi(reference: a, recent: shifted) > 1)
        let withMissing = b.enumerated().map { $0.offset % 2 == 0 ? Double.nan : $0.element }
        #expect(Drift.psi(reference: a, recent: withMissing) > 1)
    }

    @Test("live calibration labels each prediction by the label's own rule, whether its bars come before or after it")
    func liveCalibration() async throws {
        let klines = Array(try await August.shared.series()[0].klines.prefix(3_000))
        let spec = LabelSpec(horizon: 3, threshold: 0.002)
        let labels = Labels.compute(klines, spec: spec)
        var generator = SplitMix64(seed: 21)
        let p = klines.map { _ in Double.random(in: 0..<0.4, using: &generator) }
        var streamed = LiveCalibration(horizon: 3, threshold: 0.002, capacity: 10_000)
        for (i, k) in klines.enumerated() {
            streamed.bar("FILUSDT", openTime: k.openTime, high: k.high)
            streamed.predicted("FILUSDT", openTime: k.openTime, p: p[i], close: k.close)
        }
        var caughtUp = LiveCalibration(horizon: 3, threshold: 0.002, capacity: 10_000)
        for k in klines { caughtUp.bar("FILUSDT", openTime: k.openTime, high: k.high) }
        for (i, k) in klines.enumerated().suffix(20) { caughtUp.predicted("FILUSDT", openTime: k.openTime, p: p[i], close: k.close) }
        let known = labels.indices.filter { !labels[$0].isNaN }
        #expect(streamed.count == known.count)
        #expect(abs(streamed.ece - Metrics.ece(known.map { p[$0] }, known.map { labels[$0] })) < 1e-12)
        let recent = known.suffix(17)
        #expect(caughtUp.count == recent.count)
        #expect(abs(caughtUp.ece - Metrics.ece(recent.map { p[$0] }, recent.map { labels[$0] })) < 1e-12)
        // A gap inside a horizon leaves the prediction unlabelled.
        var gapped = LiveCalibration(horizon: 3, threshold: 0.002)
        gapped.predicted("X", openTime: 0, p: 0.1, close: 1)
        gapped.bar("X", openTime: 60_000, high: 2)
        gapped.bar("X", openTime: 240_000, high: 2)
        #expect(gapped.count == 0)
    }

    @Test("live drift: zero over the reference rows themselves, the new window's PSI once they roll out")
    func liveDrift() async throws {
        let series = try await August.shared.series()
        var configuration = ModelConfiguration()
        configuration.threads = 1
        let rows = try DatasetBuilder.rows(from: [(series[0].symbol, Array(series[0].klines.prefix(6_000)))], interval: .oneMinute, configuration: configuration).rows
        let reference = FeatureReference.fit(rows.features.rows(at: Array(0..<2_000)))
        var drift = LiveDrift(reference: reference, capacity: 2_000)
        for r in 0..<2_000 { drift.observe(rows.features.row(r)) }
        #expect(drift.psi.allSatisfy { abs($0) < 1e-9 })
        for r in 3_500..<5_500 { drift.observe(rows.features.row(r)) }
        let expected = reference.psi(rows.features.rows(at: Array(3_500..<5_500)))
        #expect(drift.count == 2_000)
        #expect(expected.contains { $0 > 0.1 })
        for (a, b) in zip(drift.psi, expected) { #expect(a == b || (a.isNaN && b.isNaN)) }
        // The reference is what a bundle stores, and what the retrain report's PSI uses.
        let decoded = try JSONDecoder().decode(FeatureReference.self, from: Data(reference.jsonText().utf8))
        #expect(decoded == reference)
    }

    @Test("the job lock refuses a second holder and names a stale one")
    func lock() throws {
        let dir = try TemporaryDirectory(prefix: "scalper-retrain-lock")
        let path = dir.path("models/retrain.lock")
        let first = try RetrainLock(path: path, started: "2026-01-01T00:00:00Z")
        #expect(first.stale == nil)
        #expect(throws: RetrainLockError.held(path: path, pid: getpid(), started: "2026-01-01T00:00:00Z")) {
            _ = try RetrainLock(path: path, started: "later")
        }
        first.release()
        let clean = try RetrainLock(path: path, started: "b")
        #expect(clean.stale == nil)
        clean.release()
        // A holder that died leaves its lines but no lock.
        try "pid 4242\nstarted 2026-02-02T00:00:00Z\n".write(toFile: path, atomically: false, encoding: .utf8)
        let taken = try RetrainLock(path: path, started: "c")
        #expect(taken.stale == RetrainLock.Stale(pid: 4242, started: "2026-02-02T00:00:00Z"))
        taken.release()
    }

    @Test("runs are recorded, and a run whose process died is marked abandoned")
    func runRecords() throws {
        let dir = try TemporaryDirectory(prefix: "scalper-retrain-runs")
        let registry = try ModelRegistry(path: dir.path("models/registry.sqlite"))
        try registry.beginRun(id: "a", asOf: "2023-10-01T00:00:00Z", mode: "retrain", pid: 1)
        try registry.finishRun(id: "a", status: "kept", verdict: "KEPT x", exitCode: 0, challenger: "c", champion: "x", report: "/r", evidence: "{}")
        try registry.beginRun(id: "b", asOf: "2023-10-01T00:00:00Z", mode: "retrain", pid: 2)
        #expect(try registry.abandonUnfinishedRuns().map(\.id) == ["b"])
        let runs = try registry.runs()
        #expect(runs.first { $0.id == "a" }?.status == "kept")
        #expect(runs.first { $0.id == "b" }?.status == "abandoned")
        #expect(try registry.abandonUnfinishedRuns().isEmpty)
    }
}
