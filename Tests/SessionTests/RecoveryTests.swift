import Foundation
import ScalperCore
import ScalperTestSupport
import Session
import Testing
import Trading

/// The environment of a crash child: where its store is, where to stop, and the file it creates there.
private enum CrashChild {
    static let storeVariable = "SCALPER_SESSION_CRASH_STORE"
    static let pointVariable = "SCALPER_SESSION_CRASH_POINT"
    static let markerVariable = "SCALPER_SESSION_CRASH_MARKER"

    /// Set only in a child started by ``SessionCrashTests``.
    static var environment: (store: String, point: CrashPoint, marker: String)? {
        let env = ProcessInfo.processInfo.environment
        guard let store = env[storeVariable], let point = env[pointVariable].flatMap(CrashPoint.init),
            let marker = env[markerVariable]
        else {
            return nil
        }
        return (store, point, marker)
    }

    /// This test binary (Linux); nil where /proc is missing (the crash tests are then skipped).
    static var executable: String? { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") }
}

/// The child's half of ``SessionCrashTests``: skipped in a normal run.
@Suite("Session crash child (runs only as a child process of the crash tests)")
struct SessionCrashChild {
    @Test(
        "Runs the session's first steps and waits at the named point to be killed",
        .enabled(
            if: CrashChild.environment != nil,
            "not a test of its own: the body of the child process that the SIGKILL crash test starts (with its environment) and kills"
        )
    )
    func runUntilKilled() throws {
        let env = try #require(CrashChild.environment)
        let store = try SessionStore(path: env.store)
        try CrashScript.run(store: store) { point, _ in
            guard point == env.point else { return }
            // The store stays open with its WAL not checkpointed while the parent sends SIGKILL.
            _ = FileManager.default.createFile(atPath: env.marker, contents: Data(point.rawValue.utf8))
            Thread.sleep(forTimeInterval: 600)
            Issue.record("not killed within 600 s at \(point)")
        }
    }
}

@Suite("Recovery after a crash at each step")
struct SessionCrashTests {
    @Test(
        "A session process SIGKILLed at each step leaves a store whose recovery reports exactly the right orders and state",
        .enabled(if: CrashChild.executable != nil, "re-executes the test binary through /proc/self/exe"),
        arguments: CrashPoint.allCases
    )
    func killedChild(at point: CrashPoint) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("sessions/\(CrashScript.session)/session.sqlite")
        let marker = dir.path("reached")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(CrashChild.executable))
        process.arguments = ["--testing-library", "swift-testing", "--filter", "SessionCrashChild"]
        var env = ProcessInfo.processInfo.environment
        env[CrashChild.storeVariable] = path
        env[CrashChild.pointVariable] = point.rawValue
        env[CrashChild.markerVariable] = marker
        process.environment = env
        let log = dir.url.appendingPathComponent("child.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Generous: in a full parallel run on 2 cores a child test process took minutes to start.
        let deadline = ContinuousClock.now + .seconds(300)
        while !FileManager.default.fileExists(atPath: marker), process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let reached = FileManager.default.fileExists(atPath: marker)
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        try handle.close()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        try #require(reached, "the child never reached \(point):\n\(output)")
        #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL, "\(output)")

        try CrashScript.check(try SessionStore(path: path, createIfMissing: false), crashedAt: point)
    }

    @Test(
        "A shell that throws at each step leaves the same recovery, read through a second connection while the first is open",
        arguments: CrashPoint.allCases
    )
    func thrownInProcess(at point: CrashPoint) throws {
        struct Crash: Error {}
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("session.sqlite")
        let first = try SessionStore(path: path)
        #expect(throws: Crash.self) {
            try CrashScript.run(store: first) { p, _ in if p == point { throw Crash() } }
        }
        try CrashScript.check(try SessionStore(path: path, createIfMissing: false), crashedAt: point)
        // The entry the second connection sent (at `committed`) cannot be sent again through the first.
        if point == .committed, let entry = try first.orders().first {
            #expect(entry.status == .sending)
            #expect(throws: SessionStoreError.self) { try first.markSending(clientOrderID: entry.clientOrderID) }
        }
    }
}

@Suite("A state restored from the store continues exactly")
struct StoredStateContinuationTests {
    @Test(
        "A parity-mode replay restarted from its store at every minute gives the same records, and the store holds them all"
    )
    func barReplayRestartedEveryMinute() throws {
        var prices: [Double] = []
        var rng = SplitMix64(seed: 11)
        var p = 100.0
        for _ in 0..<600 {
            p *= 1 + (Double(rng.next() % 2_001) / 1_000 - 1) * 0.004
            prices.append(p)
        }
        let bars = prices.enumerated().map { i, c in
            let open = i == 0 ? c : prices[i - 1]
            return bar(i, open: open, high: max(c, open) * 1.002, low: min(c, open) * 0.998, close: c)
        }
        let signals = Set(stride(from: 0, to: 600, by: 7))
        func minute(_ i: Int) -> MinuteClose {
            MinuteClose(
                openTime: bars[i].openTime,
                bars: [SymbolBar(symbol: "TESTUSDT", bar: bars[i])],
                predictions: signals.contains(i) ? [strongPrediction(bars[i])] : []
            )
        }
        let s = engineSettings(exits: .bar, trailing: 0.004)
        func fresh() -> BarReplay {
            var r = BarReplay(
                engine: TradingEngine(settings: s, startTime: t0),
                venue: SimulatedVenue(model: FillModel(s.execution), rule: .bar, quoteBalance: s.capital)
            )
            r.setFilters(testFilters, for: "TESTUSDT")
            return r
        }

        var plain = fresh()
        var expected: [TradingRecord] = []
        for i in bars.indices { expected += plain.step(minute(i)) }
        let end = bars[bars.count - 1].closeTime + 1
        expected += plain.finish(time: end)

        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("session.sqlite")
        try SessionStore(path: path).commit(event: .started(time: t0), newState: fresh(), commands: [])
        for i in bars.indices {
            // A restart before every minute: a new connection, the state read back from the store.
            let store = try SessionStore(path: path, createIfMissing: false)
            var replay = try #require(store.recover(as: BarReplay.self).state)
            let records = replay.step(minute(i))
            try store.commit(event: .minuteClosed(minute(i)), newState: replay, commands: records.map { .record($0) })
        }
        let store = try SessionStore(path: path, createIfMissing: false)
        var replay = try #require(store.recover(as: BarReplay.self).state)
        try store.commit(
            event: .finished(time: end),
            newState: replay,
            commands: replay.finish(time: end).map { .record($0) }
        )

        let recovery = try store.recover(as: BarReplay.self)
        let stored = try store.records()
        #expect(expected.filter { if case .trade = $0 { true } else { false } }.count > 10)
        #expect(stored.map(\.record) == expected)
        #expect(try json(#require(recovery.state)) == json(plain))
        #expect(recovery.sequence == Int64(bars.count + 2) && recovery.lastEvent == .finished(time: end))
    }
}
