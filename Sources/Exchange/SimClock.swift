/// The exchange's clock: sim time, and a way to wait for it to move.
///
/// Everything the exchange serves is a function of sim time: REST answers read ``now``, and each
/// WebSocket connection loops on ``tick(after:)``, sending every frame due between the sim time it
/// last sent up to and the time `tick` returns. So what a client receives depends on how far the
/// clock has moved, not on how fast the machine ran the loop.
///
/// ``WallClock`` (`scalper exchange --speed X`) runs at X times real time. ``ManualClock`` moves
/// only when told to, so a test decides exactly which sim instants the exchange serves.
public protocol SimClock: Sendable {
    /// Sim time now, ms since 1970 UTC.
    var now: Int64 { get }

    /// Suspends until the clock has moved past `time`; returns the sim time it moved to.
    ///
    /// A clock that runs by itself waits for its next tick; a manual one for the next advance past
    /// `time`. Throws `CancellationError` when the task is cancelled.
    func tick(after time: Int64) async throws -> Int64
}
