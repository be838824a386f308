public import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// An error answer of Binance's API (`{"code":…,"msg":…}`), with its HTTP status.
public struct BinanceAPIError: Error, CustomStringConvertible, Sendable, Hashable {
    /// HTTP status.
    public var status: Int
    /// Binance's error code (0 when the body had none).
    public var code: Int
    /// Binance's message.
    public var message: String
    /// The endpoint.
    public var path: String
    /// For a 429 or 418 that the client did not (or no longer) wait out: the `Retry-After` the server
    /// sent, in seconds.
    public var retryAfterSeconds: Double?

    public var description: String {
        "\(path): HTTP \(status), \(code): \(message)" + (retryAfterSeconds.map { " (retry after \($0) s)" } ?? "")
    }

    /// An error answer.
    public init(status: Int, code: Int, message: String, path: String, retryAfterSeconds: Double? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.path = path
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// Whether Binance says the order does not exist: -2013 `Order does not exist.` (a query) or
    /// -2011 `Unknown order sent.` (a cancel).
    public var isUnknownOrder: Bool { code == -2013 || (code == -2011 && message == "Unknown order sent.") }

    /// Whether this is a rate limit: 429 (-1003 request weight, -1015 order count) or 418 (banned).
    public var isRateLimit: Bool { status == 429 || status == 418 }
}

/// A failure of a signed request that is not an error answer of Binance's API.
///
/// No case carries the API key, the secret or a signature.
public enum BinanceTradingError: Error, CustomStringConvertible, Sendable, Hashable {
    /// A write (an order placed or cancelled, an order list placed or cancelled) whose outcome the
    /// client cannot know: the server answered 5xx, or -1006 / -1007 ("execution status unknown"),
    /// or the request timed out or the connection dropped after the request may have been sent.
    /// Binance: "the execution status is UNKNOWN and could have been a success". The client never
    /// sends such a request again by itself; look the order up by its client order id
    /// (``BinanceTradingClient/queryOrder(symbol:_:)``, after the user data stream's
    /// ``BinanceUserDataStream/barrier()``) before deciding anything.
    case unknownOutcome(path: String, clientOrderID: String?, reason: String)
    /// The request failed in transport: for a read, any failure (timeout, dropped connection); for a
    /// write, only a connection that could not be opened, so nothing was sent.
    case transport(path: String, reason: String)
    /// A 2xx answer that could not be read. For a write it means Binance accepted the request:
    /// look the order up by its client order id.
    case malformedResponse(path: String, reason: String)
    /// A request the client refuses to send, e.g. a quantity that is not positive; nothing was sent.
    case invalidRequest(String)

    public var description: String {
        switch self {
        case .unknownOutcome(let path, let clientOrderID, let reason):
            "\(path): outcome unknown (\(reason))" + (clientOrderID.map { "; look up client order id \($0)" } ?? "")
        case .transport(let path, let reason): "\(path): \(reason)"
        case .malformedResponse(let path, let reason): "\(path): unreadable answer: \(reason)"
        case .invalidRequest(let reason): "request not sent: \(reason)"
        }
    }
}

/// The rate-limit counters Binance reported on the last answer that carried them.
public struct BinanceRateLimitUsage: Sendable, Equatable {
    /// `X-MBX-USED-WEIGHT-1M`: request weight used in the current minute (per IP).
    public var usedWeight1m: Int?
    /// `X-MBX-ORDER-COUNT-10S`: unfilled orders placed in the current 10 seconds (per account).
    public var orderCount10s: Int?
    /// `X-MBX-ORDER-COUNT-1D`: unfilled orders placed in the current day (per account).
    public var orderCount1d: Int?

    /// Nothing reported yet.
    public init(usedWeight1m: Int? = nil, orderCount10s: Int? = nil, orderCount1d: Int? = nil) {
        self.usedWeight1m = usedWeight1m
        self.orderCount10s = orderCount10s
        self.orderCount1d = orderCount1d
    }
}

/// The client side of Binance's signed REST API: requests signed with the account's key over the
/// percent-encoded payload (``SignedRequest``), timestamps on the server's clock (an offset measured
/// from `/api/v3/time`, measured again once when a request is refused with -1021), the rate-limit
/// counters the server reports kept (``rateLimits``), and 429/418 answered by waiting `Retry-After`
/// before one retry. The typed order calls are in `OrderAPI.swift`.
///
/// ## What is retried, and what never is
/// - GET and DELETE send their parameters as the query string, POST and PUT as an
///   `application/x-www-form-urlencoded` body; the signature covers exactly the bytes sent.
/// - -1021 (timestamp outside recvWindow) is a refusal before the matching engine: the offset is
///   measured again and the request sent once more with a new timestamp.
/// - 429 (-1003 weight, -1015 order count) and 418 (banned) are refusals: Binance booked nothing.
///   The client waits `Retry-After` (at most `maxRetryAfterSeconds`; a longer wait is thrown at
///   once as ``BinanceAPIError/retryAfterSeconds``) and sends the request once more, orders
///   included. A second refusal is thrown.
/// - A write (POST, PUT, DELETE: placing or cancelling) answered 5xx or -1006/-1007, or lost to a
///   timeout or a dropped connection, has an unknown outcome. It is **never** sent again:
///   ``BinanceTradingError/unknownOutcome(path:clientOrderID:reason:)`` is thrown with the client
///   order id to look up. A read in the same situation throws the answer or
///   ``BinanceTradingError/transport(path:reason:)``.
///
/// The API key and the secret never appear in a description, an error or a log line.
public final class BinanceTradingClient: Sendable, CustomStringConvertible, CustomReflectable {
    /// The REST base, e.g. `http://127.0.0.1:8765` or `https://api.binance.com`.
    public let baseURL: URL
    let apiKey: String
    let key: SigningKey
    private let recvWindow: Int
    let clock: @Sendable () -> Int64
    private let sleep: @Sendable (Double) async throws -> Void
    private let maxRetryAfterSeconds: Double
    /// One session per client: its configuration carries the timeout (FoundationNetworking on
    /// Linux ignores a request's own `timeoutInterval` and waits the session's 60 s).
    private let session: URLSession
    private let state = Mutex<State>(State())

    private struct State {
        var offset: Int64 = 0
        var synced = false
        var usage = BinanceRateLimitUsage()
    }

    /// A client.
    ///
    /// - Parameters:
    ///   - clock: the local wall clock (ms); the server's is this plus the measured offset.
    ///   - sleep: how waits are made (tests advance a simulated clock instead).
    ///   - maxRetryAfterSeconds: the longest `Retry-After` the client waits before its one retry; a
    ///     longer one (a 418 ban lasts from 2 minutes to 3 days) is thrown at once.
    ///   - requestTimeoutSeconds: how long a request may stay without an answer; a write that times
    ///     out has an unknown outcome.
    public init(
        baseURL: URL,
        apiKey: String,
        key: SigningKey,
        recvWindow: Int = 5_000,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000) },
        sleep: @escaping @Sendable (Double) async throws -> Void = { try await Task.sleep(for: .seconds($0)) },
        maxRetryAfterSeconds: Double = 300,
        requestTimeoutSeconds: Double = 30
    ) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.key = key
        self.recvWindow = recvWindow
        self.clock = clock
        self.sleep = sleep
        self.maxRetryAfterSeconds = maxRetryAfterSeconds
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = requestTimeoutSeconds
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        session = URLSession(configuration: configuration)
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    /// The base URL and the kind of key; never the key or the secret.
    public var description: String { "BinanceTradingClient(\(baseURL.absoluteString), \(key))" }

    /// What `dump` and debuggers show: the base URL and the kind of key, not the stored key.
    public var customMirror: Mirror {
        Mirror(self, children: ["baseURL": baseURL, "key": key.description], displayStyle: .class)
    }

    /// The server's clock minus the local one (ms), as last measured.
    public var serverOffset: Int64 { state.withLock { $0.offset } }

    /// The server's clock now (ms): the local clock plus the measured offset.
    public var serverTime: Int64 { clock() + serverOffset }

    /// The request weight the server reported for the current minute (0 before any answer).
    public var usedWeight: Int { state.withLock { $0.usage.usedWeight1m ?? 0 } }

    /// The rate-limit counters as last reported.
    public var rateLimits: BinanceRateLimitUsage { state.withLock { $0.usage } }

    /// Measures the server's clock: the offset from the middle of a `/api/v3/time` round trip.
    public func syncTime() async throws {
        let before = clock()
        let data: Data
        do {
            data = try await send("GET", "/api/v3/time", query: "", body: nil, signed: false)
        } catch let error as RetryAfter {
            throw error.answer
        } catch let error as TransportFailure {
            throw BinanceTradingError.transport(path: "/api/v3/time", reason: error.reason)
        }
        let after = clock()
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let server = (object["serverTime"] as? NSNumber)?.int64Value
        else {
            throw BinanceTradingError.malformedResponse(path: "/api/v3/time", reason: "no serverTime")
        }
        state.withLock {
            $0.offset = server - (before + after) / 2
            $0.synced = true
        }
    }

    /// `GET /api/v3/account` as a JSON object (the typed form is ``accountInformation(omitZeroBalances:)``).
    public func account() async throws -> [String: Any] {
        let data = try await signed("GET", "/api/v3/account", [])
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw BinanceTradingError.malformedResponse(path: "/api/v3/account", reason: "not a JSON object")
        }
        return object
    }

    /// `POST /api/v3/order/test`: the order validated, not booked.
    public func testOrder(_ parameters: [(String, String)]) async throws {
        _ = try await signed("POST", "/api/v3/order/test", parameters)
    }

    /// A signed request: `recvWindow` and `timestamp` (on the server's clock) appended, signed, sent
    /// as the query string (GET, DELETE) or a form body (POST, PUT). Retries as the type's
    /// documentation says: once after -1021 (offset measured again), once after a 429/418 (after
    /// `Retry-After`); a write whose outcome is unknown is never sent again.
    ///
    /// - Parameter clientOrderID: the client order id a write carries, named in
    ///   ``BinanceTradingError/unknownOutcome(path:clientOrderID:reason:)``.
    public func signed(
        _ method: String,
        _ path: String,
        _ parameters: [(String, String)],
        clientOrderID: String? = nil
    ) async throws -> Data {
        if !state.withLock({ $0.synced }) { try await syncTime() }
        let isWrite = method != "GET"
        var resynced = false
        var waited = false
        while true {
            let all = parameters + [("recvWindow", String(recvWindow)), ("timestamp", String(serverTime))]
            let payload = SignedRequest.signedQuery(all, key: key)
            let inBody = method == "POST" || method == "PUT"
            do {
                return try await send(
                    method,
                    path,
                    query: inBody ? "" : payload,
                    body: inBody ? payload : nil,
                    signed: true
                )
            } catch let error as BinanceAPIError where error.code == -1021 && !resynced {
                resynced = true
                try await syncTime()
            } catch let error as BinanceAPIError
                where isWrite && (error.status >= 500 || error.code == -1006 || error.code == -1007)
            {
                throw BinanceTradingError.unknownOutcome(
                    path: path,
                    clientOrderID: clientOrderID,
                    reason: "HTTP \(error.status), \(error.code): \(error.message)"
                )
            } catch let error as RetryAfter {
                // One wait, as long as the server asks; refused again, the answer stands. Binance
                // booked nothing on a 429/418, so sending an order again is safe.
                if waited || error.seconds > maxRetryAfterSeconds { throw error.answer }
                waited = true
                try await sleep(error.seconds)
            } catch let error as TransportFailure {
                if isWrite && !error.isBeforeSending {
                    throw BinanceTradingError.unknownOutcome(
                        path: path,
                        clientOrderID: clientOrderID,
                        reason: error.reason
                    )
                }
                throw BinanceTradingError.transport(path: path, reason: error.reason)
            }
        }
    }

    /// A 429 or 418 with the wait the server asks for.
    struct RetryAfter: Error {
        var seconds: Double
        var answer: BinanceAPIError
    }

    /// A request that got no HTTP answer.
    struct TransportFailure: Error {
        var reason: String
        /// Whether the failure came before the request could have left (no connection opened).
        var isBeforeSending: Bool
    }

    private func send(_ method: String, _ path: String, query: String, body: String?, signed: Bool) async throws -> Data
    {
        var components = URLComponents(
            url: baseURL.appendingPathComponent(String(path.dropFirst())),
            resolvingAgainstBaseURL: false
        )!
        if !query.isEmpty { components.percentEncodedQuery = query }
        var request = URLRequest(
            url: components.url!,
            cachePolicy: .reloadIgnoringLocalCacheData,
            timeoutInterval: session.configuration.timeoutIntervalForRequest
        )
        request.httpMethod = method
        if signed { request.setValue(apiKey, forHTTPHeaderField: "X-MBX-APIKEY") }
        if let body {
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.utf8)
        }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await withCheckedThrowingContinuation { continuation in
                session.dataTask(with: request) { data, response, error in
                    if let error {
                        continuation.resume(throwing: error)
                    } else if let data, let response {
                        continuation.resume(returning: (data, response))
                    } else {
                        continuation.resume(throwing: URLError(.badServerResponse))
                    }
                }.resume()
            }
        } catch let error as URLError {
            // The URL (with its signature) is left out of the reason.
            let beforeSending: Set<URLError.Code> = [
                .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet,
            ]
            throw TransportFailure(
                reason: "URLError \(error.code.rawValue) (\(Self.name(of: error.code)))",
                isBeforeSending: beforeSending.contains(error.code)
            )
        }
        guard let http = response as? HTTPURLResponse else {
            throw TransportFailure(reason: "not an HTTP answer", isBeforeSending: false)
        }
        recordLimits(http)
        guard (200..<300).contains(http.statusCode) else {
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            var answer = BinanceAPIError(
                status: http.statusCode,
                code: (object?["code"] as? NSNumber)?.intValue ?? 0,
                message: object?["msg"] as? String ?? String(decoding: data.prefix(200), as: UTF8.self),
                path: path
            )
            if http.statusCode == 429 || http.statusCode == 418 {
                let seconds = http.value(forHTTPHeaderField: "Retry-After").flatMap(Double.init) ?? 1
                answer.retryAfterSeconds = seconds
                throw RetryAfter(seconds: seconds, answer: answer)
            }
            throw answer
        }
        return data
    }

    /// Keeps the counters of an answer's `X-MBX-USED-WEIGHT-1M` and `X-MBX-ORDER-COUNT-10S`/`-1D`
    /// headers (Binance sends the order counts on successful order answers only).
    private func recordLimits(_ http: HTTPURLResponse) {
        let weight = http.value(forHTTPHeaderField: "X-MBX-USED-WEIGHT-1M").flatMap(Int.init)
        let orders10s = http.value(forHTTPHeaderField: "X-MBX-ORDER-COUNT-10S").flatMap(Int.init)
        let orders1d = http.value(forHTTPHeaderField: "X-MBX-ORDER-COUNT-1D").flatMap(Int.init)
        state.withLock {
            if let weight { $0.usage.usedWeight1m = weight }
            if let orders10s { $0.usage.orderCount10s = orders10s }
            if let orders1d { $0.usage.orderCount1d = orders1d }
        }
    }

    private static func name(of code: URLError.Code) -> String {
        switch code {
        case .timedOut: "timed out"
        case .networkConnectionLost: "connection lost"
        case .cannotConnectToHost: "cannot connect"
        case .cannotFindHost, .dnsLookupFailed: "host not found"
        case .notConnectedToInternet: "not connected"
        case .badServerResponse: "bad server response"
        case .zeroByteResource: "empty answer"
        case .cancelled: "cancelled"
        default: "network error"
        }
    }
}
