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
    public init(rowMajor values: [Float], rowCount: Int, columnCount: Int, missing: Float = .nan) throws(XGBoostError) {
        precondition(values.count == rowCount * columnCount, "values.count must equal rowCount * columnCount")
        var out: DMatrixHandle?
        try values.withUnsafeBufferPointer { (buffer) throws(XGBoostError) in
            // > c_api.h: "create matrix content from dense matrix … missing: which value to represent
            // > missing value"; the data is copied, so the buffer need not outlive the call.
            try xgbCall("XGDMatrixCreateFromMat") {
                XGDMatrixCreateFromMat(buffer.baseAddress, UInt64(rowCount), UInt64(columnCount), missing, &out)
            }
        }
        guard let out else { throw XGBoostError(function: "XGDMatrixCreateFromMat", message: "returned a null handle") }
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
