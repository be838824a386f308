/// One `<symbol>@miniTicker` update (24 h rolling window statistics).
public struct MiniTicker: Equatable, Sendable {
    /// Symbol, e.g. `BTCUSDT`.
    public var symbol: String
    /// Event time, ms.
    public var eventTime: Int64
    /// Last price.
    public var close: Double
    /// Price 24 h ago.
    public var open: Double
    /// 24 h high.
    public var high: Double
    /// 24 h low.
    public var low: Double
    /// 24 h base-asset volume.
    public var baseVolume: Double
    /// 24 h quote-asset volume.
    public var quoteVolume: Double
}

/// Why a stream frame was rejected.
public struct StreamMessageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was wrong, naming the field when one is to blame.
    public var reason: String
    /// `malformed stream message: …`.
    public var description: String { "malformed stream message: \(reason)" }
}

/// Parses miniTicker frames (raw or in the combined-stream envelope) straight from bytes.
///
/// A small strict JSON reader: no intermediate objects, no allocation beyond the symbol string, so
/// the scanner's hot path stays in the hundreds of nanoseconds. Keys may come in any order; unknown
/// keys and values are skipped; every required field must be present with the right type, prices
/// must be finite decimal strings; anything else is an error naming the field.
public enum MiniTickerParser {
    /// Parses one frame.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(StreamMessageError) -> MiniTicker {
        var r = Reader(bytes: bytes)
        var ticker: MiniTicker?
        var sawData = false
        try r.object { (key, reader) throws(StreamMessageError) in
            switch key {
            case .data:
                sawData = true
                ticker = try parsePayload(&reader)
            case .c, .o, .h, .l, .v, .q, .e, .E, .s:
                // A raw (non-combined) payload: parse it as the whole object.
                throw StreamMessageError(reason: "raw payload")
            default:
                try reader.skipValue()
            }
        }
        try r.end()
        guard sawData, let ticker else { throw StreamMessageError(reason: "no 'data' object") }
        return ticker
    }

    /// Parses a raw miniTicker payload (`/ws/<symbol>@miniTicker`) or, failing that, a combined frame.
    public static func parseAny(_ bytes: UnsafeBufferPointer<UInt8>) throws(StreamMessageError) -> MiniTicker {
        do {
            return try parse(bytes)
        } catch where error.reason == "raw payload" {
            var r = Reader(bytes: bytes)
            let t = try parsePayload(&r)
            try r.end()
            return t
        }
    }

    /// Parses a frame held in a `String` (tests, small tools).
    public static func parse(_ text: String) throws(StreamMessageError) -> MiniTicker {
        var copy = text
        let result: Result<MiniTicker, StreamMessageError> = copy.withUTF8 { buffer in
            do throws(StreamMessageError) {
                return .success(try parseAny(buffer))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private static func parsePayload(_ r: inout Reader) throws(StreamMessageError) -> MiniTicker {
        var symbol: String?
        var event: String?
        var time: Int64?
        var c = Double.nan
        var o = Double.nan
        var h = Double.nan
        var l = Double.nan
        var v = Double.nan
        var q = Double.nan
        try r.object { (key, reader) throws(StreamMessageError) in
            switch key {
            case .e: event = try reader.string()
            case .E: time = try reader.integer("E")
            case .s: symbol = try reader.string()
            case .c: c = try reader.decimalString("c")
            case .o: o = try reader.decimalString("o")
            case .h: h = try reader.decimalString("h")
            case .l: l = try reader.decimalString("l")
            case .v: v = try reader.decimalString("v")
            case .q: q = try reader.decimalString("q")
            default: try reader.skipValue()
            }
        }
        guard event == nil || event == "24hrMiniTicker" else {
            throw StreamMessageError(reason: "event '\(event ?? "")' is not 24hrMiniTicker")
        }
        guard let symbol, !symbol.isEmpty, symbol.count <= 20 else { throw StreamMessageError(reason: "field 's' missing or empty") }
        guard let time, time > 0 else { throw StreamMessageError(reason: "field 'E' missing or not a positive integer") }
        for (name, value) in [("c", c), ("o", o), ("h", h), ("l", l), ("v", v), ("q", q)] where value.isNaN {
            throw StreamMessageError(reason: "field '\(name)' missing")
        }
        guard c > 0 else { throw StreamMessageError(reason: "field 'c' must be a positive price") }
        guard o >= 0, h >= 0, l >= 0, v >= 0, q >= 0 else { throw StreamMessageError(reason: "negative 24 h statistic") }
        return MiniTicker(symbol: symbol, eventTime: time, close: c, open: o, high: h, low: l, baseVolume: v, quoteVolume: q)
    }
}

/// Keys the parser cares about (anything else is `.other`).
enum Key {
    case stream, data, e, E, s, c, o, h, l, v, q, other
}

/// A cursor over JSON bytes.
struct Reader {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0
    var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    @inline(__always)
    mutating func skipSpace() {
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { i += 1 } else { break }
        }
    }

    @inline(__always)
    mutating func expect(_ b: UInt8, _ what: String) throws(StreamMessageError) {
        skipSpace()
        guard i < bytes.count, bytes[i] == b else { throw StreamMessageError(reason: "expected \(what) at byte \(i)") }
        i += 1
    }

    mutating func end() throws(StreamMessageError) {
        skipSpace()
        guard i == bytes.count else { throw StreamMessageError(reason: "trailing bytes after the object at byte \(i)") }
    }

    /// Reads an object, calling `body` for each key with the reader positioned at its value.
    mutating func object(_ body: (Key, inout Reader) throws(StreamMessageError) -> Void) throws(StreamMessageError) {
        depth += 1
        guard depth <= 32 else { throw StreamMessageError(reason: "nesting too deep") }
        defer { depth -= 1 }
        try expect(0x7B, "'{'")
        skipSpace()
        if i < bytes.count, bytes[i] == 0x7D {
            i += 1
            return
        }
        while true {
            let key = try readKey()
            try expect(0x3A, "':'")
            skipSpace()
            try body(key, &self)
            skipSpace()
            guard i < bytes.count else { throw StreamMessageError(reason: "unterminated object") }
            if bytes[i] == 0x2C {
                i += 1
                continue
            }
            if bytes[i] == 0x7D {
                i += 1
                return
            }
            throw StreamMessageError(reason: "expected ',' or '}' at byte \(i)")
        }
    }

    private mutating func readKey() throws(StreamMessageError) -> Key {
        try expect(0x22, "a key")
        let start = i
        while i < bytes.count, bytes[i] != 0x22 {
            if bytes[i] == 0x5C { i += 1 }  // escaped character
            i += 1
        }
        guard i < bytes.count else { throw StreamMessageError(reason: "unterminated key") }
        let length = i - start
        i += 1
        if length == 1 {
            switch bytes[start] {
            case 0x65: return .e
            case 0x45: return .E
            case 0x73: return .s
            case 0x63: return .c
            case 0x6F: return .o
            case 0x68: return .h
            case 0x6C: return .l
            case 0x76: return .v
            case 0x71: return .q
            default: return .other
            }
        }
        if length == 4, bytes[start] == 0x64, bytes[start + 1] == 0x61, bytes[start + 2] == 0x74, bytes[start + 3] == 0x61 {
            return .data
        }
        if length == 6, bytes[start] == 0x73, bytes[start + 1] == 0x74 { return .stream }
        return .other
    }

    /// A string value without escapes (Binance never escapes these fields).
    mutating func string() throws(StreamMessageError) -> String {
        let (start, end) = try rawString()
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    private mutating func rawString() throws(StreamMessageError) -> (Int, Int) {
        guard i < bytes.count, bytes[i] == 0x22 else { throw StreamMessageError(reason: "expected a string at byte \(i)") }
        i += 1
        let start = i
        while i < bytes.count, bytes[i] != 0x22 {
            guard bytes[i] != 0x5C, bytes[i] >= 0x20 else { throw StreamMessageError(reason: "unexpected escape or control byte in a string at byte \(i)") }
            i += 1
        }
        guard i < bytes.count else { throw StreamMessageError(reason: "unterminated string") }
        let end = i
        i += 1
        return (start, end)
    }

    /// A JSON integer.
    mutating func integer(_ name: String) throws(StreamMessageError) -> Int64 {
        var value: Int64 = 0
        var digits = 0
        var negative = false
        if i < bytes.count, bytes[i] == 0x2D {
            negative = true
            i += 1
        }
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            guard digits < 18 else { throw StreamMessageError(reason: "field '\(name)' is too large") }
            value = value * 10 + Int64(bytes[i] - 0x30)
            digits += 1
            i += 1
        }
        guard digits > 0 else { throw StreamMessageError(reason: "field '\(name)' is not an integer") }
        if i < bytes.count, bytes[i] == 0x2E || bytes[i] == 0x65 || bytes[i] == 0x45 {
            throw StreamMessageError(reason: "field '\(name)' is not an integer")
        }
        return negative ? -value : value
    }

    /// A decimal number written as a string (`"67321.45000000"`), parsed exactly: a mantissa of up to
    /// 19 digits scaled by an exact power of ten when both fit in a double (Clinger's fast path);
    /// otherwise the standard library's correctly rounded parser.
    mutating func decimalString(_ name: String) throws(StreamMessageError) -> Double {
        let (start, end) = try rawString()
        var mantissa: UInt64 = 0
        var digits = 0
        var fraction = 0
        var seenDot = false
        var j = start
        var negative = false
        if j < end, bytes[j] == 0x2D {
            negative = true
            j += 1
        }
        var any = false
        while j < end {
            let b = bytes[j]
            if b >= 0x30 && b <= 0x39 {
                any = true
                if digits < 19 {
                    if mantissa != 0 || b != 0x30 { digits += 1 }
                    mantissa = mantissa * 10 + UInt64(b - 0x30)
                    if seenDot { fraction += 1 }
                } else {
                    return try slowDecimal(start, end, name)
                }
            } else if b == 0x2E && !seenDot {
                seenDot = true
            } else {
                return try slowDecimal(start, end, name)
            }
            j += 1
        }
        guard any else { throw StreamMessageError(reason: "field '\(name)' is not a number") }
        guard mantissa < (1 << 53), fraction <= 22 else { return try slowDecimal(start, end, name) }
        let value = Double(mantissa) / Self.powersOfTen[fraction]
        return negative ? -value : value
    }

    private func slowDecimal(_ start: Int, _ end: Int, _ name: String) throws(StreamMessageError) -> Double {
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        guard let v = Double(text), v.isFinite else { throw StreamMessageError(reason: "field '\(name)' is not a finite number: '\(text.prefix(40))'") }
        return v
    }

    static let powersOfTen: [Double] = (0...22).map { k in (0..<k).reduce(1.0) { r, _ in r * 10 } }

    /// Skips any JSON value.
    mutating func skipValue() throws(StreamMessageError) {
        skipSpace()
        guard i < bytes.count else { throw StreamMessageError(reason: "missing value") }
        switch bytes[i] {
        case 0x22:
            i += 1
            while i < bytes.count, bytes[i] != 0x22 {
                if bytes[i] == 0x5C { i += 1 }
                i += 1
            }
            guard i < bytes.count else { throw StreamMessageError(reason: "unterminated string") }
            i += 1
        case 0x7B:
            try object { (_, r) throws(StreamMessageError) in try r.skipValue() }
        case 0x5B:
            depth += 1
            guard depth <= 32 else { throw StreamMessageError(reason: "nesting too deep") }
            defer { depth -= 1 }
            i += 1
            skipSpace()
            if i < bytes.count, bytes[i] == 0x5D {
                i += 1
                return
            }
            while true {
                try skipValue()
                skipSpace()
                guard i < bytes.count else { throw StreamMessageError(reason: "unterminated array") }
                if bytes[i] == 0x2C {
                    i += 1
                    continue
                }
                if bytes[i] == 0x5D {
                    i += 1
                    return
                }
                throw StreamMessageError(reason: "expected ',' or ']' at byte \(i)")
            }
        default:
            let start = i
            while i < bytes.count {
                let b = bytes[i]
                if b == 0x2C || b == 0x7D || b == 0x5D || b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { break }
                i += 1
            }
            let token = UnsafeBufferPointer(rebasing: bytes[start..<i])
            let text = String(decoding: token, as: UTF8.self)
            guard text == "true" || text == "false" || text == "null" || Double(text) != nil else {
                throw StreamMessageError(reason: "invalid literal at byte \(start)")
            }
        }
    }
}
