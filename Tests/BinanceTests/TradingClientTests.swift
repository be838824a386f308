import Binance
import Exchange
import Foundation
import MarketData
import ScalperTestSupport
import Synchronization
import Logging
import Testing

/// The signed client against the local exchange over loopback.
@Suite("Binance trading client")
struct TradingClientTests {
    static let apiKey = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
    static let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

    private func exchange(weightLimit: Int = 6_000) throws -> (ReplayMarket, ExchangeSettings, Int64) {
        let series = [("FILUSDT", try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip"))].map { (symbol: $0.0, klines: $0.1) }
        var settings = ExchangeSettings()
        settings.weightLimitPerMinute = weightLimit
        settings.accounts = ExchangeAccounts([.init(apiKey: Self.apiKey, verifier: .hmac(secret: Self.secret), free: ["USDT": 500])])
        return (try ReplayMarket(series: series), settings, 1_690_848_000_000 + 2 * 86_400_000 + 15_000)
    }

    @Test("Clock skew: the client measures the server's clock first, and measures it again when a drift gets -1021")
    func clockSkew() async throws {
        let (market, settings, start) = try exchange()
        let clock = ManualClock(start: start)
        let local = Mutex<Int64>(start - 600_000)  // the local clock ten minutes behind the exchange's
        let server = ExchangeServer(market: market, settings: settings, clock: clock)
        try await server.serving(logger: quiet) { port in
            let client = BinanceTradingClient(
                baseURL: URL(string: "http://127.0.0.1:\(port)")!, apiKey: Self.apiKey, key: .hmac(secret: Self.secret), clock: { local.withLock { $0 } },
                requestTimeoutSeconds: 300
            )
            let account = try await client.account()
            #expect((account["balances"] as? [[String: Any]])?.first?["free"] as? String == "500.00000000")
            #expect(client.serverOffset == 600_000)
            // The local clock jumps five minutes ahead: the next request is refused (-1021), the
            // offset measured again, and the retry goes through.
            local.withLock { $0 += 300_000 }
            _ = try await client.account()
            #expect(client.serverOffset == 300_000)
        }
    }

    @Test("429: the client waits the Retry-After the exchange asks for, once, then goes on")
    func backoff() async throws {
        let (market, settings, start) = try exchange(weightLimit: 30)
        let clock = ManualClock(start: start)
        let server = ExchangeServer(market: market, settings: settings, clock: clock)
        let waits = Mutex<[Double]>([])
        try await server.serving(logger: quiet) { port in
            let client = BinanceTradingClient(
                baseURL: URL(string: "http://127.0.0.1:\(port)")!, apiKey: Self.apiKey, key: .hmac(secret: Self.secret),
                clock: { clock.now },
                sleep: { seconds in
                    waits.withLock { $0.append(seconds) }
                    clock.advance(to: clock.now + Int64(seconds * 1_000))
                },
                requestTimeoutSeconds: 300
            )
            _ = try await client.account()  // time (1) + account (20)
            #expect(client.usedWeight == 21)
            _ = try await client.account()  // 41 > 30: 429, wait to the next minute, retry
            #expect(waits.withLock { $0 } == [45])
            #expect(client.usedWeight == 20)
        }
    }

    @Test("Refusals come back as Binance's errors; a wrong secret is -1022, and no error shows the key or secret")
    func refusals() async throws {
        let (market, settings, start) = try exchange()
        let clock = ManualClock(start: start)
        let server = ExchangeServer(market: market, settings: settings, clock: clock)
        try await server.serving(logger: quiet) { port in
            let base = URL(string: "http://127.0.0.1:\(port)")!
            let wrong = BinanceTradingClient(baseURL: base, apiKey: Self.apiKey, key: .hmac(secret: "not-the-secret"), clock: { clock.now }, requestTimeoutSeconds: 300)
            do {
                _ = try await wrong.account()
                Issue.record("a wrong secret was accepted")
            } catch let error as BinanceAPIError {
                #expect(error.code == -1022 && error.status == 400)
                #expect(!"\(error)".contains(Self.apiKey) && !"\(error)".contains("not-the-secret"))
            }
            #expect(!"\(SigningKey.hmac(secret: Self.secret))".contains(Self.secret))
            let client = BinanceTradingClient(baseURL: base, apiKey: Self.apiKey, key: .hmac(secret: Self.secret), clock: { clock.now }, requestTimeoutSeconds: 300)
            try await client.testOrder([("symbol", "FILUSDT"), ("side", "SELL"), ("type", "MARKET"), ("quoteOrderQty", "20")])
            await #expect(throws: BinanceAPIError(status: 400, code: -1013, message: "Filter failure: NOTIONAL", path: "/api/v3/order/test")) {
                try await client.testOrder([("symbol", "FILUSDT"), ("side", "SELL"), ("type", "MARKET"), ("quoteOrderQty", "0.5")])
            }
        }
    }

    private var quiet: Logger {
        var logger = Logger(label: "test.client")
        logger.logLevel = .critical
        return logger
    }
}
