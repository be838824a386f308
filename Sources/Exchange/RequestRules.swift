import Foundation
import Synchronization

/// A request refused the way Binance refuses it: HTTP status, error code, message.
struct APIError: Error, Equatable {
    var status: Int
    var code: Int
    var message: String
    /// Seconds a client must wait (`Retry-After` of a 429).
    var retryAfter: Int?

    init(status: Int, code: Int, message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    /// -1100: a value with characters outside its legal range.
    static func illegal(_ name: String, range: String) -> APIError {
        APIError(status: 400, code: -1100, message: "Illegal characters found in parameter '\(name)'; legal range is '\(range)'.")
    }

    /// -1102: a mandatory parameter missing or malformed.
    static func mandatory(_ name: String) -> APIError {
        APIError(status: 400, code: -1102, message: "Mandatory parameter '\(name)' was not sent, was empty/null, or malformed.")
    }

    /// -1105: a parameter sent empty.
    static func empty(_ name: String) -> APIError {
        APIError(status: 400, code: -1105, message: "Parameter '\(name)' was empty.")
    }

    /// -1121: a symbol the exchange does not list.
    static let badSymbol = APIError(status: 400, code: -1121, message: "Invalid symbol.")
}

/// The parameters of one REST request, read as Binance reads them: every parameter must be read by
/// the endpoint (-1104 otherwise), a parameter sent twice is refused (-1101), an empty one is -1105,
/// numbers must match `^[0-9]{1,20}$` and fit (-1100), and values outside an endpoint's range are
/// -1102 (`'limit' contains unexpected value. Cannot be greater than 1000.`).
struct RequestParameters {
    private var values: [String: String] = [:]
    private var read: Set<String> = []
    private let sent: Int

    /// The parameters of a query string (`a=1&b=2`) and a form body, percent-decoded; a parameter
    /// in both is taken from the query string, as Binance takes it.
    init(query: String?, body: String? = nil) throws(APIError) {
        var count = 0
        var fromBody: Set<String> = []
        for (part, isBody) in [(query ?? "", false), (body ?? "", true)] {
        for pair in part.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = percentDecoded(parts[0], plusAsSpace: false) ?? String(parts[0])
            let value = parts.count > 1 ? (percentDecoded(parts[1], plusAsSpace: true) ?? String(parts[1])) : ""
            if values[name] != nil {
                if isBody && !fromBody.contains(name) { continue }  // the query string's wins
                throw APIError(status: 400, code: -1101, message: "Duplicate values for a parameter detected.")
            }
            if isBody { fromBody.insert(name) }
            values[name] = value
            count += 1
        }
        }
        sent = count
    }

    /// A string parameter (nil: not sent). Sent empty: -1105.
    mutating func string(_ name: String) throws(APIError) -> String? {
        read.insert(name)
        guard let value = values[name] else { return nil }
        guard !value.isEmpty else { throw .empty(name) }
        return value
    }

    /// A mandatory string parameter: -1102 when missing.
    mutating func required(_ name: String) throws(APIError) -> String {
        guard let value = try string(name) else { throw .mandatory(name) }
        return value
    }

    /// A whole number (nil: not sent), within `range` when given.
    mutating func integer(_ name: String, in range: ClosedRange<Int64>? = nil) throws(APIError) -> Int64? {
        guard let text = try string(name) else { return nil }
        let pattern = "^[0-9]{1,20}$"
        guard text.utf8.count <= 20, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw .illegal(name, range: pattern)
        }
        guard let value = Int64(text) else { throw .illegal(name, range: pattern) }
        if let range {
            if value > range.upperBound {
                throw APIError(status: 400, code: -1102, message: "'\(name)' contains unexpected value. Cannot be greater than \(range.upperBound).")
            }
            if value < range.lowerBound {
                throw APIError(status: 400, code: -1102, message: "'\(name)' contains unexpected value. Cannot be less than \(range.lowerBound).")
            }
        }
        return value
    }

    /// -1104 when a parameter was sent that the endpoint did not read.
    func requireAllRead() throws(APIError) {
        let unread = values.keys.filter { !read.contains($0) }
        guard unread.isEmpty else {
            throw APIError(
                status: 400,
                code: -1104,
                message: "Not all sent parameters were read; read '\(sent - unread.count)' parameter(s) but was sent '\(sent)'."
            )
        }
    }
}

/// `text` with `%XX` escapes decoded (and `+` as a space when `plusAsSpace`, as in a form body
/// or query value); nil when an escape is malformed or the bytes are not UTF-8 — what
/// `removingPercentEncoding` answers, without its cost on text that has nothing to decode.
func percentDecoded(_ text: Substring, plusAsSpace: Bool) -> String? {
    let bytes = text.utf8
    guard bytes.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) else {
        return String(text)
    }
    func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var i = bytes.startIndex
    while i < bytes.endIndex {
        let byte = bytes[i]
        if byte == UInt8(ascii: "%") {
            let high = bytes.index(after: i)
            guard high < bytes.endIndex else { return nil }
            let low = bytes.index(after: high)
            guard low < bytes.endIndex, let h = hex(bytes[high]), let l = hex(bytes[low]) else { return nil }
            out.append(h << 4 | l)
            i = bytes.index(after: low)
        } else {
            out.append(plusAsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            i = bytes.index(after: i)
        }
    }
    return String(validating: out, as: UTF8.self)
}

/// Request weight per minute of the exchange's clock, as Binance counts it: fixed windows aligned
/// to the minute (a request at 00:01:23 counts toward the 00:01 minute), every request's weight
/// counted, refused ones included; past the limit, HTTP 429 with `Retry-After` (seconds to the
/// next minute) and -1003.
final class WeightWindow: Sendable {
    /// The limit (`REQUEST_WEIGHT`, 1 MINUTE).
    let limit: Int
    private let state = Mutex<(minute: Int64, used: Int)>((0, 0))

    init(limit: Int) { self.limit = limit }

    /// Counts `weight` at `time` (ms); returns the weight used in that minute and, past the limit,
    /// the seconds until the next one.
    func add(_ weight: Int, at time: Int64) -> (used: Int, retryAfter: Int?) {
        state.withLock { s in
            let minute = time / 60_000
            if minute != s.minute { s = (minute, 0) }
            s.used += weight
            guard s.used > limit else { return (s.used, nil) }
            let next = (minute + 1) * 60_000
            return (s.used, Int(max(1, (next - time + 999) / 1_000)))
        }
    }
}

/// Incoming WebSocket messages per connection per second of the exchange's clock (Binance: 5; a
/// connection that sends more is disconnected).
struct MessageRate {
    let limit: Int
    private var second: Int64 = .min
    private var count = 0

    init(limit: Int) { self.limit = limit }

    /// Counts one message at `time` (ms); false when it is over the limit.
    mutating func admit(at time: Int64) -> Bool {
        let s = time / 1_000
        if s != second { (second, count) = (s, 0) }
        count += 1
        return count <= limit
    }
}
