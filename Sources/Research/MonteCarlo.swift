import Foundation

/// Monte Carlo on a run's trades: what else the same trades could have given, drawn again.
///
/// - Bootstrap: each path draws as many trades as the run had, with replacement — the spread of
///   outcomes had the trades come in other proportions.
/// - Reshuffle: each path is the run's own trades in another order — the same final return,
///   so it answers only how deep the drawdown could have been.
///
/// A path starts from the run's capital and adds each trade's P&L in turn; its return is the end
/// over the start, its maximum drawdown the deepest fall from a running peak of that equity.
public enum MonteCarlo {
    /// How paths are drawn.
    public enum Method: String, Codable, CaseIterable, Sendable {
        case bootstrap
        case reshuffle
    }

    /// The 5 %, 50 % and 95 % points of a distribution over paths.
    public struct Bands: Codable, Equatable, Sendable {
        public var p5: Double
        public var p50: Double
        public var p95: Double

        /// Bands from their three points.
        public init(p5: Double, p50: Double, p95: Double) {
            self.p5 = p5
            self.p50 = p50
            self.p95 = p95
        }
    }

    /// What the paths gave.
    public struct Result: Codable, Equatable, Sendable {
        /// How the paths were drawn.
        public var method: Method
        /// Paths drawn.
        public var paths: Int
        /// Trades per path (the run's).
        public var trades: Int
        /// The seed: the same seed gives the same paths.
        public var seed: UInt64
        /// Total return over the starting capital (fraction).
        public var totalReturn: Bands
        /// Maximum drawdown from a running peak (fraction, positive).
        public var maxDrawdown: Bands
        /// Every path's return, in path order (for plots).
        public var returns: [Double]
        /// Every path's maximum drawdown, in path order.
        public var drawdowns: [Double]
    }

    /// Draws `paths` paths of the trades' P&L (quote currency, in the run's order) from `capital`.
    ///
    /// - Precondition: at least one trade, `capital` > 0, `paths` > 0.
    public static func run(
        tradePnL: [Double],
        capital: Double,
        method: Method,
        paths: Int = 10_000,
        seed: UInt64 = 1
    ) -> Result {
        precondition(!tradePnL.isEmpty && capital > 0 && paths > 0, "Monte Carlo needs trades, capital and paths")
        var random = SplitMix64(seed: seed)
        let n = tradePnL.count
        var returns = [Double](repeating: 0, count: paths)
        var drawdowns = [Double](repeating: 0, count: paths)
        var order = Array(0..<n)
        for path in 0..<paths {
            switch method {
            case .bootstrap:
                for i in 0..<n { order[i] = random.below(n) }
            case .reshuffle:
                // Fisher–Yates over the previous path's order: every permutation equally likely.
                for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, random.below(i + 1)) }
            }
            var equity = capital
            var peak = capital
            var deepest = 0.0
            for i in order {
                equity += tradePnL[i]
                peak = max(peak, equity)
                deepest = max(deepest, (peak - equity) / peak)
            }
            returns[path] = equity / capital - 1
            drawdowns[path] = deepest
        }
        return Result(
            method: method, paths: paths, trades: n, seed: seed, totalReturn: bands(returns), maxDrawdown: bands(drawdowns),
            returns: returns, drawdowns: drawdowns
        )
    }

    /// The 5th, 50th and 95th percentiles (linear between order statistics, as numpy's default).
    public static func bands(_ values: [Double]) -> Bands {
        let sorted = values.sorted()
        func quantile(_ q: Double) -> Double {
            let position = q * Double(sorted.count - 1)
            let low = Int(position.rounded(.down))
            let high = min(low + 1, sorted.count - 1)
            return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
        }
        return Bands(p5: quantile(0.05), p50: quantile(0.50), p95: quantile(0.95))
    }
}

/// SplitMix64: a small, fast, well-mixed generator whose stream a seed fixes on every platform.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound (Lemire's multiply-shift with rejection: no modulo bias).
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        while true {
            let product = next().multipliedFullWidth(by: b)
            if product.low >= (0 &- b) % b { return Int(product.high) }
        }
    }
}
