import Binance
import Exchange
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import ScalperCore
import ScalperTestSupport
import Session
import Synchronization
import Testing
import Trading

/// The executor's side of an order's life against the local exchange over loopback: what the
/// session sends (through ``ExchangeGateway``) and the updates that come back.
@Suite("Order lifecycle against the local exchange")
struct ExchangeLifecycleTests {
    static let apiKey = "lifecycleKey0123456789"
    static let secret = "lifecycleSecret0123456789"
    static let start: Int64 = 1_690_848_000_000 + 2 * 86_400_000

    static var logger: Logger {
        var l = Logger(label: "test.lifecycle")
        l.logLevel = .critical
        return l
    }

    /// Runs `body` with an exchange over the sample (FILUSDT, NEARUSDT) on a manual clock and a
    /// gateway whose user data stream is subscribed.
    static func withGateway(
        usdt: Decimal = 1_000,
        secret: String = Self.secret,
        clockSkewMs: Int64 = 0,
        sleeps: Recorded? = nil,
        _ body: @Sendable (ExchangeServer, Exchange.ManualClock, ExchangeGateway) async throws -> Void
    ) async throws {
        let series = [
            ("FILUSDT", try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")),
            ("NEARUSDT", try Fixtures.sampleKlines("NEARUSDT-1m-2023-08.zip")),
        ].map { (symbol: $0.0, klines: $0.1) }
        let market = try ReplayMarket(series: series)
        var settings = ExchangeSettings()
        settings.accounts = ExchangeAccounts([.init(apiKey: apiKey, verifier: .hmac(secret: Self.secret), free: ["USDT": usdt])])
        let clock = Exchange.ManualClock(start: start)
        let server = ExchangeServer(market: market, settings: settings, clock: clock)
        try await server.serving(logger: logger) { port in
            // This machine's clock is years after the replay's, and skewed on top: the client measures the offset.
            let client = BinanceTradingClient(
                baseURL: URL(string: "http://127.0.0.1:\(port)")!, apiKey: apiKey, key: .hmac(secret: secret),
                clock: { clock.now + 400_000_000_000 + clockSkewMs },
                sleep: { seconds in sleeps?.values.withLock { $0.append(seconds) } },
                requestTimeoutSeconds: 300
            )
            // Generous waits: a loaded 2-core machine running the whole suite can stall a task for seconds.
            let gateway = ExchangeGateway(client: client, webSocketAPIURL: "ws://127.0.0.1:\(port)/ws-api/v3", logger: logger, requestTimeoutSeconds: 120)
            let task = Task { try await gateway.run() }
            defer { task.cancel() }
            if secret == Self.secret { #expect(await gateway.waitConnected(seconds: 120)) }
            try await body(server, clock, gateway)
        }
    }

    static func order(_ leg: OrderLeg, _ side: Side, quantity: Double, symbol: String = "FILUSDT", time: Int64 = start, attempt: Int = 0) -> OrderRequest {
        OrderRequest(
            clientOrderID: ClientOrderID.make(session: "life", leg: leg, attempt: attempt, decisionTime: time, symbol: symbol), symbol: symbol, side: side,
            type: .market, quantity: quantity, referencePrice: 0, decisionTime: time, leg: leg
        )
    }

    static func filters(_ server: ExchangeServer) throws -> SymbolFilters { try #require(server.market.pairs["FILUSDT"]?.filters) }

    static func text(_ x: Double, _ d: Int) -> Decimal { Decimal(string: String(format: "%.\(d)f", x))! }

    /// Buys ~100 USDT of FIL at market; returns the updates and the base held after the commission.
    static func buy(_ server: ExchangeServer, _ gateway: ExchangeGateway) async throws -> (updates: [OrderUpdate], held: Double, entry: OrderRequest) {
        let f = try filters(server)
        let last = try #require(server.market.state("FILUSDT", at: server.now)?.price)
        let quantity = f.roundQuantity(100 / last)
        let entry = order(.entry, .buy, quantity: quantity)
        #expect(await gateway.place(entry, quantity: text(quantity, f.quantityDecimals), price: nil, stopPrice: nil) == .sent)
        let (updates, _) = try await gateway.sync(barrier: true)
        let fills = updates.compactMap(\.fill)
        let held = fills.reduce(0) { $0 + $1.quantity - ($1.commissionAsset == .base ? $1.commission : 0) }
        return (updates, held, entry)
    }

    /// The protective list the engine places for what is held (floored to the step).
    static func protect(_ server: ExchangeServer, _ gateway: ExchangeGateway, held: Double, stopPct: Double, targetPct: Double) async throws -> OCORequest {
        let f = try filters(server)
        let last = try #require(server.market.state("FILUSDT", at: server.now)?.price)
        let quantity = f.roundQuantity(held)
        let target = f.roundPrice(last * (1 + targetPct), up: true)
        let stop = f.roundPrice(last * (1 - stopPct), up: false)
        var t = order(.target, .sell, quantity: quantity)
        t.type = .limitMaker
        t.price = target
        var s = order(.stop, .sell, quantity: quantity)
        s.type = .stopLoss
        s.stopPrice = stop
        let list = OCORequest(listClientOrderID: ClientOrderID.make(session: "life", leg: .list, attempt: 0, decisionTime: start, symbol: "FILUSDT"), symbol: "FILUSDT", target: t, stop: s)
        let outcome = await gateway.placeList(list, quantity: text(quantity, f.quantityDecimals), target: text(target, f.priceDecimals), stop: text(stop, f.priceDecimals))
        #expect(outcome == .sent)
        return list
    }

    @Test("Entry → OCO for the base held after the commission → the take-profit or the stop fills, the other leg expires: no -2010 on the exit")
    func entryThenList() async throws {
        for (stopPct, targetPct, leg) in [(0.05, 0.002, OrderLeg.target), (0.002, 0.05, OrderLeg.stop)] {
            try await Self.withGateway { server, clock, gateway in
                let (updates, held, entry) = try await Self.buy(server, gateway)
                #expect(updates.first?.status == .accepted && updates.last?.status == .filled)
                #expect(updates.compactMap(\.fill).allSatisfy { $0.commissionAsset == .base && $0.commission > 0 })
                #expect(updates.allSatisfy { $0.clientOrderID == entry.clientOrderID })
                let list = try await Self.protect(server, gateway, held: held, stopPct: stopPct, targetPct: targetPct)
                var seen: [OrderUpdate] = []
                var t = clock.now
                while !seen.contains(where: { $0.status == .filled }) && t < Self.start + 12 * 3_600_000 {
                    t += 60_000
                    clock.advance(to: t)
                    seen += try await gateway.sync(barrier: true).updates
                }
                let hit = leg == .target ? list.target : list.stop
                let other = leg == .target ? list.stop : list.target
                #expect(seen.contains { $0.clientOrderID == hit.clientOrderID && $0.status == .filled && $0.fill != nil }, "\(seen)")
                #expect(seen.contains { $0.clientOrderID == other.clientOrderID && $0.status == .expired && $0.reason == "the other leg of the list filled" })
                #expect(!seen.contains { $0.status == .rejected })
                // What is left of the base is the dust below one step.
                let fil = server.venue.balance(Self.apiKey, "FIL")
                let step = Decimal(try Self.filters(server).lotStep)
                #expect(fil.locked == 0 && fil.free < step)
            }
        }
    }

    @Test("A timeout: the list is cancelled, then the position sold at market; a market order walking several levels fills in parts")
    func timeoutAndPartialFills() async throws {
        try await Self.withGateway(usdt: 100_000) { server, clock, gateway in
            let f = try Self.filters(server)
            let book = try #require(server.market.book("FILUSDT", at: clock.now))
            // Beyond the best ask's quantity: the walk takes two levels or more.
            let quantity = f.roundQuantity(book.asks[0].1 + book.asks[1].1)
            let entry = Self.order(.entry, .buy, quantity: quantity)
            #expect(await gateway.place(entry, quantity: Self.text(quantity, f.quantityDecimals), price: nil, stopPrice: nil) == .sent)
            let filled = try await gateway.sync(barrier: true).updates
            #expect(filled.filter { $0.status == .partiallyFilled }.count >= 1)
            #expect(filled.last?.status == .filled)
            let held = filled.compactMap(\.fill).reduce(0) { $0 + $1.quantity - $1.commission }
            let list = try await Self.protect(server, gateway, held: held, stopPct: 0.05, targetPct: 0.05)
            clock.advance(by: 300_000)
            #expect(await gateway.cancelList(symbol: "FILUSDT", listClientOrderID: list.listClientOrderID) == .sent)
            let cancelled = try await gateway.sync(barrier: true).updates
            #expect(Set(cancelled.filter { $0.status == .cancelled }.map(\.clientOrderID)) == [list.target.clientOrderID, list.stop.clientOrderID])
            let exit = Self.order(.exit, .sell, quantity: f.roundQuantity(held), time: clock.now)
            #expect(await gateway.place(exit, quantity: Self.text(f.roundQuantity(held), f.quantityDecimals), price: nil, stopPrice: nil) == .sent)
            let sold = try await gateway.sync(barrier: true).updates
            #expect(sold.last?.clientOrderID == exit.clientOrderID && sold.last?.status == .filled)
            #expect(sold.compactMap(\.fill).allSatisfy { $0.commissionAsset == .quote })
        }
    }

    @Test("Refusals reach the session as Binance's codes: filter failure, insufficient balance, bad signature")
    func refusals() async throws {
        try await Self.withGateway(usdt: 20) { server, _, gateway in
            let f = try Self.filters(server)
            let offStep = Self.order(.entry, .buy, quantity: 1)
            #expect(await gateway.place(offStep, quantity: Decimal(string: "1.005")!, price: nil, stopPrice: nil) == .refused(code: -1013, message: "Filter failure: LOT_SIZE"))
            let big = Self.order(.entry, .buy, quantity: 100, attempt: 1)
            #expect(
                await gateway.place(big, quantity: Self.text(100, f.quantityDecimals), price: nil, stopPrice: nil)
                    == .refused(code: -2010, message: "Account has insufficient balance for requested action.")
            )
        }
        try await Self.withGateway(secret: "notTheSecret0123456789") { server, _, gateway in
            let f = try Self.filters(server)
            let o = Self.order(.entry, .buy, quantity: 2)
            #expect(await gateway.place(o, quantity: Self.text(2, f.quantityDecimals), price: nil, stopPrice: nil) == .refused(code: -1022, message: "Signature for this request is not valid."))
            #expect(await gateway.waitConnected(seconds: 1) == false)
        }
    }

    @Test("Time: a client clock an hour off is corrected from the server's time; a 429 with Retry-After is waited out and the order booked once")
    func clockSkewAndBackoff() async throws {
        let sleeps = Recorded()
        try await Self.withGateway(clockSkewMs: 3_600_000, sleeps: sleeps) { server, _, gateway in
            let f = try Self.filters(server)
            server.venue.inject(.tooManyRequests(retryAfter: 3))
            let o = Self.order(.entry, .buy, quantity: 5)
            #expect(await gateway.place(o, quantity: Self.text(5, f.quantityDecimals), price: nil, stopPrice: nil) == .sent)
            #expect(sleeps.values.withLock { $0 } == [3])
            let updates = try await gateway.sync(barrier: true).updates
            #expect(updates.filter { $0.status == .accepted }.count == 1)
            #expect(updates.last?.status == .filled)
        }
    }

    @Test("An expired timestamp is refused with -1021 (a client whose clock jumps after it measured the offset)")
    func expiredTimestamp() async throws {
        let jump = Recorded()
        try await Self.withGateway { server, clock, gateway in
            _ = server
            _ = gateway
            let client = BinanceTradingClient(
                baseURL: gateway.client.baseURL, apiKey: Self.apiKey, key: .hmac(secret: Self.secret),
                clock: { clock.now - Int64(jump.values.withLock { $0.last ?? 0 }) },
                requestTimeoutSeconds: 300
            )
            _ = try await client.accountInformation()
            jump.values.withLock { $0.append(120_000) }
            // Measured again once on -1021: the second attempt goes through.
            _ = try await client.accountInformation()
            // A raw request signed two minutes in the past (no client to resync it) is refused.
            let query = SignedRequest.signedQuery([("timestamp", String(clock.now - 120_000))], key: .hmac(secret: Self.secret))
            var request = URLRequest(url: URL(string: "\(gateway.client.baseURL.absoluteString)/api/v3/account?\(query)")!)
            request.setValue(Self.apiKey, forHTTPHeaderField: "X-MBX-APIKEY")
            let (data, _) = try await URLSession.shared.data(for: request)
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            #expect(object?["code"] as? Int == -1021)
        }
    }
}

/// Values recorded from a sendable closure.
final class Recorded: Sendable {
    let values = Mutex<[Double]>([])
}
