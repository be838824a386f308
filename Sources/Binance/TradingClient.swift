public import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// An error answer of Binance's API (`{"code":…,"msg":…}`), with its HTTP status.
public struct BinanceAPIError: Error, CustomStringConvertible, Sendable, Equatable {
    /// HTTP status.
    public var status: Int
    /// Binance's error code (0 when the body had none).
    public var code: Int
    /// Binance's message.
    public var message: String
    /// The endpoint.
    public var path: String

    public var description: String { "\(path): HTTP \(status), \(code): \(message)" }

    /// An error answer.
    public init(status: Int, code: Int, message: String, path: String) {
        self.status = status
        self.code = code
        self.message = message
        self.path = path
    }
}

/// The client side of Binance's signed REST API: requests signed with the account's key over the
/// percent-encoded payload (``SignedRequest``), timestamps on the server's clock (an offset measured
/// from `/api/v3/time`, measured again once when a request is refused with -1021), the weight the
/// server reports (`X-MBX-USED-WEIGHT-1M`) kept, and 429/418 answered by waiting `Retry-After`
/// before one retry. The key and secret never appear in a description, an error or a log line.
public final class BinanceTradingClient: Sendable {
    /// The REST base, e.g. `http://127.0.0.1:8765` or `https://api.binance.com`.
    public let baseURL: URL
    private let apiKey: String
    private let key: SigningKey
    private let recvWindow: Int
    private let clock: @Sendable () -> Int64
    private let sleep: @Sendable (Double) async throws -> Void
    private let state = Mutex<(offset: Int64, synced: Bool, usedWeight: Int)>((0, false, 0))

    /// A client.
    ///
    /// - Parameters:
    ///   - clock: the local wall clock (ms); the server's is this plus the measured offset.
    ///   - sleep: how waits are made (tests advance a simulated clock instead).
    public init(
        baseURL: URL,
        apiKey: String,
        key: SigningKey,
        recvWindow: Int = 5_000,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000) },
        sleep: @escaping @Sendable (Double) async throws -> Void = { try await Task.sleep(for: .seconds($0)) }
    ) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.key = key
        self.recvWindow = recvWindow
        self.clock = clock
        self.sleep = sleep
    }

    /// The server's clock minus the local one (ms), as last measured.
    public var serverOffset: Int64 { state.withLock { $0.offset } }

    /// The request weight the server reported for the current minute.
    public var usedWeight: Int { state.withLock { $0.usedWeight } }

    /// Measures the server's clock: the offset from the middle of a `/api/v3/time` round trip.
    public func syncTime() async throws {
        let before = clock()
        let data: Data
        do {
            data = try await send("GET", "/api/v3/time", query: "", body: nil, signed: false).data
        } catch let error as RetryAfter {
            throw error.answer
        }
        let after = clock()
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let server = (object["serverTime"] as? NSNumber)?.int64Value else {
            throw BinanceAPIError(status: 200, code: 0, message: "no serverTime in the answer", path: "/api/v3/time")
        }
        state.withLock { $0 = (server - (before + after) / 2, true, $0.usedWeight) }
    }

    /// `GET /api/v3/account`: the account's balances.
    public func account() async throws -> [String: Any] {
        let data = try await signed("GET", "/api/v3/account", [])
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw BinanceAPIError(status: 200, code: 0, message: "not a JSON object", path: "/api/v3/account")
        }
        return object
    }

    /// `POST /api/v3/order/test`: the order validated, not booked.
    public func testOrder(_ parameters: [(String, String)]) async throws {
        _ = try await signed("POST", "/api/v3/order/test", parameters)
    }

    /// A signed request: `timestamp` on the server's clock and `recvWindow` added, signed, sent as
    /// the query string (GET, DELETE) or a form body (POST, PUT). A -1021 answer (the local clock
    /// drifted) measures the offset again and retries once; a 429 or 418 waits `Retry-After` and
    /// retries once.
    public func signed(_ method: String, _ path: String, _ parameters: [(String, String)]) async throws -> Data {
        if !state.withLock({ $0.synced }) { try await syncTime() }
        var resynced = false
        var waited = false
        while true {
            let all = parameters + [("recvWindow", String(recvWindow)), ("timestamp", String(clock() + serverOffset))]
            let payload = SignedRequest.signedQuery(all, key: key)
            let inBody = method == "POST" || method == "PUT"
            do {
                return try await send(method, path, query: inBody ? "" : payload, body: inBody ? payload : nil, signed: true).data
            } catch let error as BinanceAPIError where error.code == -1021 && !resynced {
                resynced = true
                try await syncTime()
            } catch let error as RetryAfter {
                // One wait, as long as the server asks; refused again, the answer stands.
                if waited { throw error.answer }
                waited = true
                try await sleep(error.seconds)
            }
        }
    }

    struct RetryAfter: Error {
        var seconds: Double
        var answer: BinanceAPIError
    }

    private func send(_ method: String, _ path: String, query: String, body: String?, signed: Bool) async throws -> (data: Data, status: Int) {
        var components = URLComponents(url: baseURL.appendingPathComponent(String(path.dropFirst())), resolvingAgainstBaseURL: false)!
        if !query.isEmpty { components.percentEncodedQuery = query }
        var request = URLRequest(url: components.url!, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 30)
        request.httpMethod = method
        if signed { request.setValue(apiKey, forHTTPHeaderField: "X-MBX-APIKEY") }
        if let body {
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.utf8)
        }
        let (data, response): (Data, URLResponse) = try await withCheckedThrowingContinuation { continuation in
            URLSession.shared.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else if let data, let response {
                    continuation.resume(returning: (data, response))
                } else {
                    continuation.resume(throwing: URLError(.badServerResponse))
                }
            }.resume()
        }
        guard let http = response as? HTTPURLResponse else { throw URLError(.badServerResponse) }
        if let used = (http.value(forHTTPHeaderField: "X-MBX-USED-WEIGHT-1M")).flatMap(Int.init) {
            state.withLock { $0.usedWeight = used }
        }
        guard (200..<300).contains(http.statusCode) else {
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            let answer = BinanceAPIError(
                status: http.statusCode,
                code: (object?["code"] as? NSNumber)?.intValue ?? 0,
                message: object?["msg"] as? String ?? String(decoding: data.prefix(200), as: UTF8.self),
                path: path
            )
            if http.statusCode == 429 || http.statusCode == 418 {
                let seconds = http.value(forHTTPHeaderField: "Retry-After").flatMap(Double.init) ?? 1
                throw RetryAfter(seconds: seconds, answer: answer)
            }
            throw answer
        }
        return (data, http.statusCode)
    }
}
