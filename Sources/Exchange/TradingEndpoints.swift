import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import ScalperCore
import Synchronization
import Trading

/// What a signed endpoint answers: its body, the weight it cost, and whether it placed orders
/// (then the ORDER-COUNT headers go with it).
struct SignedAnswer {
    var text: String
    var weight: Int
    var placedOrders = false
}

extension ExchangeServer {
    /// The account and order API (all SIGNED): `GET /api/v3/account`, `POST /api/v3/order/test`,
    /// `POST/GET/DELETE /api/v3/order`, `GET/DELETE /api/v3/openOrders`, `GET /api/v3/allOrders`,
    /// `POST /api/v3/orderList/oco` (and the older `POST /api/v3/order/oco`),
    /// `DELETE /api/v3/orderList`, `GET /api/v3/myTrades`, `GET /api/v3/rateLimit/order`,
    /// `GET /api/v3/account/commission`.
    func addTradingREST(_ router: Router<BasicWebSocketRequestContext>) {
        router.get("/api/v3/account") { [self] request, _ in
            try await signed(request, weight: 20) { q, apiKey, now throws(APIError) in
                let omitZero = try q.string("omitZeroBalances").map { v throws(APIError) -> Bool in
                    guard v == "true" || v == "false" else { throw .illegal("omitZeroBalances", range: "true|false") }
                    return v == "true"
                } ?? false
                let balances = venue.balances(apiKey: apiKey, now: now).compactMap { b -> String? in
                    if omitZero && b.free == 0 && b.locked == 0 { return nil }
                    return #"{"asset":"\#(b.asset)","free":"\#(decimalText(b.free))","locked":"\#(decimalText(b.locked))"}"#
                }
                let model = venue.settings.fillModel
                let (maker, taker) = feeRateTexts()
                let text = #"{"makerCommission":\#(Int((model.makerFee * 10_000).rounded())),"takerCommission":\#(Int((model.takerFee * 10_000).rounded())),"buyerCommission":0,"sellerCommission":0,"commissionRates":{"maker":"\#(maker)","taker":"\#(taker)","buyer":"0.00000000","seller":"0.00000000"},"canTrade":true,"canWithdraw":false,"canDeposit":false,"brokered":false,"requireSelfTradePrevention":false,"preventSor":false,"updateTime":\#(now),"accountType":"SPOT","balances":[\#(balances.joined(separator: ","))],"permissions":["SPOT"],"uid":0}"#
                return SignedAnswer(text: text, weight: 20)
            }
        }
        router.get("/api/v3/account/commission") { [self] request, _ in
            // rest-api.md, Query Commission Rates: the fill model's maker and taker fees; no
            // buyer/seller, special or tax commission and no BNB discount here.
            try await signed(request, weight: 20) { q, _, _ throws(APIError) in
                let symbol = try q.required("symbol")
                guard market.pairs[symbol] != nil else { throw .badSymbol }
                let (maker, taker) = feeRateTexts()
                let zero = #"{"maker":"0.00000000","taker":"0.00000000","buyer":"0.00000000","seller":"0.00000000"}"#
                return SignedAnswer(
                    text: #"{"symbol":"\#(symbol)","standardCommission":{"maker":"\#(maker)","taker":"\#(taker)","buyer":"0.00000000","seller":"0.00000000"},"specialCommission":\#(zero),"taxCommission":\#(zero),"discount":{"enabledForAccount":false,"enabledForSymbol":false,"discountAsset":"BNB","discount":"0.00000000"}}"#,
                    weight: 20
                )
            }
        }
        router.post("/api/v3/order/test") { [self] request, _ in
            try await signed(request, weight: 1) { q, _, now throws(APIError) in
                let commission = try q.string("computeCommissionRates") == "true"
                _ = try NewOrder.read(&q, filters: { market.pairs[$0]?.filters }, lastPrice: { market.state($0, at: now)?.price })
                try readIgnored(&q)
                guard commission else { return SignedAnswer(text: "{}", weight: 1) }
                let (maker, taker) = feeRateTexts()
                return SignedAnswer(
                    text: #"{"standardCommissionForOrder":{"maker":"\#(maker)","taker":"\#(taker)"},"specialCommissionForOrder":{"maker":"0.00000000","taker":"0.00000000"},"taxCommissionForOrder":{"maker":"0.00000000","taker":"0.00000000"},"discount":{"enabledForAccount":false,"enabledForSymbol":false,"discountAsset":"BNB","discount":"0.00000000"}}"#,
                    weight: 20
                )
            }
        }
        router.post("/api/v3/order") { [self] request, _ in
            try await signed(request, weight: 1, placement: true) { q, apiKey, now throws(APIError) in
                let new = try NewOrder.read(&q, filters: { market.pairs[$0]?.filters }, lastPrice: { market.state($0, at: now)?.price })
                try readIgnored(&q)
                let placed = try venue.place(new, apiKey: apiKey, now: now)
                let kind = new.newOrderRespType ?? (new.type == "MARKET" || new.type == "LIMIT" ? "FULL" : "ACK")
                return SignedAnswer(text: orderResponse(placed.order, fills: placed.fills, kind: kind, time: now), weight: 1, placedOrders: true)
            }
        }
        router.delete("/api/v3/order") { [self] request, _ in
            try await signed(request, weight: 1) { q, apiKey, now throws(APIError) in
                let symbol = try q.required("symbol")
                guard market.pairs[symbol] != nil else { throw .badSymbol }
                let (orderID, clientID) = try orderKey(&q)
                let cancelID = try q.string("newClientOrderId")
                _ = try q.string("cancelRestrictions")
                let cancelled = try venue.cancel(apiKey: apiKey, symbol: symbol, orderID: orderID, clientOrderID: clientID, cancelID: cancelID, now: now)
                let mine = cancelled.first { o in orderID.map { o.id == $0 } ?? (o.clientOrderID == clientID) } ?? cancelled[0]
                return SignedAnswer(text: cancelResponse(mine, cancelID: cancelID ?? "cancel-\(mine.id)", time: now), weight: 1)
            }
        }
        router.get("/api/v3/order") { [self] request, _ in
            try await signed(request, weight: 4) { q, apiKey, now throws(APIError) in
                let symbol = try q.required("symbol")
                guard market.pairs[symbol] != nil else { throw .badSymbol }
                let (orderID, clientID) = try orderKey(&q)
                guard let order = venue.order(apiKey: apiKey, symbol: symbol, orderID: orderID, clientOrderID: clientID, now: now) else {
                    throw APIError(status: 400, code: -2013, message: "Order does not exist.")
                }
                return SignedAnswer(text: queryResponse(order), weight: 4)
            }
        }
        router.get("/api/v3/openOrders") { [self] request, _ in
            try await signed(request, weight: 6) { q, apiKey, now throws(APIError) in
                let symbol = try q.string("symbol")
                if let symbol, market.pairs[symbol] == nil { throw .badSymbol }
                let orders = venue.openOrders(apiKey: apiKey, symbol: symbol, now: now)
                return SignedAnswer(text: "[" + orders.map(queryResponse).joined(separator: ",") + "]", weight: symbol == nil ? 80 : 6)
            }
        }
        router.delete("/api/v3/openOrders") { [self] request, _ in
            try await signed(request, weight: 1) { q, apiKey, now throws(APIError) in
                let symbol = try q.required("symbol")
                guard market.pairs[symbol] != nil else { throw .badSymbol }
                let (orders, lists) = venue.cancelAll(apiKey: apiKey, symbol: symbol, now: now)
                var items = orders.map { cancelResponse($0, cancelID: "cancel-\($0.id)", time: now) }
                items += lists.map { listResponse($0.0, orders: $0.1, kind: "RESULT", time: now, cancelled: true) }
                return SignedAnswer(text: "[" + items.joined(separator: ",") + "]", weight: 1)
            }
        }
        router.get("/api/v3/allOrders") { [self] request, _ in
            try await signed(request, weight: 20) { q, apiKey, now throws(APIError) in
                let symbol = try q.required("symbol")
                guard market.pairs[symbol] != nil else { throw .badSymbol }
                let fromID = try q.integer("orderId")
                let (start, end) = (try q.integer("startTime"), try q.integer("endTime"))
                if let start, let end, end - start > 86_400_000 {
                    throw APIError(status: 400, code: -1127, message: "More than 24 hours between startTime and endTime.")
                }
                let limit = Int(try q.integer("limit", in: 1...1_000) ?? 500)
                let orders = venue.allOrders(apiKey: apiKey, symbol: symbol, fromID: fromID, start: start, end: end, limit: limit, now: now)
                return SignedAnswer(text: "[" + orders.map(queryResponse).joined(separator: ",") + "]", weight: 20)
            }
        }
        router.get("/api/v3/myTrades") { [self] request, _ in
            try await signed(request, weight: 20) { q, apiKey, now throws(APIError) in
                let symbol = try q.required("symbol")
                guard market.pairs[symbol] != nil else { throw .badSymbol }
                let orderID = try q.integer("orderId")
                let fromID = try q.integer("fromId")
                let (start, end) = (try q.integer("startTime"), try q.integer("endTime"))
                if fromID != nil && (start != nil || end != nil) {
                    throw APIError(status: 400, code: -1128, message: "Combination of optional parameters invalid.")
                }
                if let start, let end, end - start > 86_400_000 {
                    throw APIError(status: 400, code: -1127, message: "More than 24 hours between startTime and endTime.")
                }
                let limit = Int(try q.integer("limit", in: 1...1_000) ?? 500)
                let trades = venue.trades(apiKey: apiKey, symbol: symbol, orderID: orderID, fromID: fromID, start: start, end: end, limit: limit, now: now)
                let rows = trades.map { t in
                    #"{"symbol":"\#(t.symbol)","id":\#(t.id),"orderId":\#(t.orderID),"orderListId":\#(t.listID),"price":"\#(decimalText(t.price))","qty":"\#(decimalText(t.quantity))","quoteQty":"\#(decimalText(t.quote))","commission":"\#(decimalText(t.commission))","commissionAsset":"\#(t.commissionAsset)","time":\#(t.time),"isBuyer":\#(t.isBuyer),"isMaker":\#(t.isMaker),"isBestMatch":true}"#
                }
                return SignedAnswer(text: "[" + rows.joined(separator: ",") + "]", weight: orderID == nil ? 20 : 5)
            }
        }
        router.get("/api/v3/rateLimit/order") { [self] request, _ in
            try await signed(request, weight: 40) { _, apiKey, now throws(APIError) in
                let (ten, day) = venue.orderCounts(apiKey: apiKey, now: now)
                let limits = venue.settings
                return SignedAnswer(
                    text: #"[{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":\#(limits.ordersPer10Seconds),"count":\#(ten)},{"rateLimitType":"ORDERS","interval":"DAY","intervalNum":1,"limit":\#(limits.ordersPerDay),"count":\#(day)}]"#,
                    weight: 40
                )
            }
        }
        router.post("/api/v3/orderList/oco") { [self] request, _ in
            try await signed(request, weight: 1, placement: true) { q, apiKey, now throws(APIError) in
                let oco = try readOCO(&q, now: now)
                let kind = try q.string("newOrderRespType") ?? "FULL"
                try readIgnored(&q)
                let (list, placements) = try venue.placeOCO(oco, apiKey: apiKey, now: now)
                return SignedAnswer(text: listResponse(list, orders: placements.map(\.order), kind: kind, time: now), weight: 1, placedOrders: true)
            }
        }
        router.post("/api/v3/order/oco") { [self] request, _ in
            try await signed(request, weight: 1, placement: true) { q, apiKey, now throws(APIError) in
                let oco = try readLegacyOCO(&q, now: now)
                let kind = try q.string("newOrderRespType") ?? "FULL"
                try readIgnored(&q)
                let (list, placements) = try venue.placeOCO(oco, apiKey: apiKey, now: now)
                return SignedAnswer(text: listResponse(list, orders: placements.map(\.order), kind: kind, time: now), weight: 1, placedOrders: true)
            }
        }
        router.delete("/api/v3/orderList") { [self] request, _ in
            try await signed(request, weight: 1) { q, apiKey, now throws(APIError) in
                let symbol = try q.required("symbol")
                guard market.pairs[symbol] != nil else { throw .badSymbol }
                let listID = try q.integer("orderListId")
                let clientID = try q.string("listClientOrderId")
                _ = try q.string("newClientOrderId")
                guard listID != nil || clientID != nil else {
                    throw APIError(status: 400, code: -1102, message: "Param 'listClientOrderId' or 'orderListId' must be sent, but both were empty/null!")
                }
                let (list, orders) = try venue.cancelList(apiKey: apiKey, symbol: symbol, listID: listID, clientID: clientID, now: now)
                return SignedAnswer(text: listResponse(list, orders: orders, kind: "RESULT", time: now, cancelled: true), weight: 1)
            }
        }
    }

    /// The fill model's maker and taker fee rates as Binance writes rates (`"0.00100000"`).
    private func feeRateTexts() -> (maker: String, taker: String) {
        let model = venue.settings.fillModel
        return (decimalText(Decimal(string: "\(model.makerFee)") ?? 0), decimalText(Decimal(string: "\(model.takerFee)") ?? 0))
    }

    // MARK: Running a signed endpoint

    /// Runs a signed endpoint: the body read (POST/DELETE parameters may be in the query string,
    /// the form body or both), the key and signature checked, the request matched through now,
    /// its weight counted per minute (refused requests at `base`), faults injected into
    /// placements, and `X-MBX-USED-WEIGHT-1M` (and, after placements, `X-MBX-ORDER-COUNT-10S` /
    /// `-1D`) on the answer.
    func signed(
        _ request: Request,
        weight base: Int,
        placement: Bool = false,
        _ body: (inout RequestParameters, String, Int64) throws(APIError) -> SignedAnswer
    ) async throws -> Response {
        let form = String(buffer: try await request.body.collect(upTo: 1 << 16))
        let faultPlan = settings.faults
        if faultPlan.latencyMs > 0 { try await Task.sleep(for: .milliseconds(faultPlan.latencyMs)) }
        let time = now
        let apiKeyHeader = HTTPField.Name("X-MBX-APIKEY").flatMap { request.headers[$0] }
        var fault: OrderFault?
        var apiKey = ""
        let outcome: Result<SignedAnswer, APIError>
        do throws(APIError) {
            var q = try RequestParameters(query: request.uri.query, body: form)
            let account = try SignedRequestCheck.authenticate(
                apiKey: apiKeyHeader, rawQuery: request.uri.query ?? "", body: form, parameters: &q, accounts: settings.accounts, now: time
            )
            apiKey = account.apiKey
            if placement {
                fault = venue.faults.withLock { $0.next(faultPlan) }
                switch fault {
                case .serverError?: throw APIError(status: 503, code: -1001, message: "Internal error; unable to process your request. Please try again.")
                case .tooManyRequests(let seconds)?:
                    throw APIError(status: 429, code: -1015, message: "Too many new orders; current limit is \(venue.settings.ordersPer10Seconds) orders per 10 SECOND.", retryAfter: seconds)
                case .reject(let message)?: throw APIError(status: 400, code: -2010, message: message)
                case .dropResponseAfterBooking?, nil: break
                }
            }
            let answer = try body(&q, account.apiKey, time)
            try q.requireAllRead()
            outcome = .success(answer)
        } catch {
            outcome = .failure(error)
        }
        let weight = (try? outcome.get().weight) ?? base
        let (used, weightRetry) = venue.settings.limitsEnabled ? weights.add(weight, at: time) : (weight, nil)
        var headers: HTTPFields = [.contentType: "application/json"]
        if let name = HTTPField.Name("X-MBX-USED-WEIGHT-1M") { headers[name] = String(used) }
        if let name = HTTPField.Name("X-MBX-USED-WEIGHT") { headers[name] = String(used) }
        if let weightRetry {
            if let name = HTTPField.Name("Retry-After") { headers[name] = String(weightRetry) }
            return Self.error(
                APIError(status: 429, code: -1003, message: "Too much request weight used; current limit is \(weights.limit) request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."),
                headers: headers
            )
        }
        switch outcome {
        case .success(let answer):
            if answer.placedOrders {
                let (ten, day) = venue.orderCounts(apiKey: apiKey, now: time)
                if let name = HTTPField.Name("X-MBX-ORDER-COUNT-10S") { headers[name] = String(ten) }
                if let name = HTTPField.Name("X-MBX-ORDER-COUNT-1D") { headers[name] = String(day) }
            }
            if fault == .dropResponseAfterBooking {
                // Booked; the answer is lost on the way, as when Binance's backend times out.
                return Self.error(
                    APIError(status: 504, code: -1007, message: "Timeout waiting for response from backend server. Send status unknown; execution status unknown."),
                    headers: headers
                )
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: answer.text)))
        case .failure(let e):
            if let seconds = e.retryAfter, let name = HTTPField.Name("Retry-After") { headers[name] = String(seconds) }
            return Self.error(e, headers: headers)
        }
    }

    static func error(_ e: APIError, headers: HTTPFields) -> Response {
        let message = e.message.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return Response(
            status: .init(code: e.status),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: #"{"code":\#(e.code),"msg":"\#(message)"}"#))
        )
    }

    // MARK: Parameters

    /// Parameters Binance accepts that change nothing here: read, checked for their range.
    private func readIgnored(_ q: inout RequestParameters) throws(APIError) {
        if let mode = try q.string("selfTradePreventionMode"), !["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"].contains(mode) {
            throw APIError(status: 400, code: -1100, message: "Illegal characters found in parameter 'selfTradePreventionMode'; legal range is 'NONE, EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH, DECREMENT'.")
        }
        _ = try q.integer("strategyId")
        _ = try q.integer("strategyType")
    }

    /// `orderId` or `origClientOrderId` (one is mandatory).
    private func orderKey(_ q: inout RequestParameters) throws(APIError) -> (Int64?, String?) {
        let orderID = try q.integer("orderId")
        let clientID = try q.string("origClientOrderId")
        guard orderID != nil || clientID != nil else {
            throw APIError(status: 400, code: -1102, message: "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        }
        return (orderID, clientID)
    }

    private func decimalParam(_ q: inout RequestParameters, _ name: String) throws(APIError) -> Decimal? {
        guard let text = try q.string(name) else { return nil }
        guard NewOrder.isDecimalText(text),
            let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
        else { throw .illegal(name, range: NewOrder.decimalRange) }
        return value
    }

    /// `POST /api/v3/orderList/oco`: `above…` and `below…` legs, one of them a stop-loss.
    private func readOCO(_ q: inout RequestParameters, now: Int64) throws(APIError) -> NewOCO {
        let symbol = try q.required("symbol")
        guard let filters = market.pairs[symbol]?.filters else { throw .badSymbol }
        guard let side = Side(rawValue: try q.required("side")) else { throw APIError(status: 400, code: -1117, message: "Invalid side.") }
        guard let quantity = try decimalParam(&q, "quantity") else { throw .mandatory("quantity") }
        let listID = try q.string("listClientOrderId")
        func leg(_ prefix: String, types: [String]) throws(APIError) -> NewOCO.Leg {
            let type = try q.required("\(prefix)Type")
            guard types.contains(type) else { throw APIError(status: 400, code: -1158, message: "Order type not supported in OCO.") }
            let leg = NewOCO.Leg(
                type: type, price: try decimalParam(&q, "\(prefix)Price"), stopPrice: try decimalParam(&q, "\(prefix)StopPrice"),
                timeInForce: try q.string("\(prefix)TimeInForce"), clientOrderID: try q.string("\(prefix)ClientOrderId")
            )
            if try q.integer("\(prefix)TrailingDelta") != nil {
                throw APIError(status: 400, code: -2010, message: "Trailing stops are not supported by this exchange.")
            }
            _ = try q.string("\(prefix)IcebergQty")
            _ = try q.integer("\(prefix)StrategyId")
            _ = try q.integer("\(prefix)StrategyType")
            if ["STOP_LOSS_LIMIT", "LIMIT_MAKER", "TAKE_PROFIT_LIMIT"].contains(type), leg.price == nil { throw .mandatory("\(prefix)Price") }
            if type != "LIMIT_MAKER", leg.stopPrice == nil {
                throw APIError(status: 400, code: -1102, message: "Param '\(prefix)StopPrice' or '\(prefix)TrailingDelta' must be sent, but both were empty/null!")
            }
            if type.hasSuffix("_LIMIT"), leg.timeInForce == nil { throw .mandatory("\(prefix)TimeInForce") }
            return leg
        }
        let above = try leg("above", types: ["STOP_LOSS_LIMIT", "STOP_LOSS", "LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"])
        let below = try leg("below", types: ["STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"])
        let aboveIsStop = above.type.hasPrefix("STOP_LOSS")
        guard aboveIsStop != below.type.hasPrefix("STOP_LOSS") else {
            throw APIError(status: 400, code: -1168, message: "At least one OCO order must be contingent.")
        }
        // Sell: the stop below, the limit above; buy: the mirror (Binance's -1197 / -1196).
        if side == .sell && aboveIsStop { throw APIError(status: 400, code: -1197, message: "A stop loss order in a sell OCO must be below.") }
        if side == .buy && !aboveIsStop { throw APIError(status: 400, code: -1196, message: "A stop loss order in a buy OCO must be above.") }
        let oco = NewOCO(symbol: symbol, side: side, quantity: quantity, listClientOrderID: listID, limit: aboveIsStop ? below : above, stop: aboveIsStop ? above : below)
        try checkLegFilters(oco, filters: filters, now: now)
        return oco
    }

    /// The older `POST /api/v3/order/oco`: a LIMIT_MAKER at `price` and a STOP_LOSS at
    /// `stopPrice` (STOP_LOSS_LIMIT with `stopLimitPrice`).
    private func readLegacyOCO(_ q: inout RequestParameters, now: Int64) throws(APIError) -> NewOCO {
        let symbol = try q.required("symbol")
        guard let filters = market.pairs[symbol]?.filters else { throw .badSymbol }
        guard let side = Side(rawValue: try q.required("side")) else { throw APIError(status: 400, code: -1117, message: "Invalid side.") }
        guard let quantity = try decimalParam(&q, "quantity") else { throw .mandatory("quantity") }
        guard let price = try decimalParam(&q, "price") else { throw .mandatory("price") }
        guard let stopPrice = try decimalParam(&q, "stopPrice") else { throw .mandatory("stopPrice") }
        let stopLimit = try decimalParam(&q, "stopLimitPrice")
        let stopTIF = try q.string("stopLimitTimeInForce")
        if stopLimit != nil && stopTIF == nil { throw .mandatory("stopLimitTimeInForce") }
        _ = try q.string("limitIcebergQty")
        _ = try q.string("stopIcebergQty")
        _ = try q.integer("limitStrategyId")
        _ = try q.integer("stopStrategyId")
        let oco = NewOCO(
            symbol: symbol, side: side, quantity: quantity, listClientOrderID: try q.string("listClientOrderId"),
            limit: .init(type: "LIMIT_MAKER", price: price, stopPrice: nil, timeInForce: nil, clientOrderID: try q.string("limitClientOrderId")),
            stop: .init(
                type: stopLimit == nil ? "STOP_LOSS" : "STOP_LOSS_LIMIT", price: stopLimit, stopPrice: stopPrice, timeInForce: stopTIF,
                clientOrderID: try q.string("stopClientOrderId")
            )
        )
        try checkLegFilters(oco, filters: filters, now: now)
        return oco
    }

    private func checkLegFilters(_ oco: NewOCO, filters: SymbolFilters, now: Int64) throws(APIError) {
        for leg in [oco.stop, oco.limit] {
            let order = NewOrder(
                symbol: oco.symbol, side: oco.side == .buy ? .buy : .sell, type: leg.type, timeInForce: leg.timeInForce, quantity: oco.quantity,
                quoteOrderQty: nil, price: leg.price ?? leg.stopPrice, stopPrice: leg.stopPrice, trailingDelta: nil, newClientOrderId: leg.clientOrderID,
                newOrderRespType: nil
            )
            try order.checkFilters(filters, lastPrice: market.state(oco.symbol, at: now)?.price)
        }
    }

    // MARK: Answers

    private func orderFields(_ o: BookedOrder) -> String {
        let stop = o.stopPrice.map { #","stopPrice":"\#(decimalText($0))""# } ?? ""
        return #""price":"\#(decimalText(o.price ?? 0))","origQty":"\#(decimalText(o.quantity))","executedQty":"\#(decimalText(o.executed))","origQuoteOrderQty":"\#(decimalText(o.quoteOrderQty))","cummulativeQuoteQty":"\#(decimalText(o.cumulativeQuote))","status":"\#(o.status)","timeInForce":"\#(o.timeInForce ?? "GTC")","type":"\#(o.type)","side":"\#(o.side.rawValue)"\#(stop)"#
    }

    /// A placement's answer: ACK, RESULT or FULL (with its fills).
    func orderResponse(_ o: BookedOrder, fills: [Execution], kind: String, time: Int64) -> String {
        let head = #"{"symbol":"\#(o.symbol)","orderId":\#(o.id),"orderListId":\#(o.listID),"clientOrderId":"\#(o.clientOrderID)","transactTime":\#(time)"#
        guard kind != "ACK" else { return head + "}" }
        let result = head + "," + orderFields(o) + #","workingTime":\#(o.workingTime),"selfTradePreventionMode":"NONE""#
        guard kind == "FULL" else { return result + "}" }
        let rows = fills.map { f in
            #"{"price":"\#(decimalText(f.price))","qty":"\#(decimalText(f.quantity))","commission":"\#(decimalText(f.commission))","commissionAsset":"\#(f.commissionAsset)","tradeId":\#(f.id)}"#
        }
        return result + #","fills":[\#(rows.joined(separator: ","))]}"#
    }

    /// `GET /api/v3/order`'s shape (also openOrders and allOrders).
    func queryResponse(_ o: BookedOrder) -> String {
        #"{"symbol":"\#(o.symbol)","orderId":\#(o.id),"orderListId":\#(o.listID),"clientOrderId":"\#(o.clientOrderID)","price":"\#(decimalText(o.price ?? 0))","origQty":"\#(decimalText(o.quantity))","executedQty":"\#(decimalText(o.executed))","cummulativeQuoteQty":"\#(decimalText(o.cumulativeQuote))","status":"\#(o.status)","timeInForce":"\#(o.timeInForce ?? "GTC")","type":"\#(o.type)","side":"\#(o.side.rawValue)","stopPrice":"\#(decimalText(o.stopPrice ?? 0))","icebergQty":"0.00000000","time":\#(o.time),"updateTime":\#(o.updateTime),"isWorking":\#(o.working),"workingTime":\#(o.workingTime),"origQuoteOrderQty":"\#(decimalText(o.quoteOrderQty))","selfTradePreventionMode":"NONE"}"#
    }

    /// A cancel's answer: `clientOrderId` is the cancel's id, `origClientOrderId` the order's.
    func cancelResponse(_ o: BookedOrder, cancelID: String, time: Int64) -> String {
        #"{"symbol":"\#(o.symbol)","origClientOrderId":"\#(o.clientOrderID)","orderId":\#(o.id),"orderListId":\#(o.listID),"clientOrderId":"\#(cancelID)","transactTime":\#(time),"# + orderFields(o) + #","selfTradePreventionMode":"NONE"}"#
    }

    /// An order list's answer (placement or cancel), its stop leg first as Binance lists it.
    func listResponse(_ list: BookedList, orders: [BookedOrder], kind: String, time: Int64, cancelled: Bool = false) -> String {
        let (statusType, orderStatus) = list.done || cancelled ? ("ALL_DONE", "ALL_DONE") : ("EXEC_STARTED", "EXECUTING")
        let ids = orders.map { #"{"symbol":"\#($0.symbol)","orderId":\#($0.id),"clientOrderId":"\#($0.clientOrderID)"}"# }
        let reports = kind == "ACK" ? [] : orders.map { o in
            cancelled ? cancelResponse(o, cancelID: "cancel-\(o.id)", time: time) : orderResponse(o, fills: [], kind: "RESULT", time: time)
        }
        return #"{"orderListId":\#(list.id),"contingencyType":"OCO","listStatusType":"\#(statusType)","listOrderStatus":"\#(orderStatus)","listClientOrderId":"\#(list.clientID)","transactionTime":\#(time),"symbol":"\#(list.symbol)","orders":[\#(ids.joined(separator: ","))],"orderReports":[\#(reports.joined(separator: ","))]}"#
    }
}
