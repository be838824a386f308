import Binance
import Exchange
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MarketData
import ScalperCore
import ScalperTestSupport
import Testing
import Trading

/// A signed REST client for the tests: one account, the exchange's clock for timestamps.
struct OrderDesk: Sendable {
    static let apiKey = "orderDeskKey0123456789"
    static let secret = "orderDeskSecret0123456789"
    let port: Int
    let clock: any SimClock

    struct Answer {
        var status: Int
        var headers: [String: String]
        var json: Any?
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        var list: [[String: Any]] { json as? [[String: Any]] ?? [] }
        var code: Int? { object["code"] as? Int }
        var msg: String { object["msg"] as? String ?? "" }
    }

    func call(_ method: String, _ path: String, _ parameters: [(String, String)]) async throws -> Answer {
        let signed = SignedRequest.signedQuery(parameters + [("timestamp", String(clock.now))], key: .hmac(secret: Self.secret))
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)" + (method == "GET" ? "?\(signed)" : ""))!)
        request.httpMethod = method
        request.setValue(Self.apiKey, forHTTPHeaderField: "X-MBX-APIKEY")
        if method != "GET" {
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(signed.utf8)
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        var headers: [String: String] = [:]
        for (k, v) in http?.allHeaderFields ?? [:] { headers["\(k)".lowercased()] = "\(v)" }
        return Answer(status: http?.statusCode ?? 0, headers: headers, json: try? JSONSerialization.jsonObject(with: data))
    }

    func balance(_ asset: String) async throws -> (free: Decimal, locked: Decimal) {
        let account = try await call("GET", "/api/v3/account", [])
        let row = (account.object["balances"] as? [[String: Any]])?.first { $0["asset"] as? String == asset }
        return (Decimal(string: row?["free"] as? String ?? "0") ?? 0, Decimal(string: row?["locked"] as? String ?? "0") ?? 0)
    }
}

func dec(_ any: Any?) -> Decimal { Decimal(string: any as? String ?? "") ?? .nan }

/// The local exchange as a venue: orders matched through the one fill model, balances exact.
@Suite("The exchange's matching venue")
struct OrderMatchingTests {
    static func settings(rule: FillRule = .continuous, usdt: Decimal = 10_000, fil: Decimal = 0) -> ExchangeSettings {
        var s = ExchangeSettings()
        s.accounts = ExchangeAccounts([.init(apiKey: OrderDesk.apiKey, verifier: .hmac(secret: OrderDesk.secret), free: ["USDT": usdt, "FIL": fil])])
        s.trading.rule = rule
        return s
    }

    /// The price grid of FILUSDT as the exchange serves it.
    static func grid(_ server: ExchangeServer) throws -> SymbolFilters { try #require(server.market.pairs["FILUSDT"]?.filters) }

    static func text(_ x: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", x) }

    @Test("A market buy walks the served book; the commission is taken in the base asset; balances move by exactly the fills")
    func marketBuy() async throws {
        let market = try sampleMarket()
        let clock = ManualClock(start: sampleDay(2))
        try await withExchange(market: market, settings: Self.settings(), clock: clock) { server, port in
            let desk = OrderDesk(port: port, clock: clock)
            let f = try Self.grid(server)
            let book = try #require(market.book("FILUSDT", at: clock.now, levels: 20))
            // More than the best ask holds, so the walk takes two levels at least.
            let quantity = f.onGridText(book.asks[0].1 + book.asks[1].1 / 2, f.quantityDecimals)
            let placed = try await desk.call("POST", "/api/v3/order", [("symbol", "FILUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", quantity), ("newClientOrderId", "e-1")])
            #expect(placed.status == 200, "\(placed.json ?? "")")
            #expect(placed.object["status"] as? String == "FILLED")
            #expect(placed.headers["x-mbx-order-count-10s"] == "1")
            let fills = placed.object["fills"] as? [[String: Any]] ?? []
            #expect(fills.count >= 2)
            #expect(dec(fills.first?["price"]) == Decimal(string: Self.text(book.asks[0].0, f.priceDecimals)))
            #expect(fills.allSatisfy { $0["commissionAsset"] as? String == "FIL" })
            let qty = fills.reduce(Decimal(0)) { $0 + dec($1["qty"]) }
            let cost = fills.reduce(Decimal(0)) { $0 + dec($1["price"]) * dec($1["qty"]) }
            let fee = fills.reduce(Decimal(0)) { $0 + dec($1["commission"]) }
            #expect(qty == Decimal(string: quantity))
            #expect(dec(placed.object["cummulativeQuoteQty"]) == cost)
            #expect(try await desk.balance("USDT").free == 10_000 - cost)
            #expect(try await desk.balance("FIL").free == qty - fee)
            // The order and its trades as a client looks them up later.
            let query = try await desk.call("GET", "/api/v3/order", [("symbol", "FILUSDT"), ("origClientOrderId", "e-1")])
            #expect(query.object["status"] as? String == "FILLED" && dec(query.object["executedQty"]) == qty)
            let trades = try await desk.call("GET", "/api/v3/myTrades", [("symbol", "FILUSDT")])
            #expect(trades.list.count == fills.count)
            #expect(trades.list.allSatisfy { $0["isBuyer"] as? Bool == true && $0["isMaker"] as? Bool == false })
        }
    }

    @Test("A resting limit order fills from the replayed trades that reach it, at most each trade's quantity: partial fills, funds locked then spent")
    func restingLimitPartialFills() async throws {
        let market = try sampleMarket()
        let start = sampleDay(2)
        let clock = ManualClock(start: start)
        try await withExchange(market: market, settings: Self.settings(), clock: clock) { server, port in
            let desk = OrderDesk(port: port, clock: clock)
            let f = try Self.grid(server)
            // A price below the best bid that at least ten of the next three hours' trades reach.
            let tape = market.trades("FILUSDT", after: start, upTo: start + 3 * 3_600_000)
            let bid = try #require(market.book("FILUSDT", at: start)?.bids.first?.0)
            let reached = tape.map(\.price).sorted()
            let price = f.roundPrice(min(reached[min(9, reached.count - 1)], bid - f.tickSize), up: false)
            try #require(tape.count(where: { $0.price <= price }) >= 3)
            // Three trades' worth, so one trade cannot fill it.
            let quantity = f.onGridText(tape[0].quantity * 3, f.quantityDecimals)
            let placed = try await desk.call(
                "POST", "/api/v3/order",
                [("symbol", "FILUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", quantity), ("price", Self.text(price, f.priceDecimals))]
            )
            #expect(placed.status == 200 && placed.object["status"] as? String == "NEW", "\(placed.json ?? "")")
            let lockedAtStart = try await desk.balance("USDT").locked
            #expect(lockedAtStart == Decimal(string: quantity)! * Decimal(string: Self.text(price, f.priceDecimals))!)
            // At the first trade that reaches the price, one trade's quantity fills: PARTIALLY_FILLED.
            let first = try #require(tape.first { $0.price <= price })
            let orderID = "\(placed.object["orderId"] as? Int ?? 0)"
            var statuses: [String] = []
            for t in [first.time - 1, first.time, start + 3 * 3_600_000] {
                clock.advance(to: t)
                let q = try await desk.call("GET", "/api/v3/order", [("symbol", "FILUSDT"), ("orderId", orderID)])
                statuses.append(q.object["status"] as? String ?? "?")
            }
            #expect(statuses == ["NEW", "PARTIALLY_FILLED", "FILLED"])
            let trades = try await desk.call("GET", "/api/v3/myTrades", [("symbol", "FILUSDT")]).list
            #expect(trades.count >= 2)
            #expect(trades.allSatisfy { dec($0["price"]) == Decimal(string: Self.text(price, f.priceDecimals)) && $0["isMaker"] as? Bool == true })
            #expect(try await desk.balance("USDT").locked == 0)
            #expect(try await desk.balance("USDT").free == 10_000 - lockedAtStart)
        }
    }

    @Test("Refusals with Binance's codes: insufficient balance, post-only that would take, a stop that would trigger, unknown orders, MAX_NUM_ORDERS, the ORDERS limit")
    func refusals() async throws {
        let market = try sampleMarket()
        let clock = ManualClock(start: sampleDay(2))
        var settings = Self.settings(usdt: 100)
        settings.trading.maxOpenOrdersPerSymbol = 2
        settings.trading.ordersPer10Seconds = 4
        try await withExchange(market: market, settings: settings, clock: clock) { server, port in
            let desk = OrderDesk(port: port, clock: clock)
            let f = try Self.grid(server)
            let book = try #require(market.book("FILUSDT", at: clock.now))
            let ask = Self.text(book.asks[0].0, f.priceDecimals)
            let far = Self.text(book.bids[0].0 * 0.9, f.priceDecimals)
            let many = try await desk.call("POST", "/api/v3/order", [("symbol", "FILUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "1000")])
            #expect(many.status == 400 && many.code == -2010 && many.msg == "Account has insufficient balance for requested action.")
            let maker = try await desk.call("POST", "/api/v3/order", [("symbol", "FILUSDT"), ("side", "BUY"), ("type", "LIMIT_MAKER"), ("quantity", "2"), ("price", ask)])
            #expect(maker.code == -2010 && maker.msg == "Order would immediately match and take.")
            let stop = try await desk.call("POST", "/api/v3/order", [("symbol", "FILUSDT"), ("side", "SELL"), ("type", "STOP_LOSS"), ("quantity", "2"), ("stopPrice", ask)])
            #expect(stop.code == -2010 && stop.msg == "Order would trigger immediately.")
            let cancel = try await desk.call("DELETE", "/api/v3/order", [("symbol", "FILUSDT"), ("origClientOrderId", "nope")])
            #expect(cancel.code == -2011 && cancel.msg == "Unknown order sent.")
            let query = try await desk.call("GET", "/api/v3/order", [("symbol", "FILUSDT"), ("orderId", "999")])
            #expect(query.code == -2013 && query.msg == "Order does not exist.")
            for _ in 0..<2 {
                let ok = try await desk.call("POST", "/api/v3/order", [("symbol", "FILUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "2"), ("price", far)])
                #expect(ok.status == 200, "\(ok.json ?? "")")
            }
            let third = try await desk.call("POST", "/api/v3/order", [("symbol", "FILUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "2"), ("price", far)])
            #expect(third.code == -1013 && third.msg == "Filter failure: MAX_NUM_ORDERS")
            // Two placements counted in this 10 s window (refusals are not): two more, then 429.
            _ = try await desk.call("DELETE", "/api/v3/openOrders", [("symbol", "FILUSDT")])
            for _ in 0..<2 {
                _ = try await desk.call("POST", "/api/v3/order", [("symbol", "FILUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "IOC"), ("quantity", "2"), ("price", far)])
            }
            let limited = try await desk.call("POST", "/api/v3/order", [("symbol", "FILUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "IOC"), ("quantity", "2"), ("price", far)])
            #expect(limited.status == 429 && limited.code == -1015, "\(limited.json ?? "")")
            #expect(Int(limited.headers["retry-after"] ?? "") ?? 0 >= 1)
            clock.advance(by: 10_000)
            let after = try await desk.call("POST", "/api/v3/order", [("symbol", "FILUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "IOC"), ("quantity", "2"), ("price", far)])
            #expect(after.status == 200 && after.object["status"] as? String == "EXPIRED")
            #expect(after.headers["x-mbx-order-count-10s"] == "1")
            #expect(try await desk.balance("USDT") == (free: 100, locked: 0))
        }
    }

    @Test("An OCO list after a buy: the take-profit or the stop fills, the other leg expires, and the base held goes out exactly")
    func ocoAfterBuy() async throws {
        let market = try sampleMarket()
        let start = sampleDay(2)
        let clock = ManualClock(start: start)
        try await withExchange(market: market, settings: Self.settings(), clock: clock) { server, port in
            let desk = OrderDesk(port: port, clock: clock)
            let f = try Self.grid(server)
            let buy = try await desk.call("POST", "/api/v3/order", [("symbol", "FILUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quoteOrderQty", "100")])
            #expect(buy.status == 200, "\(buy.json ?? "")")
            // What is held after the base commission, on the step: no -2010 on the exit.
            let held = try await desk.balance("FIL").free
            let quantity = f.floorText(held)
            let last = try #require(market.state("FILUSDT", at: start)?.price)
            let (target, stop) = (Self.text(f.roundPrice(last * 1.004, up: true), f.priceDecimals), Self.text(f.roundPrice(last * 0.996, up: false), f.priceDecimals))
            let list = try await desk.call(
                "POST", "/api/v3/orderList/oco",
                [
                    ("symbol", "FILUSDT"), ("side", "SELL"), ("quantity", quantity), ("listClientOrderId", "L-1"),
                    ("aboveType", "LIMIT_MAKER"), ("abovePrice", target), ("aboveClientOrderId", "T-1"),
                    ("belowType", "STOP_LOSS"), ("belowStopPrice", stop), ("belowClientOrderId", "S-1"),
                ]
            )
            #expect(list.status == 200, "\(list.json ?? "")")
            #expect((list.object["orderReports"] as? [[String: Any]])?.first?["type"] as? String == "STOP_LOSS")
            #expect(try await desk.balance("FIL").locked == Decimal(string: quantity))
            var done: [[String: Any]] = []
            var t = start
            while done.isEmpty && t < start + 6 * 3_600_000 {
                t += 60_000
                clock.advance(to: t)
                done = try await desk.call("GET", "/api/v3/allOrders", [("symbol", "FILUSDT")]).list.filter { ($0["status"] as? String) == "FILLED" && ($0["orderListId"] as? Int ?? -1) >= 0 }
            }
            #expect(done.count == 1)
            let legs = try await desk.call("GET", "/api/v3/allOrders", [("symbol", "FILUSDT")]).list.filter { ($0["orderListId"] as? Int ?? -1) >= 0 }
            #expect(Set(legs.compactMap { $0["status"] as? String }) == ["FILLED", "EXPIRED"])
            let fil = try await desk.balance("FIL")
            #expect(fil.locked == 0 && fil.free == held - Decimal(string: quantity)!)
            // Sold at the target (maker) or the stop's trigger (taker, on the book): the commission in USDT.
            let sells = try await desk.call("GET", "/api/v3/myTrades", [("symbol", "FILUSDT")]).list.filter { $0["isBuyer"] as? Bool == false }
            #expect(!sells.isEmpty && sells.allSatisfy { $0["commissionAsset"] as? String == "USDT" })
        }
    }

    @Test("Parity mode: a market order fills at the next bar's open slipped, a sell list triggers from the bar's range as the backtest's fill model says")
    func parityBarRule() async throws {
        let market = try sampleMarket()
        let start = sampleDay(2) + 30_000
        let clock = ManualClock(start: start)
        try await withExchange(market: market, settings: Self.settings(rule: .bar), clock: clock) { server, port in
            let desk = OrderDesk(port: port, clock: clock)
            let f = try Self.grid(server)
            let model = server.venue.settings.fillModel
            let placed = try await desk.call("POST", "/api/v3/order", [("symbol", "FILUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "20")])
            #expect(placed.object["status"] as? String == "NEW", "\(placed.json ?? "")")
            let open = sampleDay(2) + 60_000
            clock.advance(to: open)
            let bar = try #require(market.klines("FILUSDT", from: open, to: open, limit: 1, now: open + 60_000).first)
            let fill = try await desk.call("GET", "/api/v3/myTrades", [("symbol", "FILUSDT")]).list
            #expect(fill.count == 1)
            #expect(dec(fill.first?["price"]) == Decimal(string: Self.text(model.slipped(bar.open, side: .buy, filters: f), f.priceDecimals)))
            #expect(fill.first?["time"] as? Int64 == open || (fill.first?["time"] as? Int).map(Int64.init) == open)
            // A list placed during the bar triggers from that bar's range at its close.
            let held = try await desk.balance("FIL").free
            var minute = open
            var triggered: (leg: OrderLeg, price: Double)?
            var levels = (stop: 0.0, target: 0.0)
            // Find a minute whose range reaches a level (the stop first when both), then place the list in it.
            while triggered == nil {
                let b = try #require(market.klines("FILUSDT", from: minute, to: minute, limit: 1, now: minute + 60_000).first)
                levels = (f.roundPrice(b.open * 0.999, up: false), f.roundPrice(b.open * 1.001, up: true))
                triggered = model.barTrigger(stop: levels.stop, target: levels.target, bar: b, filters: f)
                if triggered == nil { minute += 60_000 }
            }
            clock.advance(to: minute + 1_000)
            let list = try await desk.call(
                "POST", "/api/v3/orderList/oco",
                [
                    ("symbol", "FILUSDT"), ("side", "SELL"), ("quantity", f.floorText(held)), ("aboveType", "LIMIT_MAKER"),
                    ("abovePrice", Self.text(levels.target, f.priceDecimals)), ("belowType", "STOP_LOSS"), ("belowStopPrice", Self.text(levels.stop, f.priceDecimals)),
                ]
            )
            // Placed when the replayed price lies between the levels, which is when Binance accepts it.
            if list.status == 200 {
                clock.advance(to: minute + 60_000)
                let sells = try await desk.call("GET", "/api/v3/myTrades", [("symbol", "FILUSDT")]).list.filter { $0["isBuyer"] as? Bool == false }
                #expect(sells.count == 1)
                #expect(dec(sells.first?["price"]) == Decimal(string: Self.text(triggered!.price, f.priceDecimals)))
                #expect(sells.first?["isMaker"] as? Bool == (triggered!.leg == .target))
            } else {
                #expect(list.code == -2010, "\(list.json ?? "")")
            }
        }
    }

    @Test("A response lost after booking (504, -1007) leaves one order, found by its client id; 5xx and 429 faults book nothing")
    func faults() async throws {
        let market = try sampleMarket()
        let clock = ManualClock(start: sampleDay(2))
        try await withExchange(market: market, settings: Self.settings(), clock: clock) { server, port in
            let desk = OrderDesk(port: port, clock: clock)
            let order: [(String, String)] = [("symbol", "FILUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quoteOrderQty", "50"), ("newClientOrderId", "e-7")]
            server.venue.inject(.dropResponseAfterBooking)
            let lost = try await desk.call("POST", "/api/v3/order", order)
            #expect(lost.status == 504 && lost.code == -1007)
            let found = try await desk.call("GET", "/api/v3/order", [("symbol", "FILUSDT"), ("origClientOrderId", "e-7")])
            #expect(found.status == 200 && found.object["status"] as? String == "FILLED")
            server.venue.inject(.serverError)
            #expect(try await desk.call("POST", "/api/v3/order", order.map { $0.0 == "newClientOrderId" ? ($0.0, "e-8") : $0 }).status == 503)
            server.venue.inject(.tooManyRequests(retryAfter: 2))
            let busy = try await desk.call("POST", "/api/v3/order", order.map { $0.0 == "newClientOrderId" ? ($0.0, "e-9") : $0 })
            #expect(busy.status == 429 && busy.headers["retry-after"] == "2")
            let all = try await desk.call("GET", "/api/v3/allOrders", [("symbol", "FILUSDT")]).list
            #expect(all.compactMap { $0["clientOrderId"] as? String } == ["e-7"])
        }
    }

    @Test("Random order sequences: balances always equal the start plus the fills less the commissions; no order fills beyond its quantity or twice")
    func balancesEqualFills() async throws {
        let market = try sampleMarket()
        let start = sampleDay(2)
        for seed: UInt64 in [1, 2, 3] {
            let clock = ManualClock(start: start)
            try await withExchange(market: market, settings: Self.settings(usdt: 2_000, fil: 300), clock: clock) { server, port in
                let desk = OrderDesk(port: port, clock: clock)
                let f = try Self.grid(server)
                var rng = SplitMix(seed: seed)
                for _ in 0..<40 {
                    let last = market.state("FILUSDT", at: clock.now)?.price ?? 1
                    let side = Bool.random(using: &rng) ? "BUY" : "SELL"
                    let quantity = Self.text(Double(Int.random(in: 1...40, using: &rng)), f.quantityDecimals)
                    let off = Double.random(in: -0.004...0.004, using: &rng)
                    let price = Self.text(f.roundPrice(last * (1 + off)), f.priceDecimals)
                    switch Int.random(in: 0..<5, using: &rng) {
                    case 0: _ = try await desk.call("POST", "/api/v3/order", [("symbol", "FILUSDT"), ("side", side), ("type", "MARKET"), ("quantity", quantity)])
                    case 1, 2:
                        let tif = ["GTC", "IOC", "FOK"].randomElement(using: &rng)!
                        _ = try await desk.call("POST", "/api/v3/order", [("symbol", "FILUSDT"), ("side", side), ("type", "LIMIT"), ("timeInForce", tif), ("quantity", quantity), ("price", price)])
                    case 3:
                        let type = side == "SELL" ? (off < 0 ? "STOP_LOSS" : "TAKE_PROFIT") : (off > 0 ? "STOP_LOSS" : "TAKE_PROFIT")
                        _ = try await desk.call("POST", "/api/v3/order", [("symbol", "FILUSDT"), ("side", side), ("type", type), ("quantity", quantity), ("stopPrice", price)])
                    default:
                        if let open = try await desk.call("GET", "/api/v3/openOrders", [("symbol", "FILUSDT")]).list.first {
                            _ = try await desk.call("DELETE", "/api/v3/order", [("symbol", "FILUSDT"), ("orderId", "\(open["orderId"] as? Int ?? 0)")])
                        }
                    }
                    clock.advance(by: Int64.random(in: 1_000...90_000, using: &rng))
                }
                let trades = try await desk.call("GET", "/api/v3/myTrades", [("symbol", "FILUSDT"), ("limit", "1000")]).list
                var usdt: Decimal = 2_000
                var fil: Decimal = 300
                for t in trades {
                    let (p, q, c) = (dec(t["price"]), dec(t["qty"]), dec(t["commission"]))
                    if t["isBuyer"] as? Bool == true {
                        usdt -= p * q
                        fil += q - c
                    } else {
                        fil -= q
                        usdt += p * q - c
                    }
                }
                let (u, b) = (try await desk.balance("USDT"), try await desk.balance("FIL"))
                #expect(u.free + u.locked == usdt, "seed \(seed)")
                #expect(b.free + b.locked == fil, "seed \(seed)")
                #expect(u.free >= 0 && b.free >= 0 && u.locked >= 0 && b.locked >= 0)
                let orders = try await desk.call("GET", "/api/v3/allOrders", [("symbol", "FILUSDT"), ("limit", "1000")]).list
                #expect(Set(trades.compactMap { $0["id"] as? Int }).count == trades.count)
                for o in orders {
                    let id = o["orderId"] as? Int
                    let executed = trades.filter { $0["orderId"] as? Int == id }.reduce(Decimal(0)) { $0 + dec($1["qty"]) }
                    #expect(executed == dec(o["executedQty"]), "order \(id ?? -1)")
                    #expect(executed <= dec(o["origQty"]) || dec(o["origQty"]) == 0)
                }
                // Nothing open holds more than it may spend.
                let openLocks = try await desk.call("GET", "/api/v3/openOrders", [("symbol", "FILUSDT")]).list
                if openLocks.isEmpty { #expect(u.locked == 0 && b.locked == 0) }
            }
        }
    }
}

extension SymbolFilters {
    /// `x` on the lot step (nearest), as text with `decimals` decimals.
    func onGridText(_ x: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", (x / lotStep).rounded() * lotStep)
    }

    /// `x` floored to the lot step, as text.
    func floorText(_ x: Decimal) -> String {
        let step = Decimal(string: String(format: "%.8f", lotStep))!
        var ratio = x / step
        var whole = Decimal()
        NSDecimalRound(&whole, &ratio, 0, .down)
        return "\(whole * step)"
    }
}

/// SplitMix64: a seeded generator for reproducible random sequences.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
