public import ScalperCore

/// Features of one symbol computed bar by bar, O(1) time and memory per bar.
///
/// Feed each closed bar (with the order-book features at its close, when a book is kept) and get
/// the 42 values in spec order. The values are identical to ``BatchFeatures`` over the same bars,
/// because both drive the same kernel.
public struct StreamingFeatures: Sendable {
    private var kernel: FeatureKernel
    private var buffer = [Double](repeating: .nan, count: FeatureSpec.count)

    /// Creates an empty state for bars of `interval`.
    public init(interval: KlineInterval = .oneMinute) {
        kernel = FeatureKernel(intervalMilliseconds: interval.milliseconds)
    }

    /// Gaps seen so far (each restarted the warm-up).
    public var gapCount: Int { kernel.gapCount }

    /// Open time of the last bar accepted.
    public var lastOpenTime: Int64? { kernel.lastOpenTime }

    /// Bars accepted since the indicators last (re)started, the last one included: the streaming
    /// form of ``FeatureTable/isPastWarmup(warmupBars:)`` is
    /// ``FeatureTable/isPastWarmup(barsSinceRestart:warmupBars:)``.
    public private(set) var barsSinceRestart = 0

    /// Advances by one closed bar and returns its 42 features (NaN during warm-up).
    ///
    /// - Throws: ``FeatureError`` for a NaN, infinite or non-positive price, a negative or NaN
    ///   volume, or a bar that does not come after the previous one; the state is unchanged then.
    public mutating func update(_ bar: Kline, book: BookFeatures? = nil) throws(FeatureError) -> [Double] {
        let restarted = try buffer.withUnsafeMutableBufferPointer { (out) throws(FeatureError) in
            // Non-nil: the buffer always holds 42 elements.
            try kernel.update(bar, book: book, into: out.baseAddress!)
        }
        barsSinceRestart = restarted || barsSinceRestart == 0 ? 1 : barsSinceRestart + 1
        return buffer
    }
}
