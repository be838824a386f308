public import Trading

/// What a restarted session finds in its store (LIVE-DESIGN §3), read in one transaction.
public struct SessionRecovery<State: SessionState>: Sendable {
    /// Who the session is (nil before ``SessionStore/start(name:model:profile:configurationJSON:)``).
    public var meta: SessionMeta?
    /// The state of the last commit (nil before the first).
    public var state: State?
    /// The sequence number of the last commit (0 before the first).
    public var sequence: Int64
    /// The last event applied (nil before the first commit).
    public var lastEvent: SessionEvent?
    /// Every order not final yet, by status, oldest first within a status.
    public var ordersByStatus: [OrderStatus: [StoredOrder]]
    /// Cancels asked for whose targets are not final yet: send them (again).
    public var pendingCancels: [PendingCancel]
    /// Controls requested and not yet applied, oldest first.
    public var pendingControls: [ControlRequest]

    /// `intended`: stored, never sent. Send them if still fresh (``SessionStore/markSending(clientOrderID:)``
    /// first), else drop them with an update the engine sees.
    public var neverSent: [StoredOrder] { ordersByStatus[.intended] ?? [] }

    /// `sending` and `unknown`: perhaps at the venue. Look them up by client order id (and in the
    /// account's trades); never send them again blindly (a re-sent market order can buy twice).
    public var toLookUp: [StoredOrder] { (ordersByStatus[.sending] ?? []) + (ordersByStatus[.unknown] ?? []) }

    /// `accepted` and `partiallyFilled`: working at the venue as far as the store knows.
    public var working: [StoredOrder] { (ordersByStatus[.accepted] ?? []) + (ordersByStatus[.partiallyFilled] ?? []) }
}
