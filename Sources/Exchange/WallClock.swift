/// Sim time that runs at `speed` times real time from `start` (the clock of `scalper exchange`).
///
/// It ticks once a sim second, or once a real millisecond above 1,000×.
public struct WallClock: SimClock {
    /// Sim time when the clock was made, ms.
    public let start: Int64
    /// Sim seconds per real second.
    public let speed: Double
    private let origin: ContinuousClock.Instant

    /// A clock at `start` now, running `speed` times real time.
    public init(start: Int64, speed: Double) {
        self.start = start
        self.speed = speed
        origin = .now
    }

    /// Sim time now, ms.
    public var now: Int64 {
        let elapsed = ContinuousClock.now - origin
        let realMs = Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) * 1e-15
        return start + Int64(realMs * speed)
    }

    /// Sim ms between ticks: one sim second, or one real millisecond, whichever is longer.
    public var tickMs: Int64 { max(1_000, Int64(speed.rounded(.up))) }

    /// Sleeps until sim time reaches `time` plus one tick; returns sim time then.
    public func tick(after time: Int64) async throws -> Int64 {
        let target = time + tickMs
        while true {
            let current = now
            if current >= target { return current }
            let realMicroseconds = (Double(target - current) * 1_000 / speed).rounded(.up)
            try await Task.sleep(for: .microseconds(max(1, Int64(realMicroseconds))))
        }
    }
}
