internal import CXGBoost

/// An error reported by the XGBoost C API.
///
/// `message` is the text of `XGBGetLastError()` captured right after the failing call.
public struct XGBoostError: Error, Sendable, CustomStringConvertible {
    /// The C function that returned a non-zero status.
    public var function: String
    /// The message XGBoost recorded for the calling thread.
    public var message: String

    /// `function failed: message`.
    public var description: String { "\(function) failed: \(message)" }
}

/// Runs one XGBoost C call and converts a non-zero status into ``XGBoostError``.
///
/// > c_api.h: "return 0 when success, -1 when failure happens"; `XGBGetLastError` "get string message
/// > of the last error ... this function is thread safe and can be called by different thread".
/// The message is thread-local, so it is read synchronously, right after the call.
@inline(__always)
func xgbCall(_ function: StaticString, _ body: () -> Int32) throws(XGBoostError) {
    guard body() == 0 else {
        throw XGBoostError(function: "\(function)", message: String(cString: XGBGetLastError()))
    }
}
