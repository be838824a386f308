import Binance
import Exchange
import Foundation
import ScalperCore
import Testing

@Suite("BinanceREST against the local exchange, over loopback", .serialized, .timeLimit(.minutes(10)))
struct BinanceRESTTests {
    @Test("Warm-up: the 1,000 stored bars closed by a time (and 2,500 over three pages), bit for bit, oldest first")
    func warmUp() async throws {
        let market = try sampleMarket()
        // Mid-minute: the bar open at that minute has not closed.
        let time = sampleDay(4) + 30_000
        let clock = LockStepClock(start: time)
        let fetched = try await withExchange(market: market, clock: clock) { _, port in
            let rest = BinanceREST(baseURL: URL(string: "http://127.0.0.1:\(port)")!)
            var fetched: [String: [Kline]] = [:]
            for symbol in market.symbols {
                fetched[symbol] = try await rest.klines(symbol, count: 1_000, closedBy: time)
                fetched[symbol + " 2500"] = try await rest.klines(symbol, count: 2_500, closedBy: time)
            }
            return fetched
        }
        let lastOpen = sampleDay(4) - 60_000
        for symbol in market.symbols {
            for count in [1_000, 2_500] {
                let stored = market.klines(
                    symbol,
                    from: lastOpen - Int64(count - 1) * 60_000,
                    to: lastOpen,
                    limit: count,
                    now: time
                )
                #expect(stored.count == count && stored.last?.openTime == lastOpen)
                let got = try #require(fetched[count == 1_000 ? symbol : symbol + " 2500"])
                #expect(got.count == count, "\(symbol) \(count)")
                #expect(got.map(bits) == stored.map(bits), "\(symbol) \(count)")
            }
        }
    }

    @Test("exchangeInfo gives each pair's filters; server time is the lock-step clock's")
    func filtersAndTime() async throws {
        let market = try sampleMarket()
        let clock = LockStepClock(start: sampleDay(3) + 1_234)
        let (filters, time) = try await withExchange(market: market, clock: clock) { _, port in
            let rest = BinanceREST(baseURL: URL(string: "http://127.0.0.1:\(port)")!)
            return (try await rest.symbolFilters(), try await rest.serverTime())
        }
        #expect(filters == market.pairs.mapValues(\.filters))
        #expect(time == sampleDay(3) + 1_234)
    }

    @Test("An unknown symbol's klines fail with an error naming the URL and the exchange's answer")
    func errorNamesURL() async throws {
        let clock = LockStepClock(start: sampleDay(3))
        let error = try await withExchange(market: try sampleMarket(), clock: clock) { _, port in
            let rest = BinanceREST(baseURL: URL(string: "http://127.0.0.1:\(port)")!)
            return await #expect(throws: BinanceError.self) {
                _ = try await rest.klines("NOPEUSDT", count: 10, closedBy: sampleDay(3))
            }
        }
        let failure = try #require(error)
        #expect(failure.url.hasPrefix("http://127.0.0.1:") && failure.url.contains("/api/v3/klines?symbol=NOPEUSDT"))
        #expect(failure.message.hasPrefix("HTTP 400") && failure.message.contains("-1121"))
    }
}
