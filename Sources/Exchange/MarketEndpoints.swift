import Foundation
import Hummingbird
import HummingbirdWebSocket
import ScalperCore

// Binance's public market data (rest-api.md "Market Data endpoints", web-socket-streams.md),
// answered from the replay: trades from the one tape (``ReplayMarket/trades(_:after:upTo:)``),
// books from ``ReplayMarket/book(_:at:levels:)``, bars and 24 h figures from the recorded 1m bars.

/// Trades aggregated as Binance aggregates them: consecutive trades of one instant, one price and
/// one aggressor side (Binance: "from the same taker order"; the tape keeps no order, and trades
/// of one taker order share exactly these). The aggregate's id is its first trade's id, so ids
/// rise along the tape and `fromId` of one is the aggregate it names.
struct AggregateTrade: Equatable, Sendable {
    /// Aggregate trade id (`a`).
    var id: Int64
    /// Price (`p`).
    var price: Double
    /// Summed quantity (`q`).
    var quantity: Double
    /// First and last trade id (`f`, `l`).
    var firstID: Int64
    var lastID: Int64
    /// Trade time (`T`).
    var time: Int64
    /// Whether the buyer was the maker (`m`).
    var buyerIsMaker: Bool

    /// The aggregates of `trades` (in tape order).
    static func aggregating(_ trades: [Trade]) -> [AggregateTrade] {
        var out: [AggregateTrade] = []
        for t in trades {
            if let last = out.last, last.time == t.time, last.price == t.price, last.buyerIsMaker == t.buyerIsMaker,
                last.lastID + 1 == t.id
            {
                out[out.count - 1].quantity += t.quantity
                out[out.count - 1].lastID = t.id
            } else {
                out.append(
                    AggregateTrade(
                        id: t.id, price: t.price, quantity: t.quantity, firstID: t.id, lastID: t.id, time: t.time,
                        buyerIsMaker: t.buyerIsMaker
                    )
                )
            }
        }
        return out
    }
}

/// Which symbols a ticker request asks for.
enum SymbolSelection: Equatable {
    case one(String)
    case list([String])
    case all
}

/// The figures of one symbol over a window of its bars (`/api/v3/ticker`, `ticker/tradingDay`).
struct WindowFigures {
    var open: Double
    var high: Double
    var low: Double
    var volume: Double
    var quoteVolume: Double
}

/// A kline interval Binance serves that this exchange builds from its 1m bars: whole minutes up
/// to a day, and the week (from Monday 00:00 UTC). `3d`, `1M` and `1s` are not built.
struct BarInterval: Equatable {
    /// Binance's name (`5m`, `1h`).
    var name: String
    /// Its length in ms.
    var span: Int64
    /// Where its bars start, ms after a multiple of `span` since the epoch (a week: 4 days, Monday).
    var phase: Int64

    init?(_ name: String) {
        let minutes: [String: Int64] = [
            "1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240, "6h": 360, "8h": 480,
            "12h": 720, "1d": 1_440, "1w": 10_080,
        ]
        guard let m = minutes[name] else { return nil }
        self.name = name
        span = m * 60_000
        phase = name == "1w" ? 4 * 86_400_000 : 0
    }

    /// The open time of the bar holding `time`, in a zone `offset` ms east of UTC.
    func open(containing time: Int64, offset: Int64) -> Int64 {
        let shifted = time + offset - phase
        let k = shifted >= 0 ? shifted / span : (shifted - span + 1) / span
        return k * span - offset + phase
    }
}

/// A market stream beyond the ones `frames` writes itself (`<symbol>@<kind>`, lowercased).
enum MarketStream: Equatable {
    /// `<s>@kline_<interval>` other than `kline_1m`, or with a zone (`kline_1h@+08:00`).
    case kline(BarInterval, offset: Int64, name: String)
    /// `<s>@ticker`: the 24 h rolling figures every second.
    case ticker
    /// `<s>@ticker_<1h|4h|1d>`: rolling window figures every second.
    case windowTicker(span: Int64, name: String)
    /// `<s>@avgPrice`: the 5-minute average price every second.
    case averagePrice

    init?(_ kind: String) {
        if kind == "ticker" {
            self = .ticker
        } else if kind == "avgprice" {
            self = .averagePrice
        } else if kind.hasPrefix("ticker_"), let span = Self.windowSpan(String(kind.dropFirst(7))) {
            self = .windowTicker(span: span, name: String(kind.dropFirst(7)))
        } else if kind.hasPrefix("kline_") {
            let parts = kind.dropFirst(6).split(separator: "@", maxSplits: 1).map(String.init)
            guard let interval = BarInterval(parts[0]) else { return nil }
            var offset: Int64 = 0
            if parts.count == 2 {
                guard let zone = Self.zoneOffset(parts[1]) else { return nil }
                offset = zone
            } else if parts[0] == "1m" {
                return nil  // `kline_1m` is written by `frames` itself
            }
            self = .kline(interval, offset: offset, name: parts[0])
        } else {
            return nil
        }
    }

    /// The levels of a partial depth stream: `depth5`, `depth10`, `depth20`, each plain, `@100ms`
    /// or `@1000ms`.
    static func partialDepthLevels(_ kind: String) -> Int? {
        for levels in [5, 10, 20] where ["depth\(levels)", "depth\(levels)@100ms", "depth\(levels)@1000ms"].contains(kind) {
            return levels
        }
        return nil
    }

    /// The window of an all-symbols window ticker stream (`!ticker_1h@arr`).
    static func allSymbolsWindow(_ stream: String) -> (span: Int64, name: String)? {
        guard stream.hasPrefix("!ticker_"), stream.hasSuffix("@arr") else { return nil }
        let name = String(stream.dropFirst(8).dropLast(4))
        return windowSpan(name).map { ($0, name) }
    }

    /// A window ticker stream's window: 1h, 4h or 1d.
    private static func windowSpan(_ name: String) -> Int64? {
        ["1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000][name]
    }

    /// A stream's zone (`+08:00`, `-05:30`): ms east of UTC, -12:00 … +14:00.
    static func zoneOffset(_ text: String) -> Int64? {
        guard text.count == 6, let sign = text.first, sign == "+" || sign == "-", Array(text)[3] == ":",
            let hours = Int64(text.dropFirst().prefix(2)), let minutes = Int64(text.suffix(2)), minutes < 60
        else { return nil }
        let offset = (sign == "-" ? -1 : 1) * (hours * 60 + minutes) * 60_000
        return (-12 * 3_600_000...14 * 3_600_000).contains(offset) ? offset : nil
    }
}

/// The 24 h rolling figures of one symbol at one instant (``ExchangeServer/dayFigures(_:at:)``).
struct DayFigures {
    var state: TickerState
    var openTime: Int64
    var last: Double
    var lastQuantity: Double
    var previousClose: Double
    var bid: (String, String)
    var ask: (String, String)
    var ids: (first: Int64, last: Int64, count: Int64)

    var change: Double { last - state.open24 }
    var changePercentText: String { String(format: "%.3f", state.open24 != 0 ? change / state.open24 * 100 : 0) }
    var weightedAverage: Double { state.volume24 > 0 ? state.quoteVolume24 / state.volume24 : 0 }
}

extension RequestParameters {
    /// Binance's pattern for a symbol.
    static let symbolPattern = "^[A-Z0-9-_.]{1,20}$"

    /// A symbol parameter (nil: not sent), checked as Binance checks it: -1100 outside
    /// `^[A-Z0-9-_.]{1,20}$` (a lowercase symbol included).
    mutating func symbol(_ name: String = "symbol") throws(APIError) -> String? {
        guard let text = try string(name) else { return nil }
        guard Self.isSymbolText(Substring(text)) else { throw .illegal(name, range: Self.symbolPattern) }
        return text
    }

    /// A mandatory symbol: -1102 when missing.
    mutating func requiredSymbol() throws(APIError) -> String {
        guard let symbol = try symbol() else { throw .mandatory("symbol") }
        return symbol
    }

    /// A `symbols` list (nil: not sent), `["A","B"]` as Binance reads it: -1100 when it is not that
    /// shape, -1102 when empty, -1151 when a symbol repeats.
    mutating func symbolList() throws(APIError) -> [String]? {
        guard let text = try string("symbols") else { return nil }
        let pattern = #"^\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\]$"#
        guard text.hasPrefix("["), text.hasSuffix("]") else { throw .illegal("symbols", range: pattern) }
        let inner = text.dropFirst().dropLast()
        guard !inner.isEmpty else { throw .mandatory("symbols") }
        var names: [String] = []
        for part in inner.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.count >= 3, part.hasPrefix("\""), part.hasSuffix("\""), Self.isSymbolText(part.dropFirst().dropLast()) else {
                throw .illegal("symbols", range: pattern)
            }
            names.append(String(part.dropFirst().dropLast()))
        }
        guard Set(names).count == names.count else {
            throw APIError(status: 400, code: -1151, message: "Symbol is present multiple times in the list.")
        }
        return names
    }

    private static func isSymbolText(_ text: Substring) -> Bool {
        (1...20).contains(text.utf8.count)
            && text.utf8.allSatisfy { b in
                (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                    || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".")
            }
    }
}

extension ExchangeServer {
    // MARK: Market data REST

    /// Registers the market data endpoints (called from `addREST`).
    func addMarketREST(_ router: Router<BasicWebSocketRequestContext>) {
        router.get("/api/v3/depth") { [self] request, _ in
            answer(request, weight: 5) { q throws(APIError) in
                // Binance: limit 1…5000 (default 100), weight 5 / 25 / 50 / 250 by size. A recorded
                // book has as many levels as its snapshot; the model's has 20.
                let symbol = try q.requiredSymbol()
                let limit = Int(try q.integer("limit", in: 1...5_000) ?? 100)
                _ = try symbolStatus(&q, one: true)
                guard let book = market.book(symbol, at: now, levels: limit) else { throw .badSymbol }
                let weight = limit <= 100 ? 5 : limit <= 500 ? 25 : limit <= 1_000 ? 50 : 250
                return (#"{"lastUpdateId":\#(book.updateID),"bids":\#(levels(book.bids, symbol)),"asks":\#(levels(book.asks, symbol))}"#, weight)
            }
        }
        router.get("/api/v3/klines") { [self] request, _ in klines(request) }
        // For 1m bars Binance's presentation bars are the bars themselves.
        router.get("/api/v3/uiKlines") { [self] request, _ in klines(request) }
        router.get("/api/v3/trades") { [self] request, _ in
            answer(request, weight: 25) { q throws(APIError) in
                let symbol = try q.requiredSymbol()
                let limit = Int(try q.integer("limit", in: 1...1_000) ?? 500)
                guard market.pairs[symbol] != nil else { throw .badSymbol }
                let t = now
                let tape = market.trades(symbol, upTo: t) { $0.count >= limit }.suffix(limit)
                return ("[" + tape.map { tradeJSON($0, symbol) }.joined(separator: ",") + "]", 25)
            }
        }
        router.get("/api/v3/historicalTrades") { [self] request, _ in
            // Security type NONE since 2023-07-11 (CHANGELOG): an X-MBX-APIKEY header is ignored.
            answer(request, weight: 25) { q throws(APIError) in
                let symbol = try q.requiredSymbol()
                let limit = Int(try q.integer("limit", in: 1...1_000) ?? 500)
                let fromID = try q.integer("fromId")
                guard market.pairs[symbol] != nil else { throw .badSymbol }
                let t = now
                let tape: [Trade]
                if let fromID {
                    let begin = max(market.tradeTime(ofID: fromID, symbol), market.start)
                    let read = market.trades(symbol, after: begin - 1, upTo: t) { $0.count(where: { $0.id >= fromID }) >= limit }
                    tape = Array(read.filter { $0.id >= fromID }.prefix(limit))
                } else {
                    tape = Array(market.trades(symbol, upTo: t) { $0.count >= limit }.suffix(limit))
                }
                return ("[" + tape.map { tradeJSON($0, symbol) }.joined(separator: ",") + "]", 25)
            }
        }
        router.get("/api/v3/aggTrades") { [self] request, _ in
            answer(request, weight: 4) { q throws(APIError) in
                let symbol = try q.requiredSymbol()
                let fromID = try q.integer("fromId")
                let startTime = try q.integer("startTime")
                let endTime = try q.integer("endTime")
                let limit = Int(try q.integer("limit", in: 1...1_000) ?? 500)
                guard market.pairs[symbol] != nil else { throw .badSymbol }
                // web-socket-api.md: "fromId cannot be used together with startTime and endTime".
                if fromID != nil && (startTime != nil || endTime != nil) {
                    throw APIError(status: 400, code: -1128, message: "Combination of optional parameters invalid.")
                }
                let aggregates = aggregateTrades(symbol, fromID: fromID, startTime: startTime, endTime: endTime, limit: limit, now: now)
                let rows = aggregates.map { a in
                    #"{"a":\#(a.id),"p":"\#(price(a.price, symbol))","q":"\#(f(a.quantity))","f":\#(a.firstID),"l":\#(a.lastID),"T":\#(a.time),"m":\#(a.buyerIsMaker),"M":true}"#
                }
                return ("[" + rows.joined(separator: ",") + "]", 4)
            }
        }
        router.get("/api/v3/avgPrice") { [self] request, _ in
            answer(request, weight: 2) { q throws(APIError) in
                let symbol = try q.requiredSymbol()
                guard let average = averagePrice(symbol, at: now) else { throw .badSymbol }
                return (#"{"mins":5,"price":"\#(f(average.price))","closeTime":\#(average.closeTime)}"#, 2)
            }
        }
        router.get("/api/v3/ticker/24hr") { [self] request, _ in
            answer(request, weight: 2) { q throws(APIError) in
                var selection = try symbolSelection(&q, required: false)
                let mini = try tickerType(&q)
                if try !symbolStatus(&q, one: selection.isOne) { selection = .list([]) }
                let t = now
                switch selection {
                case .one(let symbol):
                    guard let text = ticker24(symbol, at: t, mini: mini) else { throw .badSymbol }
                    return (text, 2)
                case .list(let symbols):
                    let weight = symbols.count <= 20 ? 2 : symbols.count <= 100 ? 40 : 80
                    return ("[" + symbols.compactMap { ticker24($0, at: t, mini: mini) }.joined(separator: ",") + "]", weight)
                case .all:
                    return ("[" + market.symbols.compactMap { ticker24($0, at: t, mini: mini) }.joined(separator: ",") + "]", 80)
                }
            }
        }
        router.get("/api/v3/ticker/price") { [self] request, _ in
            answer(request, weight: 2) { q throws(APIError) in
                var selection = try symbolSelection(&q, required: false)
                if try !symbolStatus(&q, one: selection.isOne) { selection = .list([]) }
                let t = now
                func row(_ symbol: String) -> String? {
                    guard let last = lastPrice(symbol, at: t) else { return nil }
                    return #"{"symbol":"\#(symbol)","price":"\#(price(last.price, symbol))"}"#
                }
                return selectionAnswer(selection, weightOne: 2, weightMany: 4, row)
            }
        }
        router.get("/api/v3/ticker/bookTicker") { [self] request, _ in
            answer(request, weight: 2) { q throws(APIError) in
                var selection = try symbolSelection(&q, required: false)
                if try !symbolStatus(&q, one: selection.isOne) { selection = .list([]) }
                let t = now
                return selectionAnswer(selection, weightOne: 2, weightMany: 4) { bookTicker($0, at: t) }
            }
        }
        router.get("/api/v3/ticker") { [self] request, _ in
            answer(request, weight: 4) { q throws(APIError) in
                var selection = try symbolSelection(&q, required: true)
                let window = try windowSize(&q)
                let mini = try tickerType(&q)
                if try !symbolStatus(&q, one: selection.isOne) { selection = .list([]) }
                let t = now
                // openTime starts on a minute; the window is up to 59,999 ms wider than asked.
                let openTime = (t - window) / 60_000 * 60_000
                return selectionAnswer(selection, weightOne: 4, weightMany: 4, perSymbol: true) {
                    windowTicker($0, from: openTime, closeTime: t, at: t, mini: mini)
                }
            }
        }
        router.get("/api/v3/ticker/tradingDay") { [self] request, _ in
            answer(request, weight: 4) { q throws(APIError) in
                var selection = try symbolSelection(&q, required: true)
                let offset = try timeZoneOffset(&q)
                let mini = try tickerType(&q)
                if try !symbolStatus(&q, one: selection.isOne) { selection = .list([]) }
                let t = now
                // The trading day in the zone asked for: from its midnight to its last millisecond.
                let day: Int64 = 86_400_000
                let local = t + offset
                let openTime = (local >= 0 ? local / day : (local - day + 1) / day) * day - offset
                return selectionAnswer(selection, weightOne: 4, weightMany: 4, perSymbol: true) {
                    windowTicker($0, from: openTime, closeTime: openTime + day - 1, at: t, mini: mini)
                }
            }
        }
    }

    /// `GET /api/v3/klines` and `uiKlines`: closed bars, 1m as stored, longer intervals built
    /// from them (in the zone of `timeZone`; `startTime` and `endTime` are UTC, as Binance's).
    private func klines(_ request: Request) -> Response {
        answer(request, weight: 2) { q throws(APIError) in
            let symbol = try q.requiredSymbol()
            guard market.pairs[symbol] != nil else { throw .badSymbol }
            guard let interval = BarInterval(try q.required("interval")) else {
                throw APIError(status: 400, code: -1120, message: "Invalid interval.")
            }
            let limit = Int(try q.integer("limit", in: 1...1_000) ?? 500)
            let explicitStart = try q.integer("startTime")
            let endTime = try q.integer("endTime")
            let offset = try timeZoneOffset(&q)
            let t = now
            let end = endTime ?? t
            let bars: [Kline]
            if interval.span == 60_000 {
                // Without startTime Binance returns the most recent `limit` bars.
                let start = explicitStart ?? (end - Int64(limit + 1) * 60_000)
                let found = market.klines(symbol, from: start, to: end, limit: explicitStart == nil ? limit + 1 : limit, now: t)
                bars = explicitStart == nil ? Array(found.suffix(limit)) : found
            } else {
                bars = intervalBars(symbol, interval, offset: offset, from: explicitStart, to: end, limit: limit, now: t)
            }
            let rows = bars.map { k in
                "[\(k.openTime),\"\(price(k.open, symbol))\",\"\(price(k.high, symbol))\",\"\(price(k.low, symbol))\",\"\(price(k.close, symbol))\",\"\(f(k.volume))\",\(k.closeTime),\"\(f(k.quoteVolume))\",\(Int64(k.tradeCount.isNaN ? 0 : k.tradeCount)),\"\(f(k.takerBuyBaseVolume))\",\"\(f(k.takerBuyQuoteVolume))\",\"0\"]"
            }
            return ("[" + rows.joined(separator: ",") + "]", 2)
        }
    }

    /// Closed bars of `interval` with open time in [from, to] (the oldest `limit`), or without
    /// `from` the latest `limit` up to `to`; bars with no 1m bar in them are left out.
    private func intervalBars(_ symbol: String, _ interval: BarInterval, offset: Int64, from: Int64?, to: Int64, limit: Int, now: Int64) -> [Kline] {
        // The last bar closed by now that opens at or before `to`.
        let lastOpen = min(interval.open(containing: to, offset: offset), interval.open(containing: now, offset: offset) - interval.span)
        let earliest = interval.open(containing: market.start, offset: offset)
        var out: [Kline] = []
        if let from {
            var open = interval.open(containing: from, offset: offset)
            if open < from { open += interval.span }
            open = max(open, earliest)
            while open <= lastOpen, out.count < limit {
                if let bar = intervalBar(symbol, interval, open: open, now: now) { out.append(bar) }
                open += interval.span
            }
            return out
        }
        var open = lastOpen
        while open >= earliest, out.count < limit {
            if let bar = intervalBar(symbol, interval, open: open, now: now) { out.append(bar) }
            open -= interval.span
        }
        return out.reversed()
    }

    /// The bar of `interval` opening at `open`: its 1m bars closed by `now`, and the 1m bar in
    /// progress when it lies in it (a stream's bar so far). Nil when it has none.
    func intervalBar(_ symbol: String, _ interval: BarInterval, open: Int64, now: Int64) -> Kline? {
        var bars = market.klines(symbol, from: open, to: open + interval.span - 60_000, limit: Int(interval.span / 60_000), now: now)
        if let s = market.state(symbol, at: now), s.bar.openTime >= open, s.bar.openTime < open + interval.span,
            s.bar.openTime > bars.last?.openTime ?? .min
        {
            bars.append(s.bar)
        }
        guard let first = bars.first, let last = bars.last else { return nil }
        func sum(_ value: (Kline) -> Double) -> Double { bars.reduce(0) { $0 + (value($1).isNaN ? 0 : value($1)) } }
        return Kline(
            openTime: open, open: first.open, high: bars.map(\.high).max() ?? first.high, low: bars.map(\.low).min() ?? first.low,
            close: last.close, volume: sum(\.volume), closeTime: open + interval.span - 1, quoteVolume: sum(\.quoteVolume),
            tradeCount: sum(\.tradeCount), takerBuyBaseVolume: sum(\.takerBuyBaseVolume), takerBuyQuoteVolume: sum(\.takerBuyQuoteVolume)
        )
    }

    // MARK: Parameters shared by the tickers

    /// `symbol` or `symbols` (not both: -1128), every one listed (-1121); neither: all symbols,
    /// unless `required` (-1102, as Binance words it for the pair).
    private func symbolSelection(_ q: inout RequestParameters, required: Bool) throws(APIError) -> SymbolSelection {
        let symbol = try q.symbol()
        let list = try q.symbolList()
        switch (symbol, list) {
        case (.some, .some):
            throw APIError(status: 400, code: -1128, message: "Combination of optional parameters invalid.")
        case (.some(let one), nil):
            guard market.pairs[one] != nil else { throw .badSymbol }
            return .one(one)
        case (nil, .some(let many)):
            if required && many.count > 100 {
                throw APIError(status: 400, code: -1101, message: "Too many parameters; expected '100' and received '\(many.count)'.")
            }
            guard many.allSatisfy({ market.pairs[$0] != nil }) else { throw .badSymbol }
            return .list(many)
        case (nil, nil):
            guard !required else {
                throw APIError(status: 400, code: -1102, message: "Param 'symbol' or 'symbols' must be sent, but both were empty/null!")
            }
            return .all
        }
    }

    /// `symbolStatus` (TRADING, HALT or BREAK; -1122 otherwise): whether the symbols asked for
    /// have it. Every pair here is TRADING: a single symbol asked for with another status is
    /// -1220; a list or all symbols keep none.
    private func symbolStatus(_ q: inout RequestParameters, one: Bool) throws(APIError) -> Bool {
        guard let status = try q.string("symbolStatus") else { return true }
        guard ["TRADING", "HALT", "BREAK"].contains(status) else {
            throw APIError(status: 400, code: -1122, message: "Invalid symbolStatus.")
        }
        if status != "TRADING" && one {
            throw APIError(status: 400, code: -1220, message: "The symbol's status does not match the requested symbolStatus.")
        }
        return status == "TRADING"
    }

    /// `type`: FULL (default) or MINI; -1139 otherwise. True for MINI.
    private func tickerType(_ q: inout RequestParameters) throws(APIError) -> Bool {
        guard let type = try q.string("type") else { return false }
        guard type == "FULL" || type == "MINI" else { throw APIError(status: 400, code: -1139, message: "Invalid ticker type.") }
        return type == "MINI"
    }

    /// `windowSize` in ms: 1m…59m, 1h…23h, 1d…7d (default 1d).
    private func windowSize(_ q: inout RequestParameters) throws(APIError) -> Int64 {
        guard let text = try q.string("windowSize") else { return 86_400_000 }
        let unit = text.last
        let count = Int64(text.dropLast())
        // Binance does not document the code of a bad windowSize; this one names the range.
        let bad = APIError.illegal("windowSize", range: "1m…59m, 1h…23h, 1d…7d")
        guard let count, count >= 1, text.dropLast().allSatisfy(\.isNumber) else { throw bad }
        switch unit {
        case "m" where count <= 59: return count * 60_000
        case "h" where count <= 23: return count * 3_600_000
        case "d" where count <= 7: return count * 86_400_000
        default: throw bad
        }
    }

    /// `timeZone` of a trading day, in ms east of UTC: hours (`8`, `-1`) or hours and minutes
    /// (`05:45`, `-1:00`), from -12:00 to +14:00 (default 0).
    private func timeZoneOffset(_ q: inout RequestParameters) throws(APIError) -> Int64 {
        guard let text = try q.string("timeZone") else { return 0 }
        let bad = APIError.illegal("timeZone", range: "-12:00 … +14:00, as hours (8) or hours:minutes (05:45)")
        var body = Substring(text)
        var sign: Int64 = 1
        if let first = body.first, first == "+" || first == "-" {
            sign = first == "-" ? -1 : 1
            body = body.dropFirst()
        }
        let parts = body.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.count <= 2 && $0.allSatisfy(\.isNumber) }),
            let hours = Int64(parts[0]), let minutes = parts.count == 2 ? Int64(parts[1]) : 0, minutes < 60
        else { throw bad }
        let offset = sign * (hours * 60 + minutes) * 60_000
        guard offset >= -12 * 3_600_000, offset <= 14 * 3_600_000 else { throw bad }
        return offset
    }

    /// The answer for a selection: one object, or an array of the rows there are. Weights: one
    /// symbol `weightOne`; a list or all, `weightMany` (per symbol, capped at 200 past 50
    /// symbols, when `perSymbol`).
    private func selectionAnswer(
        _ selection: SymbolSelection,
        weightOne: Int,
        weightMany: Int,
        perSymbol: Bool = false,
        _ row: (String) -> String?
    ) -> (String, Int) {
        switch selection {
        case .one(let symbol):
            return (row(symbol) ?? "{}", weightOne)
        case .list(let symbols):
            let weight = perSymbol ? (symbols.count > 50 ? 200 : weightMany * symbols.count) : weightMany
            return ("[" + symbols.compactMap(row).joined(separator: ",") + "]", weight)
        case .all:
            return ("[" + market.symbols.compactMap(row).joined(separator: ",") + "]", weightMany)
        }
    }

    // MARK: Figures

    /// The last trade on the tape at or before `time`.
    private func lastPrice(_ symbol: String, at time: Int64) -> Trade? {
        market.lastTrade(symbol, upTo: time)
    }

    /// `/api/v3/avgPrice`: the volume-weighted average price of the tape's trades in the last 5
    /// minutes (filters.md: "the volume weighted average price over the preceding avgPriceMins
    /// minutes"), and the time of the last of them. With no trade in those minutes, the last
    /// trade's price and time.
    func averagePrice(_ symbol: String, at time: Int64) -> (price: Double, closeTime: Int64)? {
        guard market.pairs[symbol] != nil else { return nil }
        let window = market.trades(symbol, after: time - 300_000, upTo: time)
        guard let last = window.last else {
            return market.lastTrade(symbol, upTo: time).map { ($0.price, $0.time) }
        }
        let volume = window.reduce(0) { $0 + $1.quantity }
        let quote = window.reduce(0) { $0 + $1.price * $1.quantity }
        return (volume > 0 ? quote / volume : last.price, last.time)
    }

    /// A bookTicker row: the best level of each side of the book served now (zeros for a side
    /// that is empty, as Binance writes them).
    private func bookTicker(_ symbol: String, at time: Int64) -> String? {
        guard let book = market.book(symbol, at: time, levels: 1) else { return nil }
        let bid = book.bids.first.map { (price($0.0, symbol), f($0.1)) } ?? (f(0), f(0))
        let ask = book.asks.first.map { (price($0.0, symbol), f($0.1)) } ?? (f(0), f(0))
        return #"{"symbol":"\#(symbol)","bidPrice":"\#(bid.0)","bidQty":"\#(bid.1)","askPrice":"\#(ask.0)","askQty":"\#(ask.1)"}"#
    }

    /// The tape's first and last trade ids in [from, to] and their count (Binance: -1, -1, 0
    /// when there is none).
    private func tradeRange(_ symbol: String, from: Int64, to: Int64) -> (first: Int64, last: Int64, count: Int64) {
        guard let first = market.firstTrade(symbol, after: from - 1, upTo: to), let last = market.lastTrade(symbol, upTo: to),
            last.time >= from
        else { return (-1, -1, 0) }
        return (first.id, last.id, last.id - first.id + 1)
    }

    /// The 24 h rolling figures of `symbol` at `time` (`ticker/24hr`, `<symbol>@ticker`): the
    /// bars' 24 h figures, the tape's last trade, the last trade before the window [now − 24 h,
    /// now] (`prevClosePrice`), the book's best levels and the tape's trade ids in the window.
    private func dayFigures(_ symbol: String, at time: Int64) -> DayFigures? {
        guard let s = market.state(symbol, at: time) else { return nil }
        let openTime = time - 86_400_000
        let last = lastPrice(symbol, at: time)
        let book = market.book(symbol, at: time, levels: 1)
        return DayFigures(
            state: s, openTime: openTime, last: last?.price ?? s.price, lastQuantity: last?.quantity ?? 0,
            previousClose: market.lastTrade(symbol, upTo: openTime - 1)?.price ?? s.open24,
            bid: book?.bids.first.map { (price($0.0, symbol), f($0.1)) } ?? (f(0), f(0)),
            ask: book?.asks.first.map { (price($0.0, symbol), f($0.1)) } ?? (f(0), f(0)),
            ids: tradeRange(symbol, from: openTime, to: time)
        )
    }

    /// `/api/v3/ticker/24hr` of `symbol` at `time` (``dayFigures(_:at:)``), FULL or MINI.
    func ticker24(_ symbol: String, at time: Int64, mini: Bool = false) -> String? {
        guard let d = dayFigures(symbol, at: time) else { return nil }
        let s = d.state
        let tail = #""openPrice":"\#(price(s.open24, symbol))","highPrice":"\#(price(s.high24, symbol))","lowPrice":"\#(price(s.low24, symbol))","volume":"\#(f(s.volume24))","quoteVolume":"\#(f(s.quoteVolume24))","openTime":\#(d.openTime),"closeTime":\#(time),"firstId":\#(d.ids.first),"lastId":\#(d.ids.last),"count":\#(d.ids.count)}"#
        if mini {
            return #"{"symbol":"\#(symbol)","openPrice":"\#(price(s.open24, symbol))","highPrice":"\#(price(s.high24, symbol))","lowPrice":"\#(price(s.low24, symbol))","lastPrice":"\#(price(d.last, symbol))","volume":"\#(f(s.volume24))","quoteVolume":"\#(f(s.quoteVolume24))","openTime":\#(d.openTime),"closeTime":\#(time),"firstId":\#(d.ids.first),"lastId":\#(d.ids.last),"count":\#(d.ids.count)}"#
        }
        let head = #"{"symbol":"\#(symbol)","priceChange":"\#(price(d.change, symbol))","priceChangePercent":"\#(d.changePercentText)","weightedAvgPrice":"\#(f(d.weightedAverage))","prevClosePrice":"\#(price(d.previousClose, symbol))","lastPrice":"\#(price(d.last, symbol))","lastQty":"\#(f(d.lastQuantity))","bidPrice":"\#(d.bid.0)","bidQty":"\#(d.bid.1)","askPrice":"\#(d.ask.0)","askQty":"\#(d.ask.1)","#
        return head + tail
    }

    /// A `<symbol>@ticker` event at `time` (web-socket-streams.md "Individual Symbol Ticker Streams").
    private func tickerEvent(_ symbol: String, at time: Int64) -> String? {
        guard let d = dayFigures(symbol, at: time) else { return nil }
        let s = d.state
        return #"{"e":"24hrTicker","E":\#(time),"s":"\#(symbol)","p":"\#(price(d.change, symbol))","P":"\#(d.changePercentText)","w":"\#(f(d.weightedAverage))","x":"\#(price(d.previousClose, symbol))","c":"\#(price(d.last, symbol))","Q":"\#(f(d.lastQuantity))","b":"\#(d.bid.0)","B":"\#(d.bid.1)","a":"\#(d.ask.0)","A":"\#(d.ask.1)","o":"\#(price(s.open24, symbol))","h":"\#(price(s.high24, symbol))","l":"\#(price(s.low24, symbol))","v":"\#(f(s.volume24))","q":"\#(f(s.quoteVolume24))","O":\#(d.openTime),"C":\#(time),"F":\#(d.ids.first),"L":\#(d.ids.last),"n":\#(d.ids.count)}"#
    }

    /// A `<symbol>@ticker_<window>` event at `time`: the window opens on a minute, as `/api/v3/ticker`'s.
    func windowTickerEvent(_ symbol: String, window: (span: Int64, name: String), at time: Int64) -> String? {
        let openTime = (time - window.span) / 60_000 * 60_000
        guard let w = windowFigures(symbol, from: openTime, at: time) else { return nil }
        let last = lastPrice(symbol, at: time)?.price ?? w.open
        let ids = tradeRange(symbol, from: openTime, to: time)
        let change = last - w.open
        let pct = w.open != 0 ? change / w.open * 100 : 0
        let weighted = w.volume > 0 ? w.quoteVolume / w.volume : 0
        return #"{"e":"\#(window.name)Ticker","E":\#(time),"s":"\#(symbol)","p":"\#(price(change, symbol))","P":"\#(String(format: "%.3f", pct))","o":"\#(price(w.open, symbol))","h":"\#(price(w.high, symbol))","l":"\#(price(w.low, symbol))","c":"\#(price(last, symbol))","w":"\#(f(weighted))","v":"\#(f(w.volume))","q":"\#(f(w.quoteVolume))","O":\#(openTime),"C":\#(time),"F":\#(ids.first),"L":\#(ids.last),"n":\#(ids.count)}"#
    }

    /// The payloads of stream `kind` of `symbol` due in (from, to]: tickers and average prices
    /// once per sim second crossed (at `to`), klines at every close in the span and every two sim
    /// seconds so far, as `kline_1m`'s.
    func marketFrames(_ kind: MarketStream, symbol: String, from: Int64, to: Int64) -> [String] {
        let secondChanged = to / 1_000 != from / 1_000
        switch kind {
        case .ticker:
            return secondChanged ? tickerEvent(symbol, at: to).map { [$0] } ?? [] : []
        case .windowTicker(let span, let name):
            return secondChanged ? windowTickerEvent(symbol, window: (span, name), at: to).map { [$0] } ?? [] : []
        case .averagePrice:
            guard secondChanged, let average = averagePrice(symbol, at: to) else { return [] }
            return [#"{"e":"avgPrice","E":\#(to),"s":"\#(symbol)","i":"5m","w":"\#(f(average.price))","T":\#(average.closeTime)}"#]
        case .kline(let interval, let offset, let name):
            var out: [String] = []
            // Every bar that closed in (from, to] is sent closed, so none is ever skipped.
            var open = interval.open(containing: from, offset: offset)
            while open + interval.span <= to {
                if open + interval.span > from, let bar = intervalBar(symbol, interval, open: open, now: open + interval.span) {
                    out.append(intervalKlineEvent(symbol, bar, interval: name, eventTime: open + interval.span, closed: true))
                }
                open += interval.span
            }
            if to / 2_000 != from / 2_000, let bar = intervalBar(symbol, interval, open: interval.open(containing: to, offset: offset), now: to) {
                out.append(intervalKlineEvent(symbol, bar, interval: name, eventTime: to, closed: false))
            }
            return out
        }
    }

    private func intervalKlineEvent(_ symbol: String, _ k: Kline, interval: String, eventTime: Int64, closed: Bool) -> String {
        #"{"e":"kline","E":\#(eventTime),"s":"\#(symbol)","k":{"t":\#(k.openTime),"T":\#(k.closeTime),"s":"\#(symbol)","i":"\#(interval)","f":0,"L":0,"o":"\#(price(k.open, symbol))","c":"\#(price(k.close, symbol))","h":"\#(price(k.high, symbol))","l":"\#(price(k.low, symbol))","v":"\#(f(k.volume))","n":\#(Int64(k.tradeCount.isNaN ? 0 : k.tradeCount)),"x":\#(closed),"q":"\#(f(k.quoteVolume))","V":"\#(f(k.takerBuyBaseVolume))","Q":"\#(f(k.takerBuyQuoteVolume))","B":"0"}}"#
    }

    /// The figures of `symbol`'s bars from `openTime` to `time`: the closed bars and the one in
    /// progress so far.
    func windowFigures(_ symbol: String, from openTime: Int64, at time: Int64) -> WindowFigures? {
        guard let state = market.state(symbol, at: time) else { return nil }
        var bars = market.klines(symbol, from: openTime, to: time, limit: .max, now: time)
        if state.bar.openTime >= openTime, state.bar.openTime > bars.last?.openTime ?? .min {
            bars.append(state.bar)
        }
        guard let first = bars.first else {
            return WindowFigures(open: state.price, high: state.price, low: state.price, volume: 0, quoteVolume: 0)
        }
        var figures = WindowFigures(open: first.open, high: first.high, low: first.low, volume: 0, quoteVolume: 0)
        for b in bars {
            figures.high = max(figures.high, b.high)
            figures.low = min(figures.low, b.low)
            figures.volume += b.volume.isNaN ? 0 : b.volume
            figures.quoteVolume += b.quoteVolume.isNaN ? 0 : b.quoteVolume
        }
        return figures
    }

    /// A `/api/v3/ticker` or `ticker/tradingDay` row: the bars' figures from `openTime` to now,
    /// the tape's last price and trade ids, stamped `openTime`…`closeTime`.
    private func windowTicker(_ symbol: String, from openTime: Int64, closeTime: Int64, at time: Int64, mini: Bool) -> String? {
        guard let w = windowFigures(symbol, from: openTime, at: time) else { return nil }
        let lastPrice = lastPrice(symbol, at: time)?.price ?? w.open
        let ids = tradeRange(symbol, from: openTime, to: time)
        let tail = #""openPrice":"\#(price(w.open, symbol))","highPrice":"\#(price(w.high, symbol))","lowPrice":"\#(price(w.low, symbol))","lastPrice":"\#(price(lastPrice, symbol))","volume":"\#(f(w.volume))","quoteVolume":"\#(f(w.quoteVolume))","openTime":\#(openTime),"closeTime":\#(closeTime),"firstId":\#(ids.first),"lastId":\#(ids.last),"count":\#(ids.count)}"#
        if mini { return #"{"symbol":"\#(symbol)","# + tail }
        let change = lastPrice - w.open
        let pct = w.open != 0 ? change / w.open * 100 : 0
        let weighted = w.volume > 0 ? w.quoteVolume / w.volume : 0
        return #"{"symbol":"\#(symbol)","priceChange":"\#(price(change, symbol))","priceChangePercent":"\#(String(format: "%.3f", pct))","weightedAvgPrice":"\#(f(weighted))","# + tail
    }

    // MARK: Trades

    /// A trade as `/api/v3/trades` and `historicalTrades` write it.
    private func tradeJSON(_ t: Trade, _ symbol: String) -> String {
        #"{"id":\#(t.id),"price":"\#(price(t.price, symbol))","qty":"\#(f(t.quantity))","quoteQty":"\#(f(t.price * t.quantity))","time":\#(t.time),"isBuyerMaker":\#(t.buyerIsMaker),"isBestMatch":true}"#
    }

    /// `/api/v3/aggTrades`: from `fromID` on (the aggregate with that id, or the first after it);
    /// from `startTime` and/or to `endTime` (both inclusive; the oldest first unless only
    /// `endTime` is given, then the latest before it); else the latest. Never past `now`.
    func aggregateTrades(_ symbol: String, fromID: Int64?, startTime: Int64?, endTime: Int64?, limit: Int, now: Int64) -> [AggregateTrade] {
        let end = min(endTime ?? now, now)
        if let fromID {
            // Every trade of the instant the id falls in is read, so its aggregate is whole.
            let begin = max(market.tradeTime(ofID: fromID, symbol), market.start)
            let read = market.trades(symbol, after: begin - 1, upTo: end) {
                AggregateTrade.aggregating($0).count(where: { $0.id >= fromID }) >= limit
            }
            return Array(AggregateTrade.aggregating(read).filter { $0.id >= fromID }.prefix(limit))
        }
        if let startTime {
            guard startTime <= end else { return [] }
            let read = market.trades(symbol, after: max(startTime, market.start) - 1, upTo: end) {
                AggregateTrade.aggregating($0).count >= limit
            }
            return Array(AggregateTrade.aggregating(read).prefix(limit))
        }
        let read = market.trades(symbol, upTo: end) { AggregateTrade.aggregating($0).count >= limit }
        return Array(AggregateTrade.aggregating(read).suffix(limit))
    }
}

extension SymbolSelection {
    var isOne: Bool {
        if case .one = self { return true }
        return false
    }
}
