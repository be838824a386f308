import Foundation
import ScalperCore

/// The exact decimal text the store writes for prices and quantities (never `Double` printing
/// rounded to some number of places).
enum DecimalText {
    /// A value on the grid of `increment` (within a millionth of it, binary representation error)
    /// as the decimal of its whole units (300 steps of 0.001: `0.300`); a value off the grid as the
    /// shortest text that reads back as the very same `Double`, so nothing is silently snapped.
    static func text(_ value: Double, increment: Double) -> String {
        guard increment > 0, increment.isFinite, value.isFinite else { return exact(value) }
        let onGrid = (value / increment).rounded() * increment
        guard abs(onGrid - value) <= increment * 1e-6 else { return exact(value) }
        let decimals = SymbolFilters.decimals(of: increment)
        let scaled = (onGrid * pow(10, Double(decimals))).rounded()
        guard abs(scaled) < 9e15 else { return exact(value) }  // beyond Int64's exact doubles
        return SymbolFilters.text(units: Int64(scaled), decimals: decimals)
    }

    /// The shortest text that reads back as `value` exactly (Swift's `description` of a `Double`).
    static func exact(_ value: Double) -> String { "\(value)" }

    /// Reads text written by ``text(_:increment:)`` or ``exact(_:)``.
    static func parse(_ text: String) -> Double? { Double(text) }
}
