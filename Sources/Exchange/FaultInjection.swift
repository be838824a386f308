/// Faults the local exchange injects into its order API, for tests of a client's resilience:
/// every Nth order request meets the fault (0: never), or one-shot faults queued by a test
/// (``ExchangeVenue/inject(_:)``). Counted over order placements (`POST /api/v3/order`,
/// `POST /api/v3/orderList/oco`, `POST /api/v3/order/oco`).
public struct FaultInjection: Sendable {
    /// Added to every answer of the signed account and order API, real milliseconds.
    public var latencyMs = 0
    /// Every Nth placement is booked, then answered as Binance answers when the matching engine's
    /// reply is lost: HTTP 504, -1007 "Timeout waiting for response from backend server. Send
    /// status unknown; execution status unknown."
    public var dropResponseEvery = 0
    /// Every Nth placement is refused before booking with HTTP 503 (a 5XX: unknown to the client).
    public var serverErrorEvery = 0
    /// Every Nth placement is refused before booking with 429 / -1015 and `Retry-After: 1`.
    public var tooManyRequestsEvery = 0
    /// Every Nth placement is rejected before booking with -2010 "Market is closed.".
    public var rejectEvery = 0

    /// No faults.
    public init() {}

    /// Whether any fault is configured.
    public var isActive: Bool {
        latencyMs > 0 || dropResponseEvery > 0 || serverErrorEvery > 0 || tooManyRequestsEvery > 0 || rejectEvery > 0
    }
}

/// One fault for the next order placement.
public enum OrderFault: Sendable, Equatable {
    /// Booked, then answered 504 / -1007 (the answer is lost).
    case dropResponseAfterBooking
    /// 503 before booking.
    case serverError
    /// 429 / -1015, `Retry-After` seconds.
    case tooManyRequests(retryAfter: Int)
    /// -2010 with this message, before booking.
    case reject(String)
}

/// Placements counted and one-shot faults queued.
struct FaultState: Sendable {
    var placements = 0
    var queued: [OrderFault] = []

    /// The fault the next placement meets, if any.
    mutating func next(_ plan: FaultInjection) -> OrderFault? {
        placements += 1
        if !queued.isEmpty { return queued.removeFirst() }
        func due(_ every: Int) -> Bool { every > 0 && placements % every == 0 }
        if due(plan.dropResponseEvery) { return .dropResponseAfterBooking }
        if due(plan.serverErrorEvery) { return .serverError }
        if due(plan.tooManyRequestsEvery) { return .tooManyRequests(retryAfter: 1) }
        if due(plan.rejectEvery) { return .reject("Market is closed.") }
        return nil
    }
}
