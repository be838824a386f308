import Binance
import Exchange
import Foundation
import Logging
import MarketData
import ScalperCore
import ScalperTestSupport
import Testing

/// 2023-08-01 00:00 UTC plus `days` days: the sample's bars start on 2023-08-01.
func sampleDay(_ days: Int) -> Int64 { 1_690_848_000_000 + Int64(days) * 86_400_000 }

/// A logger that keeps quiet.
let quietLogger: Logger = {
    var logger = Logger(label: "test.binance")
    logger.logLevel = .critical
    return logger
}()

/// The bundled sample's two real series, FILUSDT and NEARUSDT, as the local exchange serves them.
func sampleMarket() throws -> ReplayMarket {
    try ReplayMarket(series: [
        (symbol: "FILUSDT", klines: try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")),
        (symbol: "NEARUSDT", klines: try Fixtures.sampleKlines("NEARUSDT-1m-2023-08.zip")),
    ])
}

/// Runs the local exchange over `market` on `clock`, on 127.0.0.1, for the duration of `body`.
func withExchange<R: Sendable>(
    market: ReplayMarket,
    settings: ExchangeSettings = ExchangeSettings(),
    clock: any SimClock,
    _ body: @Sendable (ExchangeServer, Int) async throws -> R
) async throws -> R {
    let server = ExchangeServer(market: market, settings: settings, clock: clock)
    return try await server.serving(logger: quietLogger) { port in try await body(server, port) }
}

/// The twelve columns of a bar as bits: equal lists mean the same bar bit for bit.
func bits(_ k: Kline) -> [UInt64] {
    [
        UInt64(bitPattern: k.openTime), k.open.bitPattern, k.high.bitPattern, k.low.bitPattern, k.close.bitPattern,
        k.volume.bitPattern, UInt64(bitPattern: k.closeTime), k.quoteVolume.bitPattern, k.tradeCount.bitPattern,
        k.takerBuyBaseVolume.bitPattern, k.takerBuyQuoteVolume.bitPattern, k.ignore.bitPattern,
    ]
}
