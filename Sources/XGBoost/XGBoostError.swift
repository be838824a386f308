internal import CXGBoost
import Foundation

/// An error reported by the XGBoost C API.
///
/// `message` is the text of `XGBGetLastError()` captured right after the failing call, reduced to
/// one line (the library appends its own C++ stack trace, which is dropped).
public struct XGBoostError: Error, Sendable, CustomStringConvertible {
    /// The C function that returned a non-zero status.
    public var function: String
    /// The message XGBoost recorded for the calling thread, on one line.
    public var message: String

    /// `function failed: message`.
    public var description: String { "\(function) failed: \(message)" }
}

extension XGBoostError {
    /// The library's message as one line for a user: no timestamp, no C++ stack trace.
    ///
    /// XGBoost 1.7 (dmlc-core) builds every error text as
    /// `[HH:MM:SS] ./src/file.cc:LINE: what happened` followed by `Stack trace:` and one line per
    /// frame of the library's own C++ call stack (checked on Debian's 1.7.4: a truncated model
    /// file gives a 12-line message). The frames describe XGBoost's internals, not the user's
    /// input, so they are dropped; the source location stays, as it names the failed check.
    static func oneLine(_ text: String) -> String {
        var head = Substring(text)
        if let trace = head.range(of: "Stack trace:") { head = head[..<trace.lowerBound] }
        // "[14:21:34] " — the time the error was logged.
        if head.hasPrefix("["), let close = head.firstIndex(of: "]"), head.distance(from: head.startIndex, to: close) <= 9 {
            head = head[head.index(after: close)...]
        }
        let words = head.split(whereSeparator: { $0.isWhitespace || $0 == "\0" })
        var line = words.joined(separator: " ")
        // Checks end their message with " : " before an empty detail.
        while line.hasSuffix(":") || line.hasSuffix(" ") { line.removeLast() }
        return line.isEmpty ? "no message" : line
    }
}

/// Runs one XGBoost C call and converts a non-zero status into ``XGBoostError``.
///
/// > c_api.h: "return 0 when success, -1 when failure happens"; `XGBGetLastError` "get string message
/// > of the last error ... this function is thread safe and can be called by different thread".
/// The message is thread-local, so it is read synchronously, right after the call.
@inline(__always)
func xgbCall(_ function: StaticString, _ body: () -> Int32) throws(XGBoostError) {
    guard body() == 0 else {
        throw XGBoostError(function: "\(function)", message: XGBoostError.oneLine(String(cString: XGBGetLastError())))
    }
}
