/// One fill as a session shows it: the venue's execution with the order it filled, its side and
/// the price its decision saw (so slippage can be read off), and how long after the decision it
/// came in event time.
public struct ExecutedFill: Codable, Equatable, Sendable {
    /// Event time of the fill (ms).
    public var time: Int64
    /// The symbol.
    public var symbol: String
    /// The order's client id.
    public var clientOrderID: String
    /// Buy or sell (nil: the order was placed before a restart and is not known here).
    public var side: Side?
    /// What the order was for.
    public var leg: OrderLeg?
    /// Fill price.
    public var price: Double
    /// Base quantity.
    public var quantity: Double
    /// Commission charged, in `commissionAsset`.
    public var commission: Double
    /// The asset the commission was charged in.
    public var commissionAsset: CommissionAsset
    /// The price the decision saw (the close for entries, the trigger for exits).
    public var referencePrice: Double?
    /// Event time of the decision (ms).
    public var decisionTime: Int64?

    /// Creates a fill.
    public init(update u: OrderUpdate, fill: OrderFill, request: OrderRequest?) {
        time = fill.time
        symbol = u.symbol
        clientOrderID = u.clientOrderID
        side = request?.side
        leg = request?.leg
        price = fill.price
        quantity = fill.quantity
        commission = fill.commission
        commissionAsset = fill.commissionAsset
        referencePrice = request?.referencePrice
        decisionTime = request?.decisionTime
    }

    /// Slippage against the decision's price in basis points, positive when it cost (a buy above
    /// it, a sell below it); nil when the order is not known.
    public var slippageBps: Double? {
        guard let referencePrice, referencePrice > 0, let side else { return nil }
        let move = (price / referencePrice - 1) * 10_000
        return side == .buy ? move : -move
    }

    /// Event time from the decision to this fill, ms (nil: not known).
    public var delayMs: Int64? { decisionTime.map { time - $0 } }
}

/// The fills of a running core since they were last taken, for a session to show: not part of
/// any saved state (a core restored after a restart starts with none, and does not know the
/// orders placed before it).
public struct FillLog: Sendable {
    private var requests: [String: OrderRequest] = [:]
    private var fills: [ExecutedFill] = []
    private var outcomes: [String: Int] = [:]

    /// An empty log.
    public init() {}

    /// Notes what a command asks for, so its fills can name their side and reference price.
    public mutating func sent(_ command: TradingCommand) {
        switch command {
        case .submit(let order): requests[order.clientOrderID] = order
        case .submitList(let list):
            requests[list.target.clientOrderID] = list.target
            requests[list.stop.clientOrderID] = list.stop
        default: break
        }
    }

    /// Notes a venue's update: a fill is kept; a final status forgets the order.
    public mutating func updated(_ u: OrderUpdate) {
        if let fill = u.fill { fills.append(ExecutedFill(update: u, fill: fill, request: requests[u.clientOrderID])) }
        if u.status.isFinal {
            requests[u.clientOrderID] = nil
            outcomes[u.status.rawValue, default: 0] += 1
        }
    }

    /// The fills since the last call.
    public mutating func take() -> [ExecutedFill] {
        defer { fills.removeAll() }
        return fills
    }

    /// Orders that ended since the last call, by final status (FILLED, CANCELED, REJECTED, EXPIRED).
    public mutating func takeOutcomes() -> [String: Int] {
        defer { outcomes.removeAll() }
        return outcomes
    }
}
