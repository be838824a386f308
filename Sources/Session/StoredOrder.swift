public import Trading

/// An order as the store holds it: the engine's request, its place in the lifecycle and what the
/// venue said last.
public struct StoredOrder: Equatable, Sendable {
    /// The request exactly as the engine made it (decoded from `orders.request`), ready to be sent.
    public var request: OrderRequest
    /// The OCO list the order is a leg of, if any.
    public var listClientOrderID: String?
    /// Where the order is (LIVE-DESIGN §2).
    public var status: OrderStatus
    /// The quantity as exact decimal text on the symbol's step (what the venue is sent).
    public var quantityText: String
    /// The limit price as exact decimal text on the tick.
    public var priceText: String?
    /// The trigger price as exact decimal text on the tick.
    public var stopPriceText: String?
    /// The venue's order id, once known.
    public var venueOrderID: Int64?
    /// The venue's time of the last update (ms).
    public var venueTime: Int64?
    /// Why, from the last update that said (rejections, expiries, lookups).
    public var lastReason: String?
    /// The engine-state sequence number of the commit that created it.
    public var sequence: Int64
    /// Wall-clock time it was stored (ms).
    public var createdAt: Int64
    /// Wall-clock time of its last change (ms).
    public var updatedAt: Int64

    /// The client order id.
    public var clientOrderID: String { request.clientOrderID }
}

/// One execution as the store holds it.
public struct StoredFill: Equatable, Sendable {
    /// The symbol (with the trade id, the fill's identity at the venue).
    public var symbol: String
    /// The order it executed (possibly one the store does not know: the engine adopts or reports it).
    public var clientOrderID: String
    /// The fill, read back from its exact text.
    public var fill: OrderFill
    /// Wall-clock time it was stored (ms).
    public var recordedAt: Int64

    /// Creates one.
    public init(symbol: String, clientOrderID: String, fill: OrderFill, recordedAt: Int64) {
        self.symbol = symbol
        self.clientOrderID = clientOrderID
        self.fill = fill
        self.recordedAt = recordedAt
    }
}

/// A cancel the engine asked for that has not been answered: the target is not final yet.
/// Re-sending a cancel is harmless (the venue answers "unknown order" for one already gone).
public struct PendingCancel: Equatable, Sendable {
    /// What to cancel.
    public enum Target: Equatable, Sendable {
        /// One order by client id.
        case order(clientOrderID: String)
        /// An OCO list by its list client id.
        case list(listClientOrderID: String)
    }

    /// What to cancel.
    public var target: Target
    /// The symbol.
    public var symbol: String
    /// The engine-state sequence number of the commit that asked for it.
    public var sequence: Int64
    /// Wall-clock time it was asked for (ms).
    public var requestedAt: Int64

    /// Creates one.
    public init(target: Target, symbol: String, sequence: Int64, requestedAt: Int64) {
        self.target = target
        self.symbol = symbol
        self.sequence = sequence
        self.requestedAt = requestedAt
    }
}

/// One ``TradingRecord`` as stored, with the commit that produced it.
public struct StoredRecord: Equatable, Sendable {
    /// The engine-state sequence number of the event that produced it.
    public var sequence: Int64
    /// The record.
    public var record: TradingRecord

    /// Creates one.
    public init(sequence: Int64, record: TradingRecord) {
        self.sequence = sequence
        self.record = record
    }
}

/// What storing a venue's update did.
public struct UpdateOutcome: Equatable, Sendable {
    /// Whether the store knows the order. An update for an order it does not know still has its
    /// fill stored (a fill is never ignored); its status has no row to go into.
    public var isKnownOrder: Bool
    /// The stored status before the update (nil for an unknown order).
    public var previousStatus: OrderStatus?
    /// The stored status after it (nil for an unknown order).
    public var status: OrderStatus?
    /// The update's fill was already stored (same symbol and venue trade id): stored once only.
    public var isDuplicateFill: Bool
    /// The update would have moved the order back (a late NEW after FILLED, any change of a final
    /// status): the stored status is kept.
    public var isStaleStatus: Bool

    /// Creates one.
    public init(
        isKnownOrder: Bool,
        previousStatus: OrderStatus?,
        status: OrderStatus?,
        isDuplicateFill: Bool,
        isStaleStatus: Bool
    ) {
        self.isKnownOrder = isKnownOrder
        self.previousStatus = previousStatus
        self.status = status
        self.isDuplicateFill = isDuplicateFill
        self.isStaleStatus = isStaleStatus
    }
}

/// What a commit stored.
public struct CommitResult: Equatable, Sendable {
    /// The engine-state sequence number of this event (1 for the first commit).
    public var sequence: Int64
    /// For an ``SessionEvent/orderUpdated(_:)`` event, what storing the update did.
    public var update: UpdateOutcome?

    /// Creates one.
    public init(sequence: Int64, update: UpdateOutcome?) {
        self.sequence = sequence
        self.update = update
    }
}
