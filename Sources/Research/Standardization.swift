/// Z-scores per column: each column of a set of vectors shifted by its mean and divided by its
/// population standard deviation, so parameters in different units (a probability, a percentage,
/// seconds) weigh alike in a distance.
///
/// A constant column (standard deviation 0) maps to 0 everywhere: it separates nothing, so it adds
/// nothing to any distance.
public struct Standardization: Equatable, Sendable {
    /// Each column's mean.
    public var means: [Double]
    /// Each column's population standard deviation (divisor n); 0 for a constant column.
    public var deviations: [Double]

    /// Fits the means and deviations of `rows` (all of one length; at least one row).
    public init(fitting rows: [[Double]]) {
        precondition(!rows.isEmpty, "standardisation needs at least one row")
        let d = rows[0].count
        precondition(rows.allSatisfy { $0.count == d }, "every row must have the same length")
        let n = Double(rows.count)
        var means = [Double](repeating: 0, count: d)
        for row in rows {
            for j in 0..<d { means[j] += row[j] }
        }
        for j in 0..<d { means[j] /= n }
        var deviations = [Double](repeating: 0, count: d)
        for row in rows {
            for j in 0..<d { deviations[j] += (row[j] - means[j]) * (row[j] - means[j]) }
        }
        for j in 0..<d {
            let sd = (deviations[j] / n).squareRoot()
            // Differences at rounding level are no spread: a column of 0.1 + 0.2 and 0.3 is constant.
            deviations[j] = sd > 1e-12 * max(1, abs(means[j])) ? sd : 0
        }
        self.means = means
        self.deviations = deviations
    }

    /// The z-scores of `row` (0 in a constant column).
    public func apply(_ row: [Double]) -> [Double] {
        precondition(row.count == means.count, "row length differs from the fitted columns")
        return (0..<row.count).map { j in deviations[j] > 0 ? (row[j] - means[j]) / deviations[j] : 0 }
    }

    /// The z-scores of every row.
    public func apply(rows: [[Double]]) -> [[Double]] { rows.map(apply) }
}
