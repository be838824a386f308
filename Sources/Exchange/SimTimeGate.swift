import Synchronization

/// A state kept under a lock, and tasks suspended until it reaches a sim time.
///
/// Whoever changes the state does so through ``update(_:)``, which wakes every waiter whose time
/// the new state reaches; a waiter is woken with the sim time it was waiting for having been
/// reached, never early, and a cancelled waiter throws `CancellationError`. ``ManualClock`` keeps
/// its `now` in one; the exchange keeps in another how far each connection has sent.
final class SimTimeGate<State: Sendable>: Sendable {
    typealias Waiter = CheckedContinuation<Int64, any Error>

    private struct Inner {
        var state: State
        var nextID: UInt64 = 0
        /// Waiters suspended, by id: the sim time each waits for.
        var waiting: [UInt64: (time: Int64, waiter: Waiter)] = [:]
        /// Ids handed out whose task was cancelled before it suspended.
        var cancelledEarly: Set<UInt64> = []
        /// Ids handed out and not yet suspended, resumed or cancelled.
        var announced: Set<UInt64> = []
    }

    private let inner: Mutex<Inner>
    /// The sim time the state has reached for a waiter of `time`, or nil while it has not.
    private let reached: @Sendable (State, Int64) -> Int64?

    /// A gate over `state`; `reached(state, time)` says whether (and at what sim time) `state` has
    /// reached `time`.
    init(_ state: State, reached: @escaping @Sendable (State, Int64) -> Int64?) {
        inner = Mutex(Inner(state: state))
        self.reached = reached
    }

    /// Reads the state.
    func read<R>(_ body: (State) -> R) -> R { inner.withLock { body($0.state) } }

    /// Tasks suspended now.
    var waitingCount: Int { inner.withLock { $0.waiting.count } }

    /// Changes the state and wakes the waiters it now satisfies.
    func update(_ body: (inout State) -> Void) {
        let woken = inner.withLock { inner -> [(Waiter, Int64)] in
            body(&inner.state)
            var woken: [(Waiter, Int64)] = []
            for (id, entry) in inner.waiting {
                if let time = reached(inner.state, entry.time) {
                    woken.append((entry.waiter, time))
                    inner.waiting[id] = nil
                }
            }
            return woken
        }
        for (waiter, time) in woken { waiter.resume(returning: time) }
    }

    /// Suspends until the state reaches `time`; returns what `reached` said then.
    func wait(until time: Int64) async throws -> Int64 {
        let id = inner.withLock { inner -> UInt64 in
            inner.nextID += 1
            inner.announced.insert(inner.nextID)
            return inner.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (waiter: Waiter) in
                let now = inner.withLock { inner -> Result<Int64, any Error>? in
                    inner.announced.remove(id)
                    if inner.cancelledEarly.remove(id) != nil { return .failure(CancellationError()) }
                    if let reachedAt = reached(inner.state, time) { return .success(reachedAt) }
                    inner.waiting[id] = (time, waiter)
                    return nil
                }
                if let now { waiter.resume(with: now) }
            }
        } onCancel: {
            let waiter = inner.withLock { inner -> Waiter? in
                if let entry = inner.waiting.removeValue(forKey: id) { return entry.waiter }
                // Cancelled before it suspended: it throws when it gets there.
                if inner.announced.remove(id) != nil { inner.cancelledEarly.insert(id) }
                return nil
            }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
