/// A dense, row-major matrix with contiguous storage.
///
/// `Matrix` is the one currency of numeric data in CryptoScalper: feature matrices, model input, scanner
/// state and metrics. Element `(r, c)` lives at `storage[r * columns + c]`. Rows are contiguous, so a
/// row is an `ArraySlice` of the storage; a column is a strided ``ColumnView``. Neither copies.
public struct Matrix<Scalar: MatrixScalar>: Equatable, Sendable {
    /// Number of rows.
    public internal(set) var rows: Int
    /// Number of columns.
    public let columns: Int
    /// The elements in row-major order; `storage.count == rows * columns`.
    public internal(set) var storage: [Scalar]

    /// Creates a matrix from row-major elements.
    ///
    /// - Precondition: `storage.count == rows * columns`.
    public init(rows: Int, columns: Int, storage: [Scalar]) {
        precondition(rows >= 0 && columns >= 0, "matrix dimensions must be non-negative")
        precondition(storage.count == rows * columns, "storage.count must equal rows * columns")
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    /// Creates a matrix with every element set to `value`.
    public init(rows: Int, columns: Int, repeating value: Scalar = 0) {
        self.init(rows: rows, columns: columns, storage: [Scalar](repeating: value, count: rows * columns))
    }

    /// Creates a matrix from an array of equally long rows.
    public init(rowArrays: [[Scalar]]) {
        let columns = rowArrays.first?.count ?? 0
        var storage: [Scalar] = []
        storage.reserveCapacity(rowArrays.count * columns)
        for row in rowArrays {
            precondition(row.count == columns, "every row must have the same length")
            storage.append(contentsOf: row)
        }
        self.init(rows: rowArrays.count, columns: columns, storage: storage)
    }

    /// Creates an `n × n` identity matrix.
    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, columns: n)
        for i in 0..<n { m[i, i] = 1 }
        return m
    }

    /// Whether the matrix has no elements.
    public var isEmpty: Bool { storage.isEmpty }

    /// The element at row `row` and column `column`.
    public subscript(row: Int, column: Int) -> Scalar {
        get {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns, "index out of range")
            return storage[row * columns + column]
        }
        set {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns, "index out of range")
            storage[row * columns + column] = newValue
        }
    }

    /// Row `index` as a slice of the storage (no copy).
    public func row(_ index: Int) -> ArraySlice<Scalar> {
        precondition(index >= 0 && index < rows, "row index out of range")
        return storage[(index * columns)..<((index + 1) * columns)]
    }

    /// Column `index` as a strided view of the storage (no copy).
    public func column(_ index: Int) -> ColumnView<Scalar> {
        precondition(index >= 0 && index < columns, "column index out of range")
        return ColumnView(storage: storage, column: index, columns: columns, rows: rows)
    }

    /// Calls `body` with row `index` as a mutable slice of the storage (mutated in place).
    public mutating func withMutableRow<R>(_ index: Int, _ body: (inout ArraySlice<Scalar>) throws -> R) rethrows -> R {
        precondition(index >= 0 && index < rows, "row index out of range")
        return try body(&storage[(index * columns)..<((index + 1) * columns)])
    }

    /// Replaces row `index` with `values`.
    public mutating func setRow<C: Collection>(_ index: Int, to values: C) where C.Element == Scalar {
        precondition(values.count == columns, "row length must equal columns")
        var i = index * columns
        for v in values {
            storage[i] = v
            i += 1
        }
    }

    /// Appends one row at the bottom (amortised O(columns)).
    public mutating func appendRow<C: Collection>(_ values: C) where C.Element == Scalar {
        precondition(values.count == columns, "row length must equal columns")
        storage.append(contentsOf: values)
        rows += 1
    }

    /// Reserves storage for `rowCount` rows in total.
    public mutating func reserveRows(_ rowCount: Int) {
        storage.reserveCapacity(rowCount * columns)
    }

    /// The rows in `range`, copied into a new matrix.
    public func rows(_ range: Range<Int>) -> Matrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "row range out of bounds")
        return Matrix(
            rows: range.count,
            columns: columns,
            storage: Array(storage[(range.lowerBound * columns)..<(range.upperBound * columns)])
        )
    }

    /// The rows at `indices`, in that order, copied into a new matrix.
    public func rows<S: Sequence>(at indices: S) -> Matrix where S.Element == Int {
        var out: [Scalar] = []
        var count = 0
        for i in indices {
            out.append(contentsOf: row(i))
            count += 1
        }
        return Matrix(rows: count, columns: columns, storage: out)
    }

    /// The transpose, copied.
    public func transposed() -> Matrix {
        var out = [Scalar](repeating: 0, count: storage.count)
        for r in 0..<rows {
            for c in 0..<columns {
                out[c * rows + r] = storage[r * columns + c]
            }
        }
        return Matrix(rows: columns, columns: rows, storage: out)
    }

    /// The same elements converted to another precision.
    ///
    /// Through `Double`, which holds every `Float` exactly, so the result is the direct conversion's.
    public func converted<Other: MatrixScalar>(to _: Other.Type = Other.self) -> Matrix<Other> {
        Matrix<Other>(rows: rows, columns: columns, storage: storage.map { Other($0.doubleValue) })
    }

    /// The rows as arrays (a copy; for display and tests).
    public var rowArrays: [[Scalar]] { (0..<rows).map { Array(row($0)) } }
}

/// One column of a ``Matrix`` as a strided, read-only collection that shares the matrix's storage.
public struct ColumnView<Scalar: MatrixScalar>: RandomAccessCollection, Sendable {
    let storage: [Scalar]
    let column: Int
    let columns: Int
    let rows: Int

    /// Zero.
    public var startIndex: Int { 0 }
    /// The number of rows.
    public var endIndex: Int { rows }

    /// The element in row `position`.
    public subscript(position: Int) -> Scalar {
        precondition(position >= 0 && position < rows, "index out of range")
        return storage[position * columns + column]
    }
}
