import Exchange
import Testing

@Suite("The exchange's clocks")
struct SimClockTests {
    /// Waits (without a deadline) until `count` tasks wait on `clock`.
    private func waitForWaiters(_ clock: ManualClock, count: Int) async throws {
        while clock.waitingCount < count { try await Task.sleep(for: .milliseconds(1)) }
    }

    @Test("A manual clock wakes each waiter at the first advance past its time, with that time, and never goes back")
    func manualClockWakesWaiters() async throws {
        let clock = ManualClock(start: 0)
        let woken = try await withThrowingTaskGroup(of: (Int64, Int64).self) { group in
            for after: Int64 in [100, 250, 250, 999] {
                group.addTask { (after, try await clock.tick(after: after)) }
            }
            try await waitForWaiters(clock, count: 4)
            clock.advance(to: 100)  // not past 100
            #expect(clock.waitingCount == 4)
            clock.advance(to: 300)
            #expect(clock.waitingCount == 1)
            clock.advance(to: 200)  // back: nothing changes
            #expect(clock.now == 300 && clock.waitingCount == 1)
            clock.advance(by: 700)
            var woken: [(Int64, Int64)] = []
            for try await pair in group { woken.append(pair) }
            return woken.sorted { $0 < $1 }
        }
        #expect(woken.map(\.0) == [100, 250, 250, 999] && woken.map(\.1) == [300, 300, 300, 1_000])
        // A time already passed returns at once, with now.
        #expect(try await clock.tick(after: 999) == 1_000)
    }

    @Test("A task waiting on a manual clock, or about to, throws CancellationError when cancelled and leaves no waiter")
    func manualClockCancellation() async throws {
        let clock = ManualClock(start: 0)
        let waiting = Task { try await clock.tick(after: 10) }
        try await waitForWaiters(clock, count: 1)
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(clock.waitingCount == 0)
        // Cancelled before it asks: it never suspends.
        let early = Task {
            try? await Task.sleep(for: .seconds(3_600))
            return try await clock.tick(after: 10)
        }
        early.cancel()
        await #expect(throws: CancellationError.self) { try await early.value }
        #expect(clock.waitingCount == 0)
        clock.advance(to: 20)
        #expect(clock.now == 20)
    }

    @Test(
        "A wall clock starts at its start, never runs backwards and ticks no sooner than a sim second (a real ms above 1,000×)",
        arguments: [1.0, 60, 1_000, 5_000]
    )
    func wallClockTicks(speed: Double) async throws {
        let clock = WallClock(start: 1_000_000, speed: speed)
        let first = clock.now
        #expect(first >= 1_000_000)
        let ticked = try await clock.tick(after: first)
        #expect(ticked >= first + max(1_000, Int64(speed)))
        #expect(clock.now >= ticked)
    }
}
