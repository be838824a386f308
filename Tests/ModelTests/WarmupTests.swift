import Features
import Model
import ScalperCore
import ScalperTestSupport
import Testing

@Suite("Warm-up mask shared by training and the backtest")
struct WarmupTests {
    /// 2 000 real FILUSDT bars with bars 700 ..< 720 cut out: two gap-free segments, [0, 700) and [700, 1 980).
    private func barsWithGap() throws -> [Kline] {
        let bars = Array(try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").prefix(2_000))
        return Array(bars[..<700] + bars[720...])
    }

    @Test("Rows within warmup_bars of each segment start are masked, every other row is kept")
    func maskPerSegment() throws {
        let table = try BatchFeatures.compute(barsWithGap(), interval: .oneMinute)
        #expect(table.segmentStarts == [0, 700])
        let mask = table.isPastWarmup(warmupBars: 50)
        #expect(mask.count == 1_980)
        let masked = mask.indices.filter { !mask[$0] }
        #expect(masked == Array(0..<50) + Array(700..<750))
        // Zero warm-up keeps everything; a warm-up longer than a segment masks the whole segment.
        #expect(table.isPastWarmup(warmupBars: 0).allSatisfy { $0 })
        let long = table.isPastWarmup(warmupBars: 800)
        #expect(long.indices.filter { long[$0] } == Array(1_500..<1_980))
    }

    @Test("Training rows are exactly the rows past warm-up whose label is defined")
    func trainingUsesTheMask() throws {
        let bars = try barsWithGap()
        var configuration = ModelConfiguration()
        configuration.warmupBars = 50
        let (rows, gaps) = try DatasetBuilder.rows(from: [("FILUSDT", bars)], interval: .oneMinute, configuration: configuration)
        #expect(gaps == 1)
        let spec = LabelSpec(horizon: configuration.labelHorizon, threshold: configuration.labelThreshold)
        let table = try BatchFeatures.compute(bars, interval: .oneMinute, label: spec)
        let labels = try #require(table.labels)
        let mask = table.isPastWarmup(warmupBars: 50)
        let expected = bars.indices.filter { mask[$0] && !labels[$0].isNaN }.map { bars[$0].openTime }
        #expect(rows.openTimes == expected)
        // Each of the two segments loses its 50 warm-up rows and its last H rows (no label).
        #expect(rows.count == 1_980 - 2 * 50 - 2 * configuration.labelHorizon)
    }
}
