public import Foundation

/// Decimal text without Foundation's general parser and printer: every order the local exchange
/// books reads three to five amounts and writes some twenty (its answer and the user data events),
/// and `Decimal(string:locale:)` / `NSDecimalNumber.stringValue` cost microseconds each. These read
/// and write the plain forms Binance uses directly from and into `Decimal`'s integer mantissa; they
/// give exactly what the general ones give (tested against them) and fall back to them past 19
/// significant digits.
extension BinanceDecimal {
    /// Plain decimal text (`[-]digits[.digits]`, already checked by the caller or by ``parse(_:)``)
    /// as a `Decimal`, equal to `Decimal(string:)`'s reading and as compact (no trailing zeros in
    /// the mantissa). Text of any other shape is read by `Decimal(string:)` in the POSIX locale.
    public static func plain(_ text: some StringProtocol) -> Decimal? {
        var mantissa: UInt64 = 0
        var digits = 0
        var fraction = 0
        var point = false
        var negative = false
        var plainShape = true
        var sawDigit = false
        var index = 0
        for byte in text.utf8 {
            defer { index += 1 }
            switch byte {
            case UInt8(ascii: "-") where index == 0:
                negative = true
            case UInt8(ascii: "."):
                if point { plainShape = false } else { point = true }
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                // Leading zeros add no digit to the mantissa.
                if mantissa != 0 || byte != UInt8(ascii: "0") { digits += 1 }
                if digits > 19 { plainShape = false }
                sawDigit = true
                mantissa = mantissa &* 10 &+ UInt64(byte - UInt8(ascii: "0"))
                if point { fraction += 1 }
            default:
                plainShape = false
            }
            if !plainShape { break }
        }
        guard plainShape, sawDigit else {
            return Decimal(string: String(text), locale: posix)
        }
        var exponent = -fraction
        if mantissa == 0 { return Decimal(0) }
        while mantissa % 10 == 0 {
            mantissa /= 10
            exponent += 1
        }
        return Decimal(sign: negative ? .minus : .plus, exponent: exponent, significand: Decimal(mantissa))
    }

    /// `value` rounded to `places` decimals (halves away from zero) and written with exactly that
    /// many (`1.50000000`, `0.00000000`, `-2.00000001` for 8) — the way Binance writes balances,
    /// quantities and prices. Values past 64 bits of mantissa take Foundation's rounding and printer.
    public static func fixed(_ value: Decimal, places: Int = 8) -> String {
        precondition(places >= 0 && places <= 18, "0 to 18 decimals")
        if let text = fastFixed(value, places: places) { return text }
        var input = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &input, places, .plain)
        let text = NSDecimalNumber(decimal: rounded).stringValue
        let parts = text.split(separator: ".", maxSplits: 1)
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        let whole = String(parts[0])
        guard places > 0 else { return whole }
        return "\(whole).\(fraction)\(String(repeating: "0", count: max(0, places - fraction.count)))"
    }

    /// Whether `value` is a whole multiple of `increment` (on a PRICE_FILTER or LOT_SIZE grid),
    /// exactly: the two mantissas brought to one exponent and divided as integers, or through
    /// `Decimal` division when they do not fit 64 bits. A zero increment puts every value on it.
    public static func isMultiple(_ value: Decimal, of increment: Decimal) -> Bool {
        if let (mv, ev, _) = parts(value), let (mi, ei, _) = parts(increment) {
            guard mi != 0 else { return true }
            let e = min(ev, ei)
            if ev - e <= 19, ei - e <= 19 {
                let (v, vOverflow) = mv.multipliedReportingOverflow(by: powers[ev - e])
                let (i, iOverflow) = mi.multipliedReportingOverflow(by: powers[ei - e])
                if !vOverflow && !iOverflow { return v % i == 0 }
            }
        }
        guard increment != 0 else { return true }
        var ratio = value / increment
        var whole = Decimal()
        NSDecimalRound(&whole, &ratio, 0, .down)
        return whole == ratio
    }

    private static let posix = Locale(identifier: "en_US_POSIX")

    /// 10^0 … 10^19.
    private static let powers: [UInt64] = (0...19).map { n in (0..<n).reduce(UInt64(1)) { r, _ in r * 10 } }

    /// ``fixed(_:places:)`` from the mantissa when it fits 64 bits and the value in `places`
    /// decimals fits 64 bits; nil otherwise.
    private static func fastFixed(_ value: Decimal, places: Int) -> String? {
        guard !value.isNaN, let (mantissa, exponent, negative) = parts(value) else { return nil }
        // units = mantissa × 10^(exponent + places), rounded half away from zero.
        let shift = exponent + places
        var units: UInt64
        if shift >= 0 {
            guard shift <= 19 else { return mantissa == 0 ? zero(places) : nil }
            let (product, overflow) = mantissa.multipliedReportingOverflow(by: powers[shift])
            guard !overflow else { return nil }
            units = product
        } else if -shift > 19 {
            units = 0  // below half a unit: |value| < 10^19 × 10^-(places+20)
        } else {
            let divisor = powers[-shift]
            units = mantissa / divisor
            let remainder = mantissa % divisor
            // remainder ≥ divisor / 2, without overflowing 2 × remainder.
            if remainder >= divisor - remainder { units += 1 }
        }
        guard units != 0 else { return zero(places) }
        let scale = powers[places]
        let whole = units / scale
        var text = negative ? "-" : ""
        text += String(whole)
        guard places > 0 else { return text }
        let fraction = String(units % scale)
        text += "."
        text += String(repeating: "0", count: places - fraction.utf8.count)
        text += fraction
        return text
    }

    /// Mantissa (when it fits 64 bits), exponent and sign of `value`, read from its storage:
    /// Foundation keeps them internal and prints or converts only through a slow general path.
    /// The layout (exponent byte; a byte of length in its high nibble, then the sign bit; 16-bit
    /// mantissa words from byte 4) is
    /// checked once against the public `significand`, `exponent` and `sign` of probe values; on
    /// any other layout this answers nil and the callers take Foundation's path.
    private static func parts(_ value: Decimal) -> (mantissa: UInt64, exponent: Int, negative: Bool)? {
        guard layoutKnown else { return nil }
        return rawParts(value)
    }

    private static func rawParts(_ value: Decimal) -> (mantissa: UInt64, exponent: Int, negative: Bool)? {
        withUnsafeBytes(of: value) { raw -> (UInt64, Int, Bool)? in
            guard raw.count == 20 else { return nil }
            let length = Int(raw[1] >> 4)
            guard length <= 4 else { return nil }
            var mantissa: UInt64 = 0
            for word in 0..<length {
                mantissa |= (UInt64(raw[4 + 2 * word]) | UInt64(raw[5 + 2 * word]) << 8) << (16 * word)
            }
            return (mantissa, Int(Int8(bitPattern: raw[0])), raw[1] & 0x08 != 0)
        }
    }

    private static let layoutKnown: Bool = {
        let probes: [(UInt64, Int, FloatingPointSign)] = [
            (1, 0, .plus), (234, -2, .plus), (0xFFFF, -8, .minus), (0x1_0000, 3, .plus),
            (0x1234_5678_9ABC, -12, .minus), (0xFFFF_0000_1234_5678, -18, .plus), (99, 20, .minus),
        ]
        return probes.allSatisfy { mantissa, exponent, sign in
            let value = Decimal(sign: sign, exponent: exponent, significand: Decimal(mantissa))
            guard let read = rawParts(value) else { return false }
            // The public view: the significand times ten to the exponent.
            let significand = Decimal(sign: .plus, exponent: 0, significand: Decimal(read.mantissa))
            return read.mantissa == mantissa && read.exponent == exponent && read.negative == (sign == .minus)
                && value.exponent == read.exponent && value.significand == significand && value.sign == sign
        }
    }()

    private static func zero(_ places: Int) -> String {
        places == 0 ? "0" : "0." + String(repeating: "0", count: places)
    }
}
