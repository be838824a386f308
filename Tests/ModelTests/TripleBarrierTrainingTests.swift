import Features
import Foundation
import Model
import ScalperCore
import ScalperTestSupport
import Testing

@Suite("Triple-barrier training: the label, its purge, the validation-chosen threshold and the bundle")
struct TripleBarrierTrainingTests {
    static let barriers = TripleBarrier(
        takeProfitPct: 0.004, stopLossPct: 0.003, slippageBps: 2, takerFee: 0.001, timeoutSeconds: 300, stopFirstWhenBothHit: true
    )

    @Test("One accessor gives the label's horizon: 3 bars for forward_high, ⌈300 s / 1 m⌉ + 1 = 6 for triple_barrier")
    func horizonAccessor() throws {
        var configuration = ModelConfiguration()
        #expect(configuration.labelHorizonBars(interval: .oneMinute) == 3)
        #expect(configuration.labelSpec(interval: .oneMinute) == .default)
        configuration.label = "triple_barrier"
        // No barriers: refused, naming the key.
        #expect(throws: ModelError.configuration("model.label: triple_barrier takes its barriers from the signals: and execution: settings; none were given")) {
            try configuration.validate()
        }
        configuration.tripleBarrier = Self.barriers
        try configuration.validate()
        #expect(configuration.labelHorizonBars(interval: .oneMinute) == 6)
        #expect(configuration.labelSpec(interval: .oneMinute).barriers == Self.barriers)
        configuration.label = "take_profit"
        #expect(throws: ModelError.self) { try configuration.validate() }
    }

    @Test("The signal threshold: the smallest probability whose validation precision reaches break-even with enough signals")
    func thresholdRule() {
        // Break-even (0.003 + 0.0022) / 0.007 ≈ 0.743. 100 rows at p = 0.9 (90 positive), 100 at 0.8
        // (70 positive), 200 at 0.3 (30 positive).
        var p: [Double] = []
        var y: [Double] = []
        for (value, count, positives) in [(0.9, 100, 90), (0.8, 100, 70), (0.3, 200, 30)] {
            for i in 0..<count {
                p.append(value)
                y.append(i < positives ? 1 : 0)
            }
        }
        // p ≥ 0.9: 90 %; p ≥ 0.8: 160/200 = 80 % ≥ 74.3 %; p ≥ 0.3: 190/400 < break-even.
        let chosen = Trainer.chooseSignalThreshold(probabilities: p, labels: y, barriers: Self.barriers, minimumSignals: 30, fallback: 0.65)
        #expect(chosen.threshold == 0.8)
        #expect(chosen.validationSignals == 200)
        #expect(abs(chosen.validationPrecision - 0.8) < 1e-12)
        #expect(chosen.rule.hasPrefix("validation:"))
        // Too few signals anywhere it pays: the configured threshold.
        let strict = Trainer.chooseSignalThreshold(probabilities: p, labels: y, barriers: Self.barriers, minimumSignals: 500, fallback: 0.65)
        #expect(strict.threshold == 0.65)
        #expect(strict.rule.contains("no calibrated probability"))
        // The forward-high label is not the trade: its threshold is the configured one.
        let forward = Trainer.chooseSignalThreshold(probabilities: p, labels: y, barriers: nil, minimumSignals: 30, fallback: 0.65)
        #expect(forward.threshold == 0.65)
        #expect(forward.validationSignals == 200)
    }

    @Test("A triple-barrier bundle records its label, purge and threshold; one without those keys reads as forward_high")
    func bundle() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let series = [("FILUSDT", Array(try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").prefix(8_000)))]
        var configuration = ModelConfiguration()
        configuration.maxRounds = 4
        configuration.earlyStoppingRounds = 4
        configuration.threads = 1
        configuration.label = "triple_barrier"
        configuration.tripleBarrier = Self.barriers
        let outcome = try TrainingPipeline.run(
            TrainingRequest(
                series: series, interval: .oneMinute, configuration: configuration, windowFrom: series[0].1[0].openTime,
                windowTo: series[0].1[7_999].openTime + 60_000, name: "tb", modelsDirectory: dir.url, gitCommit: ""
            )
        )
        let m = try ModelBundle.load(outcome.bundle.path).metadata
        #expect(m.labelSpec.kind == .tripleBarrier)
        #expect(m.labelSpec.barriers == Self.barriers)
        #expect(m.labelHorizon == 6)
        #expect(m.signalThreshold == outcome.model.signalThreshold.threshold)
        #expect(m.signalThresholdRule == outcome.model.signalThreshold.rule)
        // The labels are the triple barrier's, and the splits sit 6 bars apart.
        let labels = Labels.compute(series[0].1, spec: m.labelSpec)
        #expect(abs(outcome.dataset.train.positiveRate - Self.rate(labels, outcome.dataset.train.openTimes, series[0].1)) < 1e-12)
        let trainEnd = try #require(outcome.dataset.train.openTimes.max())
        let validationStart = try #require(outcome.dataset.validation.openTimes.min())
        #expect(validationStart - trainEnd >= 7 * 60_000)
        let report = try String(contentsOf: outcome.bundle.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(report.contains("Label: triple_barrier"))
        #expect(report.contains("Signal threshold (`signals.min_probability: model`)"))

        // A bundle written before labels were a choice: no label, threshold or label keys.
        let file = outcome.bundle.appendingPathComponent("metadata.json")
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        for key in ["label", "signalThreshold", "signalThresholdRule"] { object[key] = nil }
        var config = try #require(object["configuration"] as? [String: Any])
        for key in ["label", "triple_barrier", "threshold_min_signals"] { config[key] = nil }
        object["configuration"] = config
        object["labelHorizon"] = 3
        object["labelThreshold"] = 0.002
        try JSONSerialization.data(withJSONObject: object).write(to: file)
        let old = try ModelBundle.load(outcome.bundle.path).metadata
        #expect(old.label == nil)
        #expect(old.labelSpec == .default)
        #expect(old.configuration.label == "forward_high")
        #expect(old.configuration.tripleBarrier == nil)
        #expect(old.validatedSignalThreshold == old.configuration.threshold)
    }

    /// The positive rate of `labels` over the bars opening at `times`.
    static func rate(_ labels: [Double], _ times: [Int64], _ klines: [Kline]) -> Double {
        var index: [Int64: Int] = [:]
        for (i, k) in klines.enumerated() { index[k.openTime] = i }
        let ys = times.compactMap { index[$0].map { labels[$0] } }
        return ys.reduce(0, +) / Double(ys.count)
    }
}
