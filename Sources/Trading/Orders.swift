/// Binance spot order types.
public enum OrderType: String, Codable, Sendable {
    /// Fills at once against the book.
    case market = "MARKET"
    /// Rests at its price (GTC) or fills what it can (IOC/FOK).
    case limit = "LIMIT"
    /// A limit order that must rest (rejected if it would take).
    case limitMaker = "LIMIT_MAKER"
    /// Becomes a market order when the last trade reaches the stop price.
    case stopLoss = "STOP_LOSS"
    /// Becomes a limit order at `price` when the last trade reaches the stop price.
    case stopLossLimit = "STOP_LOSS_LIMIT"
    /// Becomes a market order when the last trade reaches the stop price (from the profitable side).
    case takeProfit = "TAKE_PROFIT"
    /// Becomes a limit order when the last trade reaches the stop price (from the profitable side).
    case takeProfitLimit = "TAKE_PROFIT_LIMIT"
}

/// How long an order lives.
public enum TimeInForce: String, Codable, Sendable {
    /// Good till cancelled.
    case gtc = "GTC"
    /// Immediate or cancel.
    case ioc = "IOC"
    /// Fill or kill.
    case fok = "FOK"
}

/// What an order is for; its character in the client order id.
public enum OrderLeg: String, Codable, Sendable, CaseIterable {
    /// Opens a position.
    case entry = "E"
    /// A market exit (timeout, trigger seen by the engine, kill switch, user).
    case exit = "X"
    /// An OCO list.
    case list = "L"
    /// The take-profit leg of a list.
    case target = "T"
    /// The stop-loss leg of a list.
    case stop = "S"
}

/// One order as the engine asks for it. Prices and quantities are on the symbol's grid.
public struct OrderRequest: Codable, Equatable, Sendable {
    /// Deterministic client order id (``ClientOrderID``).
    public var clientOrderID: String
    /// The symbol.
    public var symbol: String
    /// Buy or sell.
    public var side: Side
    /// Order type.
    public var type: OrderType
    /// Base quantity.
    public var quantity: Double
    /// Limit price (limit types).
    public var price: Double?
    /// Trigger price (stop and take-profit types).
    public var stopPrice: Double?
    /// Time in force (limit types).
    public var timeInForce: TimeInForce?
    /// The price the decision saw (the close for entries, the trigger for exits): slippage is measured from it.
    public var referencePrice: Double
    /// Event time of the decision (ms).
    public var decisionTime: Int64
    /// What the order is for.
    public var leg: OrderLeg

    /// Creates a request.
    public init(
        clientOrderID: String,
        symbol: String,
        side: Side,
        type: OrderType,
        quantity: Double,
        price: Double? = nil,
        stopPrice: Double? = nil,
        timeInForce: TimeInForce? = nil,
        referencePrice: Double,
        decisionTime: Int64,
        leg: OrderLeg
    ) {
        self.clientOrderID = clientOrderID
        self.symbol = symbol
        self.side = side
        self.type = type
        self.quantity = quantity
        self.price = price
        self.stopPrice = stopPrice
        self.timeInForce = timeInForce
        self.referencePrice = referencePrice
        self.decisionTime = decisionTime
        self.leg = leg
    }
}

/// A one-cancels-the-other sell list protecting a position: a take-profit LIMIT_MAKER above and a
/// STOP_LOSS below, for the same quantity. When one leg fills the venue expires the other.
public struct OCORequest: Codable, Equatable, Sendable {
    /// The list's client id.
    public var listClientOrderID: String
    /// The symbol.
    public var symbol: String
    /// The take-profit leg (LIMIT_MAKER, sell).
    public var target: OrderRequest
    /// The stop leg (STOP_LOSS, sell).
    public var stop: OrderRequest

    /// Creates a list.
    public init(listClientOrderID: String, symbol: String, target: OrderRequest, stop: OrderRequest) {
        self.listClientOrderID = listClientOrderID
        self.symbol = symbol
        self.target = target
        self.stop = stop
    }
}

/// Where an order is in its life (LIVE-DESIGN §2).
public enum OrderStatus: String, Codable, Sendable {
    /// Decided and stored, not yet sent.
    case intended = "INTENDED"
    /// Being sent (stored just before the write).
    case sending = "SENDING"
    /// Accepted by the venue, nothing filled.
    case accepted = "NEW"
    /// Partly filled, still working.
    case partiallyFilled = "PARTIALLY_FILLED"
    /// Completely filled.
    case filled = "FILLED"
    /// Cancelled (by us, or by the venue for the other leg of a list: then `expired`).
    case cancelled = "CANCELED"
    /// Refused by the venue, with a reason.
    case rejected = "REJECTED"
    /// Expired (IOC remainder, the other leg of a filled OCO).
    case expired = "EXPIRED"
    /// Sent with no answer: to be looked up, never re-sent blindly.
    case unknown = "UNKNOWN"

    /// Whether no further fill can come.
    public var isFinal: Bool { [.filled, .cancelled, .rejected, .expired].contains(self) }
}

/// Which asset a commission was charged in (Binance spot: a buy pays in the base asset, a sell in the quote).
public enum CommissionAsset: String, Codable, Sendable {
    /// The asset bought (e.g. FIL of FILUSDT).
    case base
    /// The asset sold for (USDT).
    case quote
}

/// One execution of an order.
public struct OrderFill: Codable, Equatable, Sendable {
    /// The venue's trade id (unique per symbol).
    public var tradeID: Int64
    /// Price.
    public var price: Double
    /// Base quantity.
    public var quantity: Double
    /// Commission charged.
    public var commission: Double
    /// The asset it was charged in.
    public var commissionAsset: CommissionAsset
    /// Event time (ms).
    public var time: Int64

    /// Creates a fill.
    public init(tradeID: Int64, price: Double, quantity: Double, commission: Double, commissionAsset: CommissionAsset, time: Int64) {
        self.tradeID = tradeID
        self.price = price
        self.quantity = quantity
        self.commission = commission
        self.commissionAsset = commissionAsset
        self.time = time
    }
}

/// What a venue says about an order: a new status, with the execution that caused it if any.
public struct OrderUpdate: Codable, Equatable, Sendable {
    /// The order's client id.
    public var clientOrderID: String
    /// The symbol.
    public var symbol: String
    /// Its status after this update.
    public var status: OrderStatus
    /// The execution this update reports (partial or final fill).
    public var fill: OrderFill?
    /// Why (rejections, expiries).
    public var reason: String?
    /// Event time (ms): the venue's transaction time.
    public var time: Int64

    /// Creates an update.
    public init(clientOrderID: String, symbol: String, status: OrderStatus, fill: OrderFill? = nil, reason: String? = nil, time: Int64) {
        self.clientOrderID = clientOrderID
        self.symbol = symbol
        self.status = status
        self.fill = fill
        self.reason = reason
        self.time = time
    }
}

/// Deterministic client order ids (LIVE-DESIGN §2): `cs` + 5 base-36 characters of a hash of the
/// session name + the leg character + an attempt digit + the decision minute in base 36 + `-` +
/// the symbol. Re-deciding the same bar after a crash gives the same id; the prefix tells this
/// session's orders from the user's own and from other sessions'. Always matches Binance's
/// `^[.A-Z:/a-z0-9_-]{1,36}$`.
public enum ClientOrderID {
    /// The prefix every order of `session` starts with (`cs` + 5 characters).
    public static func prefix(session: String) -> String {
        // FNV-1a 64: stable across runs and machines (Swift's Hasher is seeded per process).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in session.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let digits = String(hash % 60_466_176, radix: 36)  // 36^5
        return "cs" + String(repeating: "0", count: 5 - digits.count) + digits
    }

    /// The id of one order.
    public static func make(session: String, leg: OrderLeg, attempt: Int, decisionTime: Int64, symbol: String) -> String {
        let minute = String(max(decisionTime, 0) / 60_000, radix: 36)
        let id = prefix(session: session) + leg.rawValue + String(attempt % 10) + minute + "-" + symbol
        return String(id.prefix(36))
    }

    /// Whether `id` belongs to `session`.
    public static func belongs(_ id: String, to session: String) -> Bool { id.hasPrefix(prefix(session: session)) }

    /// Whether `id` matches Binance's `^[.A-Z:/a-z0-9_-]{1,36}$`.
    public static func isValid(_ id: String) -> Bool {
        guard (1...36).contains(id.utf8.count) else { return false }
        return id.utf8.allSatisfy { c in
            (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 46 || c == 58 || c == 47 || c == 95 || c == 45
        }
    }
}
