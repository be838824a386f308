import Foundation
internal import CXGBoost

/// Which kind of output a prediction returns.
public enum PredictionKind: Int, Sendable {
    /// The objective's output (a probability for `binary:logistic`).
    case value = 0
    /// The raw margin (log-odds for `binary:logistic`), base score included.
    case margin = 1
}

/// A gradient-boosted tree model (XGBoost `Booster`).
///
/// The handle is freed in `deinit`. Not `Sendable`: confine a booster to one task or an actor.
/// Prediction calls reuse a buffer owned by the booster, so results are copied out at once.
public final class Booster {
    let handle: BoosterHandle

    /// Creates a booster whose training caches the given matrices, with `parameters` set in order.
    public init(cache: [DMatrix] = [], parameters: [(String, String)] = []) throws(XGBoostError) {
        var out: BoosterHandle?
        var handles: [DMatrixHandle?] = cache.map { $0.handle }
        try withExtendedLifetime(cache) { () throws(XGBoostError) in
            try handles.withUnsafeMutableBufferPointer { (buffer) throws(XGBoostError) in
                try xgbCall("XGBoosterCreate") { XGBoosterCreate(buffer.baseAddress, UInt64(cache.count), &out) }
            }
        }
        guard let out else { throw XGBoostError(function: "XGBoosterCreate", message: "returned a null handle") }
        handle = out
        for (name, value) in parameters { try setParameter(name, value) }
    }

    /// Loads a model saved by ``save(to:)`` (JSON when the path ends in `.json`, else UBJSON).
    public convenience init(contentsOf path: String) throws(XGBoostError) {
        try self.init()
        try xgbCall("XGBoosterLoadModel") { XGBoosterLoadModel(handle, path) }
    }

    /// Loads a model from bytes in memory (JSON or UBJSON).
    public convenience init(modelBytes: [UInt8]) throws(XGBoostError) {
        try self.init()
        try modelBytes.withUnsafeBufferPointer { (buffer) throws(XGBoostError) in
            try xgbCall("XGBoosterLoadModelFromBuffer") {
                XGBoosterLoadModelFromBuffer(handle, buffer.baseAddress, UInt64(buffer.count))
            }
        }
    }

    deinit { XGBoosterFree(handle) }

    /// Sets one training or prediction parameter (`max_depth`, `eta`, `nthread`, …).
    public func setParameter(_ name: String, _ value: String) throws(XGBoostError) {
        try xgbCall("XGBoosterSetParam") { XGBoosterSetParam(handle, name, value) }
    }

    /// Runs boosting round `iteration` on `train`.
    public func update(iteration: Int, train: DMatrix) throws(XGBoostError) {
        try withExtendedLifetime(train) { () throws(XGBoostError) in
            try xgbCall("XGBoosterUpdateOneIter") { XGBoosterUpdateOneIter(handle, Int32(iteration), train.handle) }
        }
    }

    /// Evaluates the model after round `iteration` on named matrices; returns metric → value per name.
    ///
    /// Parses XGBoost's `[i]\tname-metric:value` line.
    public func evaluate(iteration: Int, on sets: [(name: String, matrix: DMatrix)]) throws(XGBoostError) -> [String: Double] {
        var handles: [DMatrixHandle?] = sets.map { $0.matrix.handle }
        let names = sets.map { strdup($0.name) }
        defer { names.forEach { free($0) } }
        var namePointers: [UnsafePointer<CChar>?] = names.map { UnsafePointer($0) }
        var out: UnsafePointer<CChar>?
        try withExtendedLifetime(sets.map(\.matrix)) { () throws(XGBoostError) in
            try handles.withUnsafeMutableBufferPointer { (h) throws(XGBoostError) in
                try namePointers.withUnsafeMutableBufferPointer { (n) throws(XGBoostError) in
                    try xgbCall("XGBoosterEvalOneIter") {
                        XGBoosterEvalOneIter(handle, Int32(iteration), h.baseAddress, n.baseAddress, UInt64(sets.count), &out)
                    }
                }
            }
        }
        // The string lives in XGBoost's thread-local storage: copy it now.
        let text = out.map { String(cString: $0) } ?? ""
        var result: [String: Double] = [:]
        for field in text.split(separator: "\t").dropFirst() {
            let parts = field.split(separator: ":")
            if parts.count == 2, let value = Double(parts[1]) { result[String(parts[0])] = value }
        }
        return result
    }

    /// Number of boosting rounds in the model.
    public var boostedRounds: Int {
        get throws(XGBoostError) {
            var rounds: Int32 = 0
            try xgbCall("XGBoosterBoostedRounds") { XGBoosterBoostedRounds(handle, &rounds) }
            return Int(rounds)
        }
    }

    /// Predictions for every row of `matrix` using trees of rounds `iterations` (`nil`: all).
    public func predict(
        _ matrix: DMatrix,
        kind: PredictionKind = .value,
        iterations: Range<Int>? = nil
    ) throws(XGBoostError) -> [Float] {
        let config = Self.config(kind: kind, iterations: iterations, missing: nil)
        var shape: UnsafePointer<UInt64>?
        var dimension: UInt64 = 0
        var result: UnsafePointer<Float>?
        try withExtendedLifetime(matrix) { () throws(XGBoostError) in
            try xgbCall("XGBoosterPredictFromDMatrix") {
                XGBoosterPredictFromDMatrix(handle, matrix.handle, config, &shape, &dimension, &result)
            }
        }
        return Self.copy(shape: shape, dimension: dimension, result: result)
    }

    /// Predictions for a dense row-major `Float` block (in-place prediction, no DMatrix).
    ///
    /// NaN marks missing values. This is the low-latency path for one row or a small batch.
    public func predict(
        rowMajor values: [Float],
        rowCount: Int,
        columnCount: Int,
        kind: PredictionKind = .value,
        iterations: Range<Int>? = nil
    ) throws(XGBoostError) -> [Float] {
        precondition(values.count == rowCount * columnCount, "values.count must equal rowCount * columnCount")
        let config = Self.config(kind: kind, iterations: iterations, missing: .nan)
        var shape: UnsafePointer<UInt64>?
        var dimension: UInt64 = 0
        var result: UnsafePointer<Float>?
        try values.withUnsafeBufferPointer { (buffer) throws(XGBoostError) in
            // > c_api.h: "values: JSON encoded __array_interface__ to values" — the address is passed
            // > as an integer and read during the call only.
            let address = UInt(bitPattern: buffer.baseAddress)
            let interface =
                #"{"data":[\#(address),true],"shape":[\#(rowCount),\#(columnCount)],"typestr":"<f4","version":3}"#
            try xgbCall("XGBoosterPredictFromDense") {
                XGBoosterPredictFromDense(handle, interface, config, nil, &shape, &dimension, &result)
            }
        }
        return Self.copy(shape: shape, dimension: dimension, result: result)
    }

    private static func config(kind: PredictionKind, iterations: Range<Int>?, missing: Float?) -> String {
        let begin = iterations?.lowerBound ?? 0
        let end = iterations?.upperBound ?? 0
        var text = #"{"type":\#(kind.rawValue),"training":false,"iteration_begin":\#(begin),"iteration_end":\#(end),"strict_shape":false"#
        if missing != nil { text += #","missing":NaN,"cache_id":0"# }
        return text + "}"
    }

    private static func copy(shape: UnsafePointer<UInt64>?, dimension: UInt64, result: UnsafePointer<Float>?) -> [Float] {
        guard let shape, let result else { return [] }
        let count = UnsafeBufferPointer(start: shape, count: Int(dimension)).reduce(1) { $0 * Int($1) }
        // The buffer belongs to the booster and is reused by the next call: copy it out now.
        return Array(UnsafeBufferPointer(start: result, count: count))
    }

    /// Saves the model (format by extension: `.json` → JSON, otherwise UBJSON).
    public func save(to path: String) throws(XGBoostError) {
        try xgbCall("XGBoosterSaveModel") { XGBoosterSaveModel(handle, path) }
    }

    /// The model serialised in memory (`"json"` or `"ubj"`).
    public func serialized(format: String = "json") throws(XGBoostError) -> [UInt8] {
        var length: UInt64 = 0
        var out: UnsafePointer<CChar>?
        try xgbCall("XGBoosterSaveModelToBuffer") {
            XGBoosterSaveModelToBuffer(handle, #"{"format":"\#(format)"}"#, &length, &out)
        }
        guard let out else { return [] }
        // Owned by XGBoost's thread-local buffer: copy it now.
        return out.withMemoryRebound(to: UInt8.self, capacity: Int(length)) { Array(UnsafeBufferPointer(start: $0, count: Int(length))) }
    }

    /// The learner's JSON configuration (parameters, `base_score`, objective).
    public func jsonConfiguration() throws(XGBoostError) -> String {
        var length: UInt64 = 0
        var out: UnsafePointer<CChar>?
        try xgbCall("XGBoosterSaveJsonConfig") { XGBoosterSaveJsonConfig(handle, &length, &out) }
        guard let out else { return "{}" }
        // Owned by XGBoost: copy it now.
        return out.withMemoryRebound(to: UInt8.self, capacity: Int(length)) {
            String(decoding: UnsafeBufferPointer(start: $0, count: Int(length)), as: UTF8.self)
        }
    }

    /// A new booster holding only the trees of rounds `rounds` (e.g. up to the best iteration).
    public func sliced(_ rounds: Range<Int>) throws(XGBoostError) -> Booster {
        var out: BoosterHandle?
        try xgbCall("XGBoosterSlice") { XGBoosterSlice(handle, Int32(rounds.lowerBound), Int32(rounds.upperBound), 1, &out) }
        guard let out else { throw XGBoostError(function: "XGBoosterSlice", message: "returned a null handle") }
        return Booster(owning: out)
    }

    private init(owning handle: BoosterHandle) { self.handle = handle }

    /// Sets a string attribute stored with the model.
    public func setAttribute(_ key: String, _ value: String?) throws(XGBoostError) {
        try xgbCall("XGBoosterSetAttr") { XGBoosterSetAttr(handle, key, value) }
    }

    /// A string attribute stored with the model, if set.
    public func attribute(_ key: String) throws(XGBoostError) -> String? {
        var out: UnsafePointer<CChar>?
        var success: Int32 = 0
        try xgbCall("XGBoosterGetAttr") { XGBoosterGetAttr(handle, key, &out, &success) }
        guard success == 1, let out else { return nil }
        return String(cString: out)
    }

    /// Importance per feature index (`"gain"`, `"total_gain"`, `"weight"`, `"cover"`); features never
    /// used in a split are absent.
    public func featureImportance(type: String = "gain") throws(XGBoostError) -> [Int: Double] {
        var count: UInt64 = 0
        var names: UnsafeMutablePointer<UnsafePointer<CChar>?>?
        var dimension: UInt64 = 0
        var shape: UnsafePointer<UInt64>?
        var scores: UnsafePointer<Float>?
        try xgbCall("XGBoosterFeatureScore") {
            XGBoosterFeatureScore(handle, #"{"importance_type":"\#(type)"}"#, &count, &names, &dimension, &shape, &scores)
        }
        var result: [Int: Double] = [:]
        guard let names, let scores else { return result }
        // Both arrays are XGBoost's thread-local storage: read them now.
        for i in 0..<Int(count) {
            guard let name = names[i].map({ String(cString: $0) }), name.hasPrefix("f"), let index = Int(name.dropFirst())
            else { continue }
            result[index] = Double(scores[i])
        }
        return result
    }
}

@available(*, unavailable)
extension Booster: Sendable {}
