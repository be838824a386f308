import Synchronization

/// A state kept under a lock, and tasks suspended until it reaches a sim time.
///
/// Whoever changes the state does so through ``update(_:)``, which wakes every waiter whose time
/// the new state reaches; a waiter is woken with the sim time it was waiting for having been
/// reached, never early, and a cancelled waiter throws `CancellationError`. ``ManualClock`` keeps
/// its `now` in one; the exchange keeps in another how far each connection has sent; a
/// ``LockStepClock`` keeps its time and its clients in one, waited on in two ways (the time has
/// passed; every client is done), each waiter with its own condition.
final class SimTimeGate<State: Sendable>: Sendable {
    typealias Waiter = CheckedContinuation<Int64, any Error>

    private struct Inner {
        var state: State
        var nextID: UInt64 = 0
        /// Waiters suspended, by id: the sim time each waits for and its condition.
        var waiting: [UInt64: (time: Int64, reached: Reached, waiter: Waiter)] = [:]
        /// Ids handed out whose task was cancelled before it suspended.
        var cancelledEarly: Set<UInt64> = []
        /// Ids handed out and not yet suspended, resumed or cancelled.
        var announced: Set<UInt64> = []
    }

    /// The sim time the state has reached for a waiter of `time`, or nil while it has not.
    typealias Reached = @Sendable (State, Int64) -> Int64?

    private let inner: Mutex<Inner>
    /// The condition of ``wait(until:)``.
    private let reached: Reached

    /// A gate over `state`; `reached(state, time)` says whether (and at what sim time) `state` has
    /// reached `time`.
    init(_ state: State, reached: @escaping Reached) {
        inner = Mutex(Inner(state: state))
        self.reached = reached
    }

    /// Reads the state.
    func read<R>(_ body: (State) -> R) -> R { inner.withLock { body($0.state) } }

    /// Tasks suspended now.
    var waitingCount: Int { inner.withLock { $0.waiting.count } }

    /// Changes the state and wakes the waiters it now satisfies; returns what `body` returns.
    @discardableResult
    func update<R>(_ body: (inout State) -> R) -> R {
        let (result, woken) = inner.withLock { inner -> (R, [(Waiter, Int64)]) in
            let result = body(&inner.state)
            var woken: [(Waiter, Int64)] = []
            for (id, entry) in inner.waiting {
                if let time = entry.reached(inner.state, entry.time) {
                    woken.append((entry.waiter, time))
                    inner.waiting[id] = nil
                }
            }
            return (result, woken)
        }
        for (waiter, time) in woken { waiter.resume(returning: time) }
        return result
    }

    /// Suspends until the state reaches `time`; returns what `reached` said then.
    func wait(until time: Int64) async throws -> Int64 {
        try await wait(until: time, where: reached)
    }

    /// Suspends until `reached(state, time)` holds (checked now and at every update); returns
    /// what it said then.
    func wait(until time: Int64, where reached: @escaping Reached) async throws -> Int64 {
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
                    inner.waiting[id] = (time, reached, waiter)
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
