extension Kline {
    /// The bar Binance derives from `trades` (in trade order, all within the bar): open, high,
    /// low and close prices, base and quote volume, trade count, and the taker-buy volumes (trades
    /// whose buyer was not the maker). Without a trade it is flat at `previousClose` with no
    /// volume, as Binance writes an idle minute; nil when there is no previous close either.
    public static func aggregating(
        _ trades: some Collection<Trade>,
        openTime: Int64,
        closeTime: Int64,
        previousClose: Double?
    ) -> Kline? {
        guard let first = trades.first else {
            guard let p = previousClose else { return nil }
            return Kline(
                openTime: openTime, open: p, high: p, low: p, close: p, volume: 0, closeTime: closeTime, quoteVolume: 0,
                tradeCount: 0, takerBuyBaseVolume: 0, takerBuyQuoteVolume: 0
            )
        }
        var bar = Kline(
            openTime: openTime, open: first.price, high: first.price, low: first.price, close: first.price, volume: 0,
            closeTime: closeTime, quoteVolume: 0, tradeCount: 0, takerBuyBaseVolume: 0, takerBuyQuoteVolume: 0
        )
        for t in trades {
            bar.high = max(bar.high, t.price)
            bar.low = min(bar.low, t.price)
            bar.close = t.price
            bar.volume += t.quantity
            bar.quoteVolume += t.price * t.quantity
            bar.tradeCount += 1
            if !t.buyerIsMaker {
                bar.takerBuyBaseVolume += t.quantity
                bar.takerBuyQuoteVolume += t.price * t.quantity
            }
        }
        return bar
    }
}
