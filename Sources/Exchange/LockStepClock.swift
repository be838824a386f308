import Logging

/// Sim time moved by the exchange's clients: the clock of `scalper exchange --lock-step`.
///
/// Clients register by name and say, after acting on everything the exchange sent up to sim time
/// T, that they are done through T (the WebSocket protocol is in ``ExchangeServer``). The clock
/// moves on from `now` by ``stepMs`` only when
/// - at least one client is registered (with none, it waits: it never runs free),
/// - every registered client is done through `now`, a disconnected one too: it is waited for
///   until it registers again under its name, or until it has been gone ``reconnectTimeout``,
///   when it is dropped with a warning,
/// - and every WebSocket connection has written every frame due through `now`.
///
/// So a replay runs as fast as its slowest client acts, and what each client sees and decides
/// does not depend on the machine's load or speed.
public final class LockStepClock: SimClock {
    /// Sim ms the clock moves per step (a step may carry several bar closes; each is still sent).
    public let stepMs: Int64
    /// How long a registered client that disconnected is waited for before it is dropped.
    public let reconnectTimeout: Duration
    /// The least wall time between two steps (zero: as fast as the clients go). A ceiling on the
    /// replay's pace, never a floor: a test that kills a client at a wall-clock moment knows how far
    /// the replay can have got, however fast the machine.
    public let minimumStepInterval: Duration

    /// A registered client.
    struct Client: Sendable {
        /// The sim time it has said it is done through (nil: not yet said).
        var through: Int64?
        /// The connection it registered on; nil while it is disconnected.
        var connection: UInt64?
        /// When its connection closed.
        var disconnectedAt: ContinuousClock.Instant?
    }

    /// Everything under one lock, so that a registration and a step never cross.
    struct State: Sendable {
        var now: Int64
        var clients: [String: Client] = [:]
        /// Counts registrations, disconnections and drops: a change the stepper must look at.
        var changes: UInt64 = 0

        /// Whether the clock may leave `time` as far as the clients go.
        func allDone(through time: Int64) -> Bool {
            !clients.isEmpty && clients.values.allSatisfy { ($0.through ?? .min) >= time }
        }
    }

    private let gate: SimTimeGate<State>

    /// A clock stopped at `start` (sim ms) until clients register and are done.
    ///
    /// - Parameters:
    ///   - stepMs: sim ms per step (> 0); one sim second by default.
    ///   - reconnectTimeout: how long a disconnected client is waited for.
    ///   - minimumStepInterval: the least wall time between two steps (zero: none).
    public init(start: Int64, stepMs: Int64 = 1_000, reconnectTimeout: Duration = .seconds(60), minimumStepInterval: Duration = .zero) {
        precondition(stepMs > 0, "a lock-step clock needs a positive step")
        precondition(minimumStepInterval >= .zero, "a lock-step clock's step interval cannot be negative")
        self.stepMs = stepMs
        self.reconnectTimeout = reconnectTimeout
        self.minimumStepInterval = minimumStepInterval
        gate = SimTimeGate(State(now: start)) { state, time in state.now >= time ? state.now : nil }
    }

    /// Sim time now, ms.
    public var now: Int64 { gate.read { $0.now } }

    /// Names of the registered clients (connected or not), sorted.
    public var clientNames: [String] { gate.read { $0.clients.keys.sorted() } }

    /// Suspends until the clock has moved past `time`; returns the time it moved to.
    public func tick(after time: Int64) async throws -> Int64 {
        try await gate.wait(until: time + 1)
    }

    // MARK: Clients (called by the server's connections)

    /// Registers `client` on `connection`: a new name, or one registered before (it may have
    /// disconnected, or be registered on another connection, which it leaves).
    ///
    /// - Returns: for a client that comes back on another connection, the time it was done
    ///   through, so its new connection can send again what it was sent after that time (it may
    ///   never have read it); nil otherwise.
    func register(_ client: String, connection: UInt64, logger: Logger) -> Int64? {
        gate.update { state -> Int64? in
            state.changes &+= 1
            guard var known = state.clients[client] else {
                state.clients[client] = Client(connection: connection)
                logger.info("lock-step client \(client) registered at \(state.now)")
                return nil
            }
            let cameBack = known.connection != connection
            known.connection = connection
            known.disconnectedAt = nil
            state.clients[client] = known
            if cameBack { logger.info("lock-step client \(client) registered again at \(state.now)") }
            return cameBack ? (known.through ?? state.now) : nil
        }
    }

    /// Records that `client` is done through `time`; false if no such client is registered.
    func done(_ client: String, through time: Int64) -> Bool {
        gate.update { state -> Bool in
            guard var known = state.clients[client] else { return false }
            known.through = max(known.through ?? time, time)
            state.clients[client] = known
            return true
        }
    }

    /// Whether a client is registered on `connection` (it is sent the lock-step marks).
    func isRegistered(connection: UInt64) -> Bool {
        gate.read { $0.clients.values.contains { $0.connection == connection } }
    }

    /// Marks the clients registered on `connection` as disconnected from now.
    func disconnected(connection: UInt64, logger: Logger) {
        let at = ContinuousClock.now
        gate.update { state in
            for (name, client) in state.clients where client.connection == connection {
                state.clients[name]?.connection = nil
                state.clients[name]?.disconnectedAt = at
                state.changes &+= 1
                logger.info("lock-step client \(name) disconnected at \(state.now); waiting for it")
            }
        }
    }

    // MARK: Stepping

    /// Moves the clock a step at a time until cancelled: each step once every client is done
    /// through now and `sent(now)` has returned (every connection has written what is due).
    func run(sent: @Sendable (Int64) async throws -> Void, logger: Logger) async throws {
        var lastStep = ContinuousClock.now
        while true {
            let time = now
            try await waitForClients(through: time, logger: logger)
            try await sent(time)
            if minimumStepInterval > .zero {
                try await Task.sleep(until: lastStep + minimumStepInterval, clock: .continuous)
                lastStep = .now
            }
            // Checked again under the lock: a client that registered meanwhile holds the clock.
            gate.update { state in
                guard state.now == time, state.allDone(through: time) else { return }
                state.now = time + stepMs
            }
        }
    }

    /// Waits until every registered client is done through `time`, dropping those gone longer
    /// than ``reconnectTimeout``.
    private func waitForClients(through time: Int64, logger: Logger) async throws {
        while true {
            let (done, changes, deadline) = gate.read { state in
                (
                    state.allDone(through: time), state.changes,
                    state.clients.values.compactMap(\.disconnectedAt).min().map { $0 + reconnectTimeout }
                )
            }
            if done { return }
            if let deadline, deadline <= .now {
                dropExpired(logger: logger)
                continue
            }
            // Wakes when the clients are done, or when one registers, leaves or is dropped (a
            // deadline may have come or gone).
            let changed: SimTimeGate<State>.Reached = { state, time in
                state.allDone(through: time) || state.changes != changes ? state.now : nil
            }
            guard let deadline else {
                _ = try await gate.wait(until: time, where: changed)
                continue
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await self.gate.wait(until: time, where: changed) }
                group.addTask { try await Task.sleep(until: deadline, clock: .continuous) }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    private func dropExpired(logger: Logger) {
        let now = ContinuousClock.now
        gate.update { state in
            for (name, client) in state.clients {
                guard let gone = client.disconnectedAt, gone + reconnectTimeout <= now else { continue }
                state.clients[name] = nil
                state.changes &+= 1
                logger.warning(
                    "lock-step client \(name) dropped at sim time \(state.now): disconnected for longer than \(reconnectTimeout)"
                )
            }
        }
    }
}
