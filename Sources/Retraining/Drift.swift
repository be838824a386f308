public import LinearAlgebra
import Model

/// Population stability index of each feature between a training window and a recent one (see
/// ``FeatureReference``, whose bins and formula these are; a session uses the same reference,
/// stored in the bundle as `drift.json`).
public enum Drift {
    /// PSI per column of `recent` against `reference` (rows × features, NaN = missing).
    public static func psi(reference: Matrix<Float>, recent: Matrix<Float>) -> [Double] {
        precondition(reference.columns == recent.columns, "the same features in both windows")
        return FeatureReference.fit(reference).psi(recent)
    }

    /// PSI of one feature's values (NaN = missing).
    public static func psi(reference: [Double], recent: [Double]) -> Double {
        guard !reference.isEmpty, !recent.isEmpty else { return .nan }
        let a = Matrix(rows: reference.count, columns: 1, storage: reference.map(Float.init))
        let b = Matrix(rows: recent.count, columns: 1, storage: recent.map(Float.init))
        return psi(reference: a, recent: b)[0]
    }
}
