public import Foundation

/// One price level: price and quantity in base asset (0 removes the level in a diff).
public struct PriceLevel: Equatable, Sendable {
    /// Price in quote currency.
    public var price: Double
    /// Quantity in base asset.
    public var quantity: Double

    /// Creates a level.
    public init(price: Double, quantity: Double) {
        self.price = price
        self.quantity = quantity
    }
}

/// A Binance diff-depth event (`<symbol>@depth` / `@depth@100ms`; futures add `pu`).
public struct DepthUpdate: Equatable, Sendable {
    /// Event time, ms.
    public var eventTime: Int64
    /// First update id in the event (`U`).
    public var firstUpdateID: Int64
    /// Final update id in the event (`u`).
    public var finalUpdateID: Int64
    /// The previous event's final update id (`pu`, USDⓈ-M futures only).
    public var previousFinalUpdateID: Int64?
    /// Changed bid levels.
    public var bids: [PriceLevel]
    /// Changed ask levels.
    public var asks: [PriceLevel]

    /// Creates an event.
    public init(
        eventTime: Int64,
        firstUpdateID: Int64,
        finalUpdateID: Int64,
        previousFinalUpdateID: Int64? = nil,
        bids: [PriceLevel],
        asks: [PriceLevel]
    ) {
        self.eventTime = eventTime
        self.firstUpdateID = firstUpdateID
        self.finalUpdateID = finalUpdateID
        self.previousFinalUpdateID = previousFinalUpdateID
        self.bids = bids
        self.asks = asks
    }
}

/// A full or partial book: the REST `/depth` snapshot or a `<symbol>@depth20` message.
public struct DepthSnapshot: Equatable, Sendable {
    /// The update id the snapshot reflects.
    public var lastUpdateID: Int64
    /// Bids, best first.
    public var bids: [PriceLevel]
    /// Asks, best first.
    public var asks: [PriceLevel]

    /// Creates a snapshot.
    public init(lastUpdateID: Int64, bids: [PriceLevel], asks: [PriceLevel]) {
        self.lastUpdateID = lastUpdateID
        self.bids = bids
        self.asks = asks
    }
}

/// One trade (`<symbol>@trade`).
public struct Trade: Equatable, Sendable {
    /// Trade id (`t`).
    public var id: Int64
    /// Trade time, ms (`T`).
    public var time: Int64
    /// Price (`p`).
    public var price: Double
    /// Quantity in base asset (`q`).
    public var quantity: Double
    /// Whether the buyer was the maker (`m`): true for a sell-initiated trade.
    public var buyerIsMaker: Bool

    /// Creates a trade.
    public init(id: Int64, time: Int64, price: Double, quantity: Double, buyerIsMaker: Bool) {
        self.id = id
        self.time = time
        self.price = price
        self.quantity = quantity
        self.buyerIsMaker = buyerIsMaker
    }
}

/// Best bid and ask (`<symbol>@bookTicker`).
public struct BookTicker: Equatable, Sendable {
    /// Order-book update id (`u`).
    public var updateID: Int64
    /// Best bid.
    public var bid: PriceLevel
    /// Best ask.
    public var ask: PriceLevel

    /// Creates a book ticker.
    public init(updateID: Int64, bid: PriceLevel, ask: PriceLevel) {
        self.updateID = updateID
        self.bid = bid
        self.ask = ask
    }
}

/// A message from a Binance market stream that the feature engine uses.
public enum MarketMessage: Equatable, Sendable {
    /// A diff-depth event.
    case depthUpdate(symbol: String, DepthUpdate)
    /// A REST snapshot or a partial-depth (`depth20`) message.
    case depthSnapshot(symbol: String?, DepthSnapshot)
    /// A trade (`<symbol>@trade`).
    case trade(symbol: String, Trade)
    /// Best bid/ask (`<symbol>@bookTicker`).
    case bookTicker(symbol: String, BookTicker)
    /// A well-formed message of a kind not used here.
    case other(stream: String?)
}

/// A stream message that could not be understood, with the field at fault.
public struct MarketMessageError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What is wrong.
    public var message: String
    /// `malformed market message: …`.
    public var description: String { "malformed market message: \(message)" }
}

/// Parses Binance market-stream JSON: raw payloads or the combined-stream envelope
/// `{"stream": …, "data": …}`, and the REST depth snapshot.
public enum MarketMessageParser {
    /// Parses one message.
    public static func parse(_ data: Data) throws(MarketMessageError) -> MarketMessage {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw MarketMessageError(message: "not JSON (\(data.count) bytes)")
        }
        guard var payload = object as? [String: Any] else { throw MarketMessageError(message: "not a JSON object") }
        var stream: String?
        if let s = payload["stream"] as? String {
            stream = s
            guard let inner = payload["data"] as? [String: Any] else {
                throw MarketMessageError(message: "stream \(s): 'data' is not an object")
            }
            payload = inner
        }
        let symbolFromStream = stream.map { String($0.prefix { $0 != "@" }).uppercased() }
        if let id = payload["lastUpdateId"] {
            guard let lastUpdateID = integer(id) else { throw MarketMessageError(message: "lastUpdateId is not an integer") }
            return .depthSnapshot(
                symbol: symbolFromStream,
                DepthSnapshot(
                    lastUpdateID: lastUpdateID,
                    bids: try levels(payload["bids"] ?? payload["b"], "bids"),
                    asks: try levels(payload["asks"] ?? payload["a"], "asks")
                )
            )
        }
        let event = payload["e"] as? String
        switch event {
        case "depthUpdate":
            guard let symbol = payload["s"] as? String else { throw MarketMessageError(message: "depthUpdate without 's'") }
            guard let first = payload["U"].flatMap(integer), let final = payload["u"].flatMap(integer),
                let time = payload["E"].flatMap(integer)
            else { throw MarketMessageError(message: "depthUpdate \(symbol): U, u or E missing or not integers") }
            guard first <= final else { throw MarketMessageError(message: "depthUpdate \(symbol): U \(first) > u \(final)") }
            var previous: Int64?
            if let pu = payload["pu"] {
                guard let value = integer(pu) else { throw MarketMessageError(message: "depthUpdate \(symbol): pu is not an integer") }
                previous = value
            }
            return .depthUpdate(
                symbol: symbol,
                DepthUpdate(
                    eventTime: time,
                    firstUpdateID: first,
                    finalUpdateID: final,
                    previousFinalUpdateID: previous,
                    bids: try levels(payload["b"], "b"),
                    asks: try levels(payload["a"], "a")
                )
            )
        case "trade":
            guard let symbol = payload["s"] as? String, let price = payload["p"].flatMap(decimal),
                let quantity = payload["q"].flatMap(decimal), let time = payload["T"].flatMap(integer),
                let id = payload["t"].flatMap(integer), let maker = payload["m"] as? Bool
            else { throw MarketMessageError(message: "trade: s, t, p, q, T or m missing or malformed") }
            guard price > 0, quantity >= 0 else { throw MarketMessageError(message: "trade \(symbol): price \(price) quantity \(quantity)") }
            return .trade(symbol: symbol, Trade(id: id, time: time, price: price, quantity: quantity, buyerIsMaker: maker))
        default:
            if stream?.hasSuffix("@bookTicker") == true || (event == nil && payload["b"] is String && payload["a"] is String) {
                guard let symbol = payload["s"] as? String, let b = payload["b"].flatMap(decimal),
                    let bq = payload["B"].flatMap(decimal), let a = payload["a"].flatMap(decimal),
                    let aq = payload["A"].flatMap(decimal), let u = payload["u"].flatMap(integer)
                else { throw MarketMessageError(message: "bookTicker: s, u, b, B, a or A missing or malformed") }
                return .bookTicker(
                    symbol: symbol,
                    BookTicker(updateID: u, bid: PriceLevel(price: b, quantity: bq), ask: PriceLevel(price: a, quantity: aq))
                )
            }
            return .other(stream: stream)
        }
    }

    private static func integer(_ any: Any) -> Int64? {
        if let n = any as? NSNumber {
            let d = n.doubleValue
            guard d.isFinite, d == d.rounded(), abs(d) < 9.0e18 else { return nil }
            return n.int64Value
        }
        return nil
    }

    private static func decimal(_ any: Any) -> Double? {
        guard let s = any as? String, let v = Double(s), v.isFinite else { return nil }
        return v
    }

    private static func levels(_ any: Any?, _ name: String) throws(MarketMessageError) -> [PriceLevel] {
        guard let rows = any as? [Any] else { throw MarketMessageError(message: "'\(name)' is not an array of levels") }
        var out: [PriceLevel] = []
        out.reserveCapacity(rows.count)
        for row in rows {
            guard let pair = row as? [Any], pair.count >= 2, let p = decimal(pair[0]), let q = decimal(pair[1]), p > 0, q >= 0
            else { throw MarketMessageError(message: "'\(name)' has a level that is not [price, quantity] strings") }
            out.append(PriceLevel(price: p, quantity: q))
        }
        return out
    }
}
