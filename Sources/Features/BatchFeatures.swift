import Dispatch
import Foundation
public import LinearAlgebra
public import ScalperCore

#if canImport(Glibc)
import Glibc
#endif

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

    // The parts write disjoint columns of one buffer and their own result slot, and every buffer
    // outlives `concurrentPerform`, which returns only when all tasks are done: sharing is safe.
    struct Shared<Element>: @unchecked Sendable { let base: UnsafeMutablePointer<Element> }
    // The bars are only read, and their array outlives the tasks.
    struct SharedBars: @unchecked Sendable { let bars: UnsafeBufferPointer<Kline> }

    /// Computes the 42 features for `klines` (one symbol, time order).
    ///
    /// A history of at least ``parallelThreshold`` bars is computed on two threads: each runs the
    /// kernel with half of the indicators (the values are those of a single pass); the first half
    /// also fills in the open times.
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
        let split = klines.count >= parallelThreshold && ComputeThreads.count >= 2
        return try compute(klines, interval: interval, books: books, label: label, split: split)
    }

    /// Computes the features of several symbols at once, one symbol per thread (as many threads
    /// as cores); each table is exactly what ``compute(_:interval:books:label:)`` returns for it.
    ///
    /// For a backtest or a dataset over several symbols: symbols in parallel keep every core busy
    /// with no split of any one history, longest histories first so the last to finish is short.
    ///
    /// - Returns: one table per history, in the order given.
    /// - Throws: the ``FeatureError`` of the first history (in the order given) that has one.
    public static func compute(
        many histories: [[Kline]],
        interval: KlineInterval = .oneMinute,
        label: LabelSpec? = nil
    ) throws(FeatureError) -> [FeatureTable] {
        if histories.count <= 1 {
            return try histories.map { (klines) throws(FeatureError) in
                try compute(klines, interval: interval, label: label)
            }
        }
        let order = histories.indices.sorted { histories[$0].count > histories[$1].count }
        var results = [Result<FeatureTable, FeatureError>?](repeating: nil, count: histories.count)
        results.withUnsafeMutableBufferPointer { buffer in
            let shared = Shared(base: buffer.baseAddress!)
            ComputeThreads.perform(iterations: order.count) { k in
                let h = order[k]
                do throws(FeatureError) {
                    let table = try compute(histories[h], interval: interval, books: nil, label: label, split: false)
                    shared.base[h] = .success(table)
                } catch {
                    shared.base[h] = .failure(error)
                }
            }
        }
        var tables: [FeatureTable] = []
        tables.reserveCapacity(histories.count)
        for result in results {
            // Every slot was written by its task before concurrentPerform returned.
            switch result! {
            case .success(let table): tables.append(table)
            case .failure(let error): throw error
            }
        }
        return tables
    }

    static func compute(
        _ klines: [Kline],
        interval: KlineInterval,
        books: [BookFeatures?]?,
        label: LabelSpec?,
        split: Bool
    ) throws(FeatureError) -> FeatureTable {
        precondition(books == nil || books?.count == klines.count, "one book entry per bar")
        let n = klines.count
        let width = FeatureSpec.count
        // Uninitialised on purpose: the kernel writes every column of every row (NaN where it has no
        // value), so filling first would only add a pass over ~130 MB for a long history.
        var storage = [Double](unsafeUninitializedCapacity: n * width) { buffer, count in
            if let base = buffer.baseAddress { adviseHugePages(base, bytes: n * width * MemoryLayout<Double>.stride) }
            count = n * width
        }
        let intervalMs = interval.milliseconds
        let parts: [FeatureKernel.Part] = split ? [.momentumAndTrend, .rest] : [.all]
        var openTimes = [Int64](unsafeUninitializedCapacity: n) { _, count in count = n }
        var outcomes = [PartOutcome](repeating: PartOutcome(), count: parts.count)
        if n > 0 {
            storage.withUnsafeMutableBufferPointer { featureBuffer in
                let output = Shared(base: featureBuffer.baseAddress!)
                openTimes.withUnsafeMutableBufferPointer { timeBuffer in
                    let times = Shared(base: timeBuffer.baseAddress!)
                    klines.withUnsafeBufferPointer { barBuffer in
                        let input = SharedBars(bars: barBuffer)
                        outcomes.withUnsafeMutableBufferPointer { results in
                            let sharedResults = Shared(base: results.baseAddress!)
                            DispatchQueue.concurrentPerform(iterations: parts.count) { p in
                                let part = parts[p]
                                sharedResults.base[p] = run(
                                    part,
                                    input.bars,
                                    books: books,
                                    interval: intervalMs,
                                    into: output.base,
                                    openTimes: part == .rest ? nil : times.base
                                )
                            }
                        }
                    }
                }
            }
        }
        if let error = outcomes[0].error { throw error }
        // Both parts see the same bars, so they find the same segments.
        let segmentStarts = outcomes[0].segmentStarts
        // One pass over the highs and closes (for the spec's 3-bar horizon, a plain 3-value maximum).
        let labels = label.map { Labels.compute(klines, spec: $0, segmentStarts: segmentStarts) }
        return FeatureTable(
            features: Matrix(rows: n, columns: width, storage: storage),
            labels: labels,
            openTimes: openTimes,
            gapCount: outcomes[0].gapCount,
            segmentStarts: segmentStarts
        )
    }

    /// One kernel part over every bar; optionally also each bar's open time.
    static func run(
        _ part: FeatureKernel.Part,
        _ bars: UnsafeBufferPointer<Kline>,
        books: [BookFeatures?]?,
        interval: Int64,
        into out: UnsafeMutablePointer<Double>,
        openTimes: UnsafeMutablePointer<Int64>? = nil
    ) -> PartOutcome {
        // The kernel is a flat value (inline rings): it lives in this frame for the whole pass.
        var kernel = FeatureKernel(intervalMilliseconds: interval, part: part)
        var result = PartOutcome()
        result.segmentStarts = bars.isEmpty ? [] : [0]
        do throws(FeatureError) {
            for i in bars.indices {
                let bar = bars[i]
                let restarted = try kernel.update(bar, book: books?[i], into: out + i * FeatureSpec.count)
                if restarted { result.segmentStarts.append(i) }
                openTimes?[i] = bar.openTime
            }
        } catch {
            result.error = error
        }
        result.gapCount = kernel.gapCount
        return result
    }

    /// Asks the kernel for 2 MB pages over a large fresh output buffer (Linux, where transparent
    /// huge pages are on `madvise`): its first touch then costs one fault per 2 MB, not per 4 KB.
    static func adviseHugePages(_ base: UnsafeMutableRawPointer, bytes: Int) {
        #if os(Linux)
        let huge = 2 << 20
        let address = Int(bitPattern: base)
        let start = (address + huge - 1) & ~(huge - 1)
        let end = (address + bytes) & ~(huge - 1)
        if end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) {
            // Advice only: where the kernel declines, the buffer simply keeps 4 KB pages.
            _ = madvise(pointer, end - start, MADV_HUGEPAGE)
        }
        #endif
    }
}

/// The labels (forward high, triple barrier), and the forward move the regressor learns.
public enum Labels {
    /// Each row's label by `spec`; NaN where the horizon runs past the data or past the end of
    /// `t`'s gap-free segment.
    ///
    /// Forward high: `1` where `max(high[t+1 … t+H]) ≥ close_t × (1 + θ)`, else `0`, exactly the
    /// spec's expression in double precision (ties on the tick grid are real). Triple barrier:
    /// ``tripleBarrierOutcome(close:following:barriers:exitBars:tickSize:)`` of each row, on the
    /// tick `tickSize`, else the one derivation's tick for these bars
    /// (`SymbolFilters.derived(from:)`, what a backtest uses when the store has no exchangeInfo).
    public static func compute(_ klines: [Kline], spec: LabelSpec, segmentStarts: [Int] = [0], tickSize: Double? = nil) -> [Double] {
        klines.withUnsafeBufferPointer { compute($0, spec: spec, segmentStarts: segmentStarts, tickSize: tickSize) }
    }

    static func compute(_ bars: UnsafeBufferPointer<Kline>, spec: LabelSpec, segmentStarts: [Int], tickSize: Double? = nil) -> [Double] {
        if let barriers = spec.barriers {
            return tripleBarrier(bars, barriers: barriers, horizon: spec.horizon, segmentStarts: segmentStarts, tickSize: tickSize)
        }
        let factor = 1.0 + spec.threshold
        // One pass: each row's maximum becomes its label as it is found.
        return forwardMaxHigh(bars, horizon: spec.horizon, segmentStarts: segmentStarts) { t, maxHigh in
            maxHigh >= bars[t].close * factor ? 1 : 0
        }
    }

    /// Triple-barrier labels: row t is labelled when bars t+1 … t+`horizon` lie in its segment
    /// (the trade's whole extent, entry bar to the timeout's exit bar, so no row near a segment's
    /// end is kept only because its trade happened to end early). O(n · horizon).
    static func tripleBarrier(
        _ bars: UnsafeBufferPointer<Kline>,
        barriers: TripleBarrier,
        horizon h: Int,
        segmentStarts: [Int],
        tickSize: Double?
    ) -> [Double] {
        let n = bars.count
        var out = [Double](repeating: .nan, count: n)
        guard n > 0 else { return out }
        let tick = tickSize ?? SymbolFilters.derived(price: bars[SymbolFilters.referenceIndex(barCount: n)].close).tickSize
        var bounds = segmentStarts.filter { $0 < n }
        if bounds.first != 0 { bounds.insert(0, at: 0) }
        bounds.append(n)
        let exitBars = h - 1
        for s in 0..<(bounds.count - 1) {
            let (start, end) = (bounds[s], bounds[s + 1])
            guard end - start > h else { continue }
            for t in start..<(end - h) {
                out[t] = tripleBarrierOutcome(
                    close: bars[t].close,
                    following: UnsafeBufferPointer(rebasing: bars[(t + 1)..<(t + 1 + exitBars)]),
                    barriers: barriers,
                    exitBars: exitBars,
                    tickSize: tick
                )
            }
        }
        return out
    }

    /// The outcome of the engine's trade on a signal at the close `close`: `1` when the take-profit
    /// fills before the stop, else `0` (the stop, or the timeout).
    ///
    /// The backtest's bar rule, step for step (`TradingEngine`, `SimulatedVenue`, `FillModel`):
    /// - the signal's distances are `(close − close·(1 − sl)) / close` and `(close·(1 + tp) − close) / close`;
    /// - the market entry fills at `following[0].open × (1 + slip)` rounded up to the tick;
    /// - the target rests at `entry × (1 + tp distance)` rounded up, the stop at `entry × (1 − sl distance)`
    ///   rounded down, from the entry bar on;
    /// - in each of the `exitBars` bars from the entry bar: a bar opening at or through the stop
    ///   stops out, one opening at or above the target takes profit; else the stop when the low
    ///   reaches it (first, when the high also reaches the target and `stopFirstWhenBothHit`),
    ///   else the target when the high reaches it;
    /// - neither within `exitBars` bars: the timeout, `0`.
    /// Risk refusals, partial fills and a trailing stop are not part of the label.
    public static func tripleBarrierOutcome(
        close: Double,
        following: UnsafeBufferPointer<Kline>,
        barriers b: TripleBarrier,
        exitBars: Int,
        tickSize: Double
    ) -> Double {
        precondition(following.count >= exitBars && exitBars >= 1, "the outcome needs the entry bar and every bar to the timeout")
        let filters = SymbolFilters(lotStep: 1, tickSize: tickSize, minNotional: 0)
        // The engine keeps distances from the signal's price until the fill sets the levels.
        let stopDistance = (close - close * (1 - b.stopLossPct)) / close
        let targetDistance = (close * (1 + b.takeProfitPct) - close) / close
        let entry = filters.roundPrice(following[0].open * (1 + b.slippageBps / 10_000), up: true)
        let stop = filters.roundPrice(entry * (1 - stopDistance), up: false)
        let target = filters.roundPrice(entry * (1 + targetDistance), up: true)
        for j in 0..<exitBars {
            let bar = following[j]
            if bar.open <= stop { return 0 }
            if bar.open >= target { return 1 }
            let stopHit = bar.low <= stop
            let targetHit = bar.high >= target
            if stopHit && (!targetHit || b.stopFirstWhenBothHit) { return 0 }
            if targetHit { return 1 }
        }
        return 0
    }

    /// One row's label from its close and the `spec.horizon` consecutive bars after it (a
    /// session's realised label): exactly what ``compute(_:spec:segmentStarts:tickSize:)`` gives
    /// that row, on the tick `tickSize` for a triple barrier.
    public static func outcome(close: Double, following: [Kline], spec: LabelSpec, tickSize: Double) -> Double {
        precondition(following.count >= spec.horizon, "a label needs the bars of its whole horizon")
        guard let barriers = spec.barriers else {
            var m = following[0].high
            for j in 1..<spec.horizon where following[j].high >= m { m = following[j].high }
            return m >= close * (1.0 + spec.threshold) ? 1 : 0
        }
        return following.withUnsafeBufferPointer {
            tripleBarrierOutcome(close: close, following: $0, barriers: barriers, exitBars: spec.horizon - 1, tickSize: tickSize)
        }
    }

    /// The forward maximum return `max(high[t+1 … t+H]) / close_t − 1`, NaN where the label is.
    public static func forwardMaxReturn(_ klines: [Kline], horizon: Int, segmentStarts: [Int] = [0]) -> [Double] {
        klines.withUnsafeBufferPointer { bars in
            var out = forwardMaxHigh(bars, horizon: horizon, segmentStarts: segmentStarts)
            for i in out.indices where !out[i].isNaN { out[i] = out[i] / bars[i].close - 1 }
            return out
        }
    }

    /// `max(high[t+1 … t+H])` within `t`'s segment, NaN where the horizon leaves it.
    ///
    /// A horizon of up to ``shortHorizon`` bars scans the H highs of each row; a longer one walks
    /// each segment backwards with a monotonic deque of indices: O(n).
    public static func forwardMaxHigh(_ klines: [Kline], horizon h: Int, segmentStarts: [Int] = [0]) -> [Double] {
        klines.withUnsafeBufferPointer { forwardMaxHigh($0, horizon: h, segmentStarts: segmentStarts) }
    }

    /// Horizons up to this many bars take the plain maximum; longer ones the monotonic deque.
    static let shortHorizon = 16

    /// The forward maxima, each passed through `transform(t, max)` on its way into the result.
    @inline(__always)
    static func forwardMaxHigh(
        _ klines: UnsafeBufferPointer<Kline>,
        horizon h: Int,
        segmentStarts: [Int],
        transform: (Int, Double) -> Double = { $1 }
    ) -> [Double] {
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
            if h <= shortHorizon {
                // A short horizon (the spec's is 3): the plain maximum of the next h highs, the same
                // value the deque finds, with no deque to keep.
                for t in start..<(end - h) {
                    var m = klines[t + 1].high
                    var j = 2
                    while j <= h {
                        let x = klines[t + j].high
                        if x >= m { m = x }
                        j += 1
                    }
                    out[t] = transform(t, m)
                }
                continue
            }
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
                if t + h < end { out[t] = transform(t, klines[deque[head]].high) }
                t -= 1
            }
        }
        return out
    }
}
