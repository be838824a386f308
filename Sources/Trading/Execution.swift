public import ScalperCore

/// Buy or sell.
public enum Side: String, Codable, Sendable {
    /// Buy.
    case buy = "BUY"
    /// Sell.
    case sell = "SELL"
}

/// A filled market order.
public struct Fill: Equatable, Sendable {
    /// Average fill price after slippage, on the tick grid.
    public var price: Double
    /// Quantity filled.
    public var quantity: Double
    /// Fee charged in quote currency.
    public var fee: Double
    /// When (ms).
    public var time: Int64
}

/// Where fills come from: a simulation over history, a local exchange, or Binance.
public protocol Executor: Sendable {
    /// Fills a market order for `quantity` of `symbol` against `referencePrice` at `time`.
    mutating func marketOrder(symbol: String, side: Side, quantity: Double, referencePrice: Double, time: Int64) -> Fill
}

/// Fills market orders at the reference price moved against the trader by a slippage in basis
/// points, rounded to the tick (up for buys, down for sells), with the taker fee on the notional.
public struct SimulatedExecutor: Executor {
    /// Taker fee per side, fraction.
    public var takerFee: Double
    /// Slippage, basis points.
    public var slippageBps: Double
    /// Filters per symbol.
    public var filters: [String: SymbolFilters]
    /// Filters for symbols without their own.
    public var defaultFilters: SymbolFilters

    /// Creates a simulated executor.
    public init(takerFee: Double, slippageBps: Double, filters: [String: SymbolFilters], defaultFilters: SymbolFilters) {
        self.takerFee = takerFee
        self.slippageBps = slippageBps
        self.filters = filters
        self.defaultFilters = defaultFilters
    }

    /// The filters of `symbol`.
    public func filters(for symbol: String) -> SymbolFilters { filters[symbol] ?? defaultFilters }

    /// Fills at once.
    public mutating func marketOrder(symbol: String, side: Side, quantity: Double, referencePrice: Double, time: Int64) -> Fill {
        let f = filters(for: symbol)
        let slipped = referencePrice * (side == .buy ? 1 + slippageBps / 10_000 : 1 - slippageBps / 10_000)
        var price = slipped
        if f.tickSize > 0 {
            let ticks = slipped / f.tickSize
            price = (side == .buy ? (ticks - 1e-9).rounded(.up) : (ticks + 1e-9).rounded(.down)) * f.tickSize
        }
        return Fill(price: price, quantity: quantity, fee: price * quantity * takerFee, time: time)
    }
}
