/// The element types a ``Matrix`` can hold: `Float` (model input, scoring) and `Double` (features, metrics).
///
/// The BLAS routine used for an operation follows from the type: `s…` routines for `Float`,
/// `d…` routines for `Double`.
public protocol MatrixScalar: BinaryFloatingPoint, Codable, Sendable {
    /// Which BLAS precision serves this type.
    static var precision: MatrixPrecision { get }
}

/// The two BLAS precisions.
public enum MatrixPrecision: Sendable {
    /// 32-bit IEEE floats (`cblas_s…`).
    case single
    /// 64-bit IEEE doubles (`cblas_d…`).
    case double
}

extension Float: MatrixScalar {
    /// Single precision.
    public static var precision: MatrixPrecision { .single }
}

extension Double: MatrixScalar {
    /// Double precision.
    public static var precision: MatrixPrecision { .double }
}
