public import Binance
import Features
public import Foundation
public import Logging
import ScalperCore

/// Where the scanner connects and how it behaves.
public struct ScannerServiceSettings: Sendable {
    /// REST base URL (exchangeInfo, ticker/24hr, klines).
    public var restURL: URL
    /// WebSocket base URL (`ws://host:port`); combined streams are at `/stream`.
    public var webSocketURL: String
    /// Pairs in the universe at most (top by 24 h quote volume).
    public var universeSize = 150
    /// Smallest 24 h quote volume for a pair to be scanned.
    public var minQuoteVolume = 1_000_000.0
    /// Quote assets never scanned (stablecoins).
    public var excludedBases: Set<String> = ["USDC", "FDUSD", "TUSD", "BUSD", "DAI", "USDP", "EUR", "AEUR", "UST", "USTC", "PAX"]
    /// Candidates followed in detail.
    public var candidates = 10
    /// Seconds between refreshes of the ranking (and of the output).
    public var refreshSeconds = 1.0
    /// Reconnect when no message arrived for this long.
    public var silenceSeconds = 10.0
    /// Backoff after a dropped connection: initial and largest wait, seconds.
    public var backoffInitialSeconds = 0.5
    /// Largest backoff.
    public var backoffMaxSeconds = 30.0
    /// Streams per connection at most.
    public var maxStreamsPerConnection = 1_024
    /// Seconds between reloads of the universe from exchangeInfo and ticker/24hr (hourly).
    public var universeRefreshSeconds = 3_600.0
    /// Scanner scoring settings.
    public var scoring = ScannerConfiguration()

    /// Creates settings.
    public init(restURL: URL, webSocketURL: String) {
        self.restURL = restURL
        self.webSocketURL = webSocketURL
    }
}

/// Counters the scanner keeps.
public struct ScannerStatistics: Sendable, Equatable {
    /// Frames received.
    public var messages = 0
    /// Frames that could not be understood (counted and skipped).
    public var malformed = 0
    /// Connections made after the first.
    public var reconnects = 0
    /// Closed 1 m bars received over the stream.
    public var klinesStreamed = 0
    /// Closed 1 m bars fetched over REST after a reconnect or a missed close.
    public var klinesBackfilled = 0
    /// Backfill requests for a missed close that failed (each tried again, up to 8 in all).
    public var backfillFailures = 0
    /// SUBSCRIBE requests sent for candidates.
    public var subscribes = 0
    /// UNSUBSCRIBE requests sent.
    public var unsubscribes = 0
}

/// One refresh as the scanner reports it.
public struct ScannerReport: Sendable {
    /// Time of the refresh (exchange time of the last frame, ms).
    public var time: Int64
    /// The ranked top pairs.
    public var top: [PairSnapshot]
    /// Pairs scanned.
    public var pairs: Int
    /// Counters.
    public var statistics: ScannerStatistics
}

/// The multi-pair scanner: one WebSocket connection with combined miniTicker streams for the whole
/// universe, detail streams (`kline_1m`, `depth20@100ms`) for the current candidates, and REST for
/// the universe and for kline backfill. The wire is the Binance module's: ``CombinedStream``
/// (connect, SUBSCRIBE, reconnect with backoff; the frames come back as text for the scanner's
/// own parser) and ``BinanceREST``; the scanner decides what to follow, parses and scores.
///
/// Candidates' closed bars feed a ``StreamingFeatures`` state each, warmed from REST when the pair
/// becomes a candidate. A missed close (a bar that does not follow the previous one) and every
/// reconnect trigger a REST backfill, so no closed bar of a followed pair is lost.
public actor ScannerService {
    /// Settings.
    public let settings: ScannerServiceSettings
    private let logger: Logger
    private let rest: BinanceREST
    private var state: ScannerState
    private var statistics = ScannerStatistics()
    private var candidates: [String] = []
    private var features: [String: StreamingFeatures] = [:]
    /// Closed bars received per followed pair, by open time (stream or backfill), for the current
    /// stretch of following it.
    public private(set) var closedBars: [String: [Int64]] = [:]
    /// Earlier stretches: a pair that left the candidates and came back starts a new one.
    public private(set) var finishedStretches: [(symbol: String, openTimes: [Int64])] = []
    private var lastFrameTime: Int64 = 0
    private var universe: [String] = []
    private var universeLoadedAt = ContinuousClock.now
    /// Exchange time minus local time, ms (from /api/v3/time), for detection latency.
    private var clockOffset: Int64 = 0
    /// Milliseconds from the exchange's event time to the frame being applied, per miniTicker
    /// (meaningful at replay speed 1, where event time runs with the wall clock).
    public private(set) var detectionLatencies: [Double] = []

    /// Creates a scanner.
    public init(settings: ScannerServiceSettings, logger: Logger, fetcher: any HTTPFetching = URLSessionFetcher(timeoutSeconds: 10)) {
        self.settings = settings
        self.logger = logger
        rest = BinanceREST(baseURL: settings.restURL, fetcher: fetcher)
        state = ScannerState(configuration: settings.scoring)
    }

    /// The counters now.
    public var currentStatistics: ScannerStatistics { statistics }

    /// Missing bars inside the stretches during which pairs were followed (0 when none was lost).
    public var missingBarsWhileFollowed: Int {
        let stretches = finishedStretches.map(\.openTimes) + Array(closedBars.values)
        return stretches.reduce(0) { total, times in
            total + zip(times, times.dropFirst()).reduce(0) { $0 + Int(($1.1 - $1.0) / 60_000 - 1) }
        }
    }

    /// Closed bars held over all stretches.
    public var followedBarCount: Int { finishedStretches.reduce(0) { $0 + $1.openTimes.count } + closedBars.values.reduce(0) { $0 + $1.count } }

    /// Runs for `duration` seconds (nil: until cancelled), calling `report` at each refresh.
    public func run(duration: Double?, report: @escaping @Sendable (ScannerReport) -> Void) async throws {
        universe = try await loadUniverse()
        universeLoadedAt = .now
        if let server = try? await rest.serverTime() {
            clockOffset = server - UTC.now()
        }
        guard !universe.isEmpty else { throw ScannerServiceError("no tradable USDT pair above the volume floor at \(settings.restURL)") }
        logger.info("universe", metadata: ["pairs": "\(universe.count)"])
        let deadline = duration.map { ContinuousClock.now + .milliseconds(Int($0 * 1000)) }
        let stream = CombinedStream(
            webSocketURL: settings.webSocketURL,
            maxStreamsPerConnection: settings.maxStreamsPerConnection,
            backoff: Backoff(initialSeconds: settings.backoffInitialSeconds, maxSeconds: settings.backoffMaxSeconds),
            logger: logger
        )
        try await stream.run(
            until: deadline,
            // The universe's miniTickers; candidates' detail streams are re-subscribed after connecting.
            streams: { await self.universe.map { "\($0.lowercased())@miniTicker" } },
            reconnecting: { await self.countReconnect() },
            session: { connection in try await self.follow(connection, deadline: deadline, report: report) }
        )
    }

    /// One connection: re-subscribes the candidates' detail streams and backfills what a reconnect
    /// may have missed, then reads frames while the ranking is refreshed every `refreshSeconds`.
    /// Returns at the deadline; throws after `silenceSeconds` without a frame, and when the universe
    /// was reloaded (the next connection asks for its streams).
    private func follow(
        _ connection: CombinedStream.Connection,
        deadline: ContinuousClock.Instant?,
        report: @escaping @Sendable (ScannerReport) -> Void
    ) async throws {
        let followed = candidates
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Re-subscribe and backfill what a reconnect may have missed.
            if !followed.isEmpty {
                try await connection.subscribe(Self.detailStreams(followed), id: 1)
                self.countSubscribe()
                for symbol in followed { try? await self.backfill(symbol) }
            }
            group.addTask {
                try await connection.receive { text in await self.handle(text) }
            }
            group.addTask {
                var nextID = 2
                while true {
                    try await Task.sleep(for: .milliseconds(Int(self.settings.refreshSeconds * 1000)))
                    if let deadline, ContinuousClock.now >= deadline { return }
                    if connection.silence > .milliseconds(Int(self.settings.silenceSeconds * 1000)) {
                        throw ScannerServiceError("no message for \(self.settings.silenceSeconds) s")
                    }
                    if await self.universeIsStale() {
                        try await self.reloadUniverse()
                        throw ScannerServiceError("universe refreshed; reconnecting with the new stream list")
                    }
                    let (added, removed, snapshot) = await self.refresh()
                    if !removed.isEmpty {
                        try await connection.unsubscribe(Self.detailStreams(removed), id: nextID)
                        nextID += 1
                        await self.countUnsubscribe()
                    }
                    if !added.isEmpty {
                        try await connection.subscribe(Self.detailStreams(added), id: nextID)
                        nextID += 1
                        await self.countSubscribe()
                        for symbol in added { try? await self.warm(symbol) }
                    }
                    report(snapshot)
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    private func universeIsStale() -> Bool { ContinuousClock.now - universeLoadedAt > .seconds(settings.universeRefreshSeconds) }

    private func reloadUniverse() async throws {
        let next = try await loadUniverse()
        if !next.isEmpty { universe = next }
        universeLoadedAt = .now
    }

    private func countReconnect() { statistics.reconnects += 1 }
    private func countSubscribe() { statistics.subscribes += 1 }
    private func countUnsubscribe() { statistics.unsubscribes += 1 }

    static func detailStreams(_ symbols: [String]) -> [String] {
        symbols.flatMap { ["\($0.lowercased())@kline_1m", "\($0.lowercased())@depth20@100ms"] }
    }

    /// Re-ranks; returns pairs that became candidates, pairs that stopped being, and the report.
    func refresh() -> ([String], [String], ScannerReport) {
        let top = state.topOpportunities(settings.candidates)
        let next = top.map(\.symbol)
        let added = next.filter { !candidates.contains($0) }
        let removed = candidates.filter { !next.contains($0) }
        candidates = next
        for symbol in removed {
            features[symbol] = nil
            if let times = closedBars.removeValue(forKey: symbol) { finishedStretches.append((symbol, times)) }
        }
        return (added, removed, ScannerReport(time: lastFrameTime, top: top, pairs: state.count, statistics: statistics))
    }

    /// One frame of the combined stream.
    func handle(_ text: String) {
        statistics.messages += 1
        var copy = text
        // Most frames are miniTickers: the allocation-free path first.
        let applied: Bool = copy.withUTF8 { buffer in
            do throws(StreamMessageError) {
                try state.apply(frame: buffer)
                return true
            } catch {
                return false
            }
        }
        if applied {
            let eventTime = state.lastEventTime
            lastFrameTime = max(lastFrameTime, eventTime)
            if detectionLatencies.count < 2_000_000 {
                detectionLatencies.append(Double(UTC.now() + clockOffset - eventTime))
            }
            return
        }
        // Everything else (detail streams, replies) through the general parser.
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            statistics.malformed += 1
            logger.debug("malformed frame", metadata: ["bytes": "\(text.utf8.count)"])
            return
        }
        if object["result"] != nil || object["id"] != nil { return }  // a reply to SUBSCRIBE etc.
        guard let stream = object["stream"] as? String, let data = object["data"] as? [String: Any] else {
            statistics.malformed += 1
            return
        }
        if stream.hasSuffix("@kline_1m") {
            guard let k = data["k"] as? [String: Any], let (symbol, _, bar, closed) = try? KlineStreamMessage.klineObject(k) else {
                statistics.malformed += 1
                return
            }
            guard closed else { return }
            statistics.klinesStreamed += 1
            accept(symbol: symbol, bar: bar, backfilled: false)
        } else if stream.contains("@depth20"), let bids = data["bids"] as? [[String]], let asks = data["asks"] as? [[String]],
            let bid = bids.first.flatMap({ Double($0[0]) }), let ask = asks.first.flatMap({ Double($0[0]) })
        {
            let symbol = String(stream.prefix { $0 != "@" }).uppercased()
            state.applyBookTicker(symbol: symbol, bid: bid, ask: ask)
        }
    }

    /// A closed bar for a followed pair. Bars are held as a sorted set of open times, so a bar that
    /// arrives late (from a backfill, or reordered) still lands in its place; a bar that skips ahead
    /// triggers a REST backfill of the hole, after which the pair's features are rebuilt in order.
    private func accept(symbol: String, bar: Kline, backfilled: Bool) {
        guard candidates.contains(symbol) || backfilled else { return }
        var times = closedBars[symbol, default: []]
        let previousLast = times.last
        var lo = 0
        var hi = times.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if times[mid] < bar.openTime { lo = mid + 1 } else { hi = mid }
        }
        if lo < times.count && times[lo] == bar.openTime { return }  // already held
        times.insert(bar.openTime, at: lo)
        closedBars[symbol] = times
        if let last = previousLast, bar.openTime > last + 60_000, !backfilled {
            // A close was missed (dropped connection, slow consumer): fetch the hole.
            let from = last + 60_000
            Task { await self.fillHole(symbol, from: from, until: bar.openTime) }
        } else if lo == times.count - 1, var f = features[symbol] {
            _ = try? f.update(bar)
            features[symbol] = f
        }
    }

    /// Fetches the last 100 closed bars of a new candidate to warm its streaming features.
    private func warm(_ symbol: String) async throws {
        let bars = try await rest.klines(symbol, startTime: nil, limit: 100)
        var f = StreamingFeatures()
        for bar in bars { _ = try? f.update(bar) }
        features[symbol] = f
        for bar in bars { accept(symbol: symbol, bar: bar, backfilled: true) }
    }

    /// Backfills the hole `[from, until)` of `symbol`, trying again with the connection's backoff
    /// when a request fails (a timeout on a loaded machine, a dropped connection) until the hole is
    /// filled or ``holeAttempts`` requests have failed, each failure counted and logged.
    private func fillHole(_ symbol: String, from: Int64, until: Int64) async {
        var delay = settings.backoffInitialSeconds
        for attempt in 1...Self.holeAttempts {
            do {
                try await backfill(symbol, from: from, until: until)
                return
            } catch {
                statistics.backfillFailures += 1
                if isHeld(symbol, from: from, until: until) { return }
                logger.warning(
                    "backfill failed",
                    metadata: ["symbol": "\(symbol)", "from": "\(from)", "attempt": "\(attempt)", "error": "\(error)"]
                )
                if attempt == Self.holeAttempts || Task.isCancelled { return }
                try? await Task.sleep(for: .milliseconds(Int(delay * 1_000)))
                delay = min(delay * 2, settings.backoffMaxSeconds)
            }
        }
    }

    /// Requests a hole's backfill may fail before the scanner gives it up (logged each time).
    static let holeAttempts = 8

    /// Whether every bar of `[from, until)` of `symbol` is held.
    private func isHeld(_ symbol: String, from: Int64, until: Int64) -> Bool {
        let held = Set(closedBars[symbol] ?? [])
        return stride(from: from, to: until, by: 60_000).allSatisfy { held.contains($0) }
    }

    /// Fetches closed bars of `symbol` from `from` (default: after the last one held) up to `until`
    /// (exclusive; default: now), then rebuilds its features from REST so they stay in order.
    private func backfill(_ symbol: String, from: Int64? = nil, until: Int64? = nil) async throws {
        guard let start = from ?? closedBars[symbol]?.last.map({ $0 + 60_000 }) else { return }
        var next = start
        while true {
            let bars = try await rest.klines(symbol, startTime: next, limit: 1_000)
            let wanted = bars.filter { bar in until.map { bar.openTime < $0 } ?? true }
            for bar in wanted {
                statistics.klinesBackfilled += 1
                accept(symbol: symbol, bar: bar, backfilled: true)
            }
            guard bars.count == 1_000, let last = bars.last, until.map({ last.openTime + 60_000 < $0 }) ?? true else { break }
            next = last.openTime + 60_000
        }
        if from != nil, candidates.contains(symbol) { try await warm(symbol) }
    }

    /// The universe from exchangeInfo and ticker/24hr.
    func loadUniverse() async throws -> [String] {
        do {
            return try await rest.usdtUniverse(
                size: settings.universeSize,
                minQuoteVolume: settings.minQuoteVolume,
                excludedBases: settings.excludedBases
            )
        } catch let error as BinanceError {
            throw ScannerServiceError("\(error) (is `scalper exchange` running?)")
        }
    }
}

/// A scanner failure, in words.
public struct ScannerServiceError: Error, CustomStringConvertible, Sendable {
    /// The message.
    public var description: String
    init(_ description: String) { self.description = description }
}
