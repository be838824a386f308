public import Trading

/// The id of a `controls` row.
public struct ControlRequestID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    /// The row id.
    public var rawValue: Int64

    /// Creates one.
    public init(rawValue: Int64) { self.rawValue = rawValue }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public var description: String { String(rawValue) }
}

/// A user's control of a running session, as `scalper paper ctl` writes it into the store.
public struct ControlRequest: Equatable, Sendable {
    /// The row.
    public var id: ControlRequestID
    /// What was asked.
    public var control: UserControl
    /// Wall-clock time of the request (ms).
    public var requestedAt: Int64
    /// Wall-clock time it was applied (ms), nil while pending.
    public var appliedAt: Int64?
    /// The engine-state sequence number of the commit that applied it (nil when applied outside a
    /// commit with ``SessionStore/markApplied(_:)``, or still pending).
    public var appliedSequence: Int64?

    /// Creates one.
    public init(
        id: ControlRequestID,
        control: UserControl,
        requestedAt: Int64,
        appliedAt: Int64? = nil,
        appliedSequence: Int64? = nil
    ) {
        self.id = id
        self.control = control
        self.requestedAt = requestedAt
        self.appliedAt = appliedAt
        self.appliedSequence = appliedSequence
    }

    /// Whether the session has not applied it yet.
    public var isPending: Bool { appliedAt == nil }
}
