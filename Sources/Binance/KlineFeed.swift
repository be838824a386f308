import HummingbirdWSClient
public import Logging
import ScalperCore

/// Where a ``KlineFeed`` connects and how it retries.
public struct KlineFeedSettings: Sendable {
    /// WebSocket base URL (`wss://stream.binance.com:9443`, `ws://127.0.0.1:<port>`); combined
    /// streams are at `/stream`.
    public var webSocketURL: String
    /// Streams one connection carries at most (Binance: 1,024); more symbols open more connections.
    public var maxStreamsPerConnection = 1_024
    /// Wait before the first reconnect after a drop, seconds; doubled per failed attempt.
    public var backoffInitialSeconds = 0.5
    /// Longest wait between reconnects, seconds.
    public var backoffMaxSeconds = 30.0
    /// Also follow each symbol's `<symbol>@trade` stream (a session whose exits watch trades).
    public var tradeStreams = false

    /// Also follow each symbol's `<symbol>@depth20@100ms` stream (the live book's features).
    public var bookStreams = false

    /// Streams per symbol: its klines, and its trades and book when followed.
    var streamsPerSymbol: Int { 1 + (tradeStreams ? 1 : 0) + (bookStreams ? 1 : 0) }

    /// Settings for `webSocketURL` with Binance's limits.
    public init(webSocketURL: String) {
        self.webSocketURL = webSocketURL
    }
}

/// Closed 1 m bars of a set of symbols from Binance's combined streams
/// (`/stream?streams=<s>@kline_1m/…`), and the lock-step protocol of `scalper exchange --lock-step`.
///
/// ``run()`` keeps one connection per ``KlineFeedSettings/maxStreamsPerConnection`` symbols open,
/// reconnecting after a drop with backoff; ``events`` delivers what they carry:
/// - each closed bar (`x: true`) once per symbol and open time, in open-time order per symbol
///   (a frame for a bar already delivered, such as the exchange sends again to a client that
///   registers again, is counted in ``KlineFeedStatistics/repeatedBars`` and skipped);
/// - in lock-step mode, ``KlineFeedEvent/lockStepMark(_:)`` once every connection has sent its
///   mark for that time;
/// - after a reconnect, ``KlineFeedEvent/reconnected(_:)`` with what the session may need to
///   backfill over REST.
///
/// Frames that cannot be read are counted (``KlineFeedStatistics/malformed``) and skipped.
///
/// Detail streams (trades and book, as ``KlineFeedSettings`` asks) follow every symbol, or only the
/// ``follow(detail:)`` set: a scanner session keeps its candidates' and positions' books and trades,
/// not the whole universe's. A change is sent as SUBSCRIBE / UNSUBSCRIBE on the connections it
/// touches, before anything else the session sends after it (in lock-step, before its DONE, so the
/// new streams start at the next step on any machine); a connection that opens again asks for the
/// set of that moment in its URL.
///
/// Lock-step: ``register(client:)`` registers on every connection (the first under the name
/// given, the k-th further one under `<name>.<k>`, since the exchange holds a client on one
/// connection); ``done(through:)`` says the session has acted on everything through a mark. A
/// connection that comes back registers again under its names and repeats the last DONE, so the
/// exchange's clock, which waits for a disconnected client, moves on.
public actor KlineFeed {
    /// Everything the feed learns, in order. Finishes when ``run()`` returns.
    public nonisolated let events: AsyncStream<KlineFeedEvent>
    /// The symbols followed (upper case, as Binance names them).
    public nonisolated let symbols: [String]
    /// Settings.
    public nonisolated let settings: KlineFeedSettings
    private let continuation: AsyncStream<KlineFeedEvent>.Continuation
    private let logger: Logger
    /// The symbols of each connection.
    private let connectionSymbols: [[String]]
    private let followed: Set<String>

    private var writers: [Int: WebSocketOutboundWriter] = [:]
    private var failedAttempts: [Int: Int] = [:]
    private var pendingGaps: [Int: KlineFeedGap] = [:]
    private var clientName: String?
    private var doneThrough: Int64?
    private var marks: [Int: Int64] = [:]
    private var lastMark = Int64.min
    private var lastClosed: [String: Int64] = [:]
    private var nextRequestID = 1
    private var isRunning = false
    /// The symbols whose detail streams are followed (nil: all).
    private var detail: Set<String>?
    /// Per open connection, the detail streams it carries now.
    private var detailStreams: [Int: Set<String>] = [:]
    /// The counters now.
    public private(set) var statistics = KlineFeedStatistics()

    /// A feed of `symbols`' closed 1 m bars (distinct, e.g. `BTCUSDT`; at least one).
    ///
    /// - Parameter detail: the symbols whose trade and book streams are followed from the start
    ///   (nil: all; see ``follow(detail:)``).
    public init(symbols: [String], settings: KlineFeedSettings, logger: Logger, detail: Set<String>? = nil) {
        precondition(!symbols.isEmpty, "a kline feed needs at least one symbol")
        precondition(Set(symbols).count == symbols.count, "a kline feed's symbols must be distinct")
        precondition(settings.maxStreamsPerConnection > 0, "a connection carries at least one stream")
        self.symbols = symbols
        self.settings = settings
        self.logger = logger
        followed = Set(symbols)
        self.detail = detail
        let perConnection = max(1, settings.maxStreamsPerConnection / settings.streamsPerSymbol)
        connectionSymbols = stride(from: 0, to: symbols.count, by: perConnection).map {
            Array(symbols[$0..<min($0 + perConnection, symbols.count)])
        }
        (events, continuation) = AsyncStream.makeStream(of: KlineFeedEvent.self, bufferingPolicy: .unbounded)
    }

    /// The combined-stream URL of connection `index` with the detail streams followed now.
    public func streamURL(connection index: Int) -> String {
        let detail = detailStreams(connection: index)
        return settings.webSocketURL + "/stream?streams="
            + connectionSymbols[index].map { symbol in
                let s = symbol.lowercased()
                var streams = ["\(s)@kline_1m"]
                if detail.contains("\(s)@trade") { streams.append("\(s)@trade") }
                if detail.contains("\(s)@depth20@100ms") { streams.append("\(s)@depth20@100ms") }
                return streams.joined(separator: "/")
            }.joined(separator: "/")
    }

    /// The detail streams connection `index` should carry now.
    private func detailStreams(connection index: Int) -> Set<String> {
        var streams = Set<String>()
        for symbol in connectionSymbols[index] where detail?.contains(symbol) ?? true {
            let s = symbol.lowercased()
            if settings.tradeStreams { streams.insert("\(s)@trade") }
            if settings.bookStreams { streams.insert("\(s)@depth20@100ms") }
        }
        return streams
    }

    /// Follows the trade and book streams (as the settings ask) of `symbols` only, from now on:
    /// SUBSCRIBE and UNSUBSCRIBE on each open connection whose set changes. Symbols the feed does
    /// not follow are ignored.
    public func follow(detail symbols: Set<String>) async {
        detail = symbols.intersection(followed)
        for index in writers.keys.sorted() { await resubscribe(index) }
    }

    /// Brings connection `index`'s detail streams to the wanted set.
    private func resubscribe(_ index: Int) async {
        let have = detailStreams[index] ?? []
        let want = detailStreams(connection: index)
        guard have != want else { return }
        detailStreams[index] = want
        func list(_ streams: Set<String>) -> String { "[" + streams.sorted().map { "\"\($0)\"" }.joined(separator: ",") + "]" }
        let added = want.subtracting(have)
        let removed = have.subtracting(want)
        if !removed.isEmpty {
            statistics.subscriptionRequests += 1
            await send(method: "UNSUBSCRIBE", params: list(removed), on: index)
        }
        if !added.isEmpty {
            statistics.subscriptionRequests += 1
            await send(method: "SUBSCRIBE", params: list(added), on: index)
        }
    }

    /// How many connections the feed keeps open.
    public nonisolated var connectionCount: Int { connectionSymbols.count }

    /// Keeps the connections open until cancelled, reconnecting after each drop; then finishes
    /// ``events``. Call once.
    public func run() async throws {
        precondition(!isRunning, "KlineFeed.run() called twice")
        isRunning = true
        defer { continuation.finish() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in connectionSymbols.indices {
                group.addTask { try await self.maintain(connection: index) }
            }
            try await group.waitForAll()
        }
    }

    /// Registers the session with the lock-step exchange as `name` (1 … 100 characters, no quotes
    /// or backslashes) on every connection open now, and on every connection that opens later.
    ///
    /// The exchange replies with the frames due so far, then a mark (``KlineFeedEvent/lockStepMark(_:)``).
    ///
    /// - Throws: ``BinanceError`` for a name the exchange would refuse, or a second name.
    public func register(client name: String) async throws {
        let longest = name.count + (connectionCount > 1 ? 1 + String(connectionCount - 1).count : 0)
        guard !name.isEmpty, longest <= 100, !name.contains("\""), !name.contains("\\") else {
            throw BinanceError(
                url: settings.webSocketURL,
                message: "lock-step client name '\(name)' must have 1 to 100 characters (with a suffix .k per further connection) and no quotes or backslashes"
            )
        }
        if let clientName {
            guard clientName == name else {
                throw BinanceError(url: settings.webSocketURL, message: "already registered as \(clientName), not \(name)")
            }
            return
        }
        clientName = name
        for index in writers.keys.sorted() {
            await send(method: "LOCKSTEP.REGISTER", params: #"{"client":"\#(self.name(name, connection: index))"}"#, on: index)
        }
    }

    /// Tells the lock-step exchange the session has acted on everything through `time` (a mark's
    /// time), on every connection. A connection down now says it again once it is back.
    ///
    /// - Throws: ``BinanceError`` before ``register(client:)``.
    public func done(through time: Int64) async throws {
        guard let clientName else {
            throw BinanceError(url: settings.webSocketURL, message: "LOCKSTEP.DONE through \(time) before LOCKSTEP.REGISTER")
        }
        doneThrough = max(doneThrough ?? time, time)
        for index in writers.keys.sorted() {
            await send(method: "LOCKSTEP.DONE", params: doneParams(clientName, index, time), on: index)
        }
    }

    /// Records that the session holds `symbol`'s bars through open time `openTime` (from a REST
    /// backfill), so the stream does not deliver them again.
    public func markDelivered(symbol: String, through openTime: Int64) {
        lastClosed[symbol] = max(lastClosed[symbol] ?? openTime, openTime)
    }

    // MARK: Connections

    /// Connection `index`, again and again until cancelled.
    private func maintain(connection index: Int) async throws {
        let logger = self.logger
        while true {
            try Task.checkCancellation()
            let url = streamURL(connection: index)
            let carried = detailStreams(connection: index)
            do {
                // Frames up to 1 MB, as the scanner: the client's 16 KB default is below some of Binance's.
                try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 20), logger: logger) {
                    inbound,
                    outbound,
                    _ in
                    await self.attach(index, outbound, carrying: carried)
                    for try await message in inbound.messages(maxSize: 1 << 22) {
                        guard case .text(let text) = message else { continue }
                        await self.handle(text, connection: index)
                    }
                }
                logger.warning("kline stream closed", metadata: ["url": "\(url)"])
            } catch {
                if Task.isCancelled { throw CancellationError() }
                logger.warning("kline stream failed", metadata: ["url": "\(url)", "error": "\(error)"])
            }
            let attempt = detach(index)
            let wait = Backoff(initialSeconds: settings.backoffInitialSeconds, maxSeconds: settings.backoffMaxSeconds)
                .seconds(attempt: attempt)
            try await Task.sleep(for: .milliseconds(Int(wait * 1_000)))
        }
    }

    /// A connection is open: report the gap it closes, and register it if the session has.
    private func attach(_ index: Int, _ writer: WebSocketOutboundWriter, carrying carried: Set<String>) async {
        // Everything up to the first await runs at once, so `register(client:)` either sees this
        // writer or leaves its name for this method: never both, never neither.
        writers[index] = writer
        detailStreams[index] = carried
        failedAttempts[index] = 0
        statistics.connections += 1
        if let gap = pendingGaps.removeValue(forKey: index) {
            statistics.reconnects += 1
            continuation.yield(.reconnected(gap))
        }
        // Read before the first await: a register(client:) during it sends on this writer itself.
        let clientName = self.clientName
        let doneThrough = self.doneThrough
        // The set may have changed while the connection opened.
        await resubscribe(index)
        guard let clientName else { return }
        await send(method: "LOCKSTEP.REGISTER", params: #"{"client":"\#(name(clientName, connection: index))"}"#, on: index)
        // The exchange waits for this client to be done through its time; a DONE lost with the
        // old connection is said again (the exchange keeps the latest time said).
        if let doneThrough {
            await send(method: "LOCKSTEP.DONE", params: doneParams(clientName, index, doneThrough), on: index)
        }
    }

    /// A connection ended (or never opened); returns the attempt number for the backoff.
    private func detach(_ index: Int) -> Int {
        detailStreams[index] = nil
        if writers.removeValue(forKey: index) != nil {
            let symbols = connectionSymbols[index]
            pendingGaps[index] = KlineFeedGap(
                connection: index,
                symbols: symbols,
                lastClosedOpenTimes: lastClosed.filter { symbols.contains($0.key) }
            )
        }
        let attempt = failedAttempts[index, default: 0]
        failedAttempts[index] = attempt + 1
        return attempt
    }

    /// One text frame of connection `index`.
    private func handle(_ text: String, connection index: Int) {
        statistics.messages += 1
        let message: KlineStreamMessage
        do {
            message = try KlineStreamMessage.parse(text)
        } catch {
            skip(text, because: error.description)
            return
        }
        switch message {
        case .kline(let symbol, let interval, let bar, let isClosed):
            guard interval == "1m", followed.contains(symbol), connectionSymbols[index].contains(symbol) else {
                skip(text, because: "\(symbol) \(interval) is not a 1m stream of this connection")
                return
            }
            guard isClosed else {
                statistics.barsInProgress += 1
                return
            }
            guard bar.openTime > lastClosed[symbol] ?? .min else {
                statistics.repeatedBars += 1
                return
            }
            lastClosed[symbol] = bar.openTime
            statistics.closedBars += 1
            continuation.yield(.closedBar(symbol: symbol, bar))
        case .trade(let symbol, let price, _, let time, let id):
            guard settings.tradeStreams, followed.contains(symbol), connectionSymbols[index].contains(symbol) else {
                skip(text, because: "\(symbol) trades are not a stream of this connection")
                return
            }
            statistics.trades += 1
            continuation.yield(.trade(symbol: symbol, price: price, time: time, id: id))
        case .partialBook(let symbol, let book):
            guard settings.bookStreams, followed.contains(symbol), connectionSymbols[index].contains(symbol) else {
                skip(text, because: "\(symbol) depth is not a stream of this connection")
                return
            }
            statistics.books += 1
            continuation.yield(.book(symbol: symbol, book))
        case .lockStepMark(let time):
            marks[index] = max(marks[index] ?? time, time)
            // A mark holds for the feed once every connection has passed it.
            guard marks.count == connectionSymbols.count, let least = marks.values.min(), least > lastMark else { return }
            lastMark = least
            continuation.yield(.lockStepMark(least))
        case .reply:
            break
        case .errorReply(let reply):
            statistics.rejectedRequests += 1
            logger.warning("the exchange rejected a request", metadata: ["reply": "\(reply)"])
            continuation.yield(.requestRejected(reply))
        }
    }

    private func skip(_ text: String, because reason: String) {
        statistics.malformed += 1
        logger.debug("malformed frame skipped", metadata: ["reason": "\(reason)", "bytes": "\(text.utf8.count)"])
    }

    /// The client name connection `index` registers under.
    private func name(_ base: String, connection index: Int) -> String { index == 0 ? base : "\(base).\(index)" }

    private func doneParams(_ base: String, _ index: Int, _ time: Int64) -> String {
        #"{"client":"\#(name(base, connection: index))","through":\#(time)}"#
    }

    /// Sends a request on connection `index`. A failed write is left to the reconnect, which
    /// registers again and repeats the last DONE.
    private func send(method: String, params: String, on index: Int) async {
        guard let writer = writers[index] else { return }
        let id = nextRequestID
        nextRequestID += 1
        do {
            try await writer.write(.text(#"{"method":"\#(method)","params":\#(params),"id":\#(id)}"#))
        } catch {
            logger.debug("request not written; it is repeated after the reconnect", metadata: ["method": "\(method)", "error": "\(error)"])
        }
    }
}
