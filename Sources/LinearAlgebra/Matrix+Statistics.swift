/// Per-column location and scale of a matrix, as used to standardise model input.
public struct ColumnStatistics<Scalar: MatrixScalar>: Equatable, Sendable, Codable {
    /// Mean of each column.
    public var means: [Scalar]
    /// Standard deviation of each column (divisor `count − ddof`).
    public var standardDeviations: [Scalar]
    /// Number of values that entered each column's statistics (non-NaN ones when NaN is ignored).
    public var counts: [Int]
}

extension Matrix {
    /// The mean of every column: `ones(rows)ᵀ · self / rows` (BLAS `gemv`).
    ///
    /// NaN propagates; use ``columnStatistics(ddof:ignoringNaN:)`` to skip missing values.
    /// An empty column has mean NaN.
    public func columnMeans() -> [Scalar] {
        guard rows > 0 else { return [Scalar](repeating: .nan, count: columns) }
        let ones = [Scalar](repeating: 1, count: rows)
        var sums = multiplied(by: ones, .transposed)
        Vector.scale(&sums, by: 1 / Scalar(rows))
        return sums
    }

    /// Column means, standard deviations and counts.
    ///
    /// Standard deviations use two passes (mean first, then squared deviations), which is exact for
    /// constant columns (0, not ~1e-17). With `ignoringNaN`, NaN entries are left out of a column's
    /// figures; a column with `count ≤ ddof` gets NaN.
    public func columnStatistics(ddof: Int = 0, ignoringNaN: Bool = false) -> ColumnStatistics<Scalar> {
        var means: [Scalar]
        var counts: [Int]
        if ignoringNaN {
            var sums = [Scalar](repeating: 0, count: columns)
            counts = [Int](repeating: 0, count: columns)
            for r in 0..<rows {
                let base = r * columns
                for c in 0..<columns where !storage[base + c].isNaN {
                    sums[c] += storage[base + c]
                    counts[c] += 1
                }
            }
            means = (0..<columns).map { counts[$0] > 0 ? sums[$0] / Scalar(counts[$0]) : .nan }
        } else {
            means = columnMeans()
            counts = [Int](repeating: rows, count: columns)
        }
        var squares = [Scalar](repeating: 0, count: columns)
        for r in 0..<rows {
            let base = r * columns
            for c in 0..<columns {
                let v = storage[base + c]
                if ignoringNaN && v.isNaN { continue }
                let d = v - means[c]
                squares[c] += d * d
            }
        }
        let stds = (0..<columns).map { c -> Scalar in
            let n = counts[c] - ddof
            return n > 0 ? (squares[c] / Scalar(n)).squareRoot() : .nan
        }
        return ColumnStatistics(means: means, standardDeviations: stds, counts: counts)
    }

    /// Returns `(x − mean) / std` per column; a column whose std is 0 or NaN is only centred.
    ///
    /// NaN entries stay NaN (missing stays missing).
    public func standardized(with statistics: ColumnStatistics<Scalar>) -> Matrix {
        precondition(statistics.means.count == columns, "statistics must have one entry per column")
        let scales = statistics.standardDeviations.map { s -> Scalar in (s > 0 && s.isFinite) ? 1 / s : 1 }
        var out = self
        for r in 0..<rows {
            let base = r * columns
            for c in 0..<columns {
                out.storage[base + c] = (storage[base + c] - statistics.means[c]) * scales[c]
            }
        }
        return out
    }

    /// Standardises every column with its own statistics (ignoring NaN) and returns both.
    public func standardized(ddof: Int = 0) -> (matrix: Matrix, statistics: ColumnStatistics<Scalar>) {
        let stats = columnStatistics(ddof: ddof, ignoringNaN: true)
        return (standardized(with: stats), stats)
    }
}
