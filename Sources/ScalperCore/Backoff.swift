/// Exponential backoff with jitter: the one formula behind the Binance module's REST retries
/// (`RetryingClient`, used by MarketData's downloads) and its reconnects (`CombinedStream` for the
/// scanner, `KlineFeed`, the user data stream).
///
/// Wait number `attempt` (0-based) has the ceiling `cap = min(maxSeconds, initialSeconds · 2^attempt)`,
/// which doubles per attempt until it saturates at `maxSeconds`. The wait itself is drawn uniformly
/// from `[cap / 2, cap]` ("equal jitter"): clients that failed together spread out, yet none retries
/// at once, which full jitter (`[0, cap]`) would allow against a server that just asked us to slow down.
public struct Backoff: Equatable, Sendable {
    /// The first ceiling, in seconds.
    public var initialSeconds: Double
    /// The largest ceiling, in seconds.
    public var maxSeconds: Double

    /// Creates a backoff whose ceiling starts at `initialSeconds` and never exceeds `maxSeconds`.
    public init(initialSeconds: Double, maxSeconds: Double) {
        self.initialSeconds = initialSeconds
        self.maxSeconds = maxSeconds
    }

    /// The ceiling of wait number `attempt` (0-based; negative counts as 0), in seconds.
    public func capSeconds(attempt: Int) -> Double {
        // 2^62 already saturates any sane maximum; clamping keeps the power finite.
        let power = Double(sign: .plus, exponent: min(max(attempt, 0), 62), significand: 1)
        return min(maxSeconds, initialSeconds * power)
    }

    /// A wait for `attempt`, uniform in `[cap / 2, cap]`, in seconds.
    public func seconds(attempt: Int, using generator: inout some RandomNumberGenerator) -> Double {
        let cap = capSeconds(attempt: attempt)
        return Double.random(in: (cap / 2)...cap, using: &generator)
    }

    /// A wait for `attempt` drawn from the system generator, in seconds.
    public func seconds(attempt: Int) -> Double {
        var generator = SystemRandomNumberGenerator()
        return seconds(attempt: attempt, using: &generator)
    }
}
