import Features
import ScalperCore
import Testing

/// The triple-barrier label on hand-made bars around 100 on a 0.01 tick: entry at the next open
/// + 2 bp = 100.02, target 100.02 × 1.004 = 100.42008 → 100.43 (rounded up), stop
/// 100.02 × 0.997 = 99.71994 → 99.71 (rounded down), five bars to the 300 s timeout.
@Suite("Triple-barrier label")
struct TripleBarrierLabelTests {
    static let barriers = TripleBarrier(
        takeProfitPct: 0.004, stopLossPct: 0.003, slippageBps: 2, takerFee: 0.001, timeoutSeconds: 300, stopFirstWhenBothHit: true
    )
    static let spec = LabelSpec.tripleBarrier(barriers, intervalMilliseconds: 60_000)

    /// A bar at minute `i`.
    static func bar(_ i: Int, _ open: Double, _ high: Double, _ low: Double, _ close: Double) -> Kline {
        let t = Int64(i) * 60_000
        return Kline(
            openTime: t, open: open, high: high, low: low, close: close, volume: 1, closeTime: t + 59_999,
            quoteVolume: close, tradeCount: 1, takerBuyBaseVolume: 0.5, takerBuyQuoteVolume: 0.5 * close
        )
    }

    /// The signal bar (close 100), then `after` as bars 1…, padded with quiet bars to the exit bar.
    static func series(_ after: [(Double, Double, Double, Double)]) -> [Kline] {
        var bars = [bar(0, 100, 100.1, 99.9, 100)]
        for (k, b) in after.enumerated() { bars.append(bar(k + 1, b.0, b.1, b.2, b.3)) }
        while bars.count < 7 { bars.append(bar(bars.count, 100, 100.1, 99.9, 100)) }
        return bars
    }

    static func label(_ after: [(Double, Double, Double, Double)], spec: LabelSpec = spec) -> Double {
        Labels.compute(series(after), spec: spec, tickSize: 0.01)[0]
    }

    @Test("The horizon is the timeout's bars plus the exit bar, judged as the engine judges elapsed time")
    func horizon() {
        #expect(Self.barriers.exitBars(intervalMilliseconds: 60_000) == 5)
        #expect(Self.spec.horizon == 6)
        #expect(Self.spec.kind == .tripleBarrier)
        var b = Self.barriers
        b.timeoutSeconds = 301
        #expect(b.exitBars(intervalMilliseconds: 60_000) == 6)
        b.timeoutSeconds = 30
        #expect(b.exitBars(intervalMilliseconds: 60_000) == 1)
        b.timeoutSeconds = 60
        #expect(b.exitBars(intervalMilliseconds: 60_000) == 1)
        b.timeoutSeconds = 120
        #expect(b.exitBars(intervalMilliseconds: 60_000) == 2)
        // (0.003 + 0.002 + 0.0002) / 0.007
        #expect(abs(Self.barriers.breakEvenWinRate - 0.0052 / 0.007) < 1e-12)
    }

    @Test("Take-profit first is 1, the stop first is 0, a timeout is 0")
    func firstBarrier() {
        // The target in bar 2, the stop never.
        #expect(Self.label([(100, 100.2, 99.9, 100.1), (100.1, 100.5, 99.95, 100.4)]) == 1)
        // The stop in bar 2, the target only later.
        #expect(Self.label([(100, 100.2, 99.9, 100.1), (100.1, 100.1, 99.7, 99.8), (99.8, 100.6, 99.8, 100.5)]) == 0)
        // Neither within the five bars; the target in the exit bar (6) is too late.
        #expect(Self.label([(100, 100.2, 99.9, 100.1), (100, 100.2, 99.9, 100.1), (100, 100.2, 99.9, 100.1), (100, 100.2, 99.9, 100.1), (100, 100.2, 99.9, 100.1), (100.1, 101, 100, 100.9)]) == 0)
        // The target in the fifth bar, the last before the timeout, still counts.
        #expect(Self.label([(100, 100.2, 99.9, 100.1), (100, 100.2, 99.9, 100.1), (100, 100.2, 99.9, 100.1), (100, 100.2, 99.9, 100.1), (100.1, 100.45, 100, 100.3)]) == 1)
        // The entry bar itself can trigger (the pair rests from its open).
        #expect(Self.label([(100, 100.5, 99.9, 100.4)]) == 1)
    }

    @Test("Both levels in one bar: the stop first (0), or the target with stop_first_when_both_hit false")
    func bothInOneBar() {
        let both: [(Double, Double, Double, Double)] = [(100, 100.2, 99.9, 100.1), (100.1, 100.5, 99.6, 100)]
        #expect(Self.label(both) == 0)
        var targetFirst = Self.barriers
        targetFirst.stopFirstWhenBothHit = false
        #expect(Self.label(both, spec: .tripleBarrier(targetFirst, intervalMilliseconds: 60_000)) == 1)
    }

    @Test("A bar opening through a level settles it at the open, whatever the rest of the bar does")
    func gapAtOpen() {
        // Opens below the stop, then trades above the target: stopped out.
        #expect(Self.label([(100, 100.2, 99.9, 100.1), (99.5, 101, 99.4, 100.9)]) == 0)
        // Opens above the target, then trades below the stop: the target.
        #expect(Self.label([(100, 100.2, 99.9, 100.1), (100.6, 100.7, 99.5, 99.6)]) == 1)
    }

    @Test("Levels sit on the tick grid against the trader, and touching one is reaching it")
    func tickGrid() {
        // 100.42 reaches the exact target 100.42008 nowhere, and the target rests at 100.43.
        #expect(Self.label([(100, 100.42, 99.9, 100.1)]) == 0)
        #expect(Self.label([(100, 100.43, 99.9, 100.1)]) == 1)
        // The stop rests at 99.71: a low of 99.72 does not reach it, 99.71 does.
        #expect(Self.label([(100, 100.2, 99.72, 100), (100, 100.43, 99.9, 100.1)]) == 1)
        #expect(Self.label([(100, 100.2, 99.71, 100), (100, 100.43, 99.9, 100.1)]) == 0)
        // Without a tick, the one derivation's: 0.01 at a price of 100.
        #expect(Labels.compute(Self.series([(100, 100.43, 99.9, 100.1)]), spec: Self.spec)[0] == 1)
    }

    @Test("NaN where the trade's horizon leaves the data or its gap-free segment")
    func segmentEnd() {
        let bars = (0..<20).map { Self.bar($0, 100, 100.1, 99.9, 100) }
        let labels = Labels.compute(bars, spec: Self.spec, tickSize: 0.01)
        // Rows 0…13 have their six bars; 14…19 do not.
        #expect(labels[0..<14].allSatisfy { $0 == 0 })
        #expect(labels[14...].allSatisfy { $0.isNaN })
        // A segment restarting at 10: rows 4…9 would cross it.
        let gapped = Labels.compute(bars, spec: Self.spec, segmentStarts: [0, 10], tickSize: 0.01)
        #expect(gapped[0..<4].allSatisfy { $0 == 0 })
        #expect(gapped[4..<10].allSatisfy { $0.isNaN })
        #expect(gapped[10..<14].allSatisfy { $0 == 0 })
        #expect(gapped[14...].allSatisfy { $0.isNaN })
    }

    @Test("One row's outcome from its following bars equals the batch label (the live tracker's path)")
    func outcomeMatchesBatch() {
        var state: UInt64 = 7
        func uniform() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        var close = 100.0
        var bars: [Kline] = []
        for i in 0..<2_000 {
            let open = close
            close = (open * (1 + (uniform() - 0.5) * 0.006) * 100).rounded() / 100
            let high = max(open, close) + (uniform() * 0.3 * 100).rounded() / 100
            let low = min(open, close) - (uniform() * 0.3 * 100).rounded() / 100
            bars.append(Self.bar(i, open, high, low, close))
        }
        for spec in [Self.spec, LabelSpec.default] {
            let batch = Labels.compute(bars, spec: spec, tickSize: 0.01)
            var positives = 0.0
            for t in 0..<(bars.count - spec.horizon) {
                let one = Labels.outcome(close: bars[t].close, following: Array(bars[(t + 1)...(t + spec.horizon)]), spec: spec, tickSize: 0.01)
                #expect(one == batch[t])
                positives += one
            }
            // Both classes occur, so the comparison means something.
            #expect(positives > 50 && positives < Double(bars.count - 50))
        }
    }
}
