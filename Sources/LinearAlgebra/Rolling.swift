/// Trailing-window statistics over a series.
///
/// Sums, means, minima and maxima are O(n) in total; the standard deviation is O(n · window).
///
/// Output element `t` covers inputs `t − window + 1 … t`; the first `window − 1` outputs are NaN
/// (warm-up), and any window that contains a NaN input gives NaN.
public enum Rolling {
    /// Trailing sum over `window` values.
    ///
    /// A running sum with one addition and one subtraction per step; drift is bounded by
    /// re-summing the window every `window × 64` steps.
    public static func sum<S: MatrixScalar>(_ x: [S], window: Int) -> [S] {
        precondition(window > 0, "window must be positive")
        var out = [S](repeating: .nan, count: x.count)
        var total: S = 0
        var nanCount = 0
        let resumEvery = window * 64
        for t in x.indices {
            let v = x[t]
            if v.isNaN { nanCount += 1 } else { total += v }
            if t >= window {
                let old = x[t - window]
                if old.isNaN { nanCount -= 1 } else { total -= old }
            }
            if t % resumEvery == resumEvery - 1 {
                total = 0
                for i in max(0, t - window + 1)...t where !x[i].isNaN { total += x[i] }
            }
            if t >= window - 1 && nanCount == 0 { out[t] = total }
        }
        return out
    }

    /// Trailing arithmetic mean over `window` values.
    public static func mean<S: MatrixScalar>(_ x: [S], window: Int) -> [S] {
        let scale = 1 / S(window)
        return sum(x, window: window).map { $0 * scale }
    }

    /// Trailing standard deviation over `window` values (divisor `window − ddof`).
    ///
    /// Welford's update with a removal step, so a window of equal values gives exactly 0 once
    /// the values in it are equal.
    public static func standardDeviation<S: MatrixScalar>(_ x: [S], window: Int, ddof: Int = 0) -> [S] {
        precondition(window > ddof, "window must exceed ddof")
        var out = [S](repeating: .nan, count: x.count)
        var lastNaN = -1
        for t in x.indices {
            if x[t].isNaN { lastNaN = t }
            guard t >= window - 1, lastNaN <= t - window else { continue }
            // Two passes over the window: O(window) per output, exact for constant windows.
            // The features module keeps O(1) streaming kernels of its own; this is the reference helper.
            var mean: S = 0
            for i in (t - window + 1)...t { mean += x[i] }
            mean /= S(window)
            var squares: S = 0
            for i in (t - window + 1)...t {
                let d = x[i] - mean
                squares += d * d
            }
            out[t] = (squares / S(window - ddof)).squareRoot()
        }
        return out
    }

    /// Trailing minimum over `window` values (monotonic deque, O(1) amortised per value).
    public static func minimum<S: MatrixScalar>(_ x: [S], window: Int) -> [S] {
        extreme(x, window: window, keepsFront: <)
    }

    /// Trailing maximum over `window` values (monotonic deque, O(1) amortised per value).
    public static func maximum<S: MatrixScalar>(_ x: [S], window: Int) -> [S] {
        extreme(x, window: window, keepsFront: >)
    }

    private static func extreme<S: MatrixScalar>(_ x: [S], window: Int, keepsFront: (S, S) -> Bool) -> [S] {
        precondition(window > 0, "window must be positive")
        var out = [S](repeating: .nan, count: x.count)
        // Indices whose values are monotone from head to tail; the head is the window's extreme.
        var deque = [Int](repeating: 0, count: x.count)
        var head = 0
        var tail = 0
        var lastNaN = -1
        for t in x.indices {
            let v = x[t]
            if v.isNaN {
                lastNaN = t
                head = 0
                tail = 0
                continue
            }
            while tail > head && !keepsFront(x[deque[tail - 1]], v) { tail -= 1 }
            deque[tail] = t
            tail += 1
            while deque[head] <= t - window { head += 1 }
            if t >= window - 1 && lastNaN <= t - window { out[t] = x[deque[head]] }
        }
        return out
    }
}
