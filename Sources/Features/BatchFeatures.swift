import Dispatch
import Foundation
public import LinearAlgebra
public import ScalperCore

/// Features (and optionally labels) of a whole history, one row per bar.
public struct FeatureTable: Sendable {
    /// rows × 42, spec order; NaN during warm-up and for absent order-book data.
    public var features: Matrix<Double>
    /// One label per row (0 or 1), NaN where the horizon runs past the data or across a gap;
    /// `nil` when labels were not asked for.
    public var labels: [Double]?
    /// Open time of each row's bar.
    public var openTimes: [Int64]
    /// Gaps found (each restarted the warm-up).
    public var gapCount: Int
    /// Row index where each gap-free segment starts.
    public var segmentStarts: [Int]
}

extension FeatureTable {
    /// Whether each row lies at least `warmupBars` bars after the start of its gap-free segment.
    ///
    /// The one warm-up rule: training keeps only these rows, and the backtest predicts only for
    /// them, so both see the same bars. Rows before it have indicators that have not yet seen
    /// enough history (each gap restarts the warm-up).
    public func isPastWarmup(warmupBars: Int) -> [Bool] {
        let n = features.rows
        var mask = [Bool](repeating: true, count: n)
        var segment = 0
        for i in 0..<n {
            while segment + 1 < segmentStarts.count && segmentStarts[segment + 1] <= i { segment += 1 }
            let start = segmentStarts.isEmpty ? 0 : segmentStarts[segment]
            mask[i] = Self.isPastWarmup(barsSinceRestart: i - start + 1, warmupBars: warmupBars)
        }
        return mask
    }

    /// The warm-up rule, for batch and streaming alike: a bar is past the warm-up when more than
    /// `warmupBars` bars (itself included) have come since the indicators last (re)started.
    public static func isPastWarmup(barsSinceRestart: Int, warmupBars: Int) -> Bool {
        barsSinceRestart > max(warmupBars, 0)
    }
}

/// Features over history: the streaming kernel run over every bar, writing straight into a matrix.
public enum BatchFeatures {
    /// Histories at least this long are computed on two threads.
    public static let parallelThreshold = 20_000

    struct PartOutcome {
        var segmentStarts: [Int] = []
        var gapCount = 0
        var error: FeatureError?
    }

    // The two parts write disjoint columns of one buffer and their own outcome slot, and the buffer
    // outlives `concurrentPerform`, which returns only when both are done: sharing is safe.
    struct SharedOutput: @unchecked Sendable { let base: UnsafeMutablePointer<Double> }
    struct SharedOutcomes: @unchecked Sendable { let base: UnsafeMutablePointer<PartOutcome> }

    /// Computes the 42 features for `klines` (one symbol, time order).
    ///
    /// - Parameters:
    ///   - books: order-book features per bar (same count as `klines`), or `nil` for plain klines.
    ///   - label: the label to compute, or `nil` for none.
    /// - Throws: ``FeatureError`` naming the first invalid bar.
    public static func compute(
        _ klines: [Kline],
        interval: KlineInterval = .oneMinute,
        books: [BookFeatures?]? = nil,
        label: LabelSpec? = nil
    ) throws(FeatureError) -> FeatureTable {
        precondition(books == nil || books?.count == klines.count, "one book entry per bar")
        let n = klines.count
        // Uninitialised on purpose: the kernel writes every column of every row (NaN where it has no
        // value), so filling first would only add a pass over ~100 MB for a long history.
        var storage = [Double](unsafeUninitializedCapacity: n * FeatureSpec.count) { _, count in count = n * FeatureSpec.count }
        let interval = interval.milliseconds
        // Long histories are split by feature group over two threads; each half is the same kernel
        // code with half of its indicators, so the values are those of a single pass.
        let parts: [FeatureKernel.Part] =
            n >= parallelThreshold && ProcessInfo.processInfo.activeProcessorCount >= 2
            ? [.momentumAndTrend, .rest] : [.all]
        var outcomes = [PartOutcome](repeating: PartOutcome(), count: parts.count)
        storage.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let shared = SharedOutput(base: base)
            outcomes.withUnsafeMutableBufferPointer { results in
                let sharedResults = SharedOutcomes(base: results.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: parts.count) { p in
                    var kernel = FeatureKernel(intervalMilliseconds: interval, part: parts[p])
                    var result = PartOutcome()
                    result.segmentStarts = n > 0 ? [0] : []
                    do throws(FeatureError) {
                        for i in 0..<n {
                            let restarted = try kernel.update(klines[i], book: books?[i], into: shared.base + i * FeatureSpec.count)
                            if restarted { result.segmentStarts.append(i) }
                        }
                    } catch {
                        result.error = error
                    }
                    result.gapCount = kernel.gapCount
                    sharedResults.base[p] = result
                }
            }
        }
        if let error = outcomes[0].error { throw error }
        let segmentStarts = outcomes[0].segmentStarts
        let labels = label.map { Labels.compute(klines, spec: $0, segmentStarts: segmentStarts) }
        return FeatureTable(
            features: Matrix(rows: n, columns: FeatureSpec.count, storage: storage),
            labels: labels,
            openTimes: klines.map(\.openTime),
            gapCount: outcomes[0].gapCount,
            segmentStarts: segmentStarts
        )
    }
}

/// The label of the specification, and the forward move it is built on.
public enum Labels {
    /// `1` where `max(high[t+1 … t+H]) ≥ close_t × (1 + θ)`, else `0`; NaN where the horizon runs
    /// past the data or past the end of `t`'s gap-free segment.
    ///
    /// The comparison is exactly the spec's expression in double precision (ties on the tick grid
    /// are real).
    public static func compute(_ klines: [Kline], spec: LabelSpec, segmentStarts: [Int] = [0]) -> [Double] {
        let factor = 1.0 + spec.threshold
        let maxHigh = forwardMaxHigh(klines, horizon: spec.horizon, segmentStarts: segmentStarts)
        return zip(maxHigh, klines).map { m, k in m.isNaN ? .nan : (m >= k.close * factor ? 1 : 0) }
    }

    /// The forward maximum return `max(high[t+1 … t+H]) / close_t − 1`, NaN where the label is.
    public static func forwardMaxReturn(_ klines: [Kline], horizon: Int, segmentStarts: [Int] = [0]) -> [Double] {
        let maxHigh = forwardMaxHigh(klines, horizon: horizon, segmentStarts: segmentStarts)
        return zip(maxHigh, klines).map { m, k in m.isNaN ? .nan : m / k.close - 1 }
    }

    /// `max(high[t+1 … t+H])` within `t`'s segment, NaN where the horizon leaves it.
    ///
    /// Walks each segment backwards with a monotonic deque of indices: O(n).
    public static func forwardMaxHigh(_ klines: [Kline], horizon h: Int, segmentStarts: [Int] = [0]) -> [Double] {
        precondition(h > 0, "the horizon must be at least one bar")
        let n = klines.count
        var out = [Double](repeating: .nan, count: n)
        var bounds = segmentStarts.filter { $0 < n }
        if bounds.first != 0 { bounds.insert(0, at: 0) }
        bounds.append(n)
        for s in 0..<(bounds.count - 1) {
            let start = bounds[s]
            let end = bounds[s + 1]
            guard end - start > h else { continue }
            var deque: [Int] = []
            deque.reserveCapacity(end - start)
            var head = 0
            var t = end - 1
            while t >= start {
                // Window for row t is t+1 … t+h; index t+1 enters when it lies in the segment.
                let incoming = t + 1
                if incoming < end {
                    while deque.count > head, klines[deque[deque.count - 1]].high <= klines[incoming].high {
                        deque.removeLast()
                    }
                    deque.append(incoming)
                    while deque[head] > t + h { head += 1 }
                }
                if t + h < end { out[t] = klines[deque[head]].high }
                t -= 1
            }
        }
        return out
    }
}
