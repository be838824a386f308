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

    /// Two histograms (total return, maximum drawdown; percent), each with its 5 / 50 / 95 % bands
    /// marked.
    public static func histogramSVG(_ result: Result, bins: Int = 40) -> String {
        let panelWidth = 420.0
        let height = 300.0
        let (left, top, bottom) = (48.0, 44.0, 40.0)
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(2 * panelWidth))" height="\(Int(height))" font-family="sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(panelWidth))" y="18" text-anchor="middle" font-size="13">Monte Carlo (\(result.method.rawValue), \(result.paths) paths of \(result.trades) trades, seed \(result.seed))</text>

            """
        let panels: [(String, [Double], Bands)] = [
            ("total return (%)", result.returns.map { $0 * 100 }, result.totalReturn),
            ("max drawdown (%)", result.drawdowns.map { $0 * 100 }, result.maxDrawdown),
        ]
        for (k, (name, values, bands)) in panels.enumerated() {
            let x0 = Double(k) * panelWidth + left
            let w = panelWidth - left - 16
            let low = values.min() ?? 0
            let high = max(values.max() ?? 1, low + 1e-9)
            var counts = [Int](repeating: 0, count: bins)
            for v in values { counts[min(bins - 1, Int((v - low) / (high - low) * Double(bins)))] += 1 }
            let most = Double(counts.max() ?? 1)
            let barWidth = w / Double(bins)
            for (i, c) in counts.enumerated() where c > 0 {
                let h = Double(c) / most * (height - top - bottom)
                svg += "<rect x=\"\(f(x0 + Double(i) * barWidth))\" y=\"\(f(height - bottom - h))\" width=\"\(f(max(barWidth - 1, 1)))\" height=\"\(f(h))\" fill=\"#89a\"/>\n"
            }
            for (label, v) in [("5 %", bands.p5 * 100), ("50 %", bands.p50 * 100), ("95 %", bands.p95 * 100)] {
                let x = x0 + (v - low) / (high - low) * w
                svg += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(height - bottom))\" stroke=\"#c33\" stroke-dasharray=\"4,3\"/>\n"
                svg += "<text x=\"\(f(x))\" y=\"\(f(top - 4))\" text-anchor=\"middle\" fill=\"#c33\">\(label) \(String(format: "%.2f", v))</text>\n"
            }
            svg += "<line x1=\"\(f(x0))\" y1=\"\(f(height - bottom))\" x2=\"\(f(x0 + w))\" y2=\"\(f(height - bottom))\" stroke=\"#333\"/>\n"
            svg += "<text x=\"\(f(x0))\" y=\"\(f(height - bottom + 14))\">\(String(format: "%.2f", low))</text>\n"
            svg += "<text x=\"\(f(x0 + w))\" y=\"\(f(height - bottom + 14))\" text-anchor=\"end\">\(String(format: "%.2f", high))</text>\n"
            svg += "<text x=\"\(f(x0 + w / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">\(name)</text>\n"
        }
        return svg + "</svg>\n"
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
