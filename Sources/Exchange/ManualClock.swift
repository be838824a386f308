/// Sim time that moves only when advanced: the clock tests drive the exchange with.
///
/// Each ``advance(to:)`` wakes every task waiting in ``tick(after:)`` for a time it passes, with
/// the time advanced to, so the exchange's connections send exactly the frames due up to it, as
/// slowly as the machine likes. Pair it with ``ExchangeServer/waitUntilSent(through:)`` to know
/// when they have. ``LockStepClock`` is the same mechanism driven by the exchange's clients.
public final class ManualClock: SimClock {
    private let gate: SimTimeGate<Int64>

    /// A clock stopped at `start` (sim ms).
    public init(start: Int64) {
        gate = SimTimeGate(start) { now, time in now >= time ? now : nil }
    }

    /// Sim time now, ms.
    public var now: Int64 { gate.read { $0 } }

    /// Tasks waiting for the clock to move.
    public var waitingCount: Int { gate.waitingCount }

    /// Moves the clock to `time`, waking the tasks waiting for a time it passes. The clock never
    /// goes back: a time at or before ``now`` changes nothing.
    public func advance(to time: Int64) {
        gate.update { now in now = max(now, time) }
    }

    /// Moves the clock on by `milliseconds` (≥ 0).
    public func advance(by milliseconds: Int64) {
        gate.update { now in now += max(0, milliseconds) }
    }

    /// Suspends until the clock is advanced past `time`; returns the time it was advanced to.
    public func tick(after time: Int64) async throws -> Int64 {
        try await gate.wait(until: time + 1)
    }
}
