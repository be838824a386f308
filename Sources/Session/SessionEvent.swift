public import Trading

/// One event a session feeds its engine; the store keeps the last one applied with the state it
/// produced (`engine_state.last_event`), so a restart knows where the session stopped.
public enum SessionEvent: Codable, Equatable, Sendable {
    /// The session started (or restarted) at this wall-clock time (ms), before any market event.
    case started(time: Int64)
    /// A minute decided (``TradingEngine/minuteClosed(_:)``, ``BarReplay/step(_:)``).
    case minuteClosed(MinuteClose)
    /// A trade print (``TradingEngine/trade(symbol:price:time:)``).
    case trade(symbol: String, price: Double, time: Int64)
    /// A venue's answer about an order (``TradingEngine/orderUpdated(_:)``). Committed with
    /// ``SessionStore/commit(event:newState:commands:)``, the update's status and fill are stored
    /// in the same transaction as the state it produced.
    case orderUpdated(OrderUpdate)
    /// The shell's clock (``TradingEngine/timer(time:)``).
    case timer(time: Int64)
    /// A user's control; `request` names the `controls` row it came from, which the commit marks
    /// applied in the same transaction (nil for a control the shell makes itself).
    case control(UserControl, time: Int64, request: ControlRequestID?)
    /// The end of a replay (``BarReplay/finish(time:)``).
    case finished(time: Int64)

    /// The event's time (ms): event time for market and venue events, the closing minute's close.
    public var time: Int64 {
        switch self {
        case .started(let time), .trade(_, _, let time), .timer(let time), .control(_, let time, _),
            .finished(let time):
            time
        case .minuteClosed(let minute): minute.closeTime
        case .orderUpdated(let update): update.time
        }
    }

    /// A short name for the `engine_state.last_event_kind` column.
    public var kind: String {
        switch self {
        case .started: "started"
        case .minuteClosed: "minute-closed"
        case .trade: "trade"
        case .orderUpdated: "order-updated"
        case .timer: "timer"
        case .control: "control"
        case .finished: "finished"
        }
    }
}
