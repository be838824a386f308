import Binance
import Foundation
import ScalperTestSupport
import Testing

/// The fast decimal reader and writer give exactly what Foundation's general ones give.
@Suite("Decimal text without Foundation's parser and printer")
struct DecimalTextTests {
    /// The writer as it was before the fast path: Foundation's rounding and printer.
    private func reference(_ value: Decimal, places: Int) -> String {
        var input = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &input, places, .plain)
        let text = NSDecimalNumber(decimal: rounded).stringValue
        let parts = text.split(separator: ".", maxSplits: 1)
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        guard places > 0 else { return String(parts[0]) }
        return "\(parts[0]).\(fraction)\(String(repeating: "0", count: max(0, places - fraction.count)))"
    }

    /// Plain decimal text of 1 to 25 digits with leading and trailing zeros, a point or none, a sign or none.
    private func randomText(_ rng: inout SplitMix64) -> String {
        let digits = (0..<Int.random(in: 1...25, using: &rng)).map { _ in
            // Zeros often, so leading/trailing zeros and zero itself come up.
            Bool.random(using: &rng) ? "0" : String(Int.random(in: 0...9, using: &rng))
        }
        var text = digits.joined()
        if digits.count > 1, Bool.random(using: &rng) {
            let point = Int.random(in: 1..<digits.count, using: &rng)
            text.insert(".", at: text.index(text.startIndex, offsetBy: point))
        }
        return Bool.random(using: &rng) ? "-" + text : text
    }

    @Test("Reading: 20,000 random plain texts equal Decimal(string:) in value and in printed form")
    func readsAsFoundationReads() {
        var rng = SplitMix64(seed: 12)
        for _ in 0..<20_000 {
            let text = randomText(&rng)
            let ours = BinanceDecimal.plain(text)
            let foundation = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
            #expect(ours == foundation, "\(text)")
            #expect(ours?.description == foundation?.description, "\(text)")
        }
        // Other shapes go to Foundation's reader.
        #expect(BinanceDecimal.plain("1e-5") == Decimal(string: "1e-5"))
        #expect(BinanceDecimal.plain("1.2.3") == Decimal(string: "1.2.3"))
        #expect(BinanceDecimal.parse("1.2.3") == nil && BinanceDecimal.parse(".") == nil && BinanceDecimal.parse("-") == nil)
    }

    @Test("Writing: 20,000 random values in 0, 2 and 8 decimals equal Foundation's rounding and printer")
    func writesAsFoundationWrites() {
        var rng = SplitMix64(seed: 13)
        for _ in 0..<20_000 {
            let text = randomText(&rng)
            guard var value = Decimal(string: text) else { continue }
            // Exponents beyond the text's: large and tiny values too.
            value = Decimal(sign: value.sign, exponent: value.exponent + Int.random(in: -12...12, using: &rng), significand: value.significand)
            for places in [0, 2, 8] {
                #expect(BinanceDecimal.fixed(value, places: places) == reference(value, places: places), "\(value) in \(places)")
            }
        }
    }

    @Test("Writing: halves round away from zero, a value rounded to zero has no sign, 8 decimals always")
    func writesEdges() {
        func d(_ text: String) -> Decimal { Decimal(string: text)! }
        #expect(BinanceDecimal.fixed(d("0.000000005")) == "0.00000001")
        #expect(BinanceDecimal.fixed(d("-0.000000005")) == "-0.00000001")
        #expect(BinanceDecimal.fixed(d("-0.000000004")) == "0.00000000")
        #expect(BinanceDecimal.fixed(d("-0.02")) == "-0.02000000")
        #expect(BinanceDecimal.fixed(d("1.5")) == "1.50000000")
        #expect(BinanceDecimal.fixed(d("123456789.123456785")) == "123456789.12345679")
        #expect(BinanceDecimal.fixed(d("0")) == "0.00000000")
        #expect(BinanceDecimal.fixed(d("184467440737.09551616")) == "184467440737.09551616")
        #expect(BinanceDecimal.fixed(d("12345678901234567890123")) == "12345678901234567890123.00000000")
        #expect(BinanceDecimal.fixed(d("2.345"), places: 2) == "2.35")
    }
}

extension DecimalTextTests {
    @Test("On a grid: 20,000 random values and increments agree with Decimal division and rounding")
    func multiples() {
        var rng = SplitMix64(seed: 14)
        func reference(_ value: Decimal, _ increment: Decimal) -> Bool {
            var ratio = value / increment
            var whole = Decimal()
            NSDecimalRound(&whole, &ratio, 0, .down)
            return whole == ratio
        }
        var onGrid = 0
        for _ in 0..<20_000 {
            let increment = Decimal(sign: .plus, exponent: Int.random(in: -8...2, using: &rng), significand: Decimal([1, 5, 25, 1, 2][Int.random(in: 0..<5, using: &rng)]))
            // Half the values on the grid, half anywhere; some past 64 bits of mantissa.
            let units = Decimal(UInt64.random(in: 0...(Bool.random(using: &rng) ? 1_000_000 : UInt64.max), using: &rng))
            let value = Bool.random(using: &rng)
                ? units * increment
                : Decimal(sign: .plus, exponent: Int.random(in: -12...4, using: &rng), significand: units)
            let ours = BinanceDecimal.isMultiple(value, of: increment)
            #expect(ours == reference(value, increment), "\(value) on \(increment)")
            if ours { onGrid += 1 }
        }
        // Both answers came up often.
        #expect(onGrid > 5_000 && onGrid < 18_000, "\(onGrid) of 20,000 on the grid")
        #expect(BinanceDecimal.isMultiple(Decimal(string: "2.34")!, of: Decimal(string: "0.01")!))
        #expect(!BinanceDecimal.isMultiple(Decimal(string: "2.345")!, of: Decimal(string: "0.01")!))
    }
}
