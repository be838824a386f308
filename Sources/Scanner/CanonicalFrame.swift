/// The fast path of the miniTicker parser: a frame laid out exactly as Binance writes it.
///
/// Binance always sends a combined-stream miniTicker frame with the same keys in the same order and
/// no whitespace:
///
///     {"stream":"<s>@miniTicker","data":{"e":"24hrMiniTicker","E":<ms>,"s":"<S>","c":"<dec>",
///      "o":"<dec>","h":"<dec>","l":"<dec>","v":"<dec>","q":"<dec>"}}
///
/// This reader checks the fixed parts with a few word compares and reads the variable parts in one
/// forward pass, with no key dispatch. It either returns exactly what the general parser would
/// return for the same bytes, or nil on anything unusual (another key order, whitespace, escapes,
/// signs, exponents, more than 19 digits, a rounding tie it cannot settle), and the general parser
/// then decides. So it changes speed only, never the result; the fuzz test checks that on a million
/// mutated frames.
enum CanonicalMiniTicker {
    /// Parses a canonical frame, or returns nil to hand it to the general parser.
    @inline(__always)
    static func parse(_ buffer: UnsafeBufferPointer<UInt8>) -> RawMiniTicker? {
        guard let p = buffer.baseAddress else { return nil }
        var c = Cursor(p: p, n: buffer.count)
        // {"stream":"
        guard c.literal8(0x6D61_6572_7473_227B, length: 8), c.literal8(0x22_3A22, length: 3) else { return nil }
        guard c.skipPlainString() else { return nil }
        // ,"data":{"e":"24hrMiniTicker","E":
        guard c.literal8(0x3A22_6174_6164_222C, length: 8), c.literal8(0x3432_223A_2265_227B, length: 8),
            c.literal8(0x6954_696E_694D_7268, length: 8), c.literal8(0x4522_2C22_7265_6B63, length: 8),
            c.literal8(0x3A22, length: 2)
        else { return nil }
        guard let time = c.integer(), time > 0 else { return nil }
        // ,"s":"
        guard c.literal8(0x22_3A22_7322_2C, length: 6) else { return nil }
        let symbolStart = c.i
        guard c.skipPlainString() else { return nil }
        let symbolRange = symbolStart..<(c.i - 1)
        guard let key = SymbolKey(buffer, symbolRange) else { return nil }
        // ,"c":"  ,"o":"  ,"h":"  ,"l":"  ,"v":"  ,"q":"  (the closing quote of each value is read by decimal())
        guard c.literal8(0x22_3A22_6322_2C, length: 6), let close = c.decimal(), close > 0 else { return nil }
        guard c.literal8(0x22_3A22_6F22_2C, length: 6), let open = c.decimal() else { return nil }
        guard c.literal8(0x22_3A22_6822_2C, length: 6), let high = c.decimal() else { return nil }
        guard c.literal8(0x22_3A22_6C22_2C, length: 6), let low = c.decimal() else { return nil }
        guard c.literal8(0x22_3A22_7622_2C, length: 6), let base = c.decimal() else { return nil }
        guard c.literal8(0x22_3A22_7122_2C, length: 6), let quote = c.decimal() else { return nil }
        guard c.literal8(0x7D7D, length: 2), c.i == c.n else { return nil }
        return RawMiniTicker(
            symbol: key, symbolRange: symbolRange, eventTime: time, close: close, open: open, high: high, low: low,
            baseVolume: base, quoteVolume: quote
        )
    }

    struct Cursor {
        let p: UnsafePointer<UInt8>
        let n: Int
        var i = 0

        /// Whether the next `length` (≤ 8) bytes are those of `word` read little-endian; advances past them.
        @inline(__always)
        mutating func literal8(_ word: UInt64, length: Int) -> Bool {
            guard n - i >= length else { return false }
            var w: UInt64
            if n - i >= 8 {
                w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self).littleEndian
            } else {
                w = 0
                for k in 0..<length { w |= UInt64(p[i + k]) << UInt64(8 * k) }
            }
            if length < 8 { w &= (1 << UInt64(8 * length)) &- 1 }
            guard w == word else { return false }
            i += length
            return true
        }

        /// Skips a string's contents and its closing quote; false on an escape, a control byte or the end.
        @inline(__always)
        mutating func skipPlainString() -> Bool {
            while i < n {
                let b = p[i]
                i += 1
                if b == 0x22 { return true }
                if b == 0x5C || b < 0x20 { return false }
            }
            return false
        }

        /// 1 to 18 digits followed by anything but '.', 'e' or 'E' (those go to the general parser).
        @inline(__always)
        mutating func integer() -> Int64? {
            var value: Int64 = 0
            let start = i
            while i < n {
                let d = p[i] &- 0x30
                guard d < 10 else { break }
                value = value &* 10 &+ Int64(d)
                i += 1
            }
            let digits = i - start
            guard digits > 0, digits <= 18, i < n, p[i] == 0x2C else { return nil }
            return value
        }

        /// Appends a run of digits to `mantissa` (wrapping; the caller bounds the count), eight at a
        /// time where it can; returns how many it read.
        @inline(__always)
        mutating func digits(into mantissa: inout UInt64) -> Int {
            let start = i
            while n - i >= 8 {
                let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self).littleEndian
                // All eight bytes are '0'…'9': high nibbles are 3 and adding 6 carries into none of them.
                guard (w & 0xF0F0_F0F0_F0F0_F0F0) | (((w &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) >> 4) == 0x3333_3333_3333_3333
                else { break }
                var v = w &- 0x3030_3030_3030_3030
                v = (v &* 2_561) >> 8 & 0x00FF_00FF_00FF_00FF
                v = (v &* 6_553_601) >> 16 & 0x0000_FFFF_0000_FFFF
                v = (v &* 42_949_672_960_001) >> 32
                mantissa = mantissa &* 100_000_000 &+ v
                i += 8
            }
            while i < n {
                let d = p[i] &- 0x30
                guard d < 10 else { break }
                mantissa = mantissa &* 10 &+ UInt64(d)
                i += 1
            }
            return i - start
        }

        /// `digits[.digits]"`: at most 19 digits in all, correctly rounded. Reads the closing quote.
        @inline(__always)
        mutating func decimal() -> Double? {
            var mantissa: UInt64 = 0
            let whole = digits(into: &mantissa)
            guard whole > 0, whole <= 19, i < n else { return nil }
            var fraction = 0
            if p[i] == 0x2E {
                i += 1
                let fractionStart = i
                let wholePart = mantissa
                fraction = digits(into: &mantissa)
                guard i < n else { return nil }
                if whole + fraction > 19 {
                    // Too many digits for one word (a large quote volume with eight decimals): keep the
                    // first 19 and settle the rest by bounds below.
                    return longDecimal(wholePart, whole: whole, fractionStart: fractionStart, fractionEnd: i)
                }
            }
            guard p[i] == 0x22 else { return nil }
            i += 1
            // Exact operands, one rounding (Clinger's fast path) below 2^53; extended precision above.
            return CanonicalMiniTicker.quotient(mantissa, fraction)
        }

        /// A decimal whose fraction takes it past 19 digits: the first 19 digits make a mantissa m,
        /// the value lies in [m, m + 1] / 10^f, and when both ends round to the same double (each
        /// correctly) so does the value; if the dropped digits are all zero it is m / 10^f exactly.
        @inline(never)
        mutating func longDecimal(_ wholePart: UInt64, whole: Int, fractionStart: Int, fractionEnd: Int) -> Double? {
            guard p[i] == 0x22 else { return nil }
            i += 1
            let kept = 19 - whole
            var mantissa = wholePart
            for k in fractionStart..<(fractionStart + kept) { mantissa = mantissa &* 10 &+ UInt64(p[k] &- 0x30) }
            var exact = true
            for k in (fractionStart + kept)..<fractionEnd where p[k] != 0x30 {
                exact = false
                break
            }
            guard let low = CanonicalMiniTicker.quotient(mantissa, kept) else { return nil }
            if exact { return low }
            guard let high = CanonicalMiniTicker.quotient(mantissa + 1, kept), high == low else { return nil }
            return low
        }
    }

    /// mantissa / 10^fraction correctly rounded (nil when that needs the general parser).
    @inline(__always)
    static func quotient(_ mantissa: UInt64, _ fraction: Int) -> Double? {
        if mantissa < (1 << 53) { return Double(mantissa) / powerOfTen(fraction) }
        return wideQuotient(mantissa, fraction)
    }

    /// 10^k for 0 ≤ k ≤ 19, exact in a double.
    @inline(__always)
    static func powerOfTen(_ k: Int) -> Double {
        switch k {
        case 0: 1
        case 1: 1e1
        case 2: 1e2
        case 3: 1e3
        case 4: 1e4
        case 5: 1e5
        case 6: 1e6
        case 7: 1e7
        case 8: 1e8
        case 9: 1e9
        case 10: 1e10
        case 11: 1e11
        case 12: 1e12
        case 13: 1e13
        case 14: 1e14
        case 15: 1e15
        case 16: 1e16
        case 17: 1e17
        case 18: 1e18
        default: 1e19
        }
    }

    /// mantissa / 10^fraction correctly rounded, for a mantissa of 54 to 64 bits.
    ///
    /// In 80-bit extended precision both operands are exact (64-bit significand) and the quotient is
    /// rounded once to 64 bits; rounding that to a double's 53 bits is then correct unless the
    /// extended result sits exactly on a halfway point between two doubles, the one case where the
    /// first rounding may have moved it there; that case (and every platform without extended
    /// precision) returns nil for the general parser's correctly rounded path.
    @inline(__always)
    static func wideQuotient(_ mantissa: UInt64, _ fraction: Int) -> Double? {
        #if arch(x86_64) && !os(Windows)
        let q = Float80(mantissa) / Float80(powerOfTen(fraction))
        guard q.significandBitPattern & 0x7FF != 0x400 else { return nil }
        return Double(q)
        #else
        return nil
        #endif
    }
}
