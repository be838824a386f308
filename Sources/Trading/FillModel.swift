public import ScalperCore

/// One price level of an order book side.
public struct BookLevel: Codable, Equatable, Sendable {
    /// Price.
    public var price: Double
    /// Base quantity at that price.
    public var quantity: Double

    /// Creates a level.
    public init(price: Double, quantity: Double) {
        self.price = price
        self.quantity = quantity
    }
}

/// The one fill model below every simulated fill: the backtest, the simulated venue of paper
/// sessions and (through the same type) the local exchange's matching engine (LIVE-DESIGN §4).
///
/// - Market orders walk the book's levels where a book is known, else fill at the reference price
///   moved against the trader by `slippageBps`, rounded to the tick against the trader.
/// - The bar rule (backtests, `--exits bar`): a market order decided at a bar's close fills at the
///   next bar's open ± slippage; a resting stop/target pair triggers inside a bar from its OHLC, the
///   stop first when both lie in it, a bar opening through the stop filling at its open.
/// - Resting orders otherwise trigger on trades that reach them.
/// - Commission as Binance takes it on spot: a buy pays in the base asset, a sell in the quote asset;
///   a take-profit that rests (LIMIT_MAKER) pays the maker fee and no slippage.
public struct FillModel: Codable, Equatable, Sendable {
    /// Taker fee per side, fraction.
    public var takerFee: Double
    /// Maker fee, fraction (Binance's default tier: the same as the taker's).
    public var makerFee: Double
    /// Slippage of market fills without a book, basis points.
    public var slippageBps: Double
    /// When a bar holds both the stop and the target, whether the stop counts first.
    public var stopFirstWhenBothHit: Bool

    /// Creates a fill model.
    public init(takerFee: Double, makerFee: Double? = nil, slippageBps: Double, stopFirstWhenBothHit: Bool = true) {
        self.takerFee = takerFee
        self.makerFee = makerFee ?? takerFee
        self.slippageBps = slippageBps
        self.stopFirstWhenBothHit = stopFirstWhenBothHit
    }

    /// The fill model of an execution section.
    public init(_ execution: ExecutionConfiguration) {
        self.init(takerFee: execution.takerFee, slippageBps: execution.slippageBps, stopFirstWhenBothHit: execution.stopFirstWhenBothHit)
    }

    /// The reference price moved against the trader by the slippage, on the tick grid.
    public func slipped(_ reference: Double, side: Side, filters: SymbolFilters) -> Double {
        let moved = reference * (side == .buy ? 1 + slippageBps / 10_000 : 1 - slippageBps / 10_000)
        return filters.roundPrice(moved, up: side == .buy)
    }

    /// Executions of a market order for `quantity`: against `book` (asks for a buy, bids for a sell,
    /// best first) where one is given, what the book lacks at its last level moved by the slippage;
    /// else all at the slipped reference price.
    public func market(
        side: Side,
        quantity: Double,
        reference: Double,
        book: [BookLevel]?,
        filters: SymbolFilters
    ) -> [(price: Double, quantity: Double)] {
        guard let book, !book.isEmpty else { return [(slipped(reference, side: side, filters: filters), quantity)] }
        var left = quantity
        var out: [(price: Double, quantity: Double)] = []
        for level in book where left > 0 && level.quantity > 0 {
            let take = min(left, level.quantity)
            out.append((level.price, take))
            left -= take
            if left <= filters.lotStep * 1e-6 { left = 0 }
        }
        if left > 0 { out.append((slipped(book[book.count - 1].price, side: side, filters: filters), left)) }
        return out
    }

    /// The commission of one execution and the asset it is charged in.
    public func commission(side: Side, price: Double, quantity: Double, maker: Bool) -> (amount: Double, asset: CommissionAsset) {
        let fee = maker ? makerFee : takerFee
        return side == .buy ? (quantity * fee, .base) : (price * quantity * fee, .quote)
    }

    /// Which leg of a resting stop/target pair `bar` triggers, and at what price (bar rule): the stop
    /// (a market sell once triggered: at the stop, or the open when the bar opens below it, then
    /// slipped) before the target when both lie in the bar and `stopFirstWhenBothHit`; the target
    /// (a resting limit: at its price, or the open when the bar opens above it, no slippage). A bar
    /// opening through a level settles that level at its open before anything else.
    public func barTrigger(stop: Double, target: Double, bar: Kline, filters: SymbolFilters) -> (leg: OrderLeg, price: Double)? {
        // A bar that opens through either level settles it at the open, whichever the rule for both.
        if bar.open <= stop { return (.stop, slipped(bar.open, side: .sell, filters: filters)) }
        if bar.open >= target { return (.target, bar.open) }
        let stopHit = bar.low <= stop
        let targetHit = bar.high >= target
        if stopHit && (!targetHit || stopFirstWhenBothHit) {
            return (.stop, slipped(min(stop, bar.open), side: .sell, filters: filters))
        }
        if targetHit { return (.target, max(target, bar.open)) }
        return nil
    }
}
