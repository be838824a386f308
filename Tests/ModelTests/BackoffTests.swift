import ScalperCore
import ScalperTestSupport
import Testing

// ScalperCore has no test target of its own yet; ModelTests already depends on it directly.

@Suite("Backoff shared by REST retries and scanner reconnects")
struct BackoffTests {
    @Test("The ceiling doubles per attempt from the initial wait and saturates at the maximum")
    func ceiling() {
        let backoff = Backoff(initialSeconds: 0.5, maxSeconds: 30)
        #expect((0..<8).map { backoff.capSeconds(attempt: $0) } == [0.5, 1, 2, 4, 8, 16, 30, 30])
        // Far past saturation (and for a nonsensical negative attempt) the ceiling stays finite and bounded.
        #expect(backoff.capSeconds(attempt: 10_000) == 30)
        #expect(backoff.capSeconds(attempt: Int.max) == 30)
        #expect(backoff.capSeconds(attempt: -3) == 0.5)
    }

    @Test("Every wait lies in [cap / 2, cap], inside [0, cap], and spreads over that interval")
    func jitterBounds() {
        let backoff = Backoff(initialSeconds: 1, maxSeconds: 60)
        var generator = SplitMix64(seed: 7)
        for attempt in 0..<70 {
            let cap = backoff.capSeconds(attempt: attempt)
            let waits = (0..<200).map { _ in backoff.seconds(attempt: attempt, using: &generator) }
            #expect(waits.allSatisfy { $0 >= cap / 2 && $0 <= cap && $0 >= 0 }, "attempt \(attempt), cap \(cap)")
            // Jitter, not a constant: 200 draws spread over most of the interval.
            let spread = (waits.max() ?? 0) - (waits.min() ?? 0)
            #expect(spread > cap / 2 * 0.9, "attempt \(attempt): spread \(spread) of \(cap / 2)")
        }
    }
}
