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

/// A symbol of up to 16 ASCII bytes packed into two words: hashing it costs no allocation.
public struct SymbolKey: Hashable, Sendable {
    var low: UInt64
    var high: UInt64
    var length: UInt8

    init?(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
        guard range.count <= 16, !range.isEmpty else { return nil }
        var lo: UInt64 = 0
        var hi: UInt64 = 0
        for (k, i) in range.enumerated() {
            if k < 8 { lo |= UInt64(bytes[i]) << (8 * UInt64(k)) } else { hi |= UInt64(bytes[i]) << (8 * UInt64(k - 8)) }
        }
        low = lo
        high = hi
        length = UInt8(range.count)
    }

    /// The key of a symbol given as text.
    public init?(_ symbol: String) {
        var copy = symbol
        guard let key = copy.withUTF8({ SymbolKey($0, 0..<$0.count) }) else { return nil }
        self = key
    }
}

/// A parsed miniTicker whose symbol is still a key into the frame's bytes.
struct RawMiniTicker {
    var symbol: SymbolKey
    var symbolRange: Range<Int>
    var eventTime: Int64
    var close: Double
    var open: Double
    var high: Double
    var low: Double
    var baseVolume: Double
    var quoteVolume: Double
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
        materialize(try parseRaw(bytes), bytes)
    }

    static func materialize(_ r: RawMiniTicker, _ bytes: UnsafeBufferPointer<UInt8>) -> MiniTicker {
        MiniTicker(
            symbol: String(decoding: UnsafeBufferPointer(rebasing: bytes[r.symbolRange]), as: UTF8.self),
            eventTime: r.eventTime,
            close: r.close,
            open: r.open,
            high: r.high,
            low: r.low,
            baseVolume: r.baseVolume,
            quoteVolume: r.quoteVolume
        )
    }

    /// Parses one frame with the general reader only (no canonical-layout fast path): the yardstick
    /// the fast path is tested against.
    public static func parseGeneral(_ bytes: UnsafeBufferPointer<UInt8>) throws(StreamMessageError) -> MiniTicker {
        materialize(try parseRawGeneral(bytes), bytes)
    }

    /// The canonical-layout fast path alone: the frame parsed, or nil where it would hand the frame to
    /// the general reader (another layout, or a value it cannot settle exactly).
    public static func parseCanonical(_ bytes: UnsafeBufferPointer<UInt8>) -> MiniTicker? {
        CanonicalMiniTicker.parse(bytes).map { materialize($0, bytes) }
    }

    /// Parses a combined-stream frame without creating any string: Binance's own layout by the
    /// fast path (``CanonicalMiniTicker``), anything else by the general reader.
    @inline(__always)
    static func parseRaw(_ bytes: UnsafeBufferPointer<UInt8>) throws(StreamMessageError) -> RawMiniTicker {
        if let fast = CanonicalMiniTicker.parse(bytes) { return fast }
        return try parseRawGeneral(bytes)
    }

    static func parseRawGeneral(_ bytes: UnsafeBufferPointer<UInt8>) throws(StreamMessageError) -> RawMiniTicker {
        var r = Reader(bytes: bytes)
        var ticker: RawMiniTicker?
        try r.beginObject()
        while let key = try r.nextKey() {
            switch key {
            case .data:
                ticker = try parsePayload(&r)
            case .c, .o, .h, .l, .v, .q, .e, .E, .s:
                throw StreamMessageError(reason: "raw payload")
            default:
                try r.skipValue()
            }
        }
        try r.end()
        guard let ticker else { throw StreamMessageError(reason: "no 'data' object") }
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
            return materialize(t, bytes)
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

    private static func parsePayload(_ r: inout Reader) throws(StreamMessageError) -> RawMiniTicker {
        var symbol: Range<Int>?
        var eventOK = true
        var time: Int64?
        var c = Double.nan
        var o = Double.nan
        var h = Double.nan
        var l = Double.nan
        var v = Double.nan
        var q = Double.nan
        try r.beginObject()
        while let key = try r.nextKey() {
            switch key {
            case .e:
                let (a, b) = try r.rawString()
                eventOK = r.equals(a..<b, Self.eventName)
            case .E: time = try r.integer("E")
            case .s:
                let (a, b) = try r.rawString()
                symbol = a..<b
            case .c: c = try r.decimalString("c")
            case .o: o = try r.decimalString("o")
            case .h: h = try r.decimalString("h")
            case .l: l = try r.decimalString("l")
            case .v: v = try r.decimalString("v")
            case .q: q = try r.decimalString("q")
            default: try r.skipValue()
            }
        }
        guard eventOK else { throw StreamMessageError(reason: "event is not 24hrMiniTicker") }
        guard let symbol, let key = SymbolKey(r.bytes, symbol) else {
            throw StreamMessageError(reason: "field 's' missing, empty or longer than 16 bytes")
        }
        guard let time, time > 0 else { throw StreamMessageError(reason: "field 'E' missing or not a positive integer") }
        // Plain checks, no temporary array: this runs for every frame.
        if c.isNaN { throw StreamMessageError(reason: "field 'c' missing") }
        if o.isNaN { throw StreamMessageError(reason: "field 'o' missing") }
        if h.isNaN { throw StreamMessageError(reason: "field 'h' missing") }
        if l.isNaN { throw StreamMessageError(reason: "field 'l' missing") }
        if v.isNaN { throw StreamMessageError(reason: "field 'v' missing") }
        if q.isNaN { throw StreamMessageError(reason: "field 'q' missing") }
        guard c > 0 else { throw StreamMessageError(reason: "field 'c' must be a positive price") }
        guard o >= 0, h >= 0, l >= 0, v >= 0, q >= 0 else { throw StreamMessageError(reason: "negative 24 h statistic") }
        return RawMiniTicker(symbol: key, symbolRange: symbol, eventTime: time, close: c, open: o, high: h, low: l, baseVolume: v, quoteVolume: q)
    }

    static let eventName: [UInt8] = Array("24hrMiniTicker".utf8)
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
    var pendingClose = false
    var firstKey = true

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

    /// Opens an object; iterate its keys with ``nextKey()``.
    mutating func beginObject() throws(StreamMessageError) {
        depth += 1
        guard depth <= 32 else { throw StreamMessageError(reason: "nesting too deep") }
        try expect(0x7B, "'{'")
        skipSpace()
        if i < bytes.count, bytes[i] == 0x7D {
            i += 1
            depth -= 1
            pendingClose = true
        } else {
            pendingClose = false
            firstKey = true
        }
    }

    /// The next key of the open object (positioned at its value), or nil at its end.
    mutating func nextKey() throws(StreamMessageError) -> Key? {
        if pendingClose {
            pendingClose = false
            return nil
        }
        skipSpace()
        if !firstKey {
            guard i < bytes.count else { throw StreamMessageError(reason: "unterminated object") }
            if bytes[i] == 0x7D {
                i += 1
                depth -= 1
                return nil
            }
            guard bytes[i] == 0x2C else { throw StreamMessageError(reason: "expected ',' or '}' at byte \(i)") }
            i += 1
        }
        firstKey = false
        let key = try readKey()
        try expect(0x3A, "':'")
        skipSpace()
        return key
    }

    /// Whether bytes `range` equal `text`.
    func equals(_ range: Range<Int>, _ text: [UInt8]) -> Bool {
        guard range.count == text.count else { return false }
        for (k, i) in range.enumerated() where bytes[i] != text[k] { return false }
        return true
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

    mutating func rawString() throws(StreamMessageError) -> (Int, Int) {
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
        // One pass straight from the opening quote: digits, one dot, an optional minus. Anything else
        // (exponents, escapes, more than 19 significant digits) goes to the correctly rounded slow path.
        guard i < bytes.count, bytes[i] == 0x22 else { throw StreamMessageError(reason: "expected a string at byte \(i)") }
        let start = i + 1
        var j = start
        var negative = false
        if j < bytes.count, bytes[j] == 0x2D {
            negative = true
            j += 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var fraction = 0
        var zeros = 0  // fraction zeros not yet in the mantissa (dropped if nothing follows them)
        var seenDot = false
        var any = false
        while j < bytes.count {
            let b = bytes[j]
            let d = b &- 0x30
            if d < 10 {
                any = true
                if seenDot {
                    if d == 0 {
                        zeros += 1
                    } else {
                        if mantissa != 0 { digits += zeros }
                        digits += 1
                        if digits > 19 { return try slowDecimalString(name) }
                        while zeros > 0 {
                            mantissa &*= 10
                            zeros -= 1
                            fraction += 1
                        }
                        mantissa = mantissa &* 10 &+ UInt64(d)
                        fraction += 1
                    }
                } else {
                    if mantissa != 0 || d != 0 { digits += 1 }
                    if digits > 19 { return try slowDecimalString(name) }
                    mantissa = mantissa &* 10 &+ UInt64(d)
                }
            } else if b == 0x2E && !seenDot {
                seenDot = true
            } else if b == 0x22 {
                break
            } else {
                return try slowDecimalString(name)
            }
            j += 1
        }
        guard j < bytes.count else { throw StreamMessageError(reason: "unterminated string") }
        guard any else { throw StreamMessageError(reason: "field '\(name)' is not a number") }
        i = j + 1
        guard mantissa < (1 << 53), fraction <= 22 else { return try slowDecimal(start, j, name) }
        let value = Double(mantissa) / Self.powersOfTen[fraction]
        return negative ? -value : value
    }

    /// The slow path from the opening quote: reads the whole string, then parses it with the
    /// standard library.
    private mutating func slowDecimalString(_ name: String) throws(StreamMessageError) -> Double {
        let (start, end) = try rawString()
        return try slowDecimal(start, end, name)
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
