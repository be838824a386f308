internal import COpenBLAS

// BLAS sizes are `blasint`, which is `int` in Debian's OpenBLAS (built without USE_64BITINT):
// every conversion to Int32 happens in this file.
@inline(__always)
private func blasInt(_ value: Int) -> Int32 {
    precondition(value <= Int(Int32.max), "dimension exceeds the BLAS int range")
    return Int32(value)
}

// The storage of a `Matrix<Scalar>` is `[Float]` or `[Double]` at run time (checked by `precision`),
// so viewing its base address as that type is a no-op rebinding of the same memory.
@inline(__always)
private func typed<S, T>(_ buffer: UnsafeBufferPointer<S>, _: T.Type) -> UnsafePointer<T>? {
    buffer.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: T.self) }
}

@inline(__always)
private func typed<S, T>(_ buffer: UnsafeMutableBufferPointer<S>, _: T.Type) -> UnsafeMutablePointer<T>? {
    buffer.baseAddress.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: T.self) }
}

/// Whether an operand of a product is used as stored or transposed.
public enum Transpose: Sendable {
    /// Use the matrix as stored.
    case none
    /// Use the transpose of the matrix.
    case transposed

    fileprivate var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

extension Matrix {
    /// Returns `self × other` (BLAS `gemm`).
    public func multiplied(by other: Matrix) -> Matrix {
        var result = Matrix(rows: rows, columns: other.columns)
        Matrix.gemm(alpha: 1, a: self, b: other, beta: 0, into: &result)
        return result
    }

    /// Computes `c = alpha · op(a) · op(b) + beta · c` (BLAS `gemm`).
    ///
    /// - Precondition: the shapes of `op(a)`, `op(b)` and `c` agree.
    public static func gemm(
        alpha: Scalar,
        a: Matrix,
        transposeA: Transpose = .none,
        b: Matrix,
        transposeB: Transpose = .none,
        beta: Scalar,
        into c: inout Matrix
    ) {
        let m = transposeA == .none ? a.rows : a.columns
        let k = transposeA == .none ? a.columns : a.rows
        let kb = transposeB == .none ? b.rows : b.columns
        let n = transposeB == .none ? b.columns : b.rows
        precondition(k == kb, "inner dimensions must match")
        precondition(c.rows == m && c.columns == n, "result shape must be op(a).rows × op(b).columns")
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            // An empty inner dimension makes the product zero; BLAS would still need valid pointers.
            c.scale(by: beta)
            return
        }
        let lda = blasInt(max(1, a.columns))
        let ldb = blasInt(max(1, b.columns))
        let ldc = blasInt(max(1, c.columns))
        a.storage.withUnsafeBufferPointer { pa in
            b.storage.withUnsafeBufferPointer { pb in
                c.storage.withUnsafeMutableBufferPointer { pc in
                    switch Scalar.precision {
                    case .single:
                        cblas_sgemm(
                            CblasRowMajor, transposeA.cblas, transposeB.cblas,
                            blasInt(m), blasInt(n), blasInt(k),
                            Float(alpha), typed(pa, Float.self), lda, typed(pb, Float.self), ldb,
                            Float(beta), typed(pc, Float.self), ldc
                        )
                    case .double:
                        cblas_dgemm(
                            CblasRowMajor, transposeA.cblas, transposeB.cblas,
                            blasInt(m), blasInt(n), blasInt(k),
                            Double(alpha), typed(pa, Double.self), lda, typed(pb, Double.self), ldb,
                            Double(beta), typed(pc, Double.self), ldc
                        )
                    }
                }
            }
        }
    }

    /// Returns `op(self) · x` (BLAS `gemv`).
    public func multiplied(by x: [Scalar], _ transpose: Transpose = .none) -> [Scalar] {
        var y = [Scalar](repeating: 0, count: transpose == .none ? rows : columns)
        gemv(alpha: 1, transpose, x, beta: 0, into: &y)
        return y
    }

    /// Computes `y = alpha · op(self) · x + beta · y` (BLAS `gemv`).
    public func gemv(alpha: Scalar, _ transpose: Transpose = .none, _ x: [Scalar], beta: Scalar, into y: inout [Scalar]) {
        let m = transpose == .none ? rows : columns
        let n = transpose == .none ? columns : rows
        precondition(x.count == n, "x must have op(self).columns elements")
        precondition(y.count == m, "y must have op(self).rows elements")
        guard m > 0 else { return }
        guard n > 0 else {
            Vector.scale(&y, by: beta)
            return
        }
        storage.withUnsafeBufferPointer { pa in
            x.withUnsafeBufferPointer { px in
                y.withUnsafeMutableBufferPointer { py in
                    switch Scalar.precision {
                    case .single:
                        cblas_sgemv(
                            CblasRowMajor, transpose.cblas, blasInt(rows), blasInt(columns),
                            Float(alpha), typed(pa, Float.self), blasInt(max(1, columns)),
                            typed(px, Float.self), 1, Float(beta), typed(py, Float.self), 1
                        )
                    case .double:
                        cblas_dgemv(
                            CblasRowMajor, transpose.cblas, blasInt(rows), blasInt(columns),
                            Double(alpha), typed(pa, Double.self), blasInt(max(1, columns)),
                            typed(px, Double.self), 1, Double(beta), typed(py, Double.self), 1
                        )
                    }
                }
            }
        }
    }

    /// Multiplies every element by `alpha` in place (BLAS `scal`).
    public mutating func scale(by alpha: Scalar) {
        Vector.scale(&storage, by: alpha)
    }

    /// Computes `self += alpha · other` element-wise (BLAS `axpy`).
    public mutating func add(_ other: Matrix, scaledBy alpha: Scalar = 1) {
        precondition(rows == other.rows && columns == other.columns, "shapes must match")
        Vector.axpy(alpha, other.storage, &storage)
    }

    /// The dot product of column `i` and column `j` (BLAS `dot` with stride `columns`).
    public func columnDot(_ i: Int, _ j: Int) -> Scalar {
        precondition(i >= 0 && i < columns && j >= 0 && j < columns, "column index out of range")
        guard rows > 0 else { return 0 }
        return storage.withUnsafeBufferPointer { p in
            let inc = blasInt(columns)
            switch Scalar.precision {
            case .single:
                let base = typed(p, Float.self)
                return Scalar(cblas_sdot(blasInt(rows), base.map { $0 + i }, inc, base.map { $0 + j }, inc))
            case .double:
                let base = typed(p, Double.self)
                return Scalar(cblas_ddot(blasInt(rows), base.map { $0 + i }, inc, base.map { $0 + j }, inc))
            }
        }
    }
}

/// BLAS level-1 operations on contiguous vectors.
public enum Vector {
    /// The dot product `Σ x[i]·y[i]` (BLAS `dot`).
    public static func dot<S: MatrixScalar>(_ x: [S], _ y: [S]) -> S {
        precondition(x.count == y.count, "vectors must have the same length")
        guard !x.isEmpty else { return 0 }
        return x.withUnsafeBufferPointer { px in
            y.withUnsafeBufferPointer { py in
                switch S.precision {
                case .single:
                    S(cblas_sdot(blasInt(x.count), typed(px, Float.self), 1, typed(py, Float.self), 1))
                case .double:
                    S(cblas_ddot(blasInt(x.count), typed(px, Double.self), 1, typed(py, Double.self), 1))
                }
            }
        }
    }

    /// Computes `y += alpha · x` (BLAS `axpy`).
    public static func axpy<S: MatrixScalar>(_ alpha: S, _ x: [S], _ y: inout [S]) {
        precondition(x.count == y.count, "vectors must have the same length")
        guard !x.isEmpty else { return }
        let n = blasInt(x.count)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                switch S.precision {
                case .single: cblas_saxpy(n, Float(alpha), typed(px, Float.self), 1, typed(py, Float.self), 1)
                case .double: cblas_daxpy(n, Double(alpha), typed(px, Double.self), 1, typed(py, Double.self), 1)
                }
            }
        }
    }

    /// Computes `x *= alpha` (BLAS `scal`).
    ///
    /// Unlike reference BLAS, `alpha == 0` writes zeros even where `x` held NaN (OpenBLAS's behaviour
    /// varies by version, so that case is done here).
    public static func scale<S: MatrixScalar>(_ x: inout [S], by alpha: S) {
        guard !x.isEmpty else { return }
        if alpha == 0 {
            for i in x.indices { x[i] = 0 }
            return
        }
        let n = blasInt(x.count)
        x.withUnsafeMutableBufferPointer { px in
            switch S.precision {
            case .single: cblas_sscal(n, Float(alpha), typed(px, Float.self), 1)
            case .double: cblas_dscal(n, Double(alpha), typed(px, Double.self), 1)
            }
        }
    }

    /// Sets the number of threads OpenBLAS uses; 1 inside code that is already parallel.
    public static func setBLASThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var blasThreadCount: Int { Int(openblas_get_num_threads()) }
}
