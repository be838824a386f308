import Binance
import Exchange
import Foundation
import Logging
import MarketData
import ScalperCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The local exchange's order API timed over loopback (issue #12): an exchange served in this
/// process on 127.0.0.1, one account, MARKET orders for FILUSDT alternating BUY and SELL (so the
/// balances stay put) with FULL answers, each checked to be FILLED with its fills.
///
/// - Round trip, order limits ON (REQUEST_WEIGHT, ORDERS per 10 s and per day, MAX_NUM_ORDERS as
///   ``ExchangeSettings`` has them): one connection, one order at a time, on a ``ManualClock``
///   moved on 10 s after every 100 orders, so each 10-second window of the exchange's clock takes
///   exactly its ORDERS limit; the 101st order of the last window must be refused (429, -1015).
/// - Throughput, order limits OFF (capacity mode): 8 connections placing orders at once on the
///   exchange's wall clock, orders completed per second over a few seconds.
///
/// Both are measured with a lean keep-alive HTTP/1.1 client over a blocking socket
/// (``LoopbackHTTPConnection``, signing timed), which shows what the exchange itself takes — the
/// headline `exchange.*` figures — and with the product's client, ``BinanceTradingClient``
/// (URLSession), as `*_binance_client*`. Every line names its client.
extension BenchCommand {
    func benchExchange() async throws {
        guard let store else { throw fail("the exchange figures need --store (a store with FILUSDT 1m bars)") }
        let loaded = ContinuousClock.now
        let market = try exchangeBenchMarket(store: store)
        let symbol = ExchangeBench.symbol
        guard let filters = market.pairs[symbol]?.filters else { throw fail("\(symbol) is not served") }
        let start = ExchangeServer.defaultStart(of: market) / 10_000 * 10_000
        guard let price = market.state(symbol, at: start)?.price, price > 0 else {
            throw fail("\(symbol) has no price at the start")
        }
        // Twice the minimum notional, on the lot grid.
        let steps = (2 * filters.minNotional / price / filters.lotStep).rounded(.up)
        let quantity = String(format: "%.\(filters.quantityDecimals)f", steps * filters.lotStep)
        note(
            "exchange: \(symbol) from \(UTC.minuteString(start)), MARKET \(quantity) (about \(String(format: "%.2f", steps * filters.lotStep * price)) USDT) alternating BUY/SELL, FULL answers; market ready in \(String(format: "%.2f", elapsed(since: loaded))) s"
        )

        let bench = ExchangeBench(market: market, quantity: quantity, start: start)
        let product = try await bench.roundTripWithProductClient()
        let lean = try await bench.roundTripWithLeanClient()
        let limits = bench.settings()
        let limitLine =
            "limits ON (REQUEST_WEIGHT \(limits.weightLimitPerMinute)/min, ORDERS \(limits.trading.ordersPer10Seconds)/10 s and \(limits.trading.ordersPerDay)/day, MAX_NUM_ORDERS \(limits.trading.maxOpenOrdersPerSymbol)) on a ManualClock moved 10 s after every \(limits.trading.ordersPer10Seconds) orders"
        let clients = [
            ("BinanceTradingClient (URLSession; signing and JSON decoding timed)", product),
            ("lean HTTP/1.1 socket client (signing timed)", lean),
        ]
        for (client, figures) in clients {
            note(
                "exchange round trip, \(client), 1 connection, \(limitLine): \(figures.count) orders after \(ExchangeBench.warmUp) warm-up, p50 \(us(figures.p50)) us, p99 \(us(figures.p99)) us, max \(us(figures.max)) us"
            )
        }
        note(
            "exchange: order \(limits.trading.ordersPer10Seconds + 1) of a full 10-second window was refused (HTTP 429, -1015): the ORDERS limit held"
        )

        let parts = try await bench.breakdown()
        note(
            "exchange breakdown, lean client, 1 connection, limits OFF: "
                + parts.map { "\($0.0) p50 \(us($0.1.p50)) us p99 \(us($0.1.p99)) us" }.joined(separator: "; ")
        )

        let productRate = try await bench.throughputWithProductClient()
        let leanRate = try await bench.throughputWithLeanClient()
        for (client, rate) in [
            ("BinanceTradingClient (URLSession)", productRate),
            ("lean HTTP/1.1 socket client (signing in the loop)", leanRate),
        ] {
            note(
                "exchange throughput, \(client), \(ExchangeBench.connections) connections, limits OFF (capacity mode: no ORDERS, MAX_NUM_ORDERS or REQUEST_WEIGHT limit), WallClock 1x: \(rate.orders) orders in \(String(format: "%.2f", rate.seconds)) s after \(ExchangeBench.throughputWarmUp) s warm-up = \(Int(rate.perSecond)) orders/s"
            )
        }

        note(
            "exchange: exchange.order_roundtrip_* and exchange.orders_per_s are the exchange's figures, through the lean keep-alive socket client (signing timed, in the loop); *_binance_client* are the same through the product's BinanceTradingClient, whose URLSession (libcurl) adds its own cost per request"
        )
        print("bench exchange.order_roundtrip_p50_us \(us(lean.p50)) us")
        print("bench exchange.order_roundtrip_p99_us \(us(lean.p99)) us")
        print("bench exchange.order_roundtrip_count \(lean.count) orders")
        print("bench exchange.order_roundtrip_binance_client_p50_us \(us(product.p50)) us")
        print("bench exchange.order_roundtrip_binance_client_p99_us \(us(product.p99)) us")
        print("bench exchange.order_roundtrip_binance_client_count \(product.count) orders")
        print("bench exchange.orders_per_s \(Int(leanRate.perSecond)) orders/s")
        print("bench exchange.orders_per_s_binance_client \(Int(productRate.perSecond)) orders/s")
    }

    /// The symbol's 1m bars from the store, served with the store's filters, as `scalper exchange`
    /// serves them.
    private func exchangeBenchMarket(store path: String) throws -> ReplayMarket {
        let store = try MarketStore(path: path)
        let symbol = ExchangeBench.symbol
        let klines: [Kline]
        do {
            klines = try store.requireKlines(symbol: symbol, interval: .oneMinute, from: .min, to: .max)
        } catch let error as SeriesLookupError {
            throw fail("\(path): \(error)")
        }
        let filters = try store.sourcedSymbolFilters(symbol: symbol).filters
        return try ReplayMarket(series: [(symbol, klines)], filters: [symbol: filters])
    }

    private func us(_ seconds: Double) -> String { String(format: "%.0f", seconds * 1e6) }
}

/// Latencies of one run, in seconds.
private struct RoundTrips {
    var count: Int
    var p50: Double
    var p99: Double
    var max: Double

    init(_ values: [Double]) {
        let sorted = values.sorted()
        count = sorted.count
        func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        p50 = at(0.5)
        p99 = at(0.99)
        max = sorted.last ?? 0
    }
}

/// Orders completed in the timed part of a throughput run.
private struct Throughput {
    var orders: Int
    var seconds: Double
    var perSecond: Double { Double(orders) / seconds }
}

/// One run's exchange, account and order, and the four measurements.
private struct ExchangeBench: Sendable {
    static let symbol = "FILUSDT"
    static let apiKey = "benchExchangeKey0123456789"
    static let secret = "benchExchangeSecret0123456789"
    /// Orders per round-trip run before the timed ones.
    static let warmUp = 200
    /// Timed orders per round-trip run (a multiple of 100 with ``warmUp``: the last window full).
    static let timed = 3_000
    /// Timed calls of each kind in the breakdown.
    static let breakdownCalls = 2_000
    /// Connections of a throughput run.
    static let connections = 8
    /// Seconds of a throughput run before counting starts, and the seconds counted.
    static let throughputWarmUp = 1.0
    static let throughputSeconds = 4.0

    let market: ReplayMarket
    /// Base quantity of every order (decimal text on the lot grid).
    let quantity: String
    /// Sim time of the round-trip runs' ManualClock (on a 10-second boundary).
    let start: Int64

    static let logger: Logger = {
        var logger = Logger(label: "scalper.bench.exchange")
        logger.logLevel = .critical
        return logger
    }()

    /// Default settings (every limit on) with the one account, funded far beyond what the run moves.
    func settings() -> ExchangeSettings {
        var settings = ExchangeSettings()
        settings.accounts = ExchangeAccounts([
            .init(
                apiKey: Self.apiKey,
                verifier: .hmac(secret: Self.secret),
                free: ["USDT": 1_000_000_000, "FIL": 100_000_000]
            )
        ])
        return settings
    }

    /// The ORDERS limit of a 10-second window the round-trip runs fill.
    var ordersPerWindow: Int { settings().trading.ordersPer10Seconds }

    func side(_ i: Int) -> BinanceOrderSide { i % 2 == 0 ? .buy : .sell }

    /// The parameters of order `i` as the product's client sends them (FULL answer).
    func parameters(_ i: Int, connection: Int = 0) -> [(String, String)] {
        [
            ("symbol", Self.symbol), ("side", side(i).rawValue), ("type", "MARKET"), ("quantity", quantity),
            ("newClientOrderId", "b\(connection)-\(i)"), ("newOrderRespType", "FULL"),
        ]
    }

    // MARK: Round trip, limits on

    func roundTripWithProductClient() async throws -> RoundTrips {
        let clock = ManualClock(start: start)
        let server = ExchangeServer(market: market, settings: settings(), clock: clock)
        let (bench, perWindow) = (self, ordersPerWindow)
        let times = try await server.serving(logger: Self.logger) { port in
            let client = BinanceTradingClient(
                baseURL: URL(string: "http://127.0.0.1:\(port)")!,
                apiKey: Self.apiKey,
                key: .hmac(secret: Self.secret),
                clock: { clock.now }
            )
            try await client.syncTime()
            let quantity = Decimal(string: bench.quantity, locale: Locale(identifier: "en_US_POSIX")) ?? 0
            var times: [Double] = []
            times.reserveCapacity(Self.timed)
            for i in 0..<(Self.warmUp + Self.timed) {
                if i > 0 && i % perWindow == 0 { clock.advance(by: 10_000) }
                let order = BinanceNewOrder.market(
                    symbol: Self.symbol,
                    side: bench.side(i),
                    quantity: quantity,
                    responseType: .full
                )
                let t0 = ContinuousClock.now
                let answer = try await client.newOrder(order)
                let dt = elapsed(since: t0)
                guard answer.order?.status == .filled, !answer.fills.isEmpty else {
                    throw BenchFailure("order \(i): not a FULL answer of a filled order: \(answer)")
                }
                if i % perWindow == perWindow - 1, client.rateLimits.orderCount10s != perWindow {
                    throw BenchFailure(
                        "order \(i): X-MBX-ORDER-COUNT-10S is \(client.rateLimits.orderCount10s.map(String.init) ?? "missing"), not \(perWindow)"
                    )
                }
                if i >= Self.warmUp { times.append(dt) }
            }
            return times
        }
        return RoundTrips(times)
    }

    func roundTripWithLeanClient() async throws -> RoundTrips {
        let clock = ManualClock(start: start)
        let server = ExchangeServer(market: market, settings: settings(), clock: clock)
        let (bench, perWindow) = (self, ordersPerWindow)
        let times = try await server.serving(logger: Self.logger) { port in
            try await onThread("bench-roundtrip") {
                let connection = try LoopbackHTTPConnection(port: port)
                var times: [Double] = []
                times.reserveCapacity(Self.timed)
                for i in 0..<(Self.warmUp + Self.timed) {
                    if i > 0 && i % perWindow == 0 { clock.advance(by: 10_000) }
                    // Signing is timed: a signed order → its FULL answer.
                    let t0 = ContinuousClock.now
                    let request = connection.signedPost("/api/v3/order", bench.parameters(i), now: clock.now)
                    let answer = try connection.roundTrip(request)
                    let dt = elapsed(since: t0)
                    try answer.requireFilledFull(order: i)
                    if i % perWindow == perWindow - 1, answer.header("x-mbx-order-count-10s") != String(perWindow) {
                        throw BenchFailure(
                            "order \(i): X-MBX-ORDER-COUNT-10S is \(answer.header("x-mbx-order-count-10s") ?? "missing"), not \(perWindow)"
                        )
                    }
                    if i >= Self.warmUp { times.append(dt) }
                }
                // The window is full: the next order must be refused, or the limit was not on.
                let refused = try connection.roundTrip(
                    connection.signedPost("/api/v3/order", bench.parameters(Self.warmUp + Self.timed), now: clock.now)
                )
                guard refused.status == 429, refused.contains(#""code":-1015"#) else {
                    throw BenchFailure(
                        "order \(perWindow + 1) of a 10-second window: HTTP \(refused.status) \(refused.text.prefix(200)), not 429 / -1015"
                    )
                }
                return times
            }
        }
        return RoundTrips(times)
    }

    // MARK: Where a round trip goes

    /// One lean connection, limits off: signing an order (client side), `GET /api/v3/ping` (the
    /// HTTP server alone), `POST /api/v3/order/test` (signature and order checks, nothing booked)
    /// and `POST /api/v3/order` (the same, booked and matched): where an order's time goes.
    func breakdown() async throws -> [(String, RoundTrips)] {
        let server = ExchangeServer(market: market, settings: capacitySettings())
        let bench = self
        return try await server.serving(logger: Self.logger) { port in
            try await onThread("bench-breakdown") {
                let connection = try LoopbackHTTPConnection(port: port)
                var signing: [Double] = []
                func timed(_ request: (Int) -> [UInt8]) throws -> RoundTrips {
                    var times: [Double] = []
                    for i in 0..<(Self.warmUp + Self.breakdownCalls) {
                        let s0 = ContinuousClock.now
                        let bytes = request(i)
                        signing.append(elapsed(since: s0))
                        let t0 = ContinuousClock.now
                        let answer = try connection.roundTrip(bytes)
                        let dt = elapsed(since: t0)
                        guard answer.status == 200 else {
                            throw BenchFailure("HTTP \(answer.status) \(answer.text.prefix(300))")
                        }
                        if i >= Self.warmUp { times.append(dt) }
                    }
                    return RoundTrips(times)
                }
                let ping = try timed { _ in connection.get("/api/v3/ping") }
                signing = []
                let test = try timed { i in
                    connection.signedPost("/api/v3/order/test", bench.parameters(i), now: server.now)
                }
                let order = try timed { i in
                    connection.signedPost("/api/v3/order", bench.parameters(i), now: server.now)
                }
                return [
                    ("signing an order (client)", RoundTrips(signing)), ("GET /api/v3/ping", ping),
                    ("POST /api/v3/order/test", test), ("POST /api/v3/order", order),
                ]
            }
        }
    }

    // MARK: Throughput, limits off

    /// Limits off, on the exchange's wall clock at 1x.
    func capacitySettings() -> ExchangeSettings {
        var settings = settings()
        settings.trading.limitsEnabled = false
        settings.weightLimitPerMinute = 0
        settings.startTime = start
        return settings
    }

    func throughputWithProductClient() async throws -> Throughput {
        let server = ExchangeServer(market: market, settings: capacitySettings())
        let bench = self
        return try await server.serving(logger: Self.logger) { port in
            let quantity = Decimal(string: bench.quantity, locale: Locale(identifier: "en_US_POSIX")) ?? 0
            let window = ThroughputWindow()
            let counts = try await withThrowingTaskGroup(of: Int.self) { group in
                for c in 0..<Self.connections {
                    group.addTask {
                        // Its own client: its own URLSession, so its own connection.
                        let client = BinanceTradingClient(
                            baseURL: URL(string: "http://127.0.0.1:\(port)")!,
                            apiKey: Self.apiKey,
                            key: .hmac(secret: Self.secret)
                        )
                        try await client.syncTime()
                        var counted = 0
                        var i = 0
                        while ContinuousClock.now < window.end {
                            let order = BinanceNewOrder.market(
                                symbol: Self.symbol,
                                side: bench.side(i),
                                quantity: quantity,
                                responseType: .full
                            )
                            let answer = try await client.newOrder(order)
                            guard answer.order?.status == .filled, !answer.fills.isEmpty else {
                                throw BenchFailure(
                                    "connection \(c), order \(i): not a FULL answer of a filled order: \(answer)"
                                )
                            }
                            if window.counts(ContinuousClock.now) { counted += 1 }
                            i += 1
                        }
                        return counted
                    }
                }
                return try await group.reduce(0, +)
            }
            return Throughput(orders: counts, seconds: Self.throughputSeconds)
        }
    }

    func throughputWithLeanClient() async throws -> Throughput {
        let server = ExchangeServer(market: market, settings: capacitySettings())
        let bench = self
        return try await server.serving(logger: Self.logger) { port in
            let window = ThroughputWindow()
            let counts = try await withThrowingTaskGroup(of: Int.self) { group in
                for c in 0..<Self.connections {
                    group.addTask {
                        try await onThread("bench-orders-\(c)") {
                            let connection = try LoopbackHTTPConnection(port: port)
                            var counted = 0
                            var i = 0
                            while ContinuousClock.now < window.end {
                                // Timestamps on the exchange's own clock: a client perfectly in sync.
                                let request = connection.signedPost(
                                    "/api/v3/order",
                                    bench.parameters(i, connection: c),
                                    now: server.now
                                )
                                let answer = try connection.roundTrip(request)
                                try answer.requireFilledFull(order: i)
                                if window.counts(ContinuousClock.now) { counted += 1 }
                                i += 1
                            }
                            return counted
                        }
                    }
                }
                return try await group.reduce(0, +)
            }
            return Throughput(orders: counts, seconds: Self.throughputSeconds)
        }
    }
}

/// The timed part of a throughput run: from the warm-up's end to the run's end.
private struct ThroughputWindow: Sendable {
    let begin: ContinuousClock.Instant
    let end: ContinuousClock.Instant

    init() {
        begin = .now + .seconds(ExchangeBench.throughputWarmUp)
        end = begin + .seconds(ExchangeBench.throughputSeconds)
    }

    /// Whether an order completed at `instant` counts.
    func counts(_ instant: ContinuousClock.Instant) -> Bool { instant >= begin && instant < end }
}

/// Where `needle` first starts in `haystack`.
private func offset(of needle: UnsafeRawBufferPointer, in haystack: UnsafeRawBufferPointer) -> Int? {
    guard !needle.isEmpty, needle.count <= haystack.count else { return needle.isEmpty ? 0 : nil }
    let first = needle[0]
    var i = 0
    while i <= haystack.count - needle.count {
        if haystack[i] == first {
            var j = 1
            while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
            if j == needle.count { return i }
        }
        i += 1
    }
    return nil
}

/// A failed check of the exchange benchmark.
private struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

private func elapsed(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// Runs `body` on a thread of its own (blocking socket calls stay off the cooperative pool).
private func onThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = name
        thread.start()
    }
}

/// One keep-alive HTTP/1.1 connection to 127.0.0.1 over a blocking socket (TCP_NODELAY): a request
/// written in one `send`, the answer read up to its `Content-Length`. The leanest client there is,
/// so a round trip through it is what the exchange takes plus the loopback. Not `Sendable`: one
/// thread uses it.
private final class LoopbackHTTPConnection {
    struct Answer {
        var status: Int
        /// Header names lowercased.
        var headers: [String: String]
        var body: [UInt8]

        var text: String { String(decoding: body, as: UTF8.self) }

        func header(_ name: String) -> String? { headers[name] }

        /// Whether the body holds `fragment` (a byte search: no Foundation or generic collection search).
        func contains(_ fragment: String) -> Bool {
            var fragment = fragment
            return fragment.withUTF8 { needle in
                body.withUnsafeBytes { offset(of: UnsafeRawBufferPointer(needle), in: $0) != nil }
            }
        }

        /// A FULL answer of a FILLED order with its fills.
        func requireFilledFull(order i: Int) throws {
            guard status == 200, contains(#""status":"FILLED""#), contains(#""fills":[{"#) else {
                throw BenchFailure(
                    "order \(i): HTTP \(status) \(text.prefix(300)), not a FULL answer of a filled order"
                )
            }
        }
    }

    private let socket: Int32
    private let port: Int
    /// Bytes read and not yet consumed.
    private var pending: [UInt8] = []
    private var scratch = [UInt8](repeating: 0, count: 1 << 16)

    init(port: Int) throws {
        #if canImport(Glibc)
            let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = Darwin.socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw BenchFailure("socket(): errno \(errno)") }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        #if canImport(Darwin)
            _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 else {
            let code = errno
            close(fd)
            throw BenchFailure("connect(127.0.0.1:\(port)): errno \(code)")
        }
        socket = fd
        self.port = port
    }

    deinit { close(socket) }

    /// The bytes of `POST path` with `parameters` and `timestamp` = `now`, signed as the product
    /// signs them (``SignedRequest``, HMAC-SHA256), as a form body.
    func signedPost(_ path: String, _ parameters: [(String, String)], now: Int64) -> [UInt8] {
        let body = SignedRequest.signedQuery(
            parameters + [("timestamp", String(now))],
            key: .hmac(secret: ExchangeBench.secret)
        )
        let head =
            "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nX-MBX-APIKEY: \(ExchangeBench.apiKey)\r\n"
            + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
        return Array((head + body).utf8)
    }

    /// The bytes of `GET path` (unsigned).
    func get(_ path: String) -> [UInt8] { Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8) }

    /// Sends `request` and reads its whole answer.
    func roundTrip(_ request: [UInt8]) throws -> Answer {
        try send(request)
        return try readAnswer()
    }

    private func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            #if canImport(Glibc)
                let n = bytes.withUnsafeBytes {
                    Glibc.send(socket, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL))
                }
            #else
                let n = bytes.withUnsafeBytes { Darwin.send(socket, $0.baseAddress! + sent, $0.count - sent, 0) }
            #endif
            guard n > 0 else { throw BenchFailure("send: errno \(errno)") }
            sent += n
        }
    }

    /// Reads more bytes into `pending`.
    private func receive() throws {
        let n = scratch.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw BenchFailure(n == 0 ? "the exchange closed the connection" : "recv: errno \(errno)") }
        pending.append(contentsOf: scratch[0..<n])
    }

    private func readAnswer() throws -> Answer {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while true {
            try receive()
            if let found = pending.withUnsafeBytes({ bytes in separator.withUnsafeBytes { offset(of: $0, in: bytes) } }) {
                headEnd = found
                break
            }
        }
        let head = String(decoding: pending[0..<headEnd!], as: UTF8.self)
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusWords = lines[0].split(separator: " ")
        guard statusWords.count >= 2, statusWords[0].hasPrefix("HTTP/1."), let status = Int(statusWords[1]) else {
            throw BenchFailure("not an HTTP/1.1 status line: \(lines[0])")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].drop { $0 == " " })
        }
        guard let length = headers["content-length"].flatMap({ Int($0) }) else {
            throw BenchFailure(
                "an answer without Content-Length (\(headers["transfer-encoding"] ?? "no transfer-encoding")); this client reads only those"
            )
        }
        let bodyStart = headEnd! + 4
        while pending.count < bodyStart + length { try receive() }
        let body = Array(pending[bodyStart..<(bodyStart + length)])
        pending.removeFirst(bodyStart + length)
        return Answer(status: status, headers: headers, body: body)
    }
}
