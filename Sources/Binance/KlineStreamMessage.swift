import Foundation
public import ScalperCore

/// One message of a Binance combined-stream connection, as ``KlineFeed`` reads it.
public enum KlineStreamMessage: Sendable, Equatable {
    /// A `<symbol>@kline_<interval>` frame: the bar so far, or (`isClosed`) the final bar.
    case kline(symbol: String, interval: String, bar: Kline, isClosed: Bool)
    /// A `<symbol>@trade` frame: one trade print (`T` its event time, `t` its id).
    case trade(symbol: String, price: Double, quantity: Double, time: Int64, id: Int64)
    /// A `<symbol>@depth20@100ms` (or `@depth20`) frame: the top of the book, complete by itself
    /// (spot partial-depth frames carry no symbol and no time; the symbol is the stream's).
    case partialBook(symbol: String, DepthSnapshot)
    /// The lock-step exchange's mark `{"e":"lockStep","E":T}`: every frame due through T came before.
    case lockStepMark(Int64)
    /// A reply to a request (`{"result":…,"id":N}`).
    case reply(id: Int)
    /// An error reply (`{"error":{"code":…,"msg":…},"id":N}`), as sent.
    case errorReply(String)

    /// Reads one text frame.
    ///
    /// Kline prices and volumes are parsed from their JSON strings (`Double(text)`), times and the
    /// trade count from JSON integers; all 12 columns are filled (`B`, Binance's unused field, is
    /// the twelfth).
    ///
    /// - Throws: ``KlineStreamMessageError`` saying which field is missing or malformed.
    public static func parse(_ text: String) throws(KlineStreamMessageError) -> KlineStreamMessage {
        guard let any = try? JSONSerialization.jsonObject(with: Data(text.utf8)), let object = any as? [String: Any] else {
            throw KlineStreamMessageError("not a JSON object")
        }
        if object["e"] as? String == "lockStep" {
            return .lockStepMark(try integer(object, "E", in: "lockStep mark"))
        }
        if object["id"] != nil, object["stream"] == nil {
            if object["error"] != nil { return .errorReply(text) }
            guard object.keys.contains("result"), let id = (object["id"] as? NSNumber)?.intValue else {
                throw KlineStreamMessageError("a reply without result and integer id")
            }
            return .reply(id: id)
        }
        guard let stream = object["stream"] as? String else { throw KlineStreamMessageError("no stream name") }
        guard let data = object["data"] as? [String: Any] else { throw KlineStreamMessageError("\(stream): no data object") }
        if data["lastUpdateId"] != nil, let at = stream.range(of: "@depth") {
            let symbol = String(stream[..<at.lowerBound]).uppercased()
            let id = try integer(data, "lastUpdateId", in: stream)
            return .partialBook(
                symbol: symbol,
                DepthSnapshot(lastUpdateID: id, bids: try levels(data, "bids", in: stream), asks: try levels(data, "asks", in: stream))
            )
        }
        if data["e"] as? String == "trade" {
            guard let symbol = data["s"] as? String else { throw KlineStreamMessageError("\(stream) s: missing") }
            guard stream.lowercased() == symbol.lowercased() + "@trade" else {
                throw KlineStreamMessageError("\(stream) s: \(symbol) is not the stream's symbol")
            }
            let price = try decimal(data, "p", in: stream)
            let quantity = try decimal(data, "q", in: stream)
            guard price > 0, quantity > 0 else { throw KlineStreamMessageError("\(stream): a trade needs a positive price and quantity") }
            return .trade(symbol: symbol, price: price, quantity: quantity, time: try integer(data, "T", in: stream), id: try integer(data, "t", in: stream))
        }
        guard data["e"] as? String == "kline" else {
            throw KlineStreamMessageError("\(stream): event \(data["e"].map { "\($0)" } ?? "none"), not a kline")
        }
        guard let k = data["k"] as? [String: Any] else { throw KlineStreamMessageError("\(stream): kline without k") }
        let (symbol, interval, bar, isClosed) = try klineObject(k, context: "\(stream) k")
        guard data["s"] as? String == symbol else {
            throw KlineStreamMessageError("\(stream) k.s: missing or not the event's symbol")
        }
        guard stream.lowercased().hasPrefix(symbol.lowercased() + "@kline_") else {
            throw KlineStreamMessageError("\(stream) k.s: \(symbol) is not the stream's symbol")
        }
        return .kline(symbol: symbol, interval: interval, bar: bar, isClosed: isClosed)
    }

    /// The `k` object of a kline event — the one reading of Binance's kline frames, used by the feed
    /// and the scanner alike: symbol, interval, all 12 columns, and whether the bar is final.
    ///
    /// - Throws: ``KlineStreamMessageError`` naming the field (`<context>.<key>`).
    public static func klineObject(
        _ k: [String: Any],
        context: String = "k"
    ) throws(KlineStreamMessageError) -> (symbol: String, interval: String, bar: Kline, isClosed: Bool) {
        guard let symbol = k["s"] as? String else { throw KlineStreamMessageError("\(context).s: missing") }
        guard let interval = k["i"] as? String else { throw KlineStreamMessageError("\(context).i: missing") }
        guard let isClosed = k["x"] as? Bool, !(k["x"] is String) else { throw KlineStreamMessageError("\(context).x: not a boolean") }
        let bar = Kline(
            openTime: try integer(k, "t", in: context),
            open: try decimal(k, "o", in: context),
            high: try decimal(k, "h", in: context),
            low: try decimal(k, "l", in: context),
            close: try decimal(k, "c", in: context),
            volume: try decimal(k, "v", in: context),
            closeTime: try integer(k, "T", in: context),
            quoteVolume: try decimal(k, "q", in: context),
            tradeCount: Double(try integer(k, "n", in: context)),
            takerBuyBaseVolume: try decimal(k, "V", in: context),
            takerBuyQuoteVolume: try decimal(k, "Q", in: context),
            ignore: try decimal(k, "B", in: context)
        )
        guard bar.closeTime > bar.openTime else {
            throw KlineStreamMessageError("\(context): closes at \(bar.closeTime), not after it opens (\(bar.openTime))")
        }
        return (symbol, interval, bar, isClosed)
    }

    /// A JSON integer (not a string, not a fraction, not a boolean).
    private static func integer(_ object: [String: Any], _ key: String, in context: String) throws(KlineStreamMessageError) -> Int64 {
        guard let value = object[key], !(value is String), let number = value as? NSNumber,
            number.doubleValue == number.doubleValue.rounded(), abs(number.doubleValue) < 9.2e18
        else {
            throw KlineStreamMessageError("\(context).\(key): not a JSON integer")
        }
        return number.int64Value
    }

    /// `[["price","qty"], …]`, as Binance sends book levels.
    private static func levels(_ object: [String: Any], _ key: String, in context: String) throws(KlineStreamMessageError) -> [PriceLevel] {
        guard let rows = object[key] as? [Any] else { throw KlineStreamMessageError("\(context).\(key): not a list of levels") }
        var out: [PriceLevel] = []
        out.reserveCapacity(rows.count)
        for row in rows {
            guard let pair = row as? [Any], pair.count >= 2, let p = pair[0] as? String, let q = pair[1] as? String,
                let price = Double(p), let quantity = Double(q), price > 0, quantity >= 0, price.isFinite, quantity.isFinite
            else { throw KlineStreamMessageError("\(context).\(key): a level is not [\"price\",\"quantity\"]") }
            out.append(PriceLevel(price: price, quantity: quantity))
        }
        return out
    }

    /// A JSON string of a decimal number, as Binance sends prices and quantities.
    private static func decimal(_ object: [String: Any], _ key: String, in context: String) throws(KlineStreamMessageError) -> Double {
        guard let text = object[key] as? String, let value = Double(text), value.isFinite else {
            throw KlineStreamMessageError("\(context).\(key): not a decimal string")
        }
        return value
    }
}

/// A stream message that could not be read, and why.
public struct KlineStreamMessageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var message: String

    init(_ message: String) { self.message = message }

    /// The reason.
    public var description: String { message }
}
