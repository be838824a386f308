import Foundation
import ScalperCore

extension SymbolFilters {
    /// `price` on the tick: the nearest multiple of ``tickSize``, as the double nearest that
    /// decimal (ticks × tick in units of 10^−d, divided by 10^d), so it prints and parses back
    /// exactly.
    func onTick(_ price: Double) -> Double {
        Self.onGrid(price, increment: tickSize, decimals: priceDecimals)
    }

    /// `quantity` on the step: the nearest multiple of ``lotStep``, at least one step.
    func onStep(_ quantity: Double) -> Double {
        max(lotStep, Self.onGrid(quantity, increment: lotStep, decimals: quantityDecimals))
    }

    /// A price as Binance writes it: a whole number of ticks (the nearest), as text with 8 decimals.
    func priceText(_ price: Double) -> String {
        Self.text(units: Int64((price / tickSize).rounded()) * Self.units8(tickSize), decimals: 8)
    }

    /// The tick as exchangeInfo writes it (`0.00010000`).
    var tickSizeText: String { Self.text(units: Self.units8(tickSize), decimals: 8) }

    /// The step as exchangeInfo writes it (`0.01000000`).
    var lotStepText: String { Self.text(units: Self.units8(lotStep), decimals: 8) }

    /// The minimum notional as exchangeInfo writes it (`5.00000000`).
    var minNotionalText: String { Self.text(units: Self.units8(minNotional), decimals: 8) }

    /// `value` in units of 10^−8 (Binance's 8 decimals; a tick or step is never finer).
    private static func units8(_ value: Double) -> Int64 { Int64((value * 1e8).rounded()) }

    private static func onGrid(_ value: Double, increment: Double, decimals: Int) -> Double {
        guard increment > 0, value.isFinite else { return value }
        let scale = pow(10, Double(decimals))
        return (value / increment).rounded() * (increment * scale).rounded() / scale
    }
}
