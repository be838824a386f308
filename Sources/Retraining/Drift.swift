import Foundation
public import LinearAlgebra

/// Population stability index of each feature: how far its distribution in a recent window has
/// moved from the training window's.
///
/// Bins are the reference's deciles (its distinct quantiles), plus one bin for missing values;
/// PSI = Σ (aᵢ − eᵢ)·ln(aᵢ / eᵢ) over bins, shares floored at 1e-4. Conventional reading: below 0.1
/// stable, 0.1–0.25 moved, above 0.25 shifted.
public enum Drift {
    /// PSI per column of `recent` against `reference` (rows × features, NaN = missing).
    public static func psi(reference: Matrix<Float>, recent: Matrix<Float>, bins: Int = 10) -> [Double] {
        precondition(reference.columns == recent.columns, "the same features in both windows")
        var out: [Double] = []
        for column in 0..<reference.columns {
            out.append(psi(reference: values(reference, column), recent: values(recent, column), bins: bins))
        }
        return out
    }

    /// PSI of one feature's values (NaN = missing).
    public static func psi(reference: [Double], recent: [Double], bins: Int = 10) -> Double {
        guard !reference.isEmpty, !recent.isEmpty else { return .nan }
        let present = reference.filter { !$0.isNaN }.sorted()
        var edges: [Double] = []
        if !present.isEmpty {
            for k in 1..<bins {
                let q = present[min(present.count - 1, present.count * k / bins)]
                if edges.last.map({ q > $0 }) ?? true { edges.append(q) }
            }
        }
        func shares(_ xs: [Double]) -> [Double] {
            var counts = [Double](repeating: 0, count: edges.count + 2)  // bins…, missing
            for x in xs {
                if x.isNaN {
                    counts[edges.count + 1] += 1
                } else {
                    // First edge above x: bins are (−∞, e0), [e0, e1), …, [e_last, ∞).
                    var lo = 0
                    var hi = edges.count
                    while lo < hi {
                        let mid = (lo + hi) / 2
                        if edges[mid] <= x { lo = mid + 1 } else { hi = mid }
                    }
                    counts[lo] += 1
                }
            }
            return counts.map { max($0 / Double(xs.count), 1e-4) }
        }
        let e = shares(reference)
        let a = shares(recent)
        var total = 0.0
        for (ai, ei) in zip(a, e) where ai > 1e-4 || ei > 1e-4 { total += (ai - ei) * log(ai / ei) }
        return total
    }

    private static func values(_ m: Matrix<Float>, _ column: Int) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(m.rows)
        for r in 0..<m.rows { out.append(Double(m.storage[r * m.columns + column])) }
        return out
    }
}
