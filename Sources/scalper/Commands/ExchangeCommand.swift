import ArgumentParser
import Exchange
import Foundation
import Logging
import MarketData
import ScalperCore
import Trading

/// `scalper exchange`: the local Binance-compatible exchange over the store.
struct ExchangeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exchange",
        abstract: "Run a local Binance-compatible exchange (REST + WebSocket) replaying the store on 127.0.0.1.",
        discussion: """
            Market data REST: /api/v3/ping, time, exchangeInfo, depth, trades, historicalTrades, aggTrades, klines and uiKlines (1m as stored; 3m … 12h, 1d and 1w built from the 1m bars), avgPrice, ticker/24hr, ticker/price, ticker/bookTicker, ticker (rolling window) and ticker/tradingDay, with Binance's weights (--weight-limit per minute, past it 429 with Retry-After) and error codes.

            Market streams: /ws/<stream>, /stream?streams=a/b, SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS (names in any case, echoed as subscribed; --ws-messages-per-second per connection): <s>@trade, <s>@aggTrade, <s>@miniTicker, !miniTicker@arr, <s>@ticker, <s>@ticker_<1h|4h|1d>, !ticker_<1h|4h|1d>@arr, <s>@avgPrice, <s>@kline_<interval>[@<+hh:mm>], <s>@bookTicker, <s>@depth<5|10|20>[@100ms|@1000ms], <s>@depth[@100ms|@1000ms]. Trades, order books and book tickers are replayed from recordings in the store where they cover the sim time (scalper data import <recording.gz>), otherwise modelled from the bars; every stream and REST answer reads the same trade tape and book. The clock starts a day into the data (or at --from) and runs --speed times real time. By default every series with more than a day of 1m bars is served; name others with --symbols.

            Account and order API, SIGNED (HMAC or Ed25519 keys of the --accounts file, with Binance's timestamp, recvWindow and signature checks): GET /api/v3/account, account/commission, rateLimit/order, myTrades, allOrders; POST order/test; POST, GET, DELETE order; GET, DELETE openOrders; POST orderList/oco (and the older order/oco), DELETE orderList. Market orders walk the served book and resting orders fill from the replayed trades, at the configuration's execution fees and slippage; --parity fills by the backtest's bar rule instead, so a session can be compared with the simulated venue exactly. Order limits as Binance's: --orders-per10s orders per 10 s, 200,000 a day and 200 open per symbol (past them 429 / -1015 with Retry-After, or -1013 MAX_NUM_ORDERS); --no-order-limits lifts them and the request weight limit, for capacity benchmarks only.

            WebSocket API, /ws-api/v3: ping, time, userDataStream.subscribe.signature, userDataStream.unsubscribe and session.subscriptions; a subscribed account gets its user data stream (executionReport, listStatus, outboundAccountPosition).

            Faults for resilience tests: --fault-latency-ms delays every answer of the signed account and order API; every Nth order placement is booked with its answer lost (--fault-drop-every: 504 / -1007), refused before booking with 503 (--fault-server-error-every) or 429 / -1015 (--fault-too-many-every), or rejected with -2010 (--fault-reject-every).

            --lock-step: the clock moves only when every registered client is done. A client registers over its WebSocket connection with {"method":"LOCKSTEP.REGISTER","params":{"client":"<name>"},"id":1}; after each step the connection sends the frames due, then {"e":"lockStep","E":<sim ms>}; the client answers {"method":"LOCKSTEP.DONE","params":{"client":"<name>","through":<sim ms>},"id":2} once it has acted on them. A client that disconnects is waited for until it registers again under its name (it is then sent what it missed) or for --lock-step-timeout seconds. With no client registered the clock stands.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Port on 127.0.0.1 (0: any free port, printed).")
    var port = 8765

    @Option(help: "Replay speed, 1 (real time) … 1000.")
    var speed = 1.0

    @Option(help: "Comma-separated symbols to serve (default: every 1m series in the store).")
    var symbols: String?

    @Option(help: "Serve this many pairs, deriving extra ones from the real series.")
    var pairs: Int?

    @Option(help: "Sim start, UTC (default: a day after the data starts).")
    var from: String?

    @Option(help: "Close every WebSocket connection after this many seconds.")
    var forcedDisconnect: Double?

    @Option(help: "Probability per sim second that a WebSocket connection is dropped (resilience tests).")
    var dropProbability = 0.0

    @Option(help: "Seed of the within-bar paths and the book model.")
    var seed: UInt64 = 42

    @Flag(help: "Lock-step: the clock moves a step only once every registered client said it is done (--speed then only converts --forced-disconnect to sim seconds).")
    var lockStep = false

    @Option(help: "Lock-step: sim seconds per step.")
    var lockStepStep = 1.0

    @Option(help: "Lock-step: seconds a disconnected client is waited for before it is dropped.")
    var lockStepTimeout = 60.0

    @Option(help: "Lock-step: at least this many wall milliseconds between two steps (a ceiling on the pace; 0: as fast as the clients go).")
    var lockStepMinIntervalMs = 0.0

    @Option(help: "A JSON file of accounts for signed endpoints: {\"accounts\": [{\"apiKey\": …, \"secret\": … (HMAC) or \"ed25519PublicKey\": …, \"balances\": {\"USDT\": \"1000\"}}]}.")
    var accounts: String?

    @Option(help: "REQUEST_WEIGHT per minute of the exchange's clock, as Binance's 6,000 (past it: 429 with Retry-After); 0: no limit (said on the output).")
    var weightLimit = 6_000

    @Option(help: "Incoming WebSocket messages per connection per second of the exchange's clock, as Binance's 5 (past it the connection is closed; the lock-step protocol does not count); 0: no limit.")
    var wsMessagesPerSecond = 5

    @Flag(help: "Parity mode: orders fill by the backtest's bar rule (market orders at the next bar's open, resting lists from each bar's range), so a session against this exchange can be compared with the simulated venue exactly.")
    var parity = false

    @Option(help: "ORDERS per account per 10 s window, as Binance's (past it: 429 / -1015 with Retry-After).")
    var ordersPer10s = 100

    @Flag(help: "No ORDERS, MAX_NUM_ORDERS or REQUEST_WEIGHT limit (capacity benchmarks only; said on the output).")
    var noOrderLimits = false

    @Option(help: "Faults: real milliseconds added to every order API answer.")
    var faultLatencyMs = 0

    @Option(help: "Faults: every Nth order placement is booked and its answer lost (504, -1007); 0: never.")
    var faultDropEvery = 0

    @Option(help: "Faults: every Nth order placement gets HTTP 503 before booking; 0: never.")
    var faultServerErrorEvery = 0

    @Option(help: "Faults: every Nth order placement gets 429 / -1015 before booking; 0: never.")
    var faultTooManyEvery = 0

    @Option(help: "Faults: every Nth order placement is rejected (-2010) before booking; 0: never.")
    var faultRejectEvery = 0

    func validate() throws {
        guard (1...1_000).contains(speed) else { throw ValidationError("--speed must be between 1 and 1000") }
        if let pairs, !(1...2_000).contains(pairs) { throw ValidationError("--pairs must be between 1 and 2000") }
        if let from, UTC.parse(from) == nil { throw ValidationError("--from is not YYYY-MM-DD[THH:MM[:SS]]") }
        guard lockStepStep >= 0.001, lockStepStep <= 86_400 else { throw ValidationError("--lock-step-step must be between 0.001 and 86400 sim seconds") }
        guard lockStepTimeout > 0, lockStepTimeout.isFinite else { throw ValidationError("--lock-step-timeout must be a positive number of seconds") }
        guard lockStepMinIntervalMs >= 0, lockStepMinIntervalMs <= 60_000 else {
            throw ValidationError("--lock-step-min-interval-ms must be between 0 and 60000")
        }
    }

    func run() async throws {
        let settings = try global.loadConfiguration()
        let store = try MarketStore(path: global.storePath(settings))
        let available = try store.symbols(interval: .oneMinute)
        // By default every series with at least a day of bars (so 24 h statistics are whole); a short
        // one, such as the bars built from a recording's trades, only when asked for by name.
        let daily = try available.filter { try store.count(symbol: $0, interval: .oneMinute) > 1_440 }
        let wanted = symbols.map { symbolList($0) } ?? (daily.isEmpty ? available : daily)
        guard !wanted.isEmpty else { throw fail("the store has no 1m klines: import some first (scalper data import datasets/sample)") }
        let series = try loadSeries(store, symbols: wanted, interval: .oneMinute, from: .min, to: .max)
        let recorded = Set(try store.recordings().filter { $0.snapshots > 0 || $0.trades > 0 || $0.bookTickers > 0 }.map(\.symbol))
        let recordings = try wanted.filter { recorded.contains($0) }.map { try store.recordedStreams(symbol: $0) }
        var exchangeSettings = ExchangeSettings()
        exchangeSettings.speed = speed
        exchangeSettings.startTime = from.flatMap { UTC.parse($0) }
        exchangeSettings.forcedDisconnectSeconds = forcedDisconnect
        exchangeSettings.dropProbability = dropProbability
        exchangeSettings.weightLimitPerMinute = max(0, weightLimit)
        exchangeSettings.messagesPerSecond = max(0, wsMessagesPerSecond)
        // The one fill model, with the fees and slippage of the configuration's execution section.
        exchangeSettings.trading.fillModel = FillModel(settings.execution)
        exchangeSettings.trading.rule = parity ? .bar : .continuous
        exchangeSettings.trading.ordersPer10Seconds = max(1, ordersPer10s)
        exchangeSettings.trading.limitsEnabled = !noOrderLimits
        if noOrderLimits { exchangeSettings.weightLimitPerMinute = 0 }
        exchangeSettings.faults.latencyMs = max(0, faultLatencyMs)
        exchangeSettings.faults.dropResponseEvery = max(0, faultDropEvery)
        exchangeSettings.faults.serverErrorEvery = max(0, faultServerErrorEvery)
        exchangeSettings.faults.tooManyRequestsEvery = max(0, faultTooManyEvery)
        exchangeSettings.faults.rejectEvery = max(0, faultRejectEvery)
        if let accounts {
            do {
                exchangeSettings.accounts = try ExchangeAccounts.load(path: accounts)
            } catch {
                throw fail("--accounts \(error)")
            }
        }
        // Each real symbol's filters as the store gives them (exchangeInfo, else the one derivation
        // over its whole 1m series), so the exchange and a backtest round alike.
        let sourced = try wanted.map { try store.sourcedSymbolFilters(symbol: $0) }
        let market: ReplayMarket
        do {
            market = try ReplayMarket(
                series: series,
                recordings: recordings,
                pairCount: pairs,
                filters: Dictionary(uniqueKeysWithValues: sourced.map { ($0.symbol, $0.filters) }),
                seed: seed
            )
        } catch {
            throw fail("\(error)")
        }
        let fromExchangeInfo = sourced.filter { $0.source.name == "exchangeInfo" }.count
        let server: ExchangeServer
        if lockStep {
            let clock = LockStepClock(
                start: exchangeSettings.startTime ?? ExchangeServer.defaultStart(of: market),
                stepMs: Int64((lockStepStep * 1_000).rounded()),
                reconnectTimeout: .milliseconds(Int64((lockStepTimeout * 1_000).rounded())),
                minimumStepInterval: .microseconds(Int64((lockStepMinIntervalMs * 1_000).rounded()))
            )
            server = ExchangeServer(market: market, settings: exchangeSettings, clock: clock)
        } else {
            server = ExchangeServer(market: market, settings: exchangeSettings)
        }
        var logger = Logger(label: "scalper.exchange")
        logger.logLevel = .warning
        do {
            try await serve(server, market: market, filtersLine: "filters: \(fromExchangeInfo) from exchangeInfo, \(market.symbols.count - fromExchangeInfo) derived", logger: logger)
        } catch {
            throw fail("the exchange could not serve on 127.0.0.1:\(port): \(error)")
        }
    }

    private func serve(_ server: ExchangeServer, market: ReplayMarket, filtersLine: String, logger: Logger) async throws {
        let trading = server.settings.trading
        let faults = server.settings.faults
        let pace: String
        if let clock = server.clock as? LockStepClock {
            pace = "lock-step (clients: LOCKSTEP.REGISTER / LOCKSTEP.DONE; step \(Double(clock.stepMs) / 1_000) s, reconnect timeout \(lockStepTimeout) s\(lockStepMinIntervalMs > 0 ? ", at most one step per \(lockStepMinIntervalMs) ms" : ""); waiting for a client)"
        } else {
            pace = "speed \(speed)×"
        }
        try await server.run(port: port, logger: logger) { bound in
            var line = "exchange: http://127.0.0.1:\(bound)  ws://127.0.0.1:\(bound)/stream  \(market.symbols.count) pairs, \(pace), sim time \(UTC.minuteString(server.now))\n  \(filtersLine)\n"
            let limits = [
                weightLimit > 0 ? "request weight \(weightLimit)/min" : "request weight: NO LIMIT",
                wsMessagesPerSecond > 0 ? "\(wsMessagesPerSecond) WebSocket messages/s per connection" : "WebSocket messages: NO LIMIT",
            ]
            line += "  limits: \(limits.joined(separator: ", ")) (of the exchange's clock)\n"
            let model = trading.fillModel
            let fills = trading.rule == .bar ? "parity mode (the backtest's bar rule)" : "market orders walk the book, resting orders fill from the replayed trades"
            line += "  orders: http://127.0.0.1:\(bound)/api/v3/order, user data ws://127.0.0.1:\(bound)/ws-api/v3; \(fills); taker fee \(model.takerFee), slippage \(model.slippageBps) bps\n"
            line += trading.limitsEnabled
                ? "  order limits: \(trading.ordersPer10Seconds) orders/10 s, \(trading.ordersPerDay)/day, \(trading.maxOpenOrdersPerSymbol) open per symbol\n"
                : "  order limits: NONE (capacity benchmark mode: no ORDERS, MAX_NUM_ORDERS or REQUEST_WEIGHT limit)\n"
            if faults.isActive {
                line += "  FAULTS: latency \(faults.latencyMs) ms, lost answer every \(faults.dropResponseEvery), 503 every \(faults.serverErrorEvery), 429 every \(faults.tooManyRequestsEvery), reject every \(faults.rejectEvery) (0: never)\n"
            }
            for (symbol, book) in market.recorded.sorted(by: { $0.key < $1.key }) {
                if let span = book.bookSpan {
                    line += "  \(symbol): recorded order book \(UTC.isoString(span.lowerBound)) … \(UTC.isoString(span.upperBound)); seeded model outside it\n"
                }
            }
            FileHandle.standardOutput.write(Data(line.utf8))
        }
    }
}
