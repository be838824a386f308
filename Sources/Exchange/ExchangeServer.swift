import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOWebSocket
public import Logging
import MarketData
import ScalperCore
import ServiceLifecycle
import Synchronization

/// Settings of the local exchange.
public struct ExchangeSettings: Sendable {
    /// Replay speed: sim seconds per real second (1 … 1000) of the ``WallClock`` the exchange runs
    /// on unless given another clock; ``forcedDisconnectSeconds`` is measured at this speed.
    public var speed: Double = 1
    /// Sim time the replay starts at (default: a day after the data starts, so 24 h stats are full),
    /// unless the exchange is given a clock.
    public var startTime: Int64?
    /// Close every WebSocket connection once it has been open this many seconds at ``speed``, that
    /// is `forcedDisconnectSeconds × speed` sim seconds on the exchange's clock: on the wall clock,
    /// this many real seconds (Binance: 24 h); nil = never.
    public var forcedDisconnectSeconds: Double?
    /// Probability per sim second that a connection is dropped (tests of resilience): one draw
    /// for every sim second a connection's clock crosses.
    public var dropProbability: Double = 0
    /// Streams a connection may hold (Binance: 1024).
    public var maxStreamsPerConnection = 1_024
    /// REQUEST_WEIGHT per minute of the exchange's clock (Binance: 6,000); past it, 429. 0: no limit.
    public var weightLimitPerMinute = 6_000
    /// Incoming WebSocket messages per connection per second of the exchange's clock (Binance: 5;
    /// the lock-step protocol's own messages do not count); past it, the connection is closed. 0: no limit.
    public var messagesPerSecond = 5
    /// Accounts for signed endpoints (``ExchangeAccounts/load(path:)``; none: market data only).
    public var accounts: ExchangeAccounts = .none
    /// Items (replies, per-stream sends) queued for a connection beyond which it is closed as a
    /// slow consumer.
    public var maxPendingFrames = 200_000
    /// How the exchange fills orders: the one fill model, its rule (`.continuous`: market orders
    /// walk the served book, resting orders trigger on the replayed trades; `.bar`: the backtest's
    /// bar rule, the parity mode) and the order limits.
    public var trading = ExchangeTradingSettings()
    /// Faults injected into the order API (tests of resilience).
    public var faults = FaultInjection()

    /// Defaults.
    public init() {}
}

/// A Binance-compatible exchange on 127.0.0.1 replaying recorded bars, answering as Binance
/// answers (rest-api.md, web-socket-streams.md: field names and order, weights, parameter checks
/// and error codes).
///
/// REST market data (MarketEndpoints.swift): `/api/v3/ping`, `time`, `exchangeInfo`, `depth`,
/// `trades`, `historicalTrades` (no API key needed, as since 2023-07), `aggTrades` (`fromId`,
/// `startTime`, `endTime`, `limit`), `klines` and `uiKlines` (1m as stored; 3m … 12h, 1d and 1w
/// built from the 1m bars; closed bars only), `avgPrice`, `ticker/24hr`, `ticker/price`,
/// `ticker/bookTicker` (each by `symbol`, `symbols` or all; `type` FULL/MINI), `ticker` (rolling
/// window) and `ticker/tradingDay`. The order API, the account and `/ws-api/v3` are the
/// ``ExchangeVenue``'s (TradingEndpoints.swift, WebSocketAPI.swift).
///
/// WebSocket market streams (`/ws/<stream>`, `/stream?streams=a/b`, live SUBSCRIBE / UNSUBSCRIBE /
/// LIST_SUBSCRIPTIONS): `<s>@trade` and `<s>@aggTrade` (every trade of the tape, at its time),
/// `<s>@miniTicker`, `!miniTicker@arr`, `<s>@ticker`, `<s>@ticker_<1h|4h|1d>`,
/// `!ticker_<1h|4h|1d>@arr` and `<s>@avgPrice` every sim second, `<s>@kline_<interval>` (and
/// `@<±hh:mm>` zones) every two sim seconds and at each bar's close (`x: true`, never skipped),
/// `<s>@bookTicker` and `<s>@depth<5|10|20>[@100ms|@1000ms]` from the book every sim second, and
/// `<s>@depth[@100ms|@1000ms]` diff events against it (U/u contiguous with the REST snapshot's
/// lastUpdateId). Stream names match whatever their case; combined frames and LIST_SUBSCRIPTIONS
/// carry each name as the connection subscribed it (`filusdt@aggTrade`, `!miniTicker@arr`), as
/// Binance's do. Everything is a function of sim time, read from a ``SimClock``: a connection
/// sends, at each tick of the clock, every frame due since its previous one (see
/// ``waitUntilSent(through:)``).
///
/// Trades come from one tape, ``ReplayMarket/trades(_:after:upTo:)``: the `trade` and `aggTrade`
/// streams, `trades`, `historicalTrades`, `aggTrades`, the last price and trade ids of the
/// tickers, `avgPrice` (the tape's volume-weighted price over 5 minutes) and the matching of
/// resting orders all read it, so what a client sees trade is what fills. Books come from
/// ``ReplayMarket/book(_:at:levels:)``: `depth`, `bookTicker` (REST and stream) and the tickers'
/// best levels agree. Where the store holds a recording of a symbol's streams, its books are
/// rebuilt from the recorded snapshot and diff events, and its diff events, book tickers and
/// trades are sent as recorded, at their own times and with their own ids. Prices and quantities
/// are strings, as Binance sends them: a price as a whole number of the pair's ticks with 8
/// decimals, and `exchangeInfo` gives each pair's ``ReplayPair/filters`` (tick, step, minimum
/// notional).
///
/// ## Lock-step mode
///
/// On a ``LockStepClock`` (`scalper exchange --lock-step`) the clock moves only when the
/// registered clients say so. The protocol, over any WebSocket connection (`/ws`, `/ws/<stream>`,
/// `/stream?streams=…`), in the shape of SUBSCRIBE:
///
/// - `{"method":"LOCKSTEP.REGISTER","params":{"client":"<name>"},"id":1}` registers the client
///   `<name>` (1…100 characters, no quotes or backslashes) on this connection. Reply
///   `{"result":null,"id":1}`. Subscribe first (in the URL or by SUBSCRIBE): right after the reply
///   the connection sends every subscribed stream's frames due up to now, then the mark
///   `{"e":"lockStep","E":<T>}` with T = the sim time now (ms).
/// - After each step of the clock the connection sends the frames due through the new time T,
///   then the mark `{"e":"lockStep","E":<T>}`: everything due on this connection through T is
///   above it.
/// - `{"method":"LOCKSTEP.DONE","params":{"client":"<name>","through":<T>},"id":2}` says the
///   client has acted on everything through T (ms, an integer). Reply `{"result":null,"id":2}`.
///   The clock moves on (by ``LockStepClock/stepMs``) once every registered client is done
///   through its time and every connection has written what is due.
/// - A client whose connection closes is still waited for. It registers again under the same
///   name on a new connection (subscribe, then LOCKSTEP.REGISTER): that connection first sends
///   every subscribed stream's frames after the last T it was done through (some may repeat what
///   the old connection sent before it closed), then the mark. One gone longer than
///   ``LockStepClock/reconnectTimeout`` is dropped, with a warning in the log; registering again
///   after that is a new client.
/// - Errors come as `{"error":{"code":2,"msg":"…"},"id":N}`: a LOCKSTEP method on an exchange
///   not in lock-step mode, a missing or bad `client` or `through`, DONE of a client not
///   registered (or dropped).
///
/// REST `/api/v3/time` answers the lock-step time. A client that acts on REST as well registers on
/// the WebSocket connection that carries the streams it acts on.
public final class ExchangeServer: Sendable {
    /// The market replayed.
    public let market: ReplayMarket
    /// Settings.
    public let settings: ExchangeSettings
    /// The clock the market is served at.
    public let clock: any SimClock
    let weights: WeightWindow
    /// Accounts, their orders and the matching of those orders against the replay.
    public let venue: ExchangeVenue
    private let connectionCount = Atomic<UInt64>(0)
    /// Per open WebSocket connection, the sim time through which it has written every frame due.
    private let sentThrough = SimTimeGate<[UInt64: Int64]>([:]) { sent, time in
        sent.values.allSatisfy { $0 >= time } ? time : nil
    }

    /// Creates a server over `market` on a ``WallClock`` at `settings.speed` from `settings.startTime`
    /// (default ``defaultStart(of:)``).
    public convenience init(market: ReplayMarket, settings: ExchangeSettings) {
        let start = settings.startTime ?? Self.defaultStart(of: market)
        self.init(market: market, settings: settings, clock: WallClock(start: start, speed: settings.speed))
    }

    /// Creates a server over `market` on `clock` (its `speed` and `startTime` settings unused but
    /// for ``ExchangeSettings/forcedDisconnectSeconds``).
    public init(market: ReplayMarket, settings: ExchangeSettings, clock: any SimClock) {
        self.market = market
        self.settings = settings
        self.clock = clock
        weights = WeightWindow(limit: settings.weightLimitPerMinute > 0 ? settings.weightLimitPerMinute : .max)
        venue = ExchangeVenue(market: market, accounts: settings.accounts, settings: settings.trading)
    }

    /// Where the replay starts by default: a day after the data starts, so 24 h stats are full.
    public static func defaultStart(of market: ReplayMarket) -> Int64 {
        min(market.start + 86_400_000, market.end - 60_000)
    }

    /// Sim time now, ms.
    public var now: Int64 { clock.now }

    /// WebSocket connections open now.
    public var openConnections: Int { sentThrough.read { $0.count } }

    /// Waits until every open WebSocket connection has written all its frames due through sim time
    /// `time` (a connection opened later has nothing due before it opened; one that closes no
    /// longer counts). With a ``ManualClock``: advance it to T, wait here, and every frame up to T
    /// is out, whatever the machine load.
    public func waitUntilSent(through time: Int64) async throws {
        _ = try await sentThrough.wait(until: time)
    }

    /// Serves on 127.0.0.1 on a free port for the duration of `body` (given the port), then stops:
    /// how tests and in-process clients run an exchange beside them.
    public func serving<R: Sendable>(logger: Logger, _ body: @Sendable (Int) async throws -> R) async throws -> R {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        return try await withThrowingTaskGroup(of: R?.self) { group in
            group.addTask {
                try await self.run(port: 0, logger: logger) { port in continuation.yield(port) }
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            let result = try await body(port)
            group.cancelAll()
            return result
        }
    }

    /// Runs until cancelled, calling `onStart` with the bound port.
    public func run(port: Int = 0, logger: Logger, onStart: @escaping @Sendable (Int) async -> Void) async throws {
        let router = Router(context: BasicWebSocketRequestContext.self)
        addREST(router)
        addTradingREST(router)
        let wsRouter = Router(context: BasicWebSocketRequestContext.self)
        wsRouter.ws("/ws/{stream}") { _, _ in .upgrade() } onUpgrade: { [self] inbound, outbound, context in
            let stream = context.request.uri.path.split(separator: "/").last.map(String.init) ?? ""
            try await self.serve(inbound: inbound, outbound: outbound, initial: stream.isEmpty ? [] : [stream], combined: false, logger: logger)
        }
        wsRouter.ws("/ws") { _, _ in .upgrade() } onUpgrade: { [self] inbound, outbound, _ in
            try await self.serve(inbound: inbound, outbound: outbound, initial: [], combined: false, logger: logger)
        }
        wsRouter.ws("/ws-api/v3") { _, _ in .upgrade() } onUpgrade: { [self] inbound, outbound, _ in
            try await self.serveAPI(inbound: inbound, outbound: outbound, logger: logger)
        }
        wsRouter.ws("/stream") { _, _ in .upgrade() } onUpgrade: { [self] inbound, outbound, context in
            let list = context.request.uri.queryParameters["streams"].map { $0.split(separator: "/").map(String.init) } ?? []
            try await self.serve(inbound: inbound, outbound: outbound, initial: list, combined: true, logger: logger)
        }
        var services: [any Service] = []
        if let lockStep = clock as? LockStepClock {
            services.append(LockStepStepper(clock: lockStep, server: self, logger: logger))
        } else {
            services.append(MatchingService(server: self))
        }
        let app = Application(
            router: router,
            // Binance pings every 20 s and closes a connection that sent no pong for a minute; the
            // server here pings once a minute and closes when the pong has not come by the next,
            // so a client gets the same minute (30 s, the default, closed clients of a loaded machine).
            server: .http1WebSocketUpgrade(
                webSocketRouter: wsRouter,
                configuration: .init(ws: .init(autoPing: .enabled(timePeriod: .seconds(60))))
            ),
            configuration: .init(address: .hostname("127.0.0.1", port: port)),
            services: services,
            onServerRunning: { channel in await onStart(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        try await app.runService()
    }

    // MARK: REST

    private func addREST(_ router: Router<BasicWebSocketRequestContext>) {
        router.get("/api/v3/ping") { [self] request, _ in
            answer(request, weight: 1) { _ in ("{}", 1) }
        }
        router.get("/api/v3/time") { [self] request, _ in
            answer(request, weight: 1) { _ in (#"{"serverTime":\#(now)}"#, 1) }
        }
        router.get("/api/v3/exchangeInfo") { [self] request, _ in
            answer(request, weight: 20) { q throws(APIError) in
                // `symbol=X`, or `symbols=["X","Y"]`; every one must be listed (-1121).
                var only: [String]?
                if let symbol = try q.string("symbol") { only = [symbol] }
                if let list = try q.string("symbols") {
                    guard let data = list.data(using: .utf8), let names = (try? JSONSerialization.jsonObject(with: data)) as? [String], !names.isEmpty else {
                        throw .illegal("symbols", range: #"^\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\]$"#)
                    }
                    only = (only ?? []) + names
                }
                if let only, only.contains(where: { market.pairs[$0] == nil }) { throw .badSymbol }
                return (exchangeInfo(only: only), 20)
            }
        }
        addMarketREST(router)
    }

    /// Runs an endpoint: its parameters read as Binance reads them, its weight counted per minute
    /// (refused requests too, at the endpoint's base `weight`), 429 past the limit, and the
    /// minute's weight in `X-MBX-USED-WEIGHT-1M` on every answer.
    func answer(
        _ request: Request,
        weight base: Int,
        body form: String? = nil,
        _ body: (inout RequestParameters) throws(APIError) -> (String, Int)
    ) -> Response {
        let outcome: Result<(String, Int), APIError>
        do throws(APIError) {
            var q = try RequestParameters(query: request.uri.query, body: form)
            let result = try body(&q)
            try q.requireAllRead()
            outcome = .success(result)
        } catch {
            outcome = .failure(error)
        }
        let weight = (try? outcome.get().1) ?? base
        let (used, retryAfter) = weights.add(weight, at: now)
        var headers: HTTPFields = [.contentType: "application/json"]
        if let name = HTTPField.Name("X-MBX-USED-WEIGHT-1M") { headers[name] = String(used) }
        if let retryAfter {
            if let name = HTTPField.Name("Retry-After") { headers[name] = String(retryAfter) }
            return Response(
                status: .init(code: 429),
                headers: headers,
                body: .init(
                    byteBuffer: ByteBuffer(
                        string: #"{"code":-1003,"msg":"Too much request weight used; current limit is \#(weights.limit) request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."}"#
                    )
                )
            )
        }
        switch outcome {
        case .success(let (text, _)):
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        case .failure(let e):
            let message = e.message.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return Response(
                status: .init(code: e.status),
                headers: headers,
                body: .init(byteBuffer: ByteBuffer(string: #"{"code":\#(e.code),"msg":"\#(message)"}"#))
            )
        }
    }

    private func exchangeInfo(only: [String]? = nil) -> String {
        let symbols = (only ?? market.symbols).compactMap { s -> String? in
            guard let filters = market.pairs[s]?.filters else { return nil }
            let tick = filters.tickSizeText
            let step = filters.lotStepText
            let base = s.hasSuffix("USDT") ? String(s.dropLast(4)) : s
            // Binance's fields in its order; what the venue accepts: the seven order types, OCO
            // lists, quoteOrderQty market orders; no iceberg, trailing, OTO, cancel-replace,
            // amend, peg or self-trade prevention modes but NONE.
            return #"{"symbol":"\#(s)","status":"TRADING","baseAsset":"\#(base)","baseAssetPrecision":8,"quoteAsset":"USDT","quotePrecision":8,"quoteAssetPrecision":8,"baseCommissionPrecision":8,"quoteCommissionPrecision":8,"orderTypes":["LIMIT","LIMIT_MAKER","MARKET","STOP_LOSS","STOP_LOSS_LIMIT","TAKE_PROFIT","TAKE_PROFIT_LIMIT"],"icebergAllowed":false,"ocoAllowed":true,"otoAllowed":false,"opoAllowed":false,"quoteOrderQtyMarketAllowed":true,"allowTrailingStop":false,"cancelReplaceAllowed":false,"amendAllowed":false,"pegInstructionsAllowed":false,"isSpotTradingAllowed":true,"isMarginTradingAllowed":false,"filters":[{"filterType":"PRICE_FILTER","minPrice":"\#(tick)","maxPrice":"1000000.00000000","tickSize":"\#(tick)"},{"filterType":"LOT_SIZE","minQty":"\#(step)","maxQty":"9000000.00000000","stepSize":"\#(step)"},{"filterType":"NOTIONAL","minNotional":"\#(filters.minNotionalText)","applyMinToMarket":true,"maxNotional":"9000000.00000000","applyMaxToMarket":false,"avgPriceMins":5}],"permissions":[],"permissionSets":[["SPOT"]],"defaultSelfTradePreventionMode":"NONE","allowedSelfTradePreventionModes":["NONE"]}"#
        }
        return #"{"timezone":"UTC","serverTime":\#(now),"rateLimits":[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":\#(settings.weightLimitPerMinute > 0 ? settings.weightLimitPerMinute : 0)}],"exchangeFilters":[],"symbols":[\#(symbols.joined(separator: ","))]}"#
    }

    /// Book levels of `symbol`: prices on its tick, quantities as they are.
    func levels(_ side: [(Double, Double)], _ symbol: String) -> String {
        "[" + side.map { "[\"\(price($0.0, symbol))\",\"\(f($0.1))\"]" }.joined(separator: ",") + "]"
    }

    // MARK: WebSocket

    private func serve(
        inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter,
        initial: [String],
        combined: Bool,
        logger: Logger
    ) async throws {
        var initialNames: [String: String] = [:]
        for name in initial where initialNames[name.lowercased()] == nil { initialNames[name.lowercased()] = name }
        let subscriptions = SubscriptionSet(initialNames)
        // One ordered outbox per connection, drained by one writer. A control request changes the
        // subscriptions and queues its reply under one lock; the ticker queues, per stream, a
        // request to send what is due, and the writer builds those frames only when it reaches the
        // request (so a frame's event time is when it leaves, and waits for no other stream's) and
        // only if the stream is still subscribed then. So once an UNSUBSCRIBE's reply is out, no
        // frame of that stream follows.
        let outbox = AsyncStream<Outgoing>.makeStream()
        let pending = PendingCount()
        let connection = connectionCount.add(1, ordering: .relaxed).newValue
        // Nothing is due before the connection opened.
        let opened = clock.now
        sentThrough.update { $0[connection] = opened }
        defer { sentThrough.update { $0[connection] = nil } }
        let lockStep = clock as? LockStepClock
        defer { lockStep?.disconnected(connection: connection, logger: logger) }
        let continuation = outbox.continuation
        let enqueue: @Sendable (Outgoing) -> Void = { item in
            pending.value.add(1, ordering: .relaxed)
            continuation.yield(item)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                var rate = MessageRate(limit: settings.messagesPerSecond)
                for try await message in inbound.messages(maxSize: 1 << 16) {
                    guard case .text(let text) = message else { continue }
                    // Binance closes a connection that sends more than 5 messages a second (the
                    // lock-step protocol is this exchange's own and is not counted).
                    if settings.messagesPerSecond > 0, !text.contains("\"LOCKSTEP."), !rate.admit(at: clock.now) {
                        logger.notice("connection closed: too many incoming messages", metadata: ["limit_per_second": "\(settings.messagesPerSecond)"])
                        try await outbound.close(.policyViolation, reason: "too many messages")
                        return
                    }
                    subscriptions.state.withLock { subs in
                        let before = subs
                        let outcome = self.control(text, subscriptions: &subs, connection: connection, logger: logger)
                        enqueue(.reply(outcome.reply, unsubscribed: Set(before.keys).subtracting(subs.keys)))
                        if outcome.registered { enqueue(.lockStepCatchUp(resumingAfter: outcome.resumingAfter)) }
                    }
                }
            }
            group.addTask { [self] in
                // Drops are drawn from the seed and the connection's number, so a run that opens
                // its connections at the same sim times drops them at the same sim times.
                var rng = mix(market.seed ^ mix(connection))
                let forcedAfter = settings.forcedDisconnectSeconds.map { Int64(($0 * settings.speed * 1_000).rounded()) }
                var lastTick = opened
                while true {
                    // Every frame due in (lastTick, tickEnd] goes out, however late this wakes.
                    let tickEnd = try await clock.tick(after: lastTick)
                    if let forcedAfter, tickEnd - opened >= forcedAfter {
                        try await outbound.close(.goingAway, reason: "forced disconnect")
                        return
                    }
                    if settings.dropProbability > 0 {
                        for _ in 0..<(tickEnd / 1_000 - lastTick / 1_000) {
                            rng = mix(rng)
                            if Double(rng % 1_000_000) / 1_000_000 < settings.dropProbability {
                                try await outbound.close(.goingAway, reason: "random drop")
                                return
                            }
                        }
                    }
                    // Binance cuts a client that does not keep up; so does this (and memory stays bounded).
                    if pending.value.load(ordering: .relaxed) > settings.maxPendingFrames {
                        try await outbound.close(.policyViolation, reason: "slow consumer")
                        return
                    }
                    for stream in subscriptions.state.withLock({ $0.keys.sorted() }) {
                        enqueue(.due(stream: stream, previousTick: lastTick, upTo: tickEnd))
                    }
                    enqueue(.sent(through: tickEnd))
                    lastTick = tickEnd
                }
            }
            group.addTask { [self] in
                // Each stream carries on from where it was last sent up to, so nothing is sent twice;
                // a new subscription starts at the tick before it was first due.
                var sentUpTo: [String: Int64] = [:]
                // The last tick whose frames are all out, and the last lock-step mark sent.
                var lastSent = opened
                var lastMarked = Int64.min
                // Whether this writer has sent a registration's catch-up: marks of ticks come only
                // after it, so none precedes the REGISTER reply or repeats the catch-up's.
                var caughtUp = false
                for await item in outbox.stream {
                    defer { pending.value.subtract(1, ordering: .relaxed) }
                    switch item {
                    case .reply(let text, let unsubscribed):
                        // A stream subscribed again later starts afresh, not where it stopped.
                        for stream in unsubscribed { sentUpTo[stream] = nil }
                        try await outbound.write(.text(text))
                    case .due(let stream, let previousTick, let upTo):
                        let from = sentUpTo[stream] ?? previousTick
                        let to = max(upTo, self.now, from)
                        // Checked and built under the lock: a reply queued after this point comes after these frames.
                        let frames = subscriptions.state.withLock { subs -> [String]? in
                            guard let name = subs[stream] else { return nil }
                            return self.frames(streams: [name], from: from, to: to, combined: combined)
                        }
                        guard let frames else {
                            sentUpTo[stream] = nil
                            continue
                        }
                        sentUpTo[stream] = to
                        for frame in frames { try await outbound.write(.text(frame)) }
                    case .sent(let time):
                        lastSent = time
                        if let lockStep, caughtUp, time > lastMarked, lockStep.isRegistered(connection: connection) {
                            try await outbound.write(.text(Self.lockStepMark(time)))
                            lastMarked = time
                        }
                        sentThrough.update { $0[connection] = max($0[connection] ?? time, time) }
                    case .lockStepCatchUp(let resumingAfter):
                        // A client just registered: every subscribed stream is brought up to now
                        // (from where a returning client was done, as its old connection may have
                        // lost what followed), then the mark. The clock waits for this client, so
                        // `now` stays put until it answers.
                        let time = self.now
                        let due = subscriptions.state.withLock { subs in
                            subs.sorted { $0.key < $1.key }.map { stream, name -> (String, Int64, Int64, [String]) in
                                let sent = sentUpTo[stream] ?? lastSent
                                let from = min(resumingAfter ?? sent, sent)
                                let to = max(time, from)
                                return (stream, from, to, self.frames(streams: [name], from: from, to: to, combined: combined))
                            }
                        }
                        for (stream, _, to, frames) in due {
                            sentUpTo[stream] = to
                            for frame in frames { try await outbound.write(.text(frame)) }
                        }
                        try await outbound.write(.text(Self.lockStepMark(time)))
                        lastMarked = max(lastMarked, time)
                        caughtUp = true
                    }
                }
            }
            // The client leaving, a forced close or a failed write ends the connection.
            try await group.next()
            outbox.continuation.finish()
            group.cancelAll()
        }
    }

    /// What a control request did: its reply, and whether it registered a lock-step client.
    struct ControlOutcome {
        var reply: String
        /// Whether a LOCKSTEP.REGISTER succeeded.
        var registered = false
        /// For a client that came back, the time it was done through (see ``LockStepClock``).
        var resumingAfter: Int64?
    }

    /// Handles a SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS or LOCKSTEP.REGISTER / LOCKSTEP.DONE
    /// request of connection `connection` against its subscriptions.
    func control(_ text: String, subscriptions subs: inout [String: String], connection: UInt64, logger: Logger) -> ControlOutcome {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            let method = object["method"] as? String
        else { return ControlOutcome(reply: #"{"error":{"code":2,"msg":"Invalid request"},"id":null}"#) }
        let id = (object["id"] as? Int).map(String.init) ?? "null"
        if method.hasPrefix("LOCKSTEP.") {
            return lockStepControl(method, params: object["params"], id: id, connection: connection, logger: logger)
        }
        return ControlOutcome(reply: subscriptionControl(method, params: object["params"], id: id, subscriptions: &subs))
    }

    /// `subs` maps each subscribed stream, lowercased, to its name as the client first wrote it:
    /// streams match whatever their case, and frames and LIST_SUBSCRIPTIONS carry the name as
    /// subscribed, as Binance's do (`SUBSCRIBE filusdt@aggTrade` → `{"stream":"filusdt@aggTrade",…}`).
    /// Subscribing a stream already subscribed, in any case, changes nothing.
    private func subscriptionControl(_ method: String, params: Any?, id: String, subscriptions subs: inout [String: String]) -> String {
        // SUBSCRIBE and UNSUBSCRIBE take a list of stream names; anything else is refused, not ignored.
        if method == "SUBSCRIBE" || method == "UNSUBSCRIBE" {
            guard params is [Any], let names = params as? [String] else {
                return #"{"error":{"code":2,"msg":"Invalid request: params must be a list of stream names"},"id":\#(id)}"#
            }
            _ = names
        }
        let names = params as? [String] ?? []
        switch method {
        case "SUBSCRIBE":
            // Nothing is subscribed unless every stream asked for is valid and they all fit.
            for name in names where !isKnown(name.lowercased()) {
                let echoed = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                return #"{"error":{"code":2,"msg":"Invalid stream \#(echoed)"},"id":\#(id)}"#
            }
            guard Set(subs.keys).union(names.map { $0.lowercased() }).count <= settings.maxStreamsPerConnection else {
                return #"{"error":{"code":2,"msg":"Too many streams (max \#(settings.maxStreamsPerConnection))"},"id":\#(id)}"#
            }
            for name in names where subs[name.lowercased()] == nil { subs[name.lowercased()] = name }
            return #"{"result":null,"id":\#(id)}"#
        case "UNSUBSCRIBE":
            for name in names { subs[name.lowercased()] = nil }
            return #"{"result":null,"id":\#(id)}"#
        case "LIST_SUBSCRIPTIONS":
            // The names as subscribed (web-socket-streams.md: `"result": ["btcusdt@aggTrade"]`).
            let listed = subs.sorted { $0.key < $1.key }.map { "\"\($0.value)\"" }
            return #"{"result":[\#(listed.joined(separator: ","))],"id":\#(id)}"#
        default:
            return #"{"error":{"code":2,"msg":"Unknown method \#(method)"},"id":\#(id)}"#
        }
    }

    private func lockStepControl(_ method: String, params: Any?, id: String, connection: UInt64, logger: Logger) -> ControlOutcome {
        func failure(_ message: String) -> ControlOutcome {
            ControlOutcome(reply: #"{"error":{"code":2,"msg":"\#(message)"},"id":\#(id)}"#)
        }
        guard let lockStep = clock as? LockStepClock else {
            return failure("\(method): the exchange is not in lock-step mode (scalper exchange --lock-step)")
        }
        let params = params as? [String: Any] ?? [:]
        guard let client = params["client"] as? String, !client.isEmpty, client.utf8.count <= 100,
            !client.contains(where: { $0 == "\"" || $0 == "\\" || $0.isNewline })
        else {
            return failure("\(method) needs params.client, a name of 1 to 100 characters without quotes or backslashes")
        }
        switch method {
        case "LOCKSTEP.REGISTER":
            let resumingAfter = lockStep.register(client, connection: connection, logger: logger)
            return ControlOutcome(reply: #"{"result":null,"id":\#(id)}"#, registered: true, resumingAfter: resumingAfter)
        case "LOCKSTEP.DONE":
            guard let through = (params["through"] as? Int).map(Int64.init) else {
                return failure("LOCKSTEP.DONE needs params.through, a sim time in whole ms")
            }
            guard lockStep.done(client, through: through) else {
                return failure("LOCKSTEP.DONE: no lock-step client \(client) is registered (LOCKSTEP.REGISTER first; one gone longer than the timeout was dropped)")
            }
            return ControlOutcome(reply: #"{"result":null,"id":\#(id)}"#)
        default:
            return failure("Unknown method \(method)")
        }
    }

    /// The frame that tells a lock-step client every frame due on its connection through sim
    /// time `time` is above it.
    static func lockStepMark(_ time: Int64) -> String { #"{"e":"lockStep","E":\#(time)}"# }

    private func isKnown(_ stream: String) -> Bool {
        if stream == "!miniticker@arr" || MarketStream.allSymbolsWindow(stream) != nil { return true }
        let parts = stream.split(separator: "@", maxSplits: 1).map(String.init)
        guard parts.count == 2, market.pairs[parts[0].uppercased()] != nil else { return false }
        return ["miniticker", "kline_1m", "bookticker", "depth@100ms", "depth@1000ms", "depth", "trade", "aggtrade"].contains(parts[1])
            || MarketStream.partialDepthLevels(parts[1]) != nil || MarketStream(parts[1]) != nil
    }

    /// The frames for `streams` between two sim instants. Each stream is matched whatever its case
    /// and named in combined frames as given (the name as the client subscribed it).
    func frames(streams: Set<String>, from: Int64, to: Int64, combined: Bool) -> [String] {
        var out: [String] = []
        let secondChanged = to / 1_000 != from / 1_000
        for name in streams.sorted() {
            func emit(_ payload: String) {
                out.append(combined ? #"{"stream":"\#(name)","data":\#(payload)}"# : payload)
            }
            let stream = name.lowercased()
            if stream == "!miniticker@arr" {
                guard secondChanged else { continue }
                let all = market.symbols.compactMap { miniTicker($0, at: to) }
                emit("[" + all.joined(separator: ",") + "]")
                continue
            }
            if let window = MarketStream.allSymbolsWindow(stream) {
                guard secondChanged else { continue }
                let all = market.symbols.compactMap { windowTickerEvent($0, window: window, at: to) }
                emit("[" + all.joined(separator: ",") + "]")
                continue
            }
            let parts = stream.split(separator: "@", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            let symbol = parts[0].uppercased()
            switch parts[1] {
            case "miniticker":
                if secondChanged, let m = miniTicker(symbol, at: to) { emit(m) }
            case "kline_1m":
                // Every bar that closed in (from, to] is sent closed, so none is ever skipped.
                var close = (from / 60_000 + 1) * 60_000
                while close <= to {
                    if let k = market.klines(symbol, from: close - 60_000, to: close - 60_000, limit: 1, now: close).first {
                        emit(kline(symbol, k, eventTime: close, closed: true))
                    }
                    close += 60_000
                }
                if to / 2_000 != from / 2_000, let s = market.state(symbol, at: to) {
                    emit(kline(symbol, s.bar, eventTime: to, closed: false))
                }
            case "bookticker" where market.recorded[symbol]?.bookTickers.covers(to, \.time) == true:
                // Recorded best bid/ask updates, as they came.
                for b in market.recorded[symbol]?.bookTickers(after: from, upTo: to) ?? [] {
                    let t = b.ticker
                    emit(#"{"u":\#(t.updateID),"s":"\#(symbol)","b":"\#(price(t.bid.price, symbol))","B":"\#(f(t.bid.quantity))","a":"\#(price(t.ask.price, symbol))","A":"\#(f(t.ask.quantity))"}"#)
                }
            case let kind where kind == "bookticker" || MarketStream.partialDepthLevels(kind) != nil:
                // Partial depth: depth5 / depth10 / depth20, every second (@1000ms) or @100ms.
                guard secondChanged, let book = market.book(symbol, at: to, levels: MarketStream.partialDepthLevels(kind) ?? 20)
                else { continue }
                if parts[1] == "bookticker" {
                    emit(#"{"u":\#(book.updateID),"s":"\#(symbol)","b":"\#(price(book.bids[0].0, symbol))","B":"\#(f(book.bids[0].1))","a":"\#(price(book.asks[0].0, symbol))","A":"\#(f(book.asks[0].1))"}"#)
                } else {
                    emit(#"{"lastUpdateId":\#(book.updateID),"bids":\#(levels(book.bids, symbol)),"asks":\#(levels(book.asks, symbol))}"#)
                }
            case "depth@100ms", "depth@1000ms", "depth":
                // Diff events between the model's book at the previous tick and now: U = previous u + 1,
                // u = now (ms), so a client that syncs from /api/v3/depth sees contiguous ids.
                // One event per sim second crossed, so every REST snapshot (taken at a second) is the
                // base of exactly one event, even when a slow tick crosses several seconds.
                // A recorded symbol sends its recorded events (real U/u) where a recording covers the
                // time, and model diffs only between two seconds that are both outside it.
                let recording = market.recorded[symbol]
                for e in recording?.depthEvents(after: from, upTo: to) ?? [] {
                    let pu = e.previousFinalUpdateID.map { #","pu":\#($0)"# } ?? ""
                    emit(#"{"e":"depthUpdate","E":\#(e.eventTime),"s":"\#(symbol)","U":\#(e.firstUpdateID),"u":\#(e.finalUpdateID)\#(pu),"b":\#(levels(e.bids.map { ($0.price, $0.quantity) }, symbol)),"a":\#(levels(e.asks.map { ($0.price, $0.quantity) }, symbol))}"#)
                }
                var second = from / 1_000 * 1_000
                while second + 1_000 <= to / 1_000 * 1_000 {
                    defer { second += 1_000 }
                    if let recording, recording.window(at: second) != nil || recording.window(at: second + 1_000) != nil { continue }
                    guard let before = market.book(symbol, at: second), let after = market.book(symbol, at: second + 1_000) else { continue }
                    let bids = diff(before.bids, after.bids)
                    let asks = diff(before.asks, after.asks)
                    emit(#"{"e":"depthUpdate","E":\#(second + 1_000),"s":"\#(symbol)","U":\#(before.updateID + 1),"u":\#(after.updateID),"b":\#(levels(bids, symbol)),"a":\#(levels(asks, symbol))}"#)
                }
            case "trade":
                // The one tape (recorded trades where a recording covers the time, else one model
                // trade per sim second): what a client sees trade is what fills its orders.
                for t in market.trades(symbol, after: from, upTo: to) {
                    emit(#"{"e":"trade","E":\#(t.time),"s":"\#(symbol)","t":\#(t.id),"p":"\#(price(t.price, symbol))","q":"\#(f(t.quantity))","T":\#(t.time),"m":\#(t.buyerIsMaker),"M":true}"#)
                }
            case "aggtrade":
                for a in AggregateTrade.aggregating(market.trades(symbol, after: from, upTo: to)) {
                    emit(#"{"e":"aggTrade","E":\#(a.time),"s":"\#(symbol)","a":\#(a.id),"p":"\#(price(a.price, symbol))","q":"\#(f(a.quantity))","f":\#(a.firstID),"l":\#(a.lastID),"T":\#(a.time),"m":\#(a.buyerIsMaker),"M":true}"#)
                }
            default:
                guard let kind = MarketStream(parts[1]) else { continue }
                for payload in marketFrames(kind, symbol: symbol, from: from, to: to) { emit(payload) }
            }
        }
        return out
    }

    /// Levels of `after` that differ from `before`, and `before`'s levels that are gone (quantity 0),
    /// compared as the decimal strings sent, so two doubles that print the same are one level.
    private func diff(_ before: [(Double, Double)], _ after: [(Double, Double)]) -> [(Double, Double)] {
        var old: [String: String] = [:]
        for (p, q) in before { old[f(p)] = f(q) }
        var out: [(Double, Double)] = []
        var seen = Set<String>()
        for (p, q) in after {
            let key = f(p)
            seen.insert(key)
            if old[key] != f(q) { out.append((p, q)) }
        }
        for (p, _) in before where !seen.contains(f(p)) { out.append((p, 0)) }
        return out
    }

    private func miniTicker(_ symbol: String, at time: Int64) -> String? {
        guard let s = market.state(symbol, at: time) else { return nil }
        return #"{"e":"24hrMiniTicker","E":\#(time),"s":"\#(symbol)","c":"\#(price(s.price, symbol))","o":"\#(price(s.open24, symbol))","h":"\#(price(s.high24, symbol))","l":"\#(price(s.low24, symbol))","v":"\#(f(s.volume24))","q":"\#(f(s.quoteVolume24))"}"#
    }

    private func kline(_ symbol: String, _ k: Kline, eventTime: Int64, closed: Bool) -> String {
        #"{"e":"kline","E":\#(eventTime),"s":"\#(symbol)","k":{"t":\#(k.openTime),"T":\#(k.closeTime),"s":"\#(symbol)","i":"1m","f":0,"L":0,"o":"\#(price(k.open, symbol))","c":"\#(price(k.close, symbol))","h":"\#(price(k.high, symbol))","l":"\#(price(k.low, symbol))","v":"\#(f(k.volume))","n":\#(Int64(k.tradeCount.isNaN ? 0 : k.tradeCount)),"x":\#(closed),"q":"\#(f(k.quoteVolume))","V":"\#(f(k.takerBuyBaseVolume))","Q":"\#(f(k.takerBuyQuoteVolume))","B":"0"}}"#
    }

    /// A price of `symbol` as Binance writes it: a whole number of the symbol's ticks, 8 decimals.
    func price(_ x: Double, _ symbol: String) -> String {
        market.pairs[symbol]?.filters.priceText(x) ?? f(x)
    }

    /// A quantity as Binance writes it: fixed 8 decimals (rounded half away from zero).
    func f(_ x: Double) -> String {
        guard x.isFinite, abs(x) < 9e9 else { return x.isFinite ? String(format: "%.8f", x) : "0" }
        let scaled = (abs(x) * 1e8).rounded()
        let units = Int64(scaled)
        let whole = units / 100_000_000
        let fraction = units % 100_000_000
        var digits = String(fraction)
        if digits.count < 8 { digits = String(repeating: "0", count: 8 - digits.count) + digits }
        return (x < 0 && units != 0 ? "-" : "") + String(whole) + "." + digits
    }
}

/// What a connection's writer sends next: a reply, or a stream's frames due up to a sim time; or
/// the mark that every frame due through a sim time is written.
enum Outgoing: Sendable {
    case reply(String, unsubscribed: Set<String>)
    case due(stream: String, previousTick: Int64, upTo: Int64)
    case sent(through: Int64)
    /// A lock-step client registered: bring every stream up to now, from `resumingAfter` at the
    /// latest, then send the mark.
    case lockStepCatchUp(resumingAfter: Int64?)
}

/// Steps a ``LockStepClock`` while the exchange runs: a service of the exchange's application.
struct LockStepStepper: Service {
    let clock: LockStepClock
    let server: ExchangeServer
    let logger: Logger

    func run() async throws {
        let (clock, server, logger) = (clock, server, logger)
        do {
            try await cancelWhenGracefulShutdown {
                try await clock.run(
                    sent: { time in
                        // Orders are matched through each step before the clock moves past it.
                        server.venue.settle(through: time)
                        try await server.waitUntilSent(through: time)
                    },
                    logger: logger
                )
            }
        } catch is CancellationError {
            // Shutting down.
        }
    }
}

/// Items queued for a connection and not yet written.
final class PendingCount: Sendable {
    let value = Atomic<Int>(0)
}

/// A connection's subscribed streams, shared by its reader and writer tasks: each stream,
/// lowercased, to its name as the client wrote it.
final class SubscriptionSet: Sendable {
    let state: Mutex<[String: String]>
    init(_ initial: [String: String]) { state = Mutex(initial) }
}

extension Array {
    /// Whether `time` lies between the first and the last element's `key` (elements in time order).
    func covers(_ time: Int64, _ key: (Element) -> Int64) -> Bool {
        guard let first, let last else { return false }
        return key(first) <= time && time <= key(last)
    }
}
