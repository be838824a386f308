import Exchange
import Foundation
import HummingbirdWSClient
import MarketData
import NIOWebSocket
import ScalperCore
import ScalperTestSupport
import Synchronization
import Testing

/// The market data endpoints and streams answer as Binance's, from one trade tape and one book.
@Suite("The exchange's public market data", .timeLimit(.minutes(10)))
struct MarketDataEndpointsTests {
    /// An answer: status, the decoded JSON, the request weight used this minute.
    struct Answer: Sendable {
        var status: Int
        var body: Data
        var usedWeight: Int?
        var json: Any? { try? JSONSerialization.jsonObject(with: body) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        var rows: [[String: Any]] { json as? [[String: Any]] ?? [] }
        var code: Int? { object["code"] as? Int }
        var message: String { object["msg"] as? String ?? "" }
    }

    static func get(_ port: Int, _ path: String) async throws -> Answer {
        let r = try await URLSessionFetcher(timeoutSeconds: 20).get(URL(string: "http://127.0.0.1:\(port)\(path)")!, headers: [:])
        return Answer(
            status: r.status,
            body: r.body,
            usedWeight: r.headers["x-mbx-used-weight-1m"].flatMap { Int($0) }
        )
    }

    /// The keys of the JSON text `body`, in the order sent (keys of letters only).
    static func keyOrder(_ body: String) -> [String] {
        var keys: [String] = []
        var rest = Substring(body)
        while let open = rest.firstIndex(of: "\"") {
            let afterOpen = rest[rest.index(after: open)...]
            guard let close = afterOpen.firstIndex(of: "\"") else { break }
            let token = afterOpen[..<close]
            let next = afterOpen[afterOpen.index(after: close)...]
            if next.first == ":", !token.isEmpty, token.allSatisfy(\.isLetter) { keys.append(String(token)) }
            rest = next
        }
        return keys
    }

    static func number(_ any: Any?) -> Int64? { (any as? NSNumber)?.int64Value }
    static func decimal(_ any: Any?) -> Double? { (any as? String).flatMap(Double.init) }

    /// Trades aggregated as Binance does, written here apart from the exchange's code: consecutive
    /// trades of one instant, price and side, with consecutive ids.
    static func aggregates(_ trades: [Trade]) -> [(a: Int64, p: Double, q: Double, f: Int64, l: Int64, t: Int64, m: Bool)] {
        var out: [(a: Int64, p: Double, q: Double, f: Int64, l: Int64, t: Int64, m: Bool)] = []
        for t in trades {
            if let last = out.last, last.t == t.time, last.p == t.price, last.m == t.buyerIsMaker, last.l + 1 == t.id {
                out[out.count - 1].q += t.quantity
                out[out.count - 1].l = t.id
            } else {
                out.append((t.id, t.price, t.quantity, t.id, t.id, t.time, t.buyerIsMaker))
            }
        }
        return out
    }

    @Test("The trade and aggTrade streams, /trades, /historicalTrades and /aggTrades show the same tape, ids and prices alike")
    func oneTape() async throws {
        let market = try sampleMarket()
        let start = sampleDay(2) + 500
        let clock = ManualClock(start: start)
        let end = start + 12_000
        let (frames, rest) = try await withExchange(market: market, clock: clock) { server, port in
            let frames = Mutex<[String]>([])
            try await connectWebSocket(
                url: "ws://127.0.0.1:\(port)/stream?streams=filusdt@trade/filusdt@aggTrade",
                logger: quietLogger
            ) { inbound, outbound, _ in
                var client = StreamSession(inbound, outbound)
                _ = try await client.drain()
                // A second at a time, then a jump over several seconds: no trade is skipped.
                for time in [start + 1_000, start + 2_000, start + 2_500, start + 7_000, end] {
                    try await step(server, clock, to: time)
                    let got = try await client.drain()
                    frames.withLock { $0 += got }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
            var rest: [String: Answer] = [:]
            rest["trades"] = try await Self.get(port, "/api/v3/trades?symbol=FILUSDT&limit=12")
            rest["agg"] = try await Self.get(port, "/api/v3/aggTrades?symbol=FILUSDT&startTime=\(start + 1)&endTime=\(end)")
            rest["recent"] = try await Self.get(port, "/api/v3/aggTrades?symbol=FILUSDT&limit=12")
            rest["endOnly"] = try await Self.get(port, "/api/v3/aggTrades?symbol=FILUSDT&endTime=\(start + 6_000)&limit=3")
            let first = try #require(Self.number(rest["trades"]?.rows.first?["id"]))
            rest["historical"] = try await Self.get(port, "/api/v3/historicalTrades?symbol=FILUSDT&fromId=\(first + 2)&limit=4")
            rest["fromId"] = try await Self.get(port, "/api/v3/aggTrades?symbol=FILUSDT&fromId=\(first + 2)&limit=4")
            rest["future"] = try await Self.get(port, "/api/v3/aggTrades?symbol=FILUSDT&startTime=\(end + 1)")
            return (frames.withLock { $0 }, rest)
        }
        let tape = market.trades("FILUSDT", after: start, upTo: end)
        #expect(tape.count == 12)
        var streamTrades: [[String: Any]] = []
        var streamAggregates: [[String: Any]] = []
        for text in frames {
            let envelope = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            let data = try #require(envelope["data"] as? [String: Any])
            switch envelope["stream"] as? String {
            case "filusdt@trade": streamTrades.append(data)
            case "filusdt@aggTrade":
                streamAggregates.append(data)
                #expect(Self.keyOrder(text) == ["stream", "data", "e", "E", "s", "a", "p", "q", "f", "l", "T", "m", "M"])
            default: Issue.record("unexpected frame \(text)")
            }
        }
        // The streams are the tape, trade for trade.
        #expect(streamTrades.compactMap { Self.number($0["t"]) } == tape.map(\.id))
        #expect(streamTrades.compactMap { Self.number($0["T"]) } == tape.map(\.time))
        #expect(streamTrades.compactMap { Self.decimal($0["p"]) } == tape.map(\.price))
        let expected = Self.aggregates(tape)
        #expect(streamAggregates.compactMap { Self.number($0["a"]) } == expected.map(\.a))
        #expect(streamAggregates.compactMap { Self.number($0["f"]) } == expected.map(\.f))
        #expect(streamAggregates.compactMap { Self.number($0["l"]) } == expected.map(\.l))
        #expect(streamAggregates.compactMap { $0["m"] as? Bool } == expected.map(\.m))
        // REST: the same trades and aggregates over the same interval.
        let trades = try #require(rest["trades"]).rows
        #expect(trades.compactMap { Self.number($0["id"]) } == tape.map(\.id))
        #expect(trades.compactMap { Self.decimal($0["price"]) } == tape.map(\.price))
        #expect(trades.compactMap { Self.decimal($0["qty"]) } == tape.map(\.quantity))
        #expect(trades.first.map { Array($0.keys).sorted() } == ["id", "isBestMatch", "isBuyerMaker", "price", "qty", "quoteQty", "time"])
        for rows in [try #require(rest["agg"]).rows, try #require(rest["recent"]).rows] {
            #expect(rows.compactMap { Self.number($0["a"]) } == expected.map(\.a))
            #expect(rows.compactMap { Self.decimal($0["p"]) } == expected.map(\.p))
            #expect(rows.compactMap { Self.number($0["T"]) } == expected.map(\.t))
            #expect(zip(rows.compactMap { Self.decimal($0["q"]) }, expected).allSatisfy { abs($0 - $1.q) < 1e-8 })
        }
        // endTime alone: the latest aggregates at or before it.
        let (endOnly, historical, fromID, future) = (try #require(rest["endOnly"]), try #require(rest["historical"]), try #require(rest["fromId"]), try #require(rest["future"]))
        #expect(endOnly.rows.compactMap { Self.number($0["T"]) } == [start + 3_500, start + 4_500, start + 5_500])
        // fromId: from that trade on, in both.
        #expect(historical.rows.compactMap { Self.number($0["id"]) } == Array(tape.map(\.id)[2..<6]))
        #expect(fromID.rows.compactMap { Self.number($0["a"]) } == Array(expected.map(\.a)[2..<6]))
        // Nothing from the future.
        #expect(future.rows.isEmpty && future.status == 200)
    }

    @Test("Across a recording the tape's ids rise by one per trade; aggTrades pages through it by fromId exactly as one read")
    func recordedTapeIDs() async throws {
        let (market, streams) = try recordedMarket()
        let first = try #require(streams.trades.map(\.time).min())
        let last = try #require(streams.trades.map(\.time).max())
        // Model seconds before the recording, the recording, model seconds after it.
        let tape = market.trades("BTCUSDT", after: first - 5_500, upTo: last + 4_000)
        #expect(tape.count > 9_000)
        #expect(zip(tape, tape.dropFirst()).allSatisfy { $1.id == $0.id + 1 && $1.time >= $0.time })
        let recordedIDs = Set(streams.trades.map(\.id))
        #expect(tape.filter { recordedIDs.contains($0.id) }.count == streams.trades.count)
        #expect(tape.prefix(5).allSatisfy { $0.time % 1_000 == 0 && !recordedIDs.contains($0.id) })

        let window = (from: first + 60_000, to: first + 120_000)
        let clock = ManualClock(start: window.to)
        let (answers, wholeAnswer) = try await withExchange(market: market, clock: clock) { _, port in
            var answers: [Answer] = []
            var next = "startTime=\(window.from)&endTime=\(window.to)&limit=100"
            while answers.count < 40 {
                let answer = try await Self.get(port, "/api/v3/aggTrades?symbol=BTCUSDT&\(next)")
                answers.append(answer)
                guard answer.rows.count == 100, let a = Self.number(answer.rows.last?["a"]) else { break }
                next = "fromId=\(a + 1)&limit=100"
            }
            let whole = try await Self.get(port, "/api/v3/aggTrades?symbol=BTCUSDT&startTime=\(window.from)&endTime=\(window.to)&limit=1000")
            return (answers, whole)
        }
        // The clock stands at the window's end: paging by fromId stops there.
        let pages = answers.flatMap(\.rows)
        let whole = wholeAnswer.rows
        let expected = Self.aggregates(market.trades("BTCUSDT", after: window.from - 1, upTo: window.to))
        #expect(expected.count > 100 && expected.count < 1_000)
        #expect(expected.count < market.trades("BTCUSDT", after: window.from - 1, upTo: window.to).count)
        for rows in [pages, whole] {
            #expect(rows.compactMap { Self.number($0["a"]) } == expected.map(\.a))
            #expect(rows.compactMap { Self.number($0["l"]) } == expected.map(\.l))
            #expect(zip(rows.compactMap { Self.decimal($0["q"]) }, expected).allSatisfy { abs($0 - $1.q) < 1e-8 })
        }
    }

    @Test("bookTicker is depth's best levels, for one symbol, a list and all, model and recorded books alike")
    func bookTickerIsDepth() async throws {
        let market = try sampleMarket(pairs: 3)
        let clock = ManualClock(start: sampleDay(2) + 7_250)
        try await withExchange(market: market, clock: clock) { _, port in
            let all = try await Self.get(port, "/api/v3/ticker/bookTicker")
            #expect(all.rows.compactMap { $0["symbol"] as? String } == market.symbols && all.usedWeight == 4)
            let list = try await Self.get(port, "/api/v3/ticker/bookTicker?symbols=%5B%22NEARUSDT%22,%22FILUSDT%22%5D")
            #expect(list.rows.compactMap { $0["symbol"] as? String } == ["NEARUSDT", "FILUSDT"])
            for symbol in market.symbols {
                let one = try await Self.get(port, "/api/v3/ticker/bookTicker?symbol=\(symbol)")
                let depth = try await Self.get(port, "/api/v3/depth?symbol=\(symbol)&limit=5").object
                let bids = try #require(depth["bids"] as? [[String]])
                let asks = try #require(depth["asks"] as? [[String]])
                for row in [one.object] + all.rows.filter({ $0["symbol"] as? String == symbol }) {
                    #expect(row["bidPrice"] as? String == bids[0][0] && row["bidQty"] as? String == bids[0][1])
                    #expect(row["askPrice"] as? String == asks[0][0] && row["askQty"] as? String == asks[0][1])
                }
            }
        }
        let (recorded, streams) = try recordedMarket()
        let inside = try #require(streams.updates.map(\.eventTime).min()) + 90_000
        try await withExchange(market: recorded, clock: ManualClock(start: inside)) { _, port in
            let one = try await Self.get(port, "/api/v3/ticker/bookTicker?symbol=BTCUSDT").object
            let book = try #require(recorded.book("BTCUSDT", at: inside, levels: 1))
            #expect(Self.decimal(one["bidPrice"]) == book.bids[0].0 && Self.decimal(one["askQty"]) == book.asks[0].1)
        }
    }

    @Test("avgPrice is the volume-weighted price of the last 5 minutes of the tape, closeTime its last trade")
    func averagePrice() async throws {
        let market = try sampleMarket()
        let now = sampleDay(3) + 4 * 60_000 + 12_345
        try await withExchange(market: market, clock: ManualClock(start: now)) { _, port in
            let answer = try await Self.get(port, "/api/v3/avgPrice?symbol=NEARUSDT")
            let aggregates = try await Self.get(port, "/api/v3/aggTrades?symbol=NEARUSDT&startTime=\(now - 299_999)&endTime=\(now)&limit=1000").rows
            #expect(aggregates.count == 300)
            let volume = aggregates.compactMap { Self.decimal($0["q"]) }.reduce(0, +)
            let quote = aggregates.reduce(0.0) { $0 + (Self.decimal($1["p"]) ?? 0) * (Self.decimal($1["q"]) ?? 0) }
            let price = try #require(Self.decimal(answer.object["price"]))
            #expect(abs(price - quote / volume) <= 1e-8 * price)
            #expect(Self.number(answer.object["closeTime"]) == Self.number(aggregates.last?["T"]))
            #expect(answer.object["mins"] as? Int == 5 && answer.usedWeight == 2)
        }
    }

    @Test("ticker/24hr has Binance's fields in order, lastPrice and lastQty the tape's last trade, best levels the book's, ids the tape's window")
    func dayTicker() async throws {
        let market = try sampleMarket()
        let now = sampleDay(2) + 3_600_000 + 30_000
        try await withExchange(market: market, clock: ManualClock(start: now)) { _, port in
            let body = String(
                decoding: try await URLSessionFetcher().get(URL(string: "http://127.0.0.1:\(port)/api/v3/ticker/24hr?symbol=FILUSDT")!, headers: [:]).body,
                as: UTF8.self
            )
            #expect(
                Self.keyOrder(body) == [
                    "symbol", "priceChange", "priceChangePercent", "weightedAvgPrice", "prevClosePrice", "lastPrice", "lastQty",
                    "bidPrice", "bidQty", "askPrice", "askQty", "openPrice", "highPrice", "lowPrice", "volume", "quoteVolume",
                    "openTime", "closeTime", "firstId", "lastId", "count",
                ]
            )
            let t = try await Self.get(port, "/api/v3/ticker/24hr?symbol=FILUSDT").object
            let last = try #require(try await Self.get(port, "/api/v3/trades?symbol=FILUSDT&limit=1").rows.first)
            #expect(t["lastPrice"] as? String == last["price"] as? String && t["lastQty"] as? String == last["qty"] as? String)
            let book = try await Self.get(port, "/api/v3/ticker/bookTicker?symbol=FILUSDT").object
            #expect(t["bidPrice"] as? String == book["bidPrice"] as? String && t["askQty"] as? String == book["askQty"] as? String)
            let (volume, quote) = (try #require(Self.decimal(t["volume"])), try #require(Self.decimal(t["quoteVolume"])))
            let weighted = try #require(Self.decimal(t["weightedAvgPrice"]))
            #expect(abs(weighted - quote / volume) <= 1e-8)
            let (firstID, lastID) = (try #require(Self.number(t["firstId"])), try #require(Self.number(t["lastId"])))
            #expect(Self.number(t["count"]) == lastID - firstID + 1 && lastID == Self.number(last["id"]))
            let openTime = try #require(Self.number(t["openTime"]))
            #expect(openTime == now - 86_400_000 && Self.number(t["closeTime"]) == now)
            // firstId is the first trade in the window; prevClosePrice the one before it.
            let around = try await Self.get(port, "/api/v3/historicalTrades?symbol=FILUSDT&fromId=\(firstID - 1)&limit=2").rows
            #expect(around.count == 2 && (Self.number(around[0]["time"]) ?? .max) < openTime && (Self.number(around[1]["time"]) ?? 0) >= openTime)
            #expect(t["prevClosePrice"] as? String == around[0]["price"] as? String)
            let change = try #require(Self.decimal(t["lastPrice"])) - (try #require(Self.decimal(t["openPrice"])))
            let priceChange = try #require(Self.decimal(t["priceChange"]))
            #expect(abs(priceChange - change) < 1e-9)
            // MINI, a list and all.
            let mini = String(
                decoding: try await URLSessionFetcher().get(URL(string: "http://127.0.0.1:\(port)/api/v3/ticker/24hr?symbol=FILUSDT&type=MINI")!, headers: [:]).body,
                as: UTF8.self
            )
            #expect(
                Self.keyOrder(mini) == [
                    "symbol", "openPrice", "highPrice", "lowPrice", "lastPrice", "volume", "quoteVolume", "openTime", "closeTime",
                    "firstId", "lastId", "count",
                ]
            )
            let list = try await Self.get(port, "/api/v3/ticker/24hr?symbols=%5B%22NEARUSDT%22%5D")
            #expect(list.rows.count == 1 && list.rows[0]["symbol"] as? String == "NEARUSDT" && list.usedWeight == 60)  // 2 + 2 + 25 + 2 + 25 + 2 above, and 2
            let everyTicker = try await Self.get(port, "/api/v3/ticker/24hr")
            #expect(everyTicker.rows.count == 2)
            // ticker/price: the tape's last trade of every symbol.
            let prices = try await Self.get(port, "/api/v3/ticker/price").rows
            for row in prices {
                let symbol = try #require(row["symbol"] as? String)
                #expect(Self.decimal(row["price"]) == market.lastTrade(symbol, upTo: now)?.price)
            }
        }
    }

    @Test("The rolling window ticker and the trading day ticker sum the bars of their window, opening on a minute")
    func windowTickers() async throws {
        let market = try sampleMarket()
        let now = sampleDay(2) + 5 * 3_600_000  // on a minute: the bar in progress has not started
        try await withExchange(market: market, clock: ManualClock(start: now)) { _, port in
            let w = try await Self.get(port, "/api/v3/ticker?symbol=FILUSDT&windowSize=1h").object
            let bars = try #require(try await Self.get(port, "/api/v3/klines?symbol=FILUSDT&interval=1m&startTime=\(now - 3_600_000)&endTime=\(now - 1)").json as? [[Any]])
            #expect(bars.count == 60)
            #expect(Self.number(w["openTime"]) == now - 3_600_000 && Self.number(w["closeTime"]) == now)
            let volume = bars.compactMap { Self.decimal($0[5]) }.reduce(0, +)
            let (windowVolume, windowHigh) = (try #require(Self.decimal(w["volume"])), try #require(Self.decimal(w["highPrice"])))
            #expect(abs(windowVolume - volume) <= 1e-6)
            #expect(w["openPrice"] as? String == bars[0][1] as? String)
            #expect(windowHigh >= bars.compactMap { Self.decimal($0[2]) }.max() ?? .infinity)
            #expect(Self.number(w["count"]) == 3_601)  // one tape trade a second, both ends included
            let day = try await Self.get(port, "/api/v3/ticker/tradingDay?symbols=%5B%22FILUSDT%22,%22NEARUSDT%22%5D&timeZone=8")
            #expect(day.rows.count == 2 && day.usedWeight == 4 + 2 + 8)
            // 05:00 UTC is 13:00 at +8: the trading day opened at 16:00 UTC the day before.
            #expect(Self.number(day.rows[0]["openTime"]) == sampleDay(2) - 8 * 3_600_000)
            #expect(Self.number(day.rows[0]["closeTime"]) == sampleDay(3) - 8 * 3_600_000 - 1)
        }
    }

    @Test("Klines of longer intervals are the 1m bars of their span aggregated; uiKlines are klines")
    func intervalKlines() async throws {
        let market = try sampleMarket()
        let now = sampleDay(2) + 3_600_000 + 7 * 60_000 + 20_000
        try await withExchange(market: market, clock: ManualClock(start: now)) { _, port in
            let five = try #require(try await Self.get(port, "/api/v3/klines?symbol=NEARUSDT&interval=5m&limit=3").json as? [[Any]])
            #expect(five.compactMap { Self.number($0[0]) } == [0, 1, 2].map { sampleDay(2) + 3_600_000 + Int64($0 - 2) * 300_000 })
            for bar in five {
                let open = try #require(Self.number(bar[0]))
                let ones = try #require(try await Self.get(port, "/api/v3/klines?symbol=NEARUSDT&interval=1m&startTime=\(open)&limit=5").json as? [[Any]])
                #expect(ones.count == 5)
                #expect(bar[1] as? String == ones[0][1] as? String && bar[4] as? String == ones[4][4] as? String)
                #expect(Self.decimal(bar[2]) == ones.compactMap { Self.decimal($0[2]) }.max())
                #expect(Self.decimal(bar[3]) == ones.compactMap { Self.decimal($0[3]) }.min())
                #expect(abs((Self.decimal(bar[5]) ?? 0) - ones.compactMap { Self.decimal($0[5]) }.reduce(0, +)) < 1e-6)
                #expect(Self.number(bar[6]) == open + 299_999)
            }
            let ui = try await Self.get(port, "/api/v3/uiKlines?symbol=NEARUSDT&interval=5m&limit=3").json as? [[Any]]
            #expect(ui?.compactMap { Self.number($0[0]) } == five.compactMap { Self.number($0[0]) })
        }
    }

    @Test(
        "Bad parameters are refused with Binance's codes",
        arguments: [
            ("/api/v3/aggTrades?symbol=FILUSDT&limit=-5", -1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'."),
            ("/api/v3/trades?symbol=FILUSDT&limit=100000", -1102, "'limit' contains unexpected value. Cannot be greater than 1000."),
            ("/api/v3/historicalTrades?symbol=FILUSDT&limit=abc", -1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'."),
            ("/api/v3/aggTrades?symbol=FILUSDT&startTime=99999999999999999999", -1100, "Illegal characters found in parameter 'startTime'; legal range is '^[0-9]{1,20}$'."),
            ("/api/v3/aggTrades?symbol=FILUSDT&startTime=123456789012345678901", -1100, "Illegal characters found in parameter 'startTime'; legal range is '^[0-9]{1,20}$'."),
            ("/api/v3/exchangeInfo?symbol=NOPE", -1121, "Invalid symbol."),
            ("/api/v3/trades?symbol=NOPE", -1121, "Invalid symbol."),
            ("/api/v3/avgPrice", -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."),
            ("/api/v3/ticker/price?symbol=filusdt", -1100, "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'."),
            ("/api/v3/ticker/price?symbol=FILUSDT&symbols=%5B%22FILUSDT%22%5D", -1128, "Combination of optional parameters invalid."),
            ("/api/v3/ticker/bookTicker?symbols=FILUSDT", -1100, #"Illegal characters found in parameter 'symbols'; legal range is '^\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\]$'."#),
            ("/api/v3/ticker/bookTicker?symbols=%5B%22FILUSDT%22,%22FILUSDT%22%5D", -1151, "Symbol is present multiple times in the list."),
            ("/api/v3/ticker/24hr?symbols=%5B%22FILUSDT%22,%22NOPE%22%5D", -1121, "Invalid symbol."),
            ("/api/v3/ticker/24hr?symbol=FILUSDT&type=FAST", -1139, "Invalid ticker type."),
            ("/api/v3/ticker/price?symbol=FILUSDT&symbolStatus=OPEN", -1122, "Invalid symbolStatus."),
            ("/api/v3/ticker/price?symbol=FILUSDT&symbolStatus=HALT", -1220, "The symbol's status does not match the requested symbolStatus."),
            ("/api/v3/aggTrades?symbol=FILUSDT&fromId=5&startTime=1", -1128, "Combination of optional parameters invalid."),
            ("/api/v3/ticker", -1102, "Param 'symbol' or 'symbols' must be sent, but both were empty/null!"),
            ("/api/v3/ticker?symbol=FILUSDT&windowSize=2w", -1100, "Illegal characters found in parameter 'windowSize'; legal range is '1m…59m, 1h…23h, 1d…7d'."),
            ("/api/v3/klines?symbol=FILUSDT&interval=3d", -1120, "Invalid interval."),
            ("/api/v3/trades?symbol=FILUSDT&fromId=1", -1104, "Not all sent parameters were read; read '1' parameter(s) but was sent '2'."),
        ]
    )
    func refusals(path: String, code: Int, message: String) async throws {
        try await withExchange(market: try sampleMarket(), clock: ManualClock(start: sampleDay(2))) { _, port in
            let r = try await Self.get(port, path)
            #expect(r.status == 400)
            #expect(r.code == code, "\(r.message)")
            #expect(r.message == message)
        }
    }

    @Test("A status filter that no symbol has answers an empty list; historicalTrades ignores an API key")
    func filtersAndKeys() async throws {
        try await withExchange(market: try sampleMarket(), clock: ManualClock(start: sampleDay(2))) { _, port in
            let halted = try await Self.get(port, "/api/v3/ticker/price?symbolStatus=HALT")
            #expect(halted.status == 200 && halted.rows.isEmpty && halted.json is [Any])
            let trading = try await Self.get(port, "/api/v3/ticker/price?symbolStatus=TRADING")
            #expect(trading.rows.count == 2)
            let keyed = try await URLSessionFetcher().get(
                URL(string: "http://127.0.0.1:\(port)/api/v3/historicalTrades?symbol=FILUSDT&limit=3")!,
                headers: ["X-MBX-APIKEY": "anything"]
            )
            let rows = try JSONSerialization.jsonObject(with: keyed.body) as? [Any]
            #expect(keyed.status == 200 && rows?.count == 3)
            // exchangeInfo: a symbol's fields in Binance's order (clients read orderTypes before ordering).
            let info = try await Self.get(port, "/api/v3/exchangeInfo?symbol=FILUSDT")
            let symbol = try #require((info.object["symbols"] as? [[String: Any]])?.first)
            let text = String(decoding: info.body, as: UTF8.self)
            let symbols = try #require(text.range(of: "\"symbols\""))
            #expect(
                Self.keyOrder(String(text[symbols.lowerBound...])).prefix(22) == [
                    "symbols", "symbol", "status", "baseAsset", "baseAssetPrecision", "quoteAsset", "quotePrecision",
                    "quoteAssetPrecision", "baseCommissionPrecision", "quoteCommissionPrecision", "orderTypes", "icebergAllowed",
                    "ocoAllowed", "otoAllowed", "opoAllowed", "quoteOrderQtyMarketAllowed", "allowTrailingStop",
                    "cancelReplaceAllowed", "amendAllowed", "pegInstructionsAllowed", "isSpotTradingAllowed", "isMarginTradingAllowed",
                ]
            )
            #expect((symbol["orderTypes"] as? [String])?.contains("LIMIT") == true && symbol["permissionSets"] as? [[String]] == [["SPOT"]])
        }
    }

    @Test("SUBSCRIBE with params that are not a list of names is refused with code 2, and nothing is subscribed")
    func subscribeParams() async throws {
        _ = try await withExchange(market: try sampleMarket(), clock: ManualClock(start: sampleDay(2))) { _, port in
            try await connectWebSocket(url: "ws://127.0.0.1:\(port)/ws", logger: quietLogger) { inbound, outbound, _ in
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                // Four messages: Binance closes a connection sending more than 5 a second; so does this.
                let bad = [#""filusdt@aggTrade""#, #"{"stream":"filusdt@aggTrade"}"#, "[1,2]"]
                for (k, params) in bad.enumerated() {
                    try await outbound.write(.text(#"{"method":"SUBSCRIBE","params":\#(params),"id":\#(k + 1)}"#))
                    guard case .text(let reply) = try await messages.next() else { Issue.record("no reply"); return }
                    #expect(reply == #"{"error":{"code":2,"msg":"Invalid request: params must be a list of stream names"},"id":\#(k + 1)}"#)
                }
                try await outbound.write(.text(#"{"method":"LIST_SUBSCRIPTIONS","id":9}"#))
                guard case .text(let list) = try await messages.next() else { Issue.record("no reply"); return }
                #expect(list == #"{"result":[],"id":9}"#)
            }
        }
    }

    @Test("The ticker, window ticker, avgPrice, depth5 and kline_5m streams agree with the REST answers at the same instant")
    func tickerStreams() async throws {
        let market = try sampleMarket()
        let start = sampleDay(2) + 4 * 60_000 + 58_000
        let clock = ManualClock(start: start)
        try await withExchange(market: market, clock: clock) { server, port in
            let streams = ["filusdt@ticker", "filusdt@ticker_1h", "filusdt@avgPrice", "filusdt@depth5@1000ms", "filusdt@kline_5m", "!ticker_4h@arr"]
            try await connectWebSocket(
                url: "ws://127.0.0.1:\(port)/stream?streams=\(streams.joined(separator: "/"))",
                configuration: .init(maxFrameSize: 1 << 20),
                logger: quietLogger
            ) { inbound, outbound, _ in
                var client = StreamSession(inbound, outbound)
                _ = try await client.drain()
                // Across the close of the 5-minute bar at 00:05.
                try await step(server, clock, to: start + 2_000)
                var byStream: [String: [[String: Any]]] = [:]
                var arrays: [[Any]] = []
                for text in try await client.drain() {
                    let envelope = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
                    let name = try #require(envelope["stream"] as? String)
                    if let list = envelope["data"] as? [Any] { arrays.append(list) } else if let data = envelope["data"] as? [String: Any] {
                        byStream[name, default: []].append(data)
                    }
                }
                let now = start + 2_000
                let ticker = try await Self.get(port, "/api/v3/ticker/24hr?symbol=FILUSDT").object
                let t = try #require(byStream["filusdt@ticker"]?.last)
                #expect(t["e"] as? String == "24hrTicker" && Self.number(t["E"]) == now)
                #expect(t["c"] as? String == ticker["lastPrice"] as? String && t["b"] as? String == ticker["bidPrice"] as? String)
                #expect(t["x"] as? String == ticker["prevClosePrice"] as? String && Self.number(t["n"]) == Self.number(ticker["count"]))
                let window = try await Self.get(port, "/api/v3/ticker?symbol=FILUSDT&windowSize=1h").object
                let w = try #require(byStream["filusdt@ticker_1h"]?.last)
                #expect(w["e"] as? String == "1hTicker" && w["v"] as? String == window["volume"] as? String)
                #expect(Self.number(w["O"]) == Self.number(window["openTime"]) && w["c"] as? String == window["lastPrice"] as? String)
                let average = try await Self.get(port, "/api/v3/avgPrice?symbol=FILUSDT").object
                let a = try #require(byStream["filusdt@avgPrice"]?.last)
                #expect(a["w"] as? String == average["price"] as? String && Self.number(a["T"]) == Self.number(average["closeTime"]))
                let depth = try await Self.get(port, "/api/v3/depth?symbol=FILUSDT&limit=5").object
                let d = try #require(byStream["filusdt@depth5@1000ms"]?.last)
                #expect((d["bids"] as? [[String]]) == (depth["bids"] as? [[String]]) && (d["bids"] as? [[String]])?.count == 5)
                // The 5m bar that closed at 00:05 came closed, and equals the REST bar.
                let closed = try #require(byStream["filusdt@kline_5m"]?.compactMap { $0["k"] as? [String: Any] }.first { $0["x"] as? Bool == true })
                let bar = try #require((try await Self.get(port, "/api/v3/klines?symbol=FILUSDT&interval=5m&limit=1").json as? [[Any]])?.first)
                #expect(Self.number(closed["t"]) == Self.number(bar[0]) && closed["c"] as? String == bar[4] as? String && closed["i"] as? String == "5m")
                #expect(arrays.last?.count == 2)
                try await outbound.close(.normalClosure, reason: nil)
            }
        }
    }
}
