import Foundation
import Binance
import ScalperCore
import Trading

/// A new order's parameters, read and checked as Binance's `POST /api/v3/order` reads them:
/// the side, type and time in force enums (-1117, -1116, -1115), the parameters each type makes
/// mandatory (-1102), decimals as `^([0-9]{1,20})(\.[0-9]{1,20})?$` (-1100), then the symbol's
/// filters in exact decimals (-1013 `Filter failure: PRICE_FILTER`, `LOT_SIZE`, `NOTIONAL`).
struct NewOrder {
    enum Side: String { case buy = "BUY", sell = "SELL" }
    static let types = ["LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER"]

    var symbol: String
    var side: Side
    var type: String
    var timeInForce: String?
    var quantity: Decimal?
    var quoteOrderQty: Decimal?
    var price: Decimal?
    var stopPrice: Decimal?
    var trailingDelta: Int64?
    var newClientOrderId: String?
    var newOrderRespType: String?

    static let decimalRange = #"^([0-9]{1,20})(\.[0-9]{1,20})?$"#

    /// Whether `text` matches ``decimalRange`` (checked by hand: a regular expression per
    /// parameter cost tens of µs an order).
    static func isDecimalText(_ text: String) -> Bool {
        var whole = 0
        var fraction = 0
        var point = false
        for c in text.utf8 {
            if c == UInt8(ascii: ".") {
                guard !point, whole > 0 else { return false }
                point = true
            } else if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                if point { fraction += 1 } else { whole += 1 }
            } else {
                return false
            }
        }
        return (1...20).contains(whole) && (point ? (1...20).contains(fraction) : true)
    }

    /// Reads the order's parameters from `q` (the signed-request ones are read by the caller).
    static func read(_ q: inout RequestParameters, filters: (String) -> SymbolFilters?, lastPrice: (String) -> Double?) throws(APIError) -> NewOrder {
        let symbol = try q.required("symbol")
        guard let f = filters(symbol) else { throw .badSymbol }
        guard let side = Side(rawValue: try q.required("side")) else { throw APIError(status: 400, code: -1117, message: "Invalid side.") }
        let type = try q.required("type")
        guard types.contains(type) else { throw APIError(status: 400, code: -1116, message: "Invalid orderType.") }
        func decimal(_ name: String) throws(APIError) -> Decimal? {
            guard let text = try q.string(name) else { return nil }
            guard isDecimalText(text), let value = BinanceDecimal.plain(text) else {
                throw .illegal(name, range: decimalRange)
            }
            return value
        }
        let order = NewOrder(
            symbol: symbol, side: side, type: type, timeInForce: try q.string("timeInForce"), quantity: try decimal("quantity"),
            quoteOrderQty: try decimal("quoteOrderQty"), price: try decimal("price"), stopPrice: try decimal("stopPrice"),
            trailingDelta: try q.integer("trailingDelta"), newClientOrderId: try q.string("newClientOrderId"),
            newOrderRespType: try q.string("newOrderRespType")
        )
        if let tif = order.timeInForce, !["GTC", "IOC", "FOK"].contains(tif) {
            throw APIError(status: 400, code: -1115, message: "Invalid timeInForce.")
        }
        if let kind = order.newOrderRespType, !["ACK", "RESULT", "FULL"].contains(kind) {
            throw APIError(status: 400, code: -1100, message: "Illegal characters found in parameter 'newOrderRespType'; legal range is 'ACK, RESULT, FULL'.")
        }
        if let id = order.newClientOrderId, !ClientOrderID.isValid(id) {
            throw .illegal("newClientOrderId", range: #"^[\.A-Z\:/a-z0-9_-]{1,36}$"#)
        }
        // Each type's mandatory parameters (rest-api.md's table).
        let limitLike = ["LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"].contains(type)
        if limitLike && order.timeInForce == nil { throw .mandatory("timeInForce") }
        if type == "MARKET" {
            guard order.quantity != nil || order.quoteOrderQty != nil else {
                throw APIError(status: 400, code: -1102, message: "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
            }
        } else if order.quantity == nil {
            throw .mandatory("quantity")
        }
        if (limitLike || type == "LIMIT_MAKER") && order.price == nil { throw .mandatory("price") }
        if type.hasPrefix("STOP_LOSS") || type.hasPrefix("TAKE_PROFIT") {
            guard order.stopPrice != nil || order.trailingDelta != nil else {
                throw APIError(status: 400, code: -1102, message: "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!")
            }
        }
        try order.checkFilters(f, lastPrice: lastPrice(symbol))
        return order
    }

    /// PRICE_FILTER (price and stop price on the tick, at least one tick), LOT_SIZE (quantity on the
    /// step, at least one step), NOTIONAL (price × quantity, or the last price for a market order, at
    /// least the minimum), in exact decimals.
    func checkFilters(_ f: SymbolFilters, lastPrice: Double?) throws(APIError) {
        let tick = BinanceDecimal.plain(f.tickSizeText)!
        let step = BinanceDecimal.plain(f.lotStepText)!
        let minNotional = BinanceDecimal.plain(f.minNotionalText)!
        func onGrid(_ value: Decimal, _ increment: Decimal) -> Bool {
            guard increment > 0 else { return true }
            return BinanceDecimal.isMultiple(value, of: increment)
        }
        for value in [price, stopPrice].compactMap({ $0 }) where value < tick || !onGrid(value, tick) {
            throw APIError(status: 400, code: -1013, message: "Filter failure: PRICE_FILTER")
        }
        if let quantity, quantity < step || !onGrid(quantity, step) {
            throw APIError(status: 400, code: -1013, message: "Filter failure: LOT_SIZE")
        }
        let reference = price ?? lastPrice.flatMap { BinanceDecimal.plain(String(format: "%.8f", $0)) }
        let notional = quoteOrderQty ?? quantity.flatMap { q in reference.map { q * $0 } }
        if let notional, notional < minNotional {
            throw APIError(status: 400, code: -1013, message: "Filter failure: NOTIONAL")
        }
    }
}
