internal import CXGBoost

/// A dense feature matrix owned by XGBoost, with optional labels.
///
/// The handle is freed in `deinit`. Instances are not `Sendable`: create and use them on one task,
/// as GRDB does for `Database`.
public final class DMatrix {
    let handle: DMatrixHandle
    /// Number of rows.
    public let rowCount: Int
    /// Number of columns.
    public let columnCount: Int

    /// Copies a row-major `Float` buffer into a new XGBoost matrix; `missing` marks absent values.
    ///
    /// - Parameter threads: threads that copy the rows (0: one per core). XGBoost stores a
    ///   `DMatrix` in its own row format, so one copy is unavoidable; the threads split it.
    public init(rowMajor values: [Float], rowCount: Int, columnCount: Int, missing: Float = .nan, threads: Int = 0) throws(XGBoostError) {
        precondition(values.count == rowCount * columnCount, "values.count must equal rowCount * columnCount")
        var out: DMatrixHandle?
        try values.withUnsafeBufferPointer { (buffer) throws(XGBoostError) in
            // > c_api.h: "create matrix content from dense matrix … missing: which value to represent
            // > missing value … nthread: number of threads (up to maximum cores available, if <=0 use
            // > all cores)"; the data is copied, so the buffer need not outlive the call.
            try xgbCall("XGDMatrixCreateFromMat_omp") {
                XGDMatrixCreateFromMat_omp(buffer.baseAddress, UInt64(rowCount), UInt64(columnCount), missing, &out, Int32(threads))
            }
        }
        guard let out else { throw XGBoostError(function: "XGDMatrixCreateFromMat_omp", message: "returned a null handle") }
        handle = out
        self.rowCount = rowCount
        self.columnCount = columnCount
    }

    /// Sets the training labels (one per row).
    public func setLabels(_ labels: [Float]) throws(XGBoostError) {
        precondition(labels.count == rowCount, "one label per row")
        try labels.withUnsafeBufferPointer { (buffer) throws(XGBoostError) in
            try xgbCall("XGDMatrixSetFloatInfo") {
                XGDMatrixSetFloatInfo(handle, "label", buffer.baseAddress, UInt64(labels.count))
            }
        }
    }

    deinit { XGDMatrixFree(handle) }
}

@available(*, unavailable)
extension DMatrix: Sendable {}
