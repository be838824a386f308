import ScalperCore
import Testing

@Suite("Symbol filters: the one derivation and exact decimal text")
struct SymbolFiltersTests {
    @Test(
        "The derivation gives about five significant digits of tick and a step worth a hundredth of a quote unit or less",
        arguments: [
            (60_123.45, 0.01, 0.000001), (2_512.3, 0.01, 0.00001), (5.1234, 0.0001, 0.01), (0.3412, 0.00001, 0.1),
            (0.000_012_34, 0.000_000_01, 1),
        ]
    )
    func derivation(price: Double, tick: Double, step: Double) {
        let f = SymbolFilters.derived(price: price)
        #expect(abs(f.tickSize - tick) < tick * 1e-9, "tick \(f.tickSize) for \(price)")
        #expect(abs(f.lotStep - step) < step * 1e-9, "step \(f.lotStep) for \(price)")
        #expect(f.minNotional == 5)
        // One step is never worth more than a tenth of a quote unit.
        #expect(f.lotStep * price <= 0.1 + 1e-12)
    }

    @Test("A series derives from the close of its middle bar, so any reader of the same bars agrees")
    func derivationFromSeries() throws {
        func bar(_ close: Double, _ i: Int64) -> Kline {
            Kline(openTime: i * 60_000, open: close, high: close, low: close, close: close, volume: 1, closeTime: i * 60_000 + 59_999,
                  quoteVolume: close, tradeCount: 1, takerBuyBaseVolume: 0, takerBuyQuoteVolume: 0)
        }
        let bars = [bar(0.5, 0), bar(50, 1), bar(5_000, 2)]
        #expect(SymbolFilters.derived(from: bars) == SymbolFilters.derived(price: 50))
        #expect(SymbolFilters.derived(from: []) == nil)
    }

    @Test("Quantities and prices print from whole steps and ticks, never from Double printing")
    func exactText() {
        let f = SymbolFilters(lotStep: 0.001, tickSize: 0.0001, minNotional: 5)
        #expect(f.format(quantity: 0.1 + 0.2) == "0.300")
        #expect(f.format(quantity: 0.0009999) == "0.000")
        #expect(f.format(quantity: 12.3456) == "12.345")
        #expect(f.format(price: 5.12345) == "5.1235" || f.format(price: 5.12345) == "5.1234")
        #expect(f.format(price: 0.00001) == "0.0000")
        #expect(SymbolFilters(lotStep: 1, tickSize: 0.01, minNotional: 5).format(quantity: 7.9) == "7")
        #expect(SymbolFilters.text(units: 5, decimals: 8) == "0.00000005")
        #expect(SymbolFilters.text(units: -1_234, decimals: 2) == "-12.34")
        // Increments that are not powers of ten print on their own grid too.
        let quarter = SymbolFilters(lotStep: 0.5, tickSize: 0.25, minNotional: 5)
        #expect(quarter.format(price: 1.3) == "1.25" && quarter.format(price: 101.4) == "101.50")
        #expect(quarter.format(quantity: 7.9) == "7.5")
    }

    @Test("Rounding to the tick goes against the trader: up for buys, down for sells")
    func roundingAgainstTrader() {
        let f = SymbolFilters(lotStep: 0.001, tickSize: 0.01, minNotional: 5)
        #expect(f.roundPrice(10.001, up: true) == 10.01)
        #expect(f.roundPrice(10.009, up: false) == 10.0)
        #expect(f.roundPrice(10.00, up: true) == 10.0)
        #expect(f.roundQuantity(1.0009) == 1.0)
    }
}
