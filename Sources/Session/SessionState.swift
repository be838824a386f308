public import Trading

/// A state the store can keep in `engine_state`: the engine itself (sessions whose venue is outside),
/// or a ``BarReplay`` (parity mode, whose simulated venue lives inside the state).
public protocol SessionState: Codable, Sendable {
    /// The name stored in `engine_state.kind`; a store refuses to restore one kind as another.
    static var stateKind: String { get }
    /// The trading engine inside: its symbol filters give the exact text of the orders stored.
    var tradingEngine: TradingEngine { get }
}

extension TradingEngine: SessionState {
    /// `trading-engine`.
    public static var stateKind: String { "trading-engine" }
    /// The engine itself.
    public var tradingEngine: TradingEngine { self }
}

extension BarReplay: SessionState {
    /// `bar-replay`.
    public static var stateKind: String { "bar-replay" }
    /// The replay's engine.
    public var tradingEngine: TradingEngine { engine }
}
