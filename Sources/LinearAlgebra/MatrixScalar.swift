/// The element types a ``Matrix`` can hold: `Float` (model input, scoring) and `Double` (features, metrics).
///
/// The BLAS routine used for an operation follows from the type: `s…` routines for `Float`,
/// `d…` routines for `Double`.
public protocol MatrixScalar: BinaryFloatingPoint, Codable, Sendable {
    /// Which BLAS precision serves this type.
    static var precision: MatrixPrecision { get }
    /// The nearest value of this type to `value` (a concrete initializer: the generic
    /// `BinaryFloatingPoint` one costs dynamic casts per element across modules).
    init(_ value: Double)
    /// The value exactly, as a Double.
    var doubleValue: Double { get }
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
    /// Widened exactly.
    @inlinable public var doubleValue: Double { Double(self) }
}

extension Double: MatrixScalar {
    /// Double precision.
    public static var precision: MatrixPrecision { .double }
    /// Itself.
    @inlinable public var doubleValue: Double { self }
}
