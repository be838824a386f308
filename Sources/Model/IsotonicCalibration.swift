import Foundation

/// A monotone map from raw model probabilities to calibrated ones, fitted by isotonic regression.
///
/// Fitting is pool-adjacent-violators over the (score, label) pairs sorted by score, with equal
/// scores pooled first. The result is stored as knots; applying it interpolates linearly between
/// knots and clips outside them (`np.interp`), the convention of scikit-learn's
/// `IsotonicRegression(out_of_bounds="clip")`.
public struct IsotonicCalibration: Codable, Equatable, Sendable {
    /// Knot abscissae (raw scores), increasing.
    public var x: [Double]
    /// Knot values (calibrated probabilities), non-decreasing.
    public var y: [Double]

    /// The identity map (no calibration).
    public static let identity = IsotonicCalibration(x: [0, 1], y: [0, 1])

    /// Creates a map from knots.
    public init(x: [Double], y: [Double]) {
        precondition(x.count == y.count && !x.isEmpty, "knots need equal, non-zero counts")
        self.x = x
        self.y = y
    }

    enum CodingKeys: String, CodingKey {
        case x
        case y
    }

    /// Decodes knots and refuses any that ``apply(_:)`` cannot use (see ``problem(x:y:)``), so a
    /// corrupt `calibration.json` fails when it is read rather than trapping on first use.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let x = try container.decode([Double].self, forKey: .x)
        let y = try container.decode([Double].self, forKey: .y)
        if let problem = Self.problem(x: x, y: y) {
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: [], debugDescription: problem))
        }
        self.x = x
        self.y = y
    }

    /// Why `x` and `y` are not the knots of a calibration, or `nil` when they are: the same
    /// non-zero count, every value finite and in [0, 1] (x are raw probabilities, y calibrated
    /// ones), x strictly increasing (interpolation divides by the gaps), y non-decreasing.
    public static func problem(x: [Double], y: [Double]) -> String? {
        guard !x.isEmpty else { return "no knots (x is empty)" }
        guard x.count == y.count else { return "x has \(x.count) knots but y has \(y.count)" }
        for (name, values) in [("x", x), ("y", y)] {
            if let i = values.firstIndex(where: { !$0.isFinite || $0 < 0 || $0 > 1 }) {
                return "\(name)[\(i)] = \(values[i]) is not a probability in [0, 1]"
            }
        }
        if let i = x.indices.dropFirst().first(where: { x[$0] <= x[$0 - 1] }) {
            return "x is not strictly increasing: x[\(i - 1)] = \(x[i - 1]), x[\(i)] = \(x[i])"
        }
        if let i = y.indices.dropFirst().first(where: { y[$0] < y[$0 - 1] }) {
            return "y decreases: y[\(i - 1)] = \(y[i - 1]), y[\(i)] = \(y[i])"
        }
        return nil
    }

    /// Fits the map to `scores` and 0/1 (or fractional) `labels`, optionally weighted.
    public static func fit(scores: [Double], labels: [Double], weights: [Double]? = nil) -> IsotonicCalibration {
        precondition(scores.count == labels.count && !scores.isEmpty, "one label per score, at least one")
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        // Pool equal scores: one point per distinct score with summed weight.
        var xs: [Double] = []
        var sums: [Double] = []
        var ws: [Double] = []
        for i in order {
            let w = weights?[i] ?? 1
            if let last = xs.last, last == scores[i] {
                sums[sums.count - 1] += labels[i] * w
                ws[ws.count - 1] += w
            } else {
                xs.append(scores[i])
                sums.append(labels[i] * w)
                ws.append(w)
            }
        }
        let fitted = poolAdjacentViolators(values: zip(sums, ws).map { $0 / $1 }, weights: ws)
        // Keep the first and last point of each flat run; interior points add nothing to the interpolation.
        var kx: [Double] = []
        var ky: [Double] = []
        for i in xs.indices {
            let isRunStart = i == 0 || fitted[i] != fitted[i - 1]
            let isRunEnd = i == xs.count - 1 || fitted[i] != fitted[i + 1]
            if isRunStart || isRunEnd {
                kx.append(xs[i])
                ky.append(fitted[i])
            }
        }
        return IsotonicCalibration(x: kx, y: ky)
    }

    /// The weighted least-squares non-decreasing fit to `values` (pool adjacent violators, O(n)).
    public static func poolAdjacentViolators(values: [Double], weights: [Double]) -> [Double] {
        precondition(values.count == weights.count, "one weight per value")
        var blockValue: [Double] = []
        var blockWeight: [Double] = []
        var blockSize: [Int] = []
        for (v, w) in zip(values, weights) {
            blockValue.append(v)
            blockWeight.append(w)
            blockSize.append(1)
            while blockValue.count > 1 && blockValue[blockValue.count - 2] > blockValue[blockValue.count - 1] {
                let v2 = blockValue.removeLast()
                let w2 = blockWeight.removeLast()
                let n2 = blockSize.removeLast()
                let k = blockValue.count - 1
                let w1 = blockWeight[k]
                blockValue[k] = (blockValue[k] * w1 + v2 * w2) / (w1 + w2)
                blockWeight[k] = w1 + w2
                blockSize[k] += n2
            }
        }
        var out: [Double] = []
        out.reserveCapacity(values.count)
        for (v, n) in zip(blockValue, blockSize) { out.append(contentsOf: repeatElement(v, count: n)) }
        return out
    }

    /// The calibrated probability of a raw score.
    public func apply(_ score: Double) -> Double {
        guard !score.isNaN else { return .nan }
        if score <= x[0] { return y[0] }
        if score >= x[x.count - 1] { return y[y.count - 1] }
        var lo = 0
        var hi = x.count - 1
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if x[mid] <= score { lo = mid } else { hi = mid }
        }
        let t = (score - x[lo]) / (x[hi] - x[lo])
        return y[lo] + t * (y[hi] - y[lo])
    }

    /// Calibrated probabilities of many scores.
    public func apply(_ scores: [Double]) -> [Double] { scores.map { apply($0) } }

    /// This map with every knot moved by one log-odds offset b, `y' = σ(logit(y) + b)`, b chosen
    /// (by bisection) so that the mean calibrated probability of `scores` equals the mean of
    /// `labels`: the same ranking and shape, at a recent base rate. Knots at 0 or 1 stay; the
    /// result is still non-decreasing. Returns `self` when there is nothing to match (no rows, or a
    /// base rate of 0 or 1, which no finite offset reaches).
    public func shifted(toMeanOf labels: [Double], at scores: [Double]) -> IsotonicCalibration {
        precondition(labels.count == scores.count, "one label per score")
        guard !scores.isEmpty else { return self }
        let target = labels.reduce(0, +) / Double(labels.count)
        guard target > 0, target < 1 else { return self }
        func moved(_ b: Double) -> IsotonicCalibration {
            IsotonicCalibration(
                x: x,
                y: y.map { v in
                    guard v > 0, v < 1 else { return v }
                    return 1 / (1 + exp(-(log(v / (1 - v)) + b)))
                }
            )
        }
        func mean(_ b: Double) -> Double { moved(b).apply(scores).reduce(0, +) / Double(scores.count) }
        var (lo, hi) = (-12.0, 12.0)
        guard mean(lo) < target, mean(hi) > target else { return self }
        for _ in 0..<60 {
            let mid = (lo + hi) / 2
            if mean(mid) < target { lo = mid } else { hi = mid }
        }
        return moved((lo + hi) / 2)
    }
}
