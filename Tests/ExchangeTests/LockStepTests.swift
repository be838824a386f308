import Exchange
import Foundation
import HummingbirdWSClient
import Logging
import ScalperCore
import Synchronization
import Testing

/// Kline frames a step must hold for `symbols` followed on `<s>@kline_1m`, with one-second steps:
/// the bar in progress at every even second, the closed bar at every minute.
private func expectedKlineFrames(at time: Int64, symbols: Int) -> Int {
    symbols * ((time % 2_000 == 0 ? 1 : 0) + (time % 60_000 == 0 ? 1 : 0))
}

/// Whether a close sent as text is the bar's, to the 8 decimals sent.
private func sameClose(_ text: String, _ close: Double) -> Bool {
    Double(text).map { abs($0 - close) <= 1e-9 * max(1, abs(close)) } == true
}

@Suite("The exchange in lock-step mode, over loopback", .serialized, .timeLimit(.minutes(10)))
struct LockStepTests {
    @Test(
        "With no client the clock stands; once one registers it moves a sim second per DONE and never before, and /api/v3/time is the lock-step time",
        .timeLimit(.minutes(10))
    )
    func waitsForDone() async throws {
        let start = sampleDay(1) + 30_000
        let clock = LockStepClock(start: start)
        struct Run: Sendable {
            var idle: [Int64] = []
            var unacknowledged: Int64 = 0
            var first: LockStepStep?
            var steps: [LockStepStep] = []
            var restAtMark: [Int64] = []
            var errors: [String] = []
            var ids: [Int] = []
        }
        let run = try await withExchange(market: try sampleMarket(), clock: clock) { _, port in
            let run = Mutex(Run())
            // No client registered: lock-step does not run free.
            let idleBefore = try await restTime(port: port)
            try await Task.sleep(for: .milliseconds(200))
            let idleAfter = try await restTime(port: port)
            run.withLock { $0.idle = [idleBefore, idleAfter, clock.now] }
            try await connectWebSocket(
                url: "ws://127.0.0.1:\(port)/stream?streams=filusdt@kline_1m",
                logger: quietLogger
            ) { inbound, outbound, _ in
                var client = LockStepSession("paper", inbound, outbound)
                try await client.register()
                let first = try #require(try await client.nextStep())
                // Registered, not yet done: the clock still stands.
                try await Task.sleep(for: .milliseconds(200))
                let unacknowledged = try await restTime(port: port)
                var current = first.time
                var steps: [LockStepStep] = []
                var restAtMark: [Int64] = []
                for _ in 0..<90 {
                    try await client.done(through: current)
                    let step = try #require(try await client.nextStep())
                    // The clock stands at the mark until this client says done.
                    restAtMark.append(try await restTime(port: port))
                    steps.append(step)
                    current = step.time
                }
                // Bad requests are answered with errors and move nothing.
                let ids = [
                    try await client.send("LOCKSTEP.DONE", params: #"{"client":"nobody","through":\#(current)}"#),
                    try await client.send("LOCKSTEP.REGISTER", params: "{}"),
                    try await client.send("LOCKSTEP.DONE", params: #"{"client":"paper","through":"soon"}"#),
                    try await client.send("LOCKSTEP.REGISTER", params: #"{"client":"a\"b"}"#),
                ]
                try await client.done(through: current)
                let last = try #require(try await client.nextStep())
                run.withLock {
                    $0.unacknowledged = unacknowledged
                    $0.first = first
                    $0.steps = steps + [last]
                    $0.restAtMark = restAtMark
                    $0.errors = last.replies
                    $0.ids = ids
                }
                try await client.close()
            }
            return run.withLock { $0 }
        }
        #expect(run.idle == [start, start, start])
        let first = try #require(run.first)
        // The first mark comes right after the REGISTER reply: the clock's time, nothing due yet.
        #expect(first.time == start && first.frames.isEmpty && first.replies == [#"{"result":null,"id":2}"#])
        #expect(run.unacknowledged == start)
        #expect(run.steps.map(\.time) == (1...91).map { start + Int64($0) * 1_000 })
        #expect(run.restAtMark == Array(run.steps.prefix(90).map(\.time)))
        var closed = 0
        for step in run.steps {
            let frames = try step.frames.map(KlineFrame.init)
            // Everything due through the mark, and nothing later, came before it.
            #expect(frames.count == expectedKlineFrames(at: step.time, symbols: 1), "at \(step.time)")
            #expect(frames.allSatisfy { $0.eventTime == step.time }, "at \(step.time)")
            closed += frames.filter(\.closed).count
        }
        #expect(closed == 2)
        // Ids 3…92 were the DONEs; each step's replies are that step's DONE's.
        #expect(
            run.steps.prefix(90).enumerated().allSatisfy { k, step in
                step.replies == [#"{"result":null,"id":\#(k + 3)}"#]
            }
        )
        #expect(run.ids == [93, 94, 95, 96])
        #expect(
            run.errors == [
                #"{"error":{"code":2,"msg":"LOCKSTEP.DONE: no lock-step client nobody is registered (LOCKSTEP.REGISTER first; one gone longer than the timeout was dropped)"},"id":93}"#,
                #"{"error":{"code":2,"msg":"LOCKSTEP.REGISTER needs params.client, a name of 1 to 100 characters without quotes or backslashes"},"id":94}"#,
                #"{"error":{"code":2,"msg":"LOCKSTEP.DONE needs params.through, a sim time in whole ms"},"id":95}"#,
                #"{"error":{"code":2,"msg":"LOCKSTEP.REGISTER needs params.client, a name of 1 to 100 characters without quotes or backslashes"},"id":96}"#,
                #"{"result":null,"id":97}"#,
            ]
        )
    }

    @Test("A minimum step interval caps the pace: a client that answers at once still gets a step no sooner than the interval")
    func minimumStepInterval() async throws {
        let start = sampleDay(1)
        let clock = LockStepClock(start: start, minimumStepInterval: .milliseconds(40))
        let (times, elapsed) = try await withExchange(market: try sampleMarket(), clock: clock) { _, port in
            let seen = Mutex(([Int64](), Duration.zero))
            try await connectWebSocket(url: "ws://127.0.0.1:\(port)/stream?streams=filusdt@kline_1m", logger: quietLogger) {
                inbound, outbound, _ in
                var client = LockStepSession("fast", inbound, outbound)
                try await client.register()
                var current = try #require(try await client.nextStep()).time
                var times: [Int64] = []
                let began = ContinuousClock.now
                for _ in 0..<10 {
                    try await client.done(through: current)
                    current = try #require(try await client.nextStep()).time
                    times.append(current)
                }
                let elapsed = ContinuousClock.now - began
                seen.withLock { $0 = (times, elapsed) }
                try await client.close()
            }
            return seen.withLock { $0 }
        }
        #expect(times == (1...10).map { start + Int64($0) * 1_000 })
        // A lower bound only: load can slow the steps, never speed them up. The first step may come
        // sooner (its interval counts from when the clock began running).
        #expect(elapsed >= .milliseconds(9 * 40))
    }

    @Test("An exchange on another clock answers LOCKSTEP methods with an error", .timeLimit(.minutes(10)))
    func notInLockStep() async throws {
        let clock = ManualClock(start: sampleDay(1))
        let reply = try await withExchange(market: try sampleMarket(), clock: clock) { _, port in
            let reply = Mutex("")
            try await connectWebSocket(url: "ws://127.0.0.1:\(port)/ws", logger: quietLogger) {
                inbound,
                outbound,
                _ in
                var client = LockStepSession("paper", inbound, outbound)
                let id = try await client.send("LOCKSTEP.REGISTER", params: #"{"client":"paper"}"#)
                let text = try await client.reply(to: id)
                reply.withLock { $0 = text }
                try await client.close()
            }
            return reply.withLock { $0 }
        }
        #expect(
            reply
                == #"{"error":{"code":2,"msg":"LOCKSTEP.REGISTER: the exchange is not in lock-step mode (scalper exchange --lock-step)"},"id":2}"#
        )
    }

    @Test(
        "Two clients: each step comes only once both said done through the one before, and both see every step",
        .timeLimit(.minutes(10))
    )
    func twoClients() async throws {
        let start = sampleDay(2) + 5_000
        let clock = LockStepClock(start: start)
        let done = Shared<[String: Int64]>([:])
        let registered = Shared(0)
        let runs = try await withExchange(market: try sampleMarket(), clock: clock) { _, port in
            try await withThrowingTaskGroup(of: (String, [LockStepStep], [String]).self) { group in
                for (name, stream, pauseMs) in [("fast", "filusdt@miniTicker", 0), ("slow", "nearusdt@kline_1m", 3)] {
                    group.addTask {
                        let result = Mutex<([LockStepStep], [String])>(([], []))
                        try await connectWebSocket(
                            url: "ws://127.0.0.1:\(port)/stream?streams=\(stream)",
                            logger: quietLogger
                        ) { inbound, outbound, _ in
                            var client = LockStepSession(name, inbound, outbound)
                            try await client.register()
                            var step = try #require(try await client.nextStep())
                            registered.withLock { $0 += 1 }
                            // Neither says done before both are registered.
                            while registered.withLock({ $0 }) < 2 { try await Task.sleep(for: .milliseconds(1)) }
                            var steps = [step]
                            var early: [String] = []
                            for k in 0..<60 {
                                // The slow one takes its time every third step.
                                if pauseMs > 0, k % 3 == 0 { try await Task.sleep(for: .milliseconds(pauseMs)) }
                                done.withLock { $0[name] = step.time }
                                try await client.done(through: step.time)
                                step = try #require(try await client.nextStep())
                                let least = done.withLock { $0.values.min() ?? .min }
                                if least < step.time - 1_000 {
                                    early.append("\(name) got \(step.time) with a client done through \(least)")
                                }
                                steps.append(step)
                            }
                            result.withLock { $0 = (steps, early) }
                            try await client.close()
                        }
                        let (steps, early) = result.withLock { $0 }
                        return (name, steps, early)
                    }
                }
                var runs: [String: ([LockStepStep], [String])] = [:]
                for try await (name, steps, early) in group { runs[name] = (steps, early) }
                return runs
            }
        }
        let times = (0...60).map { start + Int64($0) * 1_000 }
        let fast = try #require(runs["fast"])
        let slow = try #require(runs["slow"])
        #expect(fast.0.map(\.time) == times && slow.0.map(\.time) == times)
        #expect(fast.1.isEmpty && slow.1.isEmpty, "\(fast.1 + slow.1)")
        // Each client's own streams, every step: the mini ticker each second; the kline by the rule.
        for step in fast.0.dropFirst() {
            #expect(
                step.frames.count == 1 && step.frames.allSatisfy { $0.contains(#""E":\#(step.time),"#) },
                "at \(step.time)"
            )
        }
        for step in slow.0.dropFirst() {
            let frames = try step.frames.map(KlineFrame.init)
            #expect(
                frames.count == expectedKlineFrames(at: step.time, symbols: 1)
                    && frames.allSatisfy { $0.eventTime == step.time }
            )
        }
    }

    @Test(
        "A client cut by the exchange, or leaving on its own, is waited for; registered again, it gets every frame it was due exactly once",
        .timeLimit(.minutes(10))
    )
    func reconnects() async throws {
        // The exchange cuts each connection after 45 sim seconds; the client also leaves once, at 100 s.
        var settings = ExchangeSettings()
        settings.forcedDisconnectSeconds = 45
        let start = sampleDay(1) + 10_000
        let end = start + 180_000
        let leaveAt = start + 100_000
        let clock = LockStepClock(start: start)
        let market = try sampleMarket()
        struct Run: Sendable {
            var steps: [LockStepStep] = []
            var connections = 0
            var left = false
            /// While the client was away: its last DONE, and /api/v3/time then and 150 ms later.
            var away: [(done: Int64, first: Int64, later: Int64)] = []
        }
        let run = try await withExchange(market: market, settings: settings, clock: clock) { _, port in
            let run = Mutex(Run())
            while (run.withLock { $0.steps.last?.time ?? .min }) < end {
                run.withLock { $0.connections += 1 }
                try await connectWebSocket(
                    url: "ws://127.0.0.1:\(port)/stream?streams=filusdt@kline_1m/nearusdt@kline_1m",
                    logger: quietLogger
                ) { inbound, outbound, _ in
                    var client = LockStepSession("paper", inbound, outbound)
                    try await client.register()
                    while let step = try await client.nextStep() {
                        run.withLock { $0.steps.append(step) }
                        if step.time >= end { break }
                        try await client.done(through: step.time)
                        if step.time == leaveAt {
                            // Gone without reading what follows.
                            run.withLock { $0.left = true }
                            break
                        }
                    }
                    try? await client.close()
                }
                guard let acknowledged = run.withLock({ $0.steps.last?.time }), acknowledged < end else { break }
                // The clock goes one step past the last DONE (once the exchange has read it) and waits there.
                var first = try await restTime(port: port)
                while first < acknowledged + 1_000 {
                    try await Task.sleep(for: .milliseconds(5))
                    first = try await restTime(port: port)
                }
                try await Task.sleep(for: .milliseconds(150))
                let later = try await restTime(port: port)
                run.withLock { $0.away.append((acknowledged, first, later)) }
            }
            return run.withLock { $0 }
        }
        #expect(run.left && run.connections >= 4 && run.away.count == run.connections - 1)
        for away in run.away {
            #expect(away.first == away.done + 1_000 && away.later == away.done + 1_000, "after DONE \(away.done)")
        }
        // One mark a sim second across every connection, each step's frames due exactly then.
        #expect(run.steps.map(\.time) == Array(stride(from: start, through: end, by: 1_000)))
        var closed: [String: [KlineFrame]] = [:]
        for step in run.steps.dropFirst() {
            let frames = try step.frames.map(KlineFrame.init)
            #expect(frames.count == expectedKlineFrames(at: step.time, symbols: 2), "at \(step.time)")
            #expect(frames.allSatisfy { $0.eventTime == step.time }, "at \(step.time)")
            for frame in frames where frame.closed { closed[frame.stream, default: []].append(frame) }
        }
        // Each minute's closed bar of each symbol once, the stored bar.
        for symbol in ["FILUSDT", "NEARUSDT"] {
            let bars = market.klines(symbol, from: start - 59_999, to: end - 60_000, limit: 10, now: end)
            let frames = closed["\(symbol.lowercased())@kline_1m"] ?? []
            #expect(bars.count == 3 && frames.map(\.openTime) == bars.map(\.openTime), "\(symbol)")
            #expect(zip(frames, bars).allSatisfy { sameClose($0.close, $1.close) }, "\(symbol)")
        }
    }

    @Test(
        "A client gone longer than the timeout is dropped with a warning and the others go on; once no client is left the clock stands",
        .timeLimit(.minutes(10))
    )
    func timeoutDrops() async throws {
        let start = sampleDay(1)
        let clock = LockStepClock(start: start, reconnectTimeout: .milliseconds(300))
        let log = CapturedLog()
        let registered = Shared(0)
        struct Run: Sendable {
            var leftAt: ContinuousClock.Instant?
            var stayMarks: [(time: Int64, at: ContinuousClock.Instant)] = []
            var staleDone = ""
            var standing: [Int64] = []
        }
        let state = Shared(Run())
        let run = try await withExchange(market: try sampleMarket(), clock: clock, logger: log.logger(level: .warning))
        { _, port in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await connectWebSocket(
                        url: "ws://127.0.0.1:\(port)/ws/filusdt@trade",
                        logger: quietLogger
                    ) {
                        inbound,
                        outbound,
                        _ in
                        var client = LockStepSession("stays", inbound, outbound)
                        try await client.register()
                        var step = try await client.nextStep()
                        // Counted once the first mark came, that is once the exchange registered
                        // it: neither says done before both are registered.
                        registered.withLock { $0 += 1 }
                        while registered.withLock({ $0 }) < 2 { try await Task.sleep(for: .milliseconds(1)) }
                        while let current = step {
                            state.withLock { $0.stayMarks.append((current.time, .now)) }
                            // Leaves, without a word, once the clock reached 10 s.
                            if current.time >= start + 10_000 { break }
                            try await client.done(through: current.time)
                            step = try await client.nextStep()
                        }
                        try await client.close()
                    }
                }
                group.addTask {
                    try await connectWebSocket(
                        url: "ws://127.0.0.1:\(port)/ws/nearusdt@trade",
                        logger: quietLogger
                    ) {
                        inbound,
                        outbound,
                        _ in
                        var client = LockStepSession("leaves", inbound, outbound)
                        try await client.register()
                        var step = try await client.nextStep()
                        registered.withLock { $0 += 1 }
                        while registered.withLock({ $0 }) < 2 { try await Task.sleep(for: .milliseconds(1)) }
                        while let current = step {
                            try await client.done(through: current.time)
                            // `>=`: a client that saw a later first mark leaves too (and the checks
                            // below fail) rather than moving the clock forever.
                            if current.time >= start + 2_000 { break }
                            step = try await client.nextStep()
                        }
                        state.withLock { $0.leftAt = .now }
                        try await client.close()
                    }
                }
                try await group.waitForAll()
            }
            // Dropped, its name is free: a DONE under it is refused.
            try await connectWebSocket(url: "ws://127.0.0.1:\(port)/ws", logger: quietLogger) {
                inbound,
                outbound,
                _ in
                var client = LockStepSession("leaves", inbound, outbound)
                let id = try await client.send(
                    "LOCKSTEP.DONE",
                    params: #"{"client":"leaves","through":\#(start + 3_000)}"#
                )
                let reply = try await client.reply(to: id)
                state.withLock { $0.staleDone = reply }
                try await client.close()
            }
            // "stays" left too; once it is dropped no client is left and the clock stands.
            while !clock.clientNames.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            let before = try await restTime(port: port)
            try await Task.sleep(for: .milliseconds(200))
            let after = try await restTime(port: port)
            state.withLock { $0.standing = [before, after] }
            return state.withLock { $0 }
        }
        #expect(run.stayMarks.map(\.time) == (0...10).map { start + Int64($0) * 1_000 })
        // Both were done through 2 s; the clock went to 3 s and waited there for "leaves" until
        // it had been gone the timeout.
        let leftAt = try #require(run.leftAt)
        let fourth = try #require(run.stayMarks.first { $0.time == start + 4_000 })
        #expect(fourth.at - leftAt >= .milliseconds(300))
        #expect(
            run.staleDone.hasPrefix(
                #"{"error":{"code":2,"msg":"LOCKSTEP.DONE: no lock-step client leaves is registered"#
            )
        )
        #expect(run.standing == [start + 10_000, start + 10_000])
        let warnings = log.lines.withLock { $0 }.filter { $0.contains("lock-step client") }
        #expect(warnings.count == 2)
        #expect(
            warnings.first?.hasPrefix("warning: lock-step client leaves dropped at sim time \(start + 3_000)") == true
        )
        #expect(
            warnings.last?.hasPrefix("warning: lock-step client stays dropped at sim time \(start + 10_000)") == true
        )
    }

    @Test(
        "A replay of N sim minutes on four pairs: every pair's closed bar of every minute arrives once, the stored bar, and every step is counted",
        arguments: [(Int64(1_000), 20), (Int64(60_000), 1_440)]
    )
    func replay(stepMs: Int64, minutes: Int) async throws {
        let market = try sampleMarket(pairs: 4)
        let start = sampleDay(1)
        let end = start + Int64(minutes) * 60_000
        let clock = LockStepClock(start: start, stepMs: stepMs)
        let streams = market.symbols.map { "\($0.lowercased())@kline_1m" }.joined(separator: "/")
        let steps = try await withExchange(market: market, clock: clock) { _, port in
            let steps = Mutex<[(time: Int64, frames: [KlineFrame])]>([])
            try await connectWebSocket(
                url: "ws://127.0.0.1:\(port)/stream?streams=\(streams)",
                logger: quietLogger
            ) { inbound, outbound, _ in
                var client = LockStepSession("replay", inbound, outbound)
                try await client.register()
                while let step = try await client.nextStep() {
                    let frames = try step.frames.map(KlineFrame.init)
                    steps.withLock { $0.append((step.time, frames)) }
                    if step.time >= end { break }
                    try await client.done(through: step.time)
                }
                try await client.close()
            }
            return steps.withLock { $0 }
        }
        #expect(steps.map(\.time) == Array(stride(from: start, through: end, by: Int64.Stride(stepMs))))
        let frames = steps.flatMap(\.frames)
        // The bar in progress at each step's time (at every even second with one-second steps).
        let inProgress = stepMs == 1_000 ? minutes * 30 : minutes
        for symbol in market.symbols {
            let stream = "\(symbol.lowercased())@kline_1m"
            let closed = frames.filter { $0.stream == stream && $0.closed }
            let bars = market.klines(symbol, from: start, to: end - 60_000, limit: 10_000, now: end)
            #expect(bars.count == minutes && closed.map(\.openTime) == bars.map(\.openTime), "\(symbol)")
            #expect(zip(closed, bars).allSatisfy { sameClose($0.close, $1.close) }, "\(symbol)")
            #expect(frames.filter { $0.stream == stream && !$0.closed }.count == inProgress, "\(symbol)")
        }
        #expect(frames.count == market.symbols.count * (minutes + inProgress))
    }
}
