import Exchange
import Foundation
import HummingbirdWSClient
import MarketData
import NIOWebSocket
import ScalperCore
import ScalperTestSupport
import Synchronization
import Testing

/// `text` (decimal, as the exchange sends it) in units of 10^−8, if it has at most 8 decimals.
private func units8(_ text: String) -> Int64? {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count <= 2, let whole = Int64(parts[0]) else { return nil }
    let fraction = parts.count == 2 ? String(parts[1]) : ""
    guard fraction.count <= 8, fraction.allSatisfy(\.isNumber) else { return nil }
    let padded = fraction + String(repeating: "0", count: 8 - fraction.count)
    return whole * 100_000_000 + (Int64(padded) ?? 0) * (text.hasPrefix("-") ? -1 : 1)
}

/// Whether decimal `text` is a whole number of `increment`s, decided on the digits.
private func isOnGrid(_ text: String, _ increment: Double) -> Bool {
    guard let units = units8(text) else { return false }
    let step = Int64((increment * 1e8).rounded())
    return step > 0 && units % step == 0
}

/// One price the exchange sent: its symbol, its text, and the market's value when the test knows it.
private struct SentPrice {
    var symbol: String
    var text: String
    var expected: Double?
    var origin: String
    /// Whether `expected` is a difference of two prices (sent rounded to the tick) rather than one.
    var isDifference = false
}

/// A frame or answer not shaped as the test expects.
private struct Unexpected: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

@Suite("The exchange's symbol filters and price grid", .serialized, .timeLimit(.minutes(10)))
struct ExchangeFiltersTests {
    @Test(
        "exchangeInfo gives each pair its SymbolFilters: those given, else derived over the whole series, and for a derived pair at its scaled price"
    )
    func exchangeInfoFilters() async throws {
        let fil = try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip")
        let near = try Fixtures.sampleKlines("NEARUSDT-1m-2023-08.zip")
        // FILUSDT as the store would give it from Binance's exchangeInfo; NEARUSDT derived.
        let given = SymbolFilters(lotStep: 0.1, tickSize: 0.001, minNotional: 5)
        let market = try ReplayMarket(
            series: [(symbol: "FILUSDT", klines: fil), (symbol: "NEARUSDT", klines: near)],
            pairCount: 6,
            filters: ["FILUSDT": given]
        )
        let filReference = fil[fil.count / 2].close
        let nearReference = near[near.count / 2].close
        let expected: [String: SymbolFilters] = [
            "FILUSDT": given,
            "NEARUSDT": try #require(SymbolFilters.derived(from: near)),
            "FILD1USDT": .derived(price: filReference * 1.013),
            "NEARD1USDT": .derived(price: nearReference * 1.013),
            "FILD2USDT": .derived(price: filReference * 1.026),
            "NEARD2USDT": .derived(price: nearReference * 1.026),
        ]
        #expect(Set(market.symbols) == Set(expected.keys))
        for (symbol, filters) in expected { #expect(market.pairs[symbol]?.filters == filters, "\(symbol)") }
        let body = try await withExchange(market: market, clock: ManualClock(start: sampleDay(1))) { _, port in
            try await URLSessionFetcher().get(
                URL(string: "http://127.0.0.1:\(port)/api/v3/exchangeInfo")!,
                headers: [:]
            )
            .body
        }
        let info = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        let symbols = try #require(info["symbols"] as? [[String: Any]])
        #expect(symbols.count == 6)
        for entry in symbols {
            let symbol = try #require(entry["symbol"] as? String)
            let filters = try #require(expected[symbol])
            var byType: [String: [String: Any]] = [:]
            for f in try #require(entry["filters"] as? [[String: Any]]) {
                byType[try #require(f["filterType"] as? String)] = f
            }
            func text(_ units: Double) -> String {
                SymbolFilters.text(units: Int64((units * 1e8).rounded()), decimals: 8)
            }
            #expect(byType["PRICE_FILTER"]?["tickSize"] as? String == text(filters.tickSize), "\(symbol)")
            #expect(byType["PRICE_FILTER"]?["minPrice"] as? String == text(filters.tickSize), "\(symbol)")
            #expect(byType["LOT_SIZE"]?["stepSize"] as? String == text(filters.lotStep), "\(symbol)")
            #expect(byType["LOT_SIZE"]?["minQty"] as? String == text(filters.lotStep), "\(symbol)")
            #expect(byType["NOTIONAL"]?["minNotional"] as? String == text(filters.minNotional), "\(symbol)")
            // And the text reads back as the filters.
            let read = SymbolFilters(
                lotStep: try #require((byType["LOT_SIZE"]?["stepSize"] as? String).flatMap { Double($0) }),
                tickSize: try #require((byType["PRICE_FILTER"]?["tickSize"] as? String).flatMap { Double($0) }),
                minNotional: try #require((byType["NOTIONAL"]?["minNotional"] as? String).flatMap { Double($0) })
            )
            #expect(read == filters, "\(symbol)")
        }
        // The sample's two pairs near 4 and 1.3 USDT: a tick of 0.0001, a step of 0.01.
        #expect(expected["NEARUSDT"] == SymbolFilters(lotStep: 0.01, tickSize: 0.0001, minNotional: 5))
    }

    @Test(
        "Every price the exchange sends, on every stream and REST answer, lies on the pair's tick and is the market's own value; the book model's quantities lie on the step"
    )
    func pricesOnTick() async throws {
        let market = try sampleMarket(pairs: 4)
        // 50 s into a minute: the run crosses a bar close.
        let start = sampleDay(1) + 50_000
        let clock = ManualClock(start: start)
        let lower = market.symbols.map { $0.lowercased() }
        let streams =
            lower.flatMap {
                [
                    "\($0)@kline_1m", "\($0)@miniTicker", "\($0)@bookTicker", "\($0)@depth20", "\($0)@depth@100ms",
                    "\($0)@trade",
                ]
            }
            + ["!miniTicker@arr"]
        struct Received: Sendable {
            var steps: [(time: Int64, frames: [String])] = []
            var rest: [(path: String, body: String)] = []
        }
        let received = try await withExchange(market: market, clock: clock) { server, port in
            let received = Mutex(Received())
            try await connectWebSocket(
                url: "ws://127.0.0.1:\(port)/stream?streams=\(streams.joined(separator: "/"))",
                configuration: .init(maxFrameSize: 1 << 20),
                logger: quietLogger
            ) { inbound, outbound, _ in
                var session = StreamSession(inbound, outbound)
                _ = try await session.drain()
                for second in 1...15 {
                    let time = start + Int64(second) * 1_000
                    try await step(server, clock, to: time)
                    let frames = try await session.drain()
                    received.withLock { $0.steps.append((time, frames)) }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
            var paths = ["/api/v3/ticker/24hr"]
            for symbol in market.symbols {
                paths += [
                    "/api/v3/klines?symbol=\(symbol)&interval=1m&limit=5", "/api/v3/depth?symbol=\(symbol)&limit=20",
                ]
            }
            for path in paths {
                let body = try await URLSessionFetcher().get(
                    URL(string: "http://127.0.0.1:\(port)\(path)")!,
                    headers: [:]
                ).body
                received.withLock { $0.rest.append((path, String(decoding: body, as: UTF8.self))) }
            }
            return received.withLock { $0 }
        }
        let end = start + 15_000
        var prices: [SentPrice] = []
        var quantities: [(symbol: String, text: String)] = []
        func object(_ text: String) throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                throw Unexpected("not a JSON object: \(text.prefix(200))")
            }
            return object
        }
        func levels(_ any: Any?, _ symbol: String, _ served: [(Double, Double)]?, _ origin: String) throws {
            guard let rows = any as? [[String]] else {
                throw Unexpected("\(origin): levels are not [[price, quantity]]")
            }
            if let served { #expect(rows.count == served.count, "\(origin)") }
            for (k, row) in rows.enumerated() {
                prices.append(SentPrice(symbol: symbol, text: row[0], expected: served?[k].0, origin: origin))
                quantities.append((symbol, row[1]))
            }
        }
        func miniTicker(_ m: [String: Any], _ origin: String) throws {
            guard let symbol = m["s"] as? String, let time = (m["E"] as? NSNumber)?.int64Value,
                let state = market.state(symbol, at: time)
            else { throw Unexpected("\(origin): a mini ticker without a known s or E") }
            for (key, value) in [("c", state.price), ("o", state.open24), ("h", state.high24), ("l", state.low24)] {
                guard let text = m[key] as? String else { throw Unexpected("\(origin): no \(key)") }
                prices.append(SentPrice(symbol: symbol, text: text, expected: value, origin: origin))
            }
        }
        for step in received.steps {
            for text in step.frames {
                let envelope = try object(text)
                let stream = try #require(envelope["stream"] as? String)
                let origin = "\(stream) at \(step.time)"
                if stream == "!miniTicker@arr" {
                    for m in try #require(envelope["data"] as? [[String: Any]]) { try miniTicker(m, origin) }
                    continue
                }
                let data = try #require(envelope["data"] as? [String: Any])
                let symbol = String(stream.prefix { $0 != "@" }).uppercased()
                switch stream.dropFirst(symbol.count + 1) {
                case "kline_1m":
                    let k = try #require(data["k"] as? [String: Any])
                    let time = try #require((data["E"] as? NSNumber)?.int64Value)
                    let bar =
                        k["x"] as? Bool == true
                        ? try #require(
                            market.klines(symbol, from: time - 60_000, to: time - 60_000, limit: 1, now: time).first
                        )
                        : try #require(market.state(symbol, at: time)).bar
                    for (key, value) in [("o", bar.open), ("h", bar.high), ("l", bar.low), ("c", bar.close)] {
                        prices.append(
                            SentPrice(
                                symbol: symbol,
                                text: try #require(k[key] as? String),
                                expected: value,
                                origin: origin
                            )
                        )
                    }
                case "miniTicker":
                    try miniTicker(data, origin)
                case "bookTicker":
                    let book = try #require(market.book(symbol, at: step.time))
                    prices.append(
                        SentPrice(
                            symbol: symbol,
                            text: try #require(data["b"] as? String),
                            expected: book.bids[0].0,
                            origin: origin
                        )
                    )
                    prices.append(
                        SentPrice(
                            symbol: symbol,
                            text: try #require(data["a"] as? String),
                            expected: book.asks[0].0,
                            origin: origin
                        )
                    )
                case "depth20":
                    let book = try #require(market.book(symbol, at: step.time))
                    try levels(data["bids"], symbol, book.bids, origin)
                    try levels(data["asks"], symbol, book.asks, origin)
                case "depth@100ms":
                    try levels(data["b"], symbol, nil, origin)
                    try levels(data["a"], symbol, nil, origin)
                case "trade":
                    let time = try #require((data["T"] as? NSNumber)?.int64Value)
                    let state = try #require(market.state(symbol, at: time))
                    prices.append(
                        SentPrice(
                            symbol: symbol,
                            text: try #require(data["p"] as? String),
                            expected: state.price,
                            origin: origin
                        )
                    )
                    quantities.append((symbol, try #require(data["q"] as? String)))
                default:
                    Issue.record("unexpected stream \(stream)")
                }
            }
        }
        for (path, body) in received.rest {
            let symbol = path.split(separator: "symbol=").last.map { String($0.prefix { $0 != "&" }) } ?? ""
            if path.hasPrefix("/api/v3/klines") {
                let rows = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[Any]])
                let bars = market.klines(symbol, from: end - 6 * 60_000, to: end, limit: 10, now: end).suffix(5)
                #expect(rows.count == 5 && bars.count == 5)
                for (row, bar) in zip(rows, bars) {
                    for (k, value) in [(1, bar.open), (2, bar.high), (3, bar.low), (4, bar.close)] {
                        prices.append(
                            SentPrice(
                                symbol: symbol,
                                text: try #require(row[k] as? String),
                                expected: value,
                                origin: path
                            )
                        )
                    }
                }
            } else if path.hasPrefix("/api/v3/depth") {
                let book = try #require(market.book(symbol, at: end))
                let snapshot = try object(body)
                try levels(snapshot["bids"], symbol, book.bids, path)
                try levels(snapshot["asks"], symbol, book.asks, path)
            } else {
                let tickers = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]])
                #expect(tickers.count == market.symbols.count)
                for t in tickers {
                    let symbol = try #require(t["symbol"] as? String)
                    let state = try #require(market.state(symbol, at: end))
                    for (key, value) in [
                        ("lastPrice", state.price), ("openPrice", state.open24), ("highPrice", state.high24),
                        ("lowPrice", state.low24),
                    ] {
                        prices.append(
                            SentPrice(
                                symbol: symbol,
                                text: try #require(t[key] as? String),
                                expected: value,
                                origin: path
                            )
                        )
                    }
                    prices.append(
                        SentPrice(
                            symbol: symbol,
                            text: try #require(t["priceChange"] as? String),
                            expected: state.price - state.open24,
                            origin: path,
                            isDifference: true
                        )
                    )
                }
            }
        }
        // Every kind of price came, for every pair.
        #expect(Set(prices.map(\.symbol)) == Set(market.symbols))
        #expect(prices.count > 2_000)
        var checked = 0
        for price in prices {
            let filters = try #require(market.pairs[price.symbol]?.filters)
            #expect(
                isOnGrid(price.text, filters.tickSize),
                "\(price.symbol) \(price.text) (\(price.origin)): not on \(filters.tickSize)"
            )
            guard let expected = price.expected else { continue }
            // The market's value itself is on the tick: the text is it, not a rounding of it
            // (a price change is a difference of two such values, back on the tick).
            let sent = try #require(Double(price.text))
            if price.isDifference {
                #expect(
                    abs(sent - expected) <= filters.tickSize * 1e-6,
                    "\(price.symbol) change \(price.text), \(expected)"
                )
            } else {
                #expect(
                    sent == expected,
                    "\(price.symbol) \(price.text) (\(price.origin)): the market holds \(expected)"
                )
            }
            checked += 1
        }
        #expect(checked > 1_000)
        // The book model's quantities and the modelled trades' lie on the step.
        for (symbol, text) in quantities {
            let filters = try #require(market.pairs[symbol]?.filters)
            #expect(isOnGrid(text, filters.lotStep), "\(symbol) quantity \(text) not on \(filters.lotStep)")
        }
        // The model's book itself, at any instant, on the grid.
        for symbol in market.symbols {
            let filters = try #require(market.pairs[symbol]?.filters)
            for time in stride(from: start, through: end, by: 500) {
                let book = try #require(market.book(symbol, at: time))
                for (p, q) in book.bids + book.asks {
                    #expect(filters.onTickForTest(p) == p && p > 0 && q > 0, "\(symbol) level \(p) at \(time)")
                }
                #expect(book.bids[0].0 < book.asks[0].0, "\(symbol) crossed at \(time)")
            }
        }
    }

    @Test(
        "The recorded BTCUSDT streams lie on the tick derived from their bars, so the exchange sends every recorded price unchanged"
    )
    func recordedPricesOnTick() throws {
        let (market, streams) = try recordedMarket()
        let filters = try #require(market.pairs["BTCUSDT"]?.filters)
        let recording = try StreamRecording.read(
            Fixtures.sample.appendingPathComponent("ws-stream/btcusdt_20240808.gz")
        )
        let bars = streams.minuteBars(covered: recording.span)
        #expect(filters == SymbolFilters.derived(from: bars) && filters.tickSize == 0.01)
        var prices = streams.snapshots.flatMap { ($0.snapshot.bids + $0.snapshot.asks).map(\.price) }
        prices += streams.updates.flatMap { ($0.bids + $0.asks).map(\.price) }
        prices += streams.bookTickers.flatMap { [$0.ticker.bid.price, $0.ticker.ask.price] }
        prices += streams.trades.map(\.price)
        #expect(prices.count > 10_000)
        #expect(prices.allSatisfy { filters.onTickForTest($0) == $0 })
    }
}

extension SymbolFilters {
    /// `price` rounded to the nearest tick, as the nearest double to that decimal (computed here
    /// from the digits, independently of the exchange's own rounding).
    fileprivate func onTickForTest(_ price: Double) -> Double {
        let decimals = priceDecimals
        let ticks = (price / tickSize).rounded()
        let text = SymbolFilters.text(
            units: Int64(ticks * (tickSize * pow(10, Double(decimals))).rounded()),
            decimals: decimals
        )
        return Double(text) ?? .nan
    }
}
