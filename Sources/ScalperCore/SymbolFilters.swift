import Foundation

/// A symbol's trading rules as Binance's exchangeInfo gives them (PRICE_FILTER tick, LOT_SIZE step,
/// NOTIONAL minimum), and the one rule that derives them for a symbol that has none (history has no
/// exchangeInfo): the backtest, the simulated venue and the local exchange all use this rule, so they
/// agree on every rounding.
public struct SymbolFilters: Codable, Equatable, Hashable, Sendable {
    /// Quantity step (LOT_SIZE stepSize).
    public var lotStep: Double
    /// Price tick (PRICE_FILTER tickSize).
    public var tickSize: Double
    /// Minimum order value in the quote asset (NOTIONAL minNotional).
    public var minNotional: Double

    /// Creates filters.
    public init(lotStep: Double, tickSize: Double, minNotional: Double) {
        self.lotStep = lotStep
        self.tickSize = tickSize
        self.minNotional = minNotional
    }

    /// The derived filters for a symbol trading near `price`: a tick of 10^−d with
    /// d = clamp(⌈−log10 price⌉ + 4, 2, 8) (about five significant digits), a step of 10^−q with
    /// q = clamp(⌊log10 price⌋ + 2, 0, 8) (a step is worth about a hundredth of a quote unit or less),
    /// and Binance spot's 5-quote-unit minimum notional.
    public static func derived(price: Double) -> SymbolFilters {
        precondition(price > 0 && price.isFinite, "derived filters need a positive price")
        let d = min(8, max(2, Int((-log10(price)).rounded(.up)) + 4))
        let q = min(8, max(0, Int(log10(price).rounded(.down)) + 2))
        return SymbolFilters(lotStep: pow(10, -Double(q)), tickSize: pow(10, -Double(d)), minNotional: 5)
    }

    /// The index of the bar whose close the derivation uses in a series of `barCount` bars: the middle one.
    public static func referenceIndex(barCount: Int) -> Int { barCount / 2 }

    /// The derived filters of a stored series, from the close of its middle bar.
    public static func derived(from klines: [Kline]) -> SymbolFilters? {
        guard !klines.isEmpty else { return nil }
        let price = klines[referenceIndex(barCount: klines.count)].close
        return price > 0 && price.isFinite ? derived(price: price) : nil
    }

    /// Decimal places of the tick (0.0001 → 4).
    public var priceDecimals: Int { Self.decimals(of: tickSize) }

    /// Decimal places of the step.
    public var quantityDecimals: Int { Self.decimals(of: lotStep) }

    /// A quantity rounded down to the step (never more than asked).
    public func roundQuantity(_ q: Double) -> Double {
        guard lotStep > 0, q > 0 else { return max(q, 0) }
        return Double(steps(q)) * lotStep
    }

    /// Whole steps in `q`, rounded down (a hair of tolerance absorbs binary representation error).
    public func steps(_ q: Double) -> Int64 {
        Int64((q / lotStep + 1e-9).rounded(.down))
    }

    /// A price rounded to the nearest tick.
    public func roundPrice(_ p: Double) -> Double {
        guard tickSize > 0 else { return p }
        return (p / tickSize).rounded() * tickSize
    }

    /// A price rounded to the tick against the trader: up for a buy, down for a sell.
    public func roundPrice(_ p: Double, up: Bool) -> Double {
        guard tickSize > 0 else { return p }
        let ticks = p / tickSize
        return (up ? (ticks - 1e-9).rounded(.up) : (ticks + 1e-9).rounded(.down)) * tickSize
    }

    /// The quantity as Binance wants it: exact decimal text from a whole number of steps, never
    /// from printing a Double (0.1 + 0.2 prints 0.30000000000000004; 300 steps of 0.001 print 0.300).
    public func format(quantity: Double) -> String {
        let d = quantityDecimals
        return Self.text(units: Int64((Double(steps(quantity)) * lotStep * pow(10, Double(d))).rounded()), decimals: d)
    }

    /// The price as exact decimal text from a whole number of ticks (the nearest).
    public func format(price: Double) -> String {
        let d = priceDecimals
        return Self.text(units: Int64((roundPrice(price) * pow(10, Double(d))).rounded()), decimals: d)
    }

    /// `units` × 10^−decimals as text.
    public static func text(units: Int64, decimals: Int) -> String {
        let negative = units < 0
        var digits = String(units.magnitude)
        guard decimals > 0 else { return (negative ? "-" : "") + digits }
        if digits.count <= decimals { digits = String(repeating: "0", count: decimals - digits.count + 1) + digits }
        let cut = digits.index(digits.endIndex, offsetBy: -decimals)
        return (negative ? "-" : "") + digits[..<cut] + "." + digits[cut...]
    }

    /// Decimal places of a power-of-ten-like increment (0.001 → 3, 1 → 0, 0.25 → 2).
    public static func decimals(of increment: Double) -> Int {
        guard increment > 0, increment < 1 else { return 0 }
        for d in 0...12 where abs((increment * pow(10, Double(d))).rounded() - increment * pow(10, Double(d))) < 1e-9 {
            return d
        }
        return 12
    }
}
