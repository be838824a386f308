public import Foundation
import HTTPTypes
import Hummingbird
import Logging
public import ScalperCore
import ServiceLifecycle
import Synchronization

/// A Binance-compatible HTTP server on 127.0.0.1 for download tests: `/api/v3/klines` over
/// in-memory series and Binance Vision files from a folder, with faults injected on demand.
///
/// It grows into the local exchange of a later issue; for now it serves what `scalper download`
/// needs. Every request is logged so tests can check what was (and was not) fetched.
public final class LocalBinanceServer: Sendable {
    /// Faults to inject.
    public struct Faults: Sendable {
        /// Answer this many `/api/v3/klines` requests with 429 and `Retry-After` before serving.
        public var rateLimitedRequests = 0
        /// The `Retry-After` value sent with those 429s, in seconds.
        public var retryAfterSeconds = 1
        /// Answer this many requests with 503 before serving.
        public var serverErrors = 0
        /// Hold the n-th (1-based) klines request without answering until the server stops.
        public var hangAtKlinesRequest: Int?
        /// Serve Vision zips with one byte flipped (so their SHA-256 no longer matches).
        public var corruptZips = false
        /// Used weight reported in `X-MBX-USED-WEIGHT-1M` on every response.
        public var usedWeight = 2

        /// No faults.
        public init() {}
    }

    /// One request as the server saw it.
    public struct LoggedRequest: Sendable {
        /// The path.
        public var path: String
        /// The query parameters.
        public var query: [String: String]
        /// The status answered (0 while held).
        public var status: Int
    }

    private struct State {
        var faults: Faults
        var requests: [LoggedRequest] = []
        var klinesRequests = 0
    }

    private let state: Mutex<State>
    private let series: [String: [Kline]]
    private let visionRoot: URL?

    /// Creates a server over `series` (symbol → bars, `1m`) and, optionally, a folder laid out like
    /// Binance Vision (`data/spot/monthly/klines/S/1m/S-1m-YYYY-MM.zip` and `.CHECKSUM`).
    public init(series: [String: [Kline]], visionRoot: URL? = nil, faults: Faults = Faults()) {
        self.series = series
        self.visionRoot = visionRoot
        self.state = Mutex(State(faults: faults))
    }

    /// Replaces the faults (e.g. to stop hanging before a resumed run).
    public func setFaults(_ faults: Faults) { state.withLock { $0.faults = faults } }

    /// Every request so far, in order.
    public var requests: [LoggedRequest] { state.withLock { $0.requests } }

    /// Runs the server for the duration of `body`, which receives its base URL.
    public func run<R: Sendable>(_ body: @Sendable (URL) async throws -> R) async throws -> R {
        let router = Router()
        router.get("/api/v3/ping") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "{}"))) }
        router.get("/api/v3/klines") { [self] request, _ in try await self.klines(request) }
        router.get("/data/**") { [self] request, _ in self.visionFile(request) }
        var logger = Logger(label: "local-binance-server")
        logger.logLevel = .critical
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(), port > 0, let url = URL(string: "http://127.0.0.1:\(port)") else {
                tasks.cancelAll()
                throw CancellationError()
            }
            do {
                let result = try await body(url)
                await group.triggerGracefulShutdown()
                tasks.cancelAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                tasks.cancelAll()
                throw error
            }
        }
    }

    private func log(_ request: Request, status: Int) -> Int {
        var query: [String: String] = [:]
        for (k, v) in request.uri.queryParameters { query[String(k)] = String(v) }
        return state.withLock {
            $0.requests.append(LoggedRequest(path: request.uri.path, query: query, status: status))
            return $0.requests.count - 1
        }
    }

    private func json(_ status: HTTPResponse.Status, _ text: String, weight: Int, extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let name = HTTPField.Name("X-MBX-USED-WEIGHT-1M") { headers[name] = String(weight) }
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private func klines(_ request: Request) async throws -> Response {
        enum Action {
            case serve, rateLimit(Int), serverError, hang
        }
        let (action, weight): (Action, Int) = state.withLock {
            $0.klinesRequests += 1
            let weight = $0.faults.usedWeight
            if $0.faults.rateLimitedRequests > 0 {
                $0.faults.rateLimitedRequests -= 1
                return (.rateLimit($0.faults.retryAfterSeconds), weight)
            }
            if $0.faults.serverErrors > 0 {
                $0.faults.serverErrors -= 1
                return (.serverError, weight)
            }
            if let n = $0.faults.hangAtKlinesRequest, $0.klinesRequests >= n { return (.hang, weight) }
            return (.serve, weight)
        }
        switch action {
        case .rateLimit(let seconds):
            _ = log(request, status: 429)
            return json(
                .tooManyRequests,
                #"{"code":-1003,"msg":"Too many requests."}"#,
                weight: weight,
                extra: [.retryAfter: String(seconds)]
            )
        case .serverError:
            _ = log(request, status: 503)
            return json(.serviceUnavailable, #"{"code":-1001,"msg":"Internal error."}"#, weight: weight)
        case .hang:
            _ = log(request, status: 0)
            try await Task.sleep(for: .seconds(3600))
            return json(.ok, "[]", weight: weight)
        case .serve:
            break
        }
        let q = request.uri.queryParameters
        let symbol = q["symbol"].map(String.init) ?? ""
        guard let bars = series[symbol] else {
            _ = log(request, status: 400)
            return json(.badRequest, #"{"code":-1121,"msg":"Invalid symbol."}"#, weight: weight)
        }
        let limit = min(1000, q["limit"].flatMap { Int(String($0)) } ?? 500)
        let start = q["startTime"].flatMap { Int64(String($0)) } ?? Int64.min
        let end = q["endTime"].flatMap { Int64(String($0)) } ?? Int64.max
        let page = bars.lazy.filter { $0.openTime >= start && $0.openTime <= end }.prefix(limit)
        let rows = page.map { k in
            "[\(k.openTime),\"\(k.open)\",\"\(k.high)\",\"\(k.low)\",\"\(k.close)\",\"\(k.volume)\",\(k.closeTime),\"\(k.quoteVolume)\",\(Int64(k.tradeCount)),\"\(k.takerBuyBaseVolume)\",\"\(k.takerBuyQuoteVolume)\",\"0\"]"
        }
        _ = log(request, status: 200)
        return json(.ok, "[" + rows.joined(separator: ",") + "]", weight: weight)
    }

    private func visionFile(_ request: Request) -> Response {
        let path = request.uri.path
        guard let root = visionRoot, !path.contains(".."),
            var data = try? Data(contentsOf: root.appendingPathComponent(String(path.dropFirst())))
        else {
            _ = log(request, status: 404)
            return Response(status: .notFound)
        }
        if state.withLock({ $0.faults.corruptZips }), path.hasSuffix(".zip"), !data.isEmpty {
            data[data.count / 2] ^= 0xFF
        }
        _ = log(request, status: 200)
        return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
