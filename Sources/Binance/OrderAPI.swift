public import Foundation

// MARK: - Decimal text

/// Prices and quantities as Binance writes and reads them: exact decimal text, never a `Double`
/// printed to some number of places.
public enum BinanceDecimal {
    /// `value` as plain decimal text (`0.3`, `0.00000001`, `4000`): Foundation's `Decimal` prints
    /// its exact digits, without an exponent. Binance accepts any number of trailing zeros, so
    /// `0.3` and `0.30000000` are the same quantity.
    public static func text(_ value: Decimal) -> String { value.description }

    /// Reads decimal text strictly: an optional `-`, digits, and an optional `.` with digits
    /// (`Decimal(string:)` alone would read `1.2.3` as 1.2).
    public static func parse(_ text: String) -> Decimal? {
        var digitsBefore = 0
        var digitsAfter = 0
        var seenPoint = false
        for (index, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "-") where index == 0: continue
            case UInt8(ascii: "."):
                guard !seenPoint, digitsBefore > 0 else { return nil }
                seenPoint = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if seenPoint { digitsAfter += 1 } else { digitsBefore += 1 }
            default: return nil
            }
        }
        guard digitsBefore > 0, !seenPoint || digitsAfter > 0 else { return nil }
        return plain(text)
    }

    /// The largest multiple of `step` not above `value` (a quantity on LOT_SIZE's grid, never more
    /// than asked). `step` must be positive.
    public static func floor(_ value: Decimal, step: Decimal) -> Decimal {
        precondition(step > 0, "a grid step must be positive")
        var units = value / step
        var whole = Decimal()
        NSDecimalRound(&whole, &units, 0, .down)
        return whole * step
    }

    /// The multiple of `tick` nearest `value` (halves away from zero), e.g. a price on
    /// PRICE_FILTER's grid. `tick` must be positive.
    public static func nearest(_ value: Decimal, tick: Decimal) -> Decimal {
        precondition(tick > 0, "a grid tick must be positive")
        var units = value / tick
        var whole = Decimal()
        NSDecimalRound(&whole, &units, 0, .plain)
        return whole * tick
    }
}

extension KeyedDecodingContainer {
    /// A decimal sent as a JSON string (`"0.10264410"`).
    func decimal(_ key: Key) throws -> Decimal {
        let text = try decode(String.self, forKey: key)
        guard let value = BinanceDecimal.parse(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: key,
                in: self,
                debugDescription: "'\(text)' is not decimal text"
            )
        }
        return value
    }

    /// A decimal string that may be missing or null.
    func decimalIfPresent(_ key: Key) throws -> Decimal? {
        guard let text = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let value = BinanceDecimal.parse(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: key,
                in: self,
                debugDescription: "'\(text)' is not decimal text"
            )
        }
        return value
    }
}

// MARK: - Enumerations

/// `BUY` or `SELL`.
public enum BinanceOrderSide: String, Sendable, Hashable, Codable {
    /// `BUY`.
    case buy = "BUY"
    /// `SELL`.
    case sell = "SELL"
}

/// An order type (`MARKET`, `LIMIT`, …), kept as text so a type Binance adds later still reads.
public struct BinanceOrderType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// `MARKET`.
    public static let market = Self(rawValue: "MARKET")
    /// `LIMIT`.
    public static let limit = Self(rawValue: "LIMIT")
    /// `LIMIT_MAKER`: a limit order rejected if it would trade as a taker.
    public static let limitMaker = Self(rawValue: "LIMIT_MAKER")
    /// `STOP_LOSS`: a market order once the stop price is reached.
    public static let stopLoss = Self(rawValue: "STOP_LOSS")
    /// `STOP_LOSS_LIMIT`.
    public static let stopLossLimit = Self(rawValue: "STOP_LOSS_LIMIT")
    /// `TAKE_PROFIT`: a market order once the stop price is reached.
    public static let takeProfit = Self(rawValue: "TAKE_PROFIT")
    /// `TAKE_PROFIT_LIMIT`.
    public static let takeProfitLimit = Self(rawValue: "TAKE_PROFIT_LIMIT")
}

/// How long an order stays working: `GTC`, `IOC`, `FOK`.
public struct BinanceTimeInForce: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Good til canceled.
    public static let gtc = Self(rawValue: "GTC")
    /// Immediate or cancel: fills what it can at once, the rest expires.
    public static let ioc = Self(rawValue: "IOC")
    /// Fill or kill: expires unless it fills entirely at once.
    public static let fok = Self(rawValue: "FOK")
}

/// What an order placement answers: `ACK` (ids only), `RESULT` (the order), `FULL` (the order
/// and its fills). Binance's default is `FULL` for MARKET and LIMIT, `ACK` otherwise.
public enum BinanceOrderResponseType: String, Sendable, Hashable {
    /// Ids and the transaction time.
    case ack = "ACK"
    /// The order's state after matching.
    case result = "RESULT"
    /// The order's state and each fill.
    case full = "FULL"
}

/// An order's status, kept as text so a status Binance adds later still reads.
public struct BinanceOrderStatus: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Accepted by the engine.
    public static let new = Self(rawValue: "NEW")
    /// A pending leg of an order list, not yet working.
    public static let pendingNew = Self(rawValue: "PENDING_NEW")
    /// Partly filled, still working.
    public static let partiallyFilled = Self(rawValue: "PARTIALLY_FILLED")
    /// Filled entirely.
    public static let filled = Self(rawValue: "FILLED")
    /// Cancelled by the user.
    public static let canceled = Self(rawValue: "CANCELED")
    /// Unused by Binance today.
    public static let pendingCancel = Self(rawValue: "PENDING_CANCEL")
    /// Rejected by the engine.
    public static let rejected = Self(rawValue: "REJECTED")
    /// Expired (IOC/FOK/MARKET remainder, an OCO leg, …).
    public static let expired = Self(rawValue: "EXPIRED")
    /// Expired by self-trade prevention.
    public static let expiredInMatch = Self(rawValue: "EXPIRED_IN_MATCH")

    /// Whether the order can still trade: `NEW`, `PARTIALLY_FILLED`, `PENDING_NEW`.
    public var isOpen: Bool { self == .new || self == .partiallyFilled || self == .pendingNew }
}

/// Which order an order call means: Binance's id or the client order id.
public enum BinanceOrderReference: Sendable, Hashable {
    /// `orderId`.
    case orderID(Int64)
    /// `origClientOrderId`.
    case clientOrderID(String)

    var parameter: (String, String) {
        switch self {
        case .orderID(let id): ("orderId", String(id))
        case .clientOrderID(let id): ("origClientOrderId", id)
        }
    }
}

/// Which order list a list call means: Binance's id or the list's client id.
public enum BinanceOrderListReference: Sendable, Hashable {
    /// `orderListId`.
    case orderListID(Int64)
    /// `listClientOrderId`.
    case listClientOrderID(String)

    var parameter: (String, String) {
        switch self {
        case .orderListID(let id): ("orderListId", String(id))
        case .listClientOrderID(let id): ("listClientOrderId", id)
        }
    }
}

/// Client order ids: Binance accepts `^[.A-Z:/a-z0-9_-]{1,36}$`, unique among open orders.
public enum BinanceClientOrderID {
    /// A fresh id: `sc-` and 24 random letters and digits (143 bits). Give an order its id before
    /// sending it and keep it: after an unknown outcome it is how the order is found.
    public static func make() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return "sc-" + String((0..<24).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// Whether Binance accepts `id` as a client order id.
    public static func isValid(_ id: String) -> Bool {
        guard (1...36).contains(id.utf8.count) else { return false }
        return id.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }
}

// MARK: - Requests

/// A new order (`POST /api/v3/order`), built by one of the factories so that each type carries
/// exactly the parameters Binance makes mandatory for it. Prices and quantities are `Decimal`s
/// on the symbol's grid (see ``BinanceDecimal/floor(_:step:)``), sent as exact text.
public struct BinanceNewOrder: Sendable, Hashable {
    /// The symbol, e.g. `BTCUSDT`.
    public let symbol: String
    /// Buy or sell.
    public let side: BinanceOrderSide
    /// The type.
    public let type: BinanceOrderType
    /// For LIMIT, STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT.
    public let timeInForce: BinanceTimeInForce?
    /// Base quantity (all types but MARKET by quote).
    public let quantity: Decimal?
    /// Quote amount to spend (BUY) or receive (SELL): MARKET only.
    public let quoteOrderQuantity: Decimal?
    /// Limit price.
    public let price: Decimal?
    /// Trigger price of STOP_LOSS(_LIMIT), TAKE_PROFIT(_LIMIT).
    public let stopPrice: Decimal?
    /// The client order id (`newClientOrderId`), given or made by ``BinanceClientOrderID/make()``.
    public let clientOrderID: String
    /// The answer wanted (nil: Binance's default for the type).
    public let responseType: BinanceOrderResponseType?

    private init(
        symbol: String,
        side: BinanceOrderSide,
        type: BinanceOrderType,
        timeInForce: BinanceTimeInForce? = nil,
        quantity: Decimal? = nil,
        quoteOrderQuantity: Decimal? = nil,
        price: Decimal? = nil,
        stopPrice: Decimal? = nil,
        clientOrderID: String?,
        responseType: BinanceOrderResponseType?
    ) {
        self.symbol = symbol
        self.side = side
        self.type = type
        self.timeInForce = timeInForce
        self.quantity = quantity
        self.quoteOrderQuantity = quoteOrderQuantity
        self.price = price
        self.stopPrice = stopPrice
        self.clientOrderID = clientOrderID ?? BinanceClientOrderID.make()
        self.responseType = responseType
    }

    /// A MARKET order for `quantity` of the base asset.
    public static func market(
        symbol: String,
        side: BinanceOrderSide,
        quantity: Decimal,
        clientOrderID: String? = nil,
        responseType: BinanceOrderResponseType? = nil
    ) -> Self {
        Self(
            symbol: symbol,
            side: side,
            type: .market,
            quantity: quantity,
            clientOrderID: clientOrderID,
            responseType: responseType
        )
    }

    /// A MARKET order spending (BUY) or receiving (SELL) `quoteOrderQuantity` of the quote asset;
    /// Binance picks the base quantity on LOT_SIZE's grid nearest that notional.
    public static func market(
        symbol: String,
        side: BinanceOrderSide,
        quoteOrderQuantity: Decimal,
        clientOrderID: String? = nil,
        responseType: BinanceOrderResponseType? = nil
    ) -> Self {
        Self(
            symbol: symbol,
            side: side,
            type: .market,
            quoteOrderQuantity: quoteOrderQuantity,
            clientOrderID: clientOrderID,
            responseType: responseType
        )
    }

    /// A LIMIT order.
    public static func limit(
        symbol: String,
        side: BinanceOrderSide,
        quantity: Decimal,
        price: Decimal,
        timeInForce: BinanceTimeInForce = .gtc,
        clientOrderID: String? = nil,
        responseType: BinanceOrderResponseType? = nil
    ) -> Self {
        Self(
            symbol: symbol,
            side: side,
            type: .limit,
            timeInForce: timeInForce,
            quantity: quantity,
            price: price,
            clientOrderID: clientOrderID,
            responseType: responseType
        )
    }

    /// A LIMIT_MAKER order: rejected (-2010) if it would trade at once as a taker.
    public static func limitMaker(
        symbol: String,
        side: BinanceOrderSide,
        quantity: Decimal,
        price: Decimal,
        clientOrderID: String? = nil,
        responseType: BinanceOrderResponseType? = nil
    ) -> Self {
        Self(
            symbol: symbol,
            side: side,
            type: .limitMaker,
            quantity: quantity,
            price: price,
            clientOrderID: clientOrderID,
            responseType: responseType
        )
    }

    /// A STOP_LOSS order: a MARKET order once the last price reaches `stopPrice` (a SELL's stop
    /// lies below the market, a BUY's above; otherwise -2010 "Order would trigger immediately.").
    public static func stopLoss(
        symbol: String,
        side: BinanceOrderSide,
        quantity: Decimal,
        stopPrice: Decimal,
        clientOrderID: String? = nil,
        responseType: BinanceOrderResponseType? = nil
    ) -> Self {
        Self(
            symbol: symbol,
            side: side,
            type: .stopLoss,
            quantity: quantity,
            stopPrice: stopPrice,
            clientOrderID: clientOrderID,
            responseType: responseType
        )
    }

    /// A STOP_LOSS_LIMIT order: a LIMIT order at `price` once the last price reaches `stopPrice`.
    public static func stopLossLimit(
        symbol: String,
        side: BinanceOrderSide,
        quantity: Decimal,
        price: Decimal,
        stopPrice: Decimal,
        timeInForce: BinanceTimeInForce = .gtc,
        clientOrderID: String? = nil,
        responseType: BinanceOrderResponseType? = nil
    ) -> Self {
        Self(
            symbol: symbol,
            side: side,
            type: .stopLossLimit,
            timeInForce: timeInForce,
            quantity: quantity,
            price: price,
            stopPrice: stopPrice,
            clientOrderID: clientOrderID,
            responseType: responseType
        )
    }

    /// A TAKE_PROFIT order: a MARKET order once the last price reaches `stopPrice` (a SELL's lies
    /// above the market, a BUY's below).
    public static func takeProfit(
        symbol: String,
        side: BinanceOrderSide,
        quantity: Decimal,
        stopPrice: Decimal,
        clientOrderID: String? = nil,
        responseType: BinanceOrderResponseType? = nil
    ) -> Self {
        Self(
            symbol: symbol,
            side: side,
            type: .takeProfit,
            quantity: quantity,
            stopPrice: stopPrice,
            clientOrderID: clientOrderID,
            responseType: responseType
        )
    }

    /// A TAKE_PROFIT_LIMIT order: a LIMIT order at `price` once the last price reaches `stopPrice`.
    public static func takeProfitLimit(
        symbol: String,
        side: BinanceOrderSide,
        quantity: Decimal,
        price: Decimal,
        stopPrice: Decimal,
        timeInForce: BinanceTimeInForce = .gtc,
        clientOrderID: String? = nil,
        responseType: BinanceOrderResponseType? = nil
    ) -> Self {
        Self(
            symbol: symbol,
            side: side,
            type: .takeProfitLimit,
            timeInForce: timeInForce,
            quantity: quantity,
            price: price,
            stopPrice: stopPrice,
            clientOrderID: clientOrderID,
            responseType: responseType
        )
    }

    /// The parameters in the order of Binance's parameter table (before `recvWindow` and
    /// `timestamp`), checked: every amount positive, the client order id one Binance accepts.
    public func parameters() throws(BinanceTradingError) -> [(String, String)] {
        var list: [(String, String)] = [("symbol", symbol), ("side", side.rawValue), ("type", type.rawValue)]
        if let timeInForce { list.append(("timeInForce", timeInForce.rawValue)) }
        try appendAmount(&list, "quantity", quantity)
        try appendAmount(&list, "quoteOrderQty", quoteOrderQuantity)
        try appendAmount(&list, "price", price)
        guard BinanceClientOrderID.isValid(clientOrderID) else {
            throw .invalidRequest("client order id '\(clientOrderID)' is not 1 to 36 of A-Z a-z 0-9 . : / _ -")
        }
        list.append(("newClientOrderId", clientOrderID))
        try appendAmount(&list, "stopPrice", stopPrice)
        if let responseType { list.append(("newOrderRespType", responseType.rawValue)) }
        return list
    }
}

/// Appends `name=value` for a present amount, which must be positive.
private func appendAmount(
    _ list: inout [(String, String)],
    _ name: String,
    _ value: Decimal?
) throws(BinanceTradingError) {
    guard let value else { return }
    guard value > 0, !value.isNaN else { throw .invalidRequest("\(name) \(value) is not positive") }
    list.append((name, BinanceDecimal.text(value)))
}

/// One leg of an OCO: the above leg may be any of these, the below leg anything but LIMIT_MAKER.
public enum BinanceOCOLeg: Sendable, Hashable {
    /// LIMIT_MAKER at `price` (a SELL OCO's take-profit).
    case limitMaker(price: Decimal)
    /// STOP_LOSS triggered at `stopPrice`, filled as a market order.
    case stopLoss(stopPrice: Decimal)
    /// STOP_LOSS_LIMIT: a limit order at `price` once `stopPrice` is reached.
    case stopLossLimit(price: Decimal, stopPrice: Decimal, timeInForce: BinanceTimeInForce)
    /// TAKE_PROFIT triggered at `stopPrice`, filled as a market order.
    case takeProfit(stopPrice: Decimal)
    /// TAKE_PROFIT_LIMIT: a limit order at `price` once `stopPrice` is reached.
    case takeProfitLimit(price: Decimal, stopPrice: Decimal, timeInForce: BinanceTimeInForce)

    /// The leg's order type.
    public var type: BinanceOrderType {
        switch self {
        case .limitMaker: .limitMaker
        case .stopLoss: .stopLoss
        case .stopLossLimit: .stopLossLimit
        case .takeProfit: .takeProfit
        case .takeProfitLimit: .takeProfitLimit
        }
    }

    var price: Decimal? {
        switch self {
        case .limitMaker(let price), .stopLossLimit(let price, _, _), .takeProfitLimit(let price, _, _): price
        case .stopLoss, .takeProfit: nil
        }
    }

    var stopPrice: Decimal? {
        switch self {
        case .stopLoss(let stop), .takeProfit(let stop), .stopLossLimit(_, let stop, _),
            .takeProfitLimit(_, let stop, _):
            stop
        case .limitMaker: nil
        }
    }

    var timeInForce: BinanceTimeInForce? {
        switch self {
        case .stopLossLimit(_, _, let tif), .takeProfitLimit(_, _, let tif): tif
        case .limitMaker, .stopLoss, .takeProfit: nil
        }
    }
}

/// A new OCO (`POST /api/v3/orderList/oco`): two orders for the same quantity, one above the
/// market and one below; when one starts working (fills or triggers), Binance cancels the other.
/// Price rules: SELL: above price > last price > below stop price; BUY the reverse.
public struct BinanceNewOCO: Sendable, Hashable {
    /// The symbol.
    public let symbol: String
    /// The side of both legs.
    public let side: BinanceOrderSide
    /// The quantity of each leg.
    public let quantity: Decimal
    /// The leg above the market.
    public let above: BinanceOCOLeg
    /// The leg below the market (not LIMIT_MAKER).
    public let below: BinanceOCOLeg
    /// The list's client id (`listClientOrderId`).
    public let listClientOrderID: String
    /// The above leg's client order id.
    public let aboveClientOrderID: String
    /// The below leg's client order id.
    public let belowClientOrderID: String
    /// The answer wanted for the legs' reports (nil: Binance's default).
    public let responseType: BinanceOrderResponseType?

    /// An OCO; ids not given are made by ``BinanceClientOrderID/make()``.
    public init(
        symbol: String,
        side: BinanceOrderSide,
        quantity: Decimal,
        above: BinanceOCOLeg,
        below: BinanceOCOLeg,
        listClientOrderID: String? = nil,
        aboveClientOrderID: String? = nil,
        belowClientOrderID: String? = nil,
        responseType: BinanceOrderResponseType? = nil
    ) {
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.above = above
        self.below = below
        self.listClientOrderID = listClientOrderID ?? BinanceClientOrderID.make()
        self.aboveClientOrderID = aboveClientOrderID ?? BinanceClientOrderID.make()
        self.belowClientOrderID = belowClientOrderID ?? BinanceClientOrderID.make()
        self.responseType = responseType
    }

    /// The exit of a long position: SELL `quantity` with a LIMIT_MAKER take-profit at
    /// `takeProfitPrice` above and a stop at `stopPrice` below: STOP_LOSS (market), or
    /// STOP_LOSS_LIMIT at `stopLimitPrice` (GTC) when one is given.
    public static func sellExit(
        symbol: String,
        quantity: Decimal,
        takeProfitPrice: Decimal,
        stopPrice: Decimal,
        stopLimitPrice: Decimal? = nil,
        listClientOrderID: String? = nil,
        takeProfitClientOrderID: String? = nil,
        stopClientOrderID: String? = nil,
        responseType: BinanceOrderResponseType? = nil
    ) -> Self {
        Self(
            symbol: symbol,
            side: .sell,
            quantity: quantity,
            above: .limitMaker(price: takeProfitPrice),
            below: stopLimitPrice.map { .stopLossLimit(price: $0, stopPrice: stopPrice, timeInForce: .gtc) }
                ?? .stopLoss(stopPrice: stopPrice),
            listClientOrderID: listClientOrderID,
            aboveClientOrderID: takeProfitClientOrderID,
            belowClientOrderID: stopClientOrderID,
            responseType: responseType
        )
    }

    /// The parameters in the order of Binance's table (before `recvWindow` and `timestamp`), checked.
    public func parameters() throws(BinanceTradingError) -> [(String, String)] {
        if case .limitMaker = below { throw .invalidRequest("an OCO's below leg cannot be LIMIT_MAKER") }
        for id in [listClientOrderID, aboveClientOrderID, belowClientOrderID] where !BinanceClientOrderID.isValid(id) {
            throw .invalidRequest("client order id '\(id)' is not 1 to 36 of A-Z a-z 0-9 . : / _ -")
        }
        var list: [(String, String)] = [
            ("symbol", symbol), ("listClientOrderId", listClientOrderID), ("side", side.rawValue),
        ]
        try appendAmount(&list, "quantity", quantity)
        for (name, leg, id) in [("above", above, aboveClientOrderID), ("below", below, belowClientOrderID)] {
            list.append(("\(name)Type", leg.type.rawValue))
            list.append(("\(name)ClientOrderId", id))
            try appendAmount(&list, "\(name)Price", leg.price)
            try appendAmount(&list, "\(name)StopPrice", leg.stopPrice)
            if let tif = leg.timeInForce { list.append(("\(name)TimeInForce", tif.rawValue)) }
        }
        if let responseType { list.append(("newOrderRespType", responseType.rawValue)) }
        return list
    }
}

// MARK: - Answers

/// One fill of a placement answered with `FULL`.
public struct BinanceFill: Sendable, Hashable, Decodable {
    /// `price`.
    public var price: Decimal
    /// `qty`.
    public var quantity: Decimal
    /// `commission`, in ``commissionAsset``.
    public var commission: Decimal
    /// `commissionAsset`: BUY pays in the base asset, SELL in the quote asset (or BNB with the discount).
    public var commissionAsset: String
    /// `tradeId`.
    public var tradeID: Int64

    /// A fill.
    public init(price: Decimal, quantity: Decimal, commission: Decimal, commissionAsset: String, tradeID: Int64) {
        self.price = price
        self.quantity = quantity
        self.commission = commission
        self.commissionAsset = commissionAsset
        self.tradeID = tradeID
    }

    private enum CodingKeys: String, CodingKey {
        case price, qty, commission, commissionAsset, tradeId
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        price = try c.decimal(.price)
        quantity = try c.decimal(.qty)
        commission = try c.decimal(.commission)
        commissionAsset = try c.decode(String.self, forKey: .commissionAsset)
        tradeID = try c.decode(Int64.self, forKey: .tradeId)
    }
}

/// An order as Binance describes it: the RESULT/FULL placement answer, a cancel answer,
/// `GET /api/v3/order`, `openOrders`, `allOrders`, an order list's reports. Fields present in only
/// some of these answers are optional.
public struct BinanceOrder: Sendable, Hashable, Decodable {
    /// `symbol`.
    public var symbol: String
    /// `orderId`.
    public var orderID: Int64
    /// `orderListId`: -1 unless the order is part of a list.
    public var orderListID: Int64
    /// `clientOrderId`: the order's own id, or in a cancel answer the cancel request's id.
    public var clientOrderID: String
    /// `origClientOrderId` (cancel answers): the cancelled order's client id.
    public var originalClientOrderID: String?
    /// `price` (0 for MARKET).
    public var price: Decimal
    /// `origQty`.
    public var originalQuantity: Decimal
    /// `executedQty`.
    public var executedQuantity: Decimal
    /// `cummulativeQuoteQty` (Binance's spelling): quote transacted so far (< 0 for some historical orders).
    public var cumulativeQuoteQuantity: Decimal
    /// `origQuoteOrderQty`.
    public var originalQuoteOrderQuantity: Decimal?
    /// `status`.
    public var status: BinanceOrderStatus
    /// `timeInForce`.
    public var timeInForce: BinanceTimeInForce
    /// `type`.
    public var type: BinanceOrderType
    /// `side`.
    public var side: BinanceOrderSide
    /// `stopPrice` (stop and take-profit types).
    public var stopPrice: Decimal?
    /// `icebergQty`.
    public var icebergQuantity: Decimal?
    /// `time` (queries): when the order was created, ms.
    public var time: Int64?
    /// `updateTime` (queries), ms.
    public var updateTime: Int64?
    /// `transactTime` (placement and cancel answers), ms.
    public var transactTime: Int64?
    /// `isWorking` (queries).
    public var isWorking: Bool?
    /// `workingTime`: when the order started working, ms; -1 while it is not.
    public var workingTime: Int64?
    /// `selfTradePreventionMode`.
    public var selfTradePreventionMode: String?
    /// `expiryReason`, when the order has expired.
    public var expiryReason: String?

    private enum CodingKeys: String, CodingKey {
        case symbol, orderId, orderListId, clientOrderId, origClientOrderId, price, origQty, executedQty,
            cummulativeQuoteQty
        case origQuoteOrderQty, status, timeInForce, type, side, stopPrice, icebergQty, time, updateTime, transactTime
        case isWorking, workingTime, selfTradePreventionMode, expiryReason
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        symbol = try c.decode(String.self, forKey: .symbol)
        orderID = try c.decode(Int64.self, forKey: .orderId)
        orderListID = try c.decodeIfPresent(Int64.self, forKey: .orderListId) ?? -1
        clientOrderID = try c.decode(String.self, forKey: .clientOrderId)
        originalClientOrderID = try c.decodeIfPresent(String.self, forKey: .origClientOrderId)
        price = try c.decimal(.price)
        originalQuantity = try c.decimal(.origQty)
        executedQuantity = try c.decimal(.executedQty)
        cumulativeQuoteQuantity = try c.decimal(.cummulativeQuoteQty)
        originalQuoteOrderQuantity = try c.decimalIfPresent(.origQuoteOrderQty)
        status = try c.decode(BinanceOrderStatus.self, forKey: .status)
        timeInForce = try c.decode(BinanceTimeInForce.self, forKey: .timeInForce)
        type = try c.decode(BinanceOrderType.self, forKey: .type)
        side = try c.decode(BinanceOrderSide.self, forKey: .side)
        stopPrice = try c.decimalIfPresent(.stopPrice)
        icebergQuantity = try c.decimalIfPresent(.icebergQty)
        time = try c.decodeIfPresent(Int64.self, forKey: .time)
        updateTime = try c.decodeIfPresent(Int64.self, forKey: .updateTime)
        transactTime = try c.decodeIfPresent(Int64.self, forKey: .transactTime)
        isWorking = try c.decodeIfPresent(Bool.self, forKey: .isWorking)
        workingTime = try c.decodeIfPresent(Int64.self, forKey: .workingTime)
        selfTradePreventionMode = try c.decodeIfPresent(String.self, forKey: .selfTradePreventionMode)
        expiryReason = try c.decodeIfPresent(String.self, forKey: .expiryReason)
    }
}

/// The answer to `POST /api/v3/order`: always the ids (ACK); with RESULT or FULL the order's state
/// after matching; with FULL its fills.
public struct BinanceNewOrderResponse: Sendable, Hashable, Decodable {
    /// `symbol`.
    public var symbol: String
    /// `orderId`.
    public var orderID: Int64
    /// `orderListId`.
    public var orderListID: Int64
    /// `clientOrderId`.
    public var clientOrderID: String
    /// `transactTime`, ms.
    public var transactTime: Int64
    /// The order (RESULT and FULL; nil for ACK).
    public var order: BinanceOrder?
    /// The fills (FULL; empty otherwise, and for an order that has not traded).
    public var fills: [BinanceFill]

    private enum CodingKeys: String, CodingKey {
        case symbol, orderId, orderListId, clientOrderId, transactTime, status, fills
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        symbol = try c.decode(String.self, forKey: .symbol)
        orderID = try c.decode(Int64.self, forKey: .orderId)
        orderListID = try c.decodeIfPresent(Int64.self, forKey: .orderListId) ?? -1
        clientOrderID = try c.decode(String.self, forKey: .clientOrderId)
        transactTime = try c.decode(Int64.self, forKey: .transactTime)
        order = try c.contains(.status) ? BinanceOrder(from: decoder) : nil
        fills = try c.decodeIfPresent([BinanceFill].self, forKey: .fills) ?? []
    }
}

/// An order list (OCO) as Binance answers a placement or a cancel.
public struct BinanceOrderList: Sendable, Hashable, Decodable {
    /// One order of the list: `{"symbol","orderId","clientOrderId"}`.
    public struct Entry: Sendable, Hashable, Decodable {
        /// `symbol`.
        public var symbol: String
        /// `orderId`.
        public var orderID: Int64
        /// `clientOrderId`.
        public var clientOrderID: String

        private enum CodingKeys: String, CodingKey {
            case symbol, orderId, clientOrderId
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            symbol = try c.decode(String.self, forKey: .symbol)
            orderID = try c.decode(Int64.self, forKey: .orderId)
            clientOrderID = try c.decode(String.self, forKey: .clientOrderId)
        }
    }

    /// `orderListId`.
    public var orderListID: Int64
    /// `contingencyType`: `OCO`, `OTO`.
    public var contingencyType: String
    /// `listStatusType`: `RESPONSE`, `EXEC_STARTED`, `UPDATED`, `ALL_DONE`.
    public var listStatusType: String
    /// `listOrderStatus`: `EXECUTING`, `ALL_DONE`, `REJECT`.
    public var listOrderStatus: String
    /// `listClientOrderId`.
    public var listClientOrderID: String
    /// `transactionTime` (Binance's name in lists), ms.
    public var transactionTime: Int64
    /// `symbol`.
    public var symbol: String
    /// `orders`.
    public var orders: [Entry]
    /// `orderReports` (empty when Binance sends none).
    public var orderReports: [BinanceOrder]

    private enum CodingKeys: String, CodingKey {
        case orderListId, contingencyType, listStatusType, listOrderStatus, listClientOrderId, transactionTime, symbol,
            orders, orderReports
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        orderListID = try c.decode(Int64.self, forKey: .orderListId)
        contingencyType = try c.decode(String.self, forKey: .contingencyType)
        listStatusType = try c.decode(String.self, forKey: .listStatusType)
        listOrderStatus = try c.decode(String.self, forKey: .listOrderStatus)
        listClientOrderID = try c.decode(String.self, forKey: .listClientOrderId)
        transactionTime = try c.decode(Int64.self, forKey: .transactionTime)
        symbol = try c.decode(String.self, forKey: .symbol)
        orders = try c.decode([Entry].self, forKey: .orders)
        orderReports = try c.decodeIfPresent([BinanceOrder].self, forKey: .orderReports) ?? []
    }

    /// The report of the order with client id `clientOrderID`, if the answer has one.
    public func report(clientOrderID: String) -> BinanceOrder? {
        orderReports.first { $0.clientOrderID == clientOrderID }
    }
}

/// One element of `DELETE /api/v3/openOrders`' answer: a cancelled order, or a whole cancelled list.
public enum BinanceCanceledEntry: Sendable, Hashable, Decodable {
    /// A cancelled order (a cancel answer).
    case order(BinanceOrder)
    /// A cancelled order list.
    case orderList(BinanceOrderList)

    private enum CodingKeys: String, CodingKey {
        case contingencyType
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self =
            try c.contains(.contingencyType)
            ? .orderList(BinanceOrderList(from: decoder)) : .order(BinanceOrder(from: decoder))
    }
}

/// One of the account's trades (`GET /api/v3/myTrades`).
public struct BinanceTrade: Sendable, Hashable, Decodable {
    /// `symbol`.
    public var symbol: String
    /// `id`: the trade id.
    public var tradeID: Int64
    /// `orderId`.
    public var orderID: Int64
    /// `orderListId`.
    public var orderListID: Int64
    /// `price`.
    public var price: Decimal
    /// `qty`.
    public var quantity: Decimal
    /// `quoteQty`.
    public var quoteQuantity: Decimal
    /// `commission`.
    public var commission: Decimal
    /// `commissionAsset`.
    public var commissionAsset: String
    /// `time`, ms.
    public var time: Int64
    /// `isBuyer`.
    public var isBuyer: Bool
    /// `isMaker`.
    public var isMaker: Bool
    /// `isBestMatch`.
    public var isBestMatch: Bool?

    private enum CodingKeys: String, CodingKey {
        case symbol, id, orderId, orderListId, price, qty, quoteQty, commission, commissionAsset, time, isBuyer,
            isMaker, isBestMatch
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        symbol = try c.decode(String.self, forKey: .symbol)
        tradeID = try c.decode(Int64.self, forKey: .id)
        orderID = try c.decode(Int64.self, forKey: .orderId)
        orderListID = try c.decodeIfPresent(Int64.self, forKey: .orderListId) ?? -1
        price = try c.decimal(.price)
        quantity = try c.decimal(.qty)
        quoteQuantity = try c.decimal(.quoteQty)
        commission = try c.decimal(.commission)
        commissionAsset = try c.decode(String.self, forKey: .commissionAsset)
        time = try c.decode(Int64.self, forKey: .time)
        isBuyer = try c.decode(Bool.self, forKey: .isBuyer)
        isMaker = try c.decode(Bool.self, forKey: .isMaker)
        isBestMatch = try c.decodeIfPresent(Bool.self, forKey: .isBestMatch)
    }
}

/// One asset's balance.
public struct BinanceBalance: Sendable, Hashable, Decodable {
    /// `asset`.
    public var asset: String
    /// `free`: available.
    public var free: Decimal
    /// `locked`: held by open orders.
    public var locked: Decimal

    /// A balance.
    public init(asset: String, free: Decimal, locked: Decimal) {
        self.asset = asset
        self.free = free
        self.locked = locked
    }

    private enum CodingKeys: String, CodingKey {
        case asset, free, locked
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        asset = try c.decode(String.self, forKey: .asset)
        free = try c.decimal(.free)
        locked = try c.decimal(.locked)
    }
}

/// The account (`GET /api/v3/account`).
public struct BinanceAccount: Sendable, Hashable, Decodable {
    /// `commissionRates`: fractions (0.001 = 0.1 %).
    public struct CommissionRates: Sendable, Hashable, Decodable {
        /// `maker`.
        public var maker: Decimal
        /// `taker`.
        public var taker: Decimal
        /// `buyer`.
        public var buyer: Decimal
        /// `seller`.
        public var seller: Decimal

        private enum CodingKeys: String, CodingKey {
            case maker, taker, buyer, seller
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            maker = try c.decimal(.maker)
            taker = try c.decimal(.taker)
            buyer = try c.decimal(.buyer)
            seller = try c.decimal(.seller)
        }
    }

    /// `commissionRates`.
    public var commissionRates: CommissionRates?
    /// `canTrade`.
    public var canTrade: Bool
    /// `canWithdraw`.
    public var canWithdraw: Bool
    /// `canDeposit`.
    public var canDeposit: Bool
    /// `updateTime`, ms.
    public var updateTime: Int64
    /// `accountType`, e.g. `SPOT`.
    public var accountType: String
    /// `balances`.
    public var balances: [BinanceBalance]
    /// `permissions`.
    public var permissions: [String]
    /// `uid`.
    public var uid: Int64?

    private enum CodingKeys: String, CodingKey {
        case commissionRates, canTrade, canWithdraw, canDeposit, updateTime, accountType, balances, permissions, uid
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        commissionRates = try c.decodeIfPresent(CommissionRates.self, forKey: .commissionRates)
        canTrade = try c.decode(Bool.self, forKey: .canTrade)
        canWithdraw = try c.decode(Bool.self, forKey: .canWithdraw)
        canDeposit = try c.decode(Bool.self, forKey: .canDeposit)
        updateTime = try c.decode(Int64.self, forKey: .updateTime)
        accountType = try c.decode(String.self, forKey: .accountType)
        balances = try c.decode([BinanceBalance].self, forKey: .balances)
        permissions = try c.decodeIfPresent([String].self, forKey: .permissions) ?? []
        uid = try c.decodeIfPresent(Int64.self, forKey: .uid)
    }

    /// The balance of `asset` (zero free and locked when the account lists none).
    public func balance(_ asset: String) -> BinanceBalance {
        balances.first { $0.asset == asset } ?? BinanceBalance(asset: asset, free: 0, locked: 0)
    }
}

// MARK: - Calls

extension BinanceTradingClient {
    /// `POST /api/v3/order`: places an order.
    ///
    /// Retries and unknown outcomes as ``BinanceTradingClient`` says: a 429/418 (nothing booked)
    /// is waited out and the order sent once more with the same client order id; a 5xx, -1006,
    /// -1007, a timeout or a dropped connection throws
    /// ``BinanceTradingError/unknownOutcome(path:clientOrderID:reason:)`` and nothing is sent
    /// again: the order may be booked. Find out with ``queryOrder(symbol:_:)`` by
    /// ``BinanceNewOrder/clientOrderID`` (Binance refuses a second open order with the same id, so
    /// a resend after "not found" cannot double it while the first is open).
    public func newOrder(_ order: BinanceNewOrder) async throws -> BinanceNewOrderResponse {
        let data = try await signed("POST", "/api/v3/order", try order.parameters(), clientOrderID: order.clientOrderID)
        return try decode(BinanceNewOrderResponse.self, data, path: "/api/v3/order")
    }

    /// `POST /api/v3/order/test`: the order validated by Binance, not booked.
    public func testOrder(_ order: BinanceNewOrder) async throws {
        _ = try await signed("POST", "/api/v3/order/test", try order.parameters())
    }

    /// `DELETE /api/v3/order`: cancels an order. An unknown order is -2011 `Unknown order sent.`
    /// (``BinanceAPIError/isUnknownOrder``); an unknown outcome is thrown as for a placement.
    ///
    /// - Parameter cancelClientOrderID: the cancel's own id (`newClientOrderId`), which the answer
    ///   and the user data stream carry as `clientOrderId` / `c`.
    public func cancelOrder(
        symbol: String,
        _ order: BinanceOrderReference,
        cancelClientOrderID: String? = nil
    ) async throws -> BinanceOrder {
        var parameters = [("symbol", symbol), order.parameter]
        if let cancelClientOrderID { parameters.append(("newClientOrderId", cancelClientOrderID)) }
        let clientID: String? = if case .clientOrderID(let id) = order { id } else { nil }
        let data = try await signed("DELETE", "/api/v3/order", parameters, clientOrderID: clientID)
        return try decode(BinanceOrder.self, data, path: "/api/v3/order")
    }

    /// `GET /api/v3/order`: the order, or nil when Binance answers -2013 `Order does not exist.`
    /// (never booked, or archived long ago). Every other refusal is thrown.
    ///
    /// After an unknown outcome, an order in flight may not be visible at once: ask after the
    /// user data stream's ``BinanceUserDataStream/barrier()`` or a short wait before deciding it
    /// was never booked.
    public func queryOrder(symbol: String, _ order: BinanceOrderReference) async throws -> BinanceOrder? {
        do {
            let data = try await signed("GET", "/api/v3/order", [("symbol", symbol), order.parameter])
            return try decode(BinanceOrder.self, data, path: "/api/v3/order")
        } catch let error as BinanceAPIError where error.code == -2013 {
            return nil
        }
    }

    /// `GET /api/v3/openOrders`: open orders of `symbol`, or of every symbol (weight 80 instead of 6).
    public func openOrders(symbol: String? = nil) async throws -> [BinanceOrder] {
        let data = try await signed("GET", "/api/v3/openOrders", symbol.map { [("symbol", $0)] } ?? [])
        return try decode([BinanceOrder].self, data, path: "/api/v3/openOrders")
    }

    /// `DELETE /api/v3/openOrders`: cancels every open order of `symbol`, order lists included.
    public func cancelOpenOrders(symbol: String) async throws -> [BinanceCanceledEntry] {
        let data = try await signed("DELETE", "/api/v3/openOrders", [("symbol", symbol)])
        return try decode([BinanceCanceledEntry].self, data, path: "/api/v3/openOrders")
    }

    /// `GET /api/v3/allOrders`: the account's orders of `symbol`, from `fromOrderID` on, or within
    /// `startTime`…`endTime` (at most 24 h), at most `limit` (1…1000, Binance's default 500).
    public func allOrders(
        symbol: String,
        fromOrderID: Int64? = nil,
        startTime: Int64? = nil,
        endTime: Int64? = nil,
        limit: Int? = nil
    ) async throws -> [BinanceOrder] {
        var parameters = [("symbol", symbol)]
        if let fromOrderID { parameters.append(("orderId", String(fromOrderID))) }
        if let startTime { parameters.append(("startTime", String(startTime))) }
        if let endTime { parameters.append(("endTime", String(endTime))) }
        try append(limit: limit, to: &parameters)
        let data = try await signed("GET", "/api/v3/allOrders", parameters)
        return try decode([BinanceOrder].self, data, path: "/api/v3/allOrders")
    }

    /// `GET /api/v3/myTrades`: the account's trades of `symbol`. Binance accepts these
    /// combinations only (others are refused here, unsent): none; `orderID`; `startTime`;
    /// `endTime`; `fromID`; `startTime` + `endTime`; `orderID` + `fromID`. Weight 5 with
    /// `orderID`, else 20.
    public func myTrades(
        symbol: String,
        orderID: Int64? = nil,
        startTime: Int64? = nil,
        endTime: Int64? = nil,
        fromID: Int64? = nil,
        limit: Int? = nil
    ) async throws -> [BinanceTrade] {
        let given = [orderID != nil, startTime != nil, endTime != nil, fromID != nil]
        let allowed: Set<[Bool]> = [
            [false, false, false, false], [true, false, false, false], [false, true, false, false],
            [false, false, true, false],
            [false, false, false, true], [false, true, true, false], [true, false, false, true],
        ]
        guard allowed.contains(given) else {
            throw BinanceTradingError.invalidRequest(
                "myTrades: Binance does not accept this combination of orderId, startTime, endTime and fromId"
            )
        }
        var parameters = [("symbol", symbol)]
        if let orderID { parameters.append(("orderId", String(orderID))) }
        if let startTime { parameters.append(("startTime", String(startTime))) }
        if let endTime { parameters.append(("endTime", String(endTime))) }
        if let fromID { parameters.append(("fromId", String(fromID))) }
        try append(limit: limit, to: &parameters)
        let data = try await signed("GET", "/api/v3/myTrades", parameters)
        return try decode([BinanceTrade].self, data, path: "/api/v3/myTrades")
    }

    /// `POST /api/v3/orderList/oco`: places an OCO. Retries and unknown outcomes as for
    /// ``newOrder(_:)``; after an unknown outcome, look the legs up by their client order ids.
    public func newOCO(_ oco: BinanceNewOCO) async throws -> BinanceOrderList {
        let data = try await signed(
            "POST",
            "/api/v3/orderList/oco",
            try oco.parameters(),
            clientOrderID: oco.listClientOrderID
        )
        return try decode(BinanceOrderList.self, data, path: "/api/v3/orderList/oco")
    }

    /// `DELETE /api/v3/orderList`: cancels a whole order list.
    public func cancelOrderList(
        symbol: String,
        _ list: BinanceOrderListReference,
        cancelClientOrderID: String? = nil
    ) async throws -> BinanceOrderList {
        var parameters = [("symbol", symbol), list.parameter]
        if let cancelClientOrderID { parameters.append(("newClientOrderId", cancelClientOrderID)) }
        let clientID: String? = if case .listClientOrderID(let id) = list { id } else { nil }
        let data = try await signed("DELETE", "/api/v3/orderList", parameters, clientOrderID: clientID)
        return try decode(BinanceOrderList.self, data, path: "/api/v3/orderList")
    }

    /// `GET /api/v3/account`: balances, commission rates and permissions (weight 20).
    public func accountInformation(omitZeroBalances: Bool = false) async throws -> BinanceAccount {
        let data = try await signed("GET", "/api/v3/account", omitZeroBalances ? [("omitZeroBalances", "true")] : [])
        return try decode(BinanceAccount.self, data, path: "/api/v3/account")
    }

    private func append(limit: Int?, to parameters: inout [(String, String)]) throws(BinanceTradingError) {
        guard let limit else { return }
        guard (1...1_000).contains(limit) else { throw .invalidRequest("limit \(limit) is not within 1...1000") }
        parameters.append(("limit", String(limit)))
    }

    private func decode<T: Decodable>(_ type: T.Type, _ data: Data, path: String) throws(BinanceTradingError) -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw .malformedResponse(path: path, reason: decodingReason(error))
        }
    }
}

/// A short account of why an answer did not decode: the key path and what was wrong.
func decodingReason(_ error: any Error) -> String {
    guard let error = error as? DecodingError else { return "\(error)" }
    func path(_ context: DecodingError.Context) -> String {
        context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case .keyNotFound(let key, let context): return "missing '\(key.stringValue)' at '\(path(context))'"
    case .valueNotFound(_, let context): return "null at '\(path(context))'"
    case .typeMismatch(_, let context): return "wrong type at '\(path(context))'"
    case .dataCorrupted(let context): return "\(context.debugDescription) at '\(path(context))'"
    @unknown default: return "\(error)"
    }
}
