public import Foundation
import ScalperCore

/// How often and how long to retry a request.
public struct RetryPolicy: Sendable {
    /// Retries after the first attempt.
    public var maxRetries: Int
    /// The first backoff, in seconds.
    public var initialBackoffSeconds: Double
    /// The largest backoff, in seconds.
    public var maxBackoffSeconds: Double

    /// Creates a policy.
    public init(maxRetries: Int = 6, initialBackoffSeconds: Double = 1, maxBackoffSeconds: Double = 60) {
        self.maxRetries = maxRetries
        self.initialBackoffSeconds = initialBackoffSeconds
        self.maxBackoffSeconds = maxBackoffSeconds
    }

    /// The backoff these limits describe (``Backoff``, shared with the scanner's reconnects).
    var backoff: Backoff { Backoff(initialSeconds: initialBackoffSeconds, maxSeconds: maxBackoffSeconds) }

    /// The wait before retry `attempt` (0-based): ``Backoff/seconds(attempt:)``.
    public func backoffSeconds(attempt: Int) -> Double { backoff.seconds(attempt: attempt) }
}

/// GETs with retries: 429 and 418 wait for `Retry-After` (or back off), 5xx and dropped
/// connections back off exponentially; other statuses return to the caller.
public struct RetryingClient: Sendable {
    /// The transport.
    public let fetcher: any HTTPFetching
    /// The retry rules.
    public let policy: RetryPolicy
    /// Where waits are reported.
    public let progress: any DownloadProgressReporting
    /// Sleeps (injected so tests can observe waits).
    public let sleep: @Sendable (Double) async throws -> Void

    /// Creates a client.
    public init(
        fetcher: any HTTPFetching,
        policy: RetryPolicy,
        progress: any DownloadProgressReporting = SilentProgress(),
        sleep: @escaping @Sendable (Double) async throws -> Void = { seconds in
            try await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
        }
    ) {
        self.fetcher = fetcher
        self.policy = policy
        self.progress = progress
        self.sleep = sleep
    }

    /// GETs `url`, retrying as the policy says; returns the first response that is not retryable.
    public func get(_ url: URL, headers: [String: String] = [:]) async throws -> HTTPResponse {
        var last = ""
        for attempt in 0...policy.maxRetries {
            let response: HTTPResponse
            do {
                response = try await fetcher.get(url, headers: headers)
            } catch let error as CancellationError {
                throw error
            } catch {
                last = "\(error.localizedDescription)"
                if attempt == policy.maxRetries { break }
                let wait = policy.backoffSeconds(attempt: attempt)
                progress.note("\(url.absoluteString): \(last); retrying in \(format(wait)) s")
                try await sleep(wait)
                continue
            }
            switch response.status {
            case 429, 418:
                last = "HTTP \(response.status)"
                if attempt == policy.maxRetries { break }
                let retryAfter = response.headers["retry-after"].flatMap(Double.init)
                let wait = retryAfter ?? policy.backoffSeconds(attempt: attempt)
                progress.note(
                    "\(url.absoluteString): HTTP \(response.status) (\(response.status == 418 ? "IP banned" : "rate limited")); waiting \(format(wait)) s\(retryAfter != nil ? " as Retry-After asks" : "")"
                )
                try await sleep(wait)
            case 500...599:
                last = "HTTP \(response.status)"
                if attempt == policy.maxRetries { break }
                let wait = policy.backoffSeconds(attempt: attempt)
                progress.note("\(url.absoluteString): HTTP \(response.status); retrying in \(format(wait)) s")
                try await sleep(wait)
            default:
                return response
            }
        }
        throw DownloadError(
            url: url.absoluteString,
            reason: .retriesExhausted(attempts: policy.maxRetries + 1, last: last)
        )
    }

    private func format(_ seconds: Double) -> String { String(format: "%.1f", seconds) }
}
