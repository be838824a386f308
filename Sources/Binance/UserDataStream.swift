public import Foundation
import HummingbirdWSClient
public import Logging
import ScalperCore

// MARK: - Events

/// What happened to an order, as an `executionReport` tells it. Field names are English; each
/// says which key of Binance's event it reads.
public struct BinanceExecutionReport: Sendable, Hashable, Decodable {
    /// `E`: event time, ms.
    public var eventTime: Int64
    /// `s`.
    public var symbol: String
    /// `c`: the client order id (for a cancel, the cancel request's id).
    public var clientOrderID: String
    /// `S`.
    public var side: BinanceOrderSide
    /// `o`.
    public var orderType: BinanceOrderType
    /// `f`.
    public var timeInForce: BinanceTimeInForce
    /// `q`: order quantity.
    public var quantity: Decimal
    /// `p`: order price.
    public var price: Decimal
    /// `P`: stop price.
    public var stopPrice: Decimal
    /// `F`: iceberg quantity.
    public var icebergQuantity: Decimal?
    /// `g`: order list id (-1 when none).
    public var orderListID: Int64
    /// `C`: the original client order id of the order being cancelled (nil when Binance sends "").
    public var originalClientOrderID: String?
    /// `x`: what this report is about.
    public var executionType: BinanceExecutionType
    /// `X`: the order's status after it.
    public var orderStatus: BinanceOrderStatus
    /// `r`: reject reason (`NONE`, `INSUFFICIENT_BALANCES`, …).
    public var rejectReason: String
    /// `i`.
    public var orderID: Int64
    /// `l`: quantity of this trade.
    public var lastExecutedQuantity: Decimal
    /// `z`: quantity filled so far.
    public var cumulativeFilledQuantity: Decimal
    /// `L`: price of this trade.
    public var lastExecutedPrice: Decimal
    /// `n`: commission of this trade.
    public var commission: Decimal
    /// `N`: the commission's asset (nil when there was no trade).
    public var commissionAsset: String?
    /// `T`: transaction time, ms.
    public var transactionTime: Int64
    /// `t`: trade id (-1 when no trade).
    public var tradeID: Int64
    /// `v`: prevented match id (self-trade prevention).
    public var preventedMatchID: Int64?
    /// `I`: execution id.
    public var executionID: Int64?
    /// `w`: whether the order is on the book.
    public var isOnBook: Bool
    /// `m`: whether this trade was the maker side.
    public var isMaker: Bool
    /// `O`: order creation time, ms.
    public var orderCreationTime: Int64
    /// `Z`: quote transacted so far (average price = `Z` / `z`).
    public var cumulativeQuoteQuantity: Decimal
    /// `Y`: quote of this trade (`L` × `l`).
    public var lastQuoteQuantity: Decimal
    /// `Q`: quote order quantity.
    public var quoteOrderQuantity: Decimal
    /// `W`: working time, only once the order is on the book, ms.
    public var workingTime: Int64?
    /// `V`: self-trade prevention mode.
    public var selfTradePreventionMode: String?
    /// `eR`: why the order expired, when it did.
    public var expiryReason: String?

    private enum CodingKeys: String, CodingKey {
        case eventTime = "E", symbol = "s", clientOrderID = "c", side = "S", orderType = "o", timeInForce = "f"
        case quantity = "q", price = "p", stopPrice = "P", icebergQuantity = "F", orderListID = "g"
        case originalClientOrderID = "C", executionType = "x", orderStatus = "X", rejectReason = "r", orderID = "i"
        case lastExecutedQuantity = "l", cumulativeFilledQuantity = "z", lastExecutedPrice = "L", commission = "n"
        case commissionAsset = "N", transactionTime = "T", tradeID = "t", preventedMatchID = "v", executionID = "I"
        case isOnBook = "w", isMaker = "m", orderCreationTime = "O", cumulativeQuoteQuantity = "Z"
        case lastQuoteQuantity = "Y", quoteOrderQuantity = "Q", workingTime = "W", selfTradePreventionMode = "V"
        case expiryReason = "eR"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        eventTime = try c.decode(Int64.self, forKey: .eventTime)
        symbol = try c.decode(String.self, forKey: .symbol)
        clientOrderID = try c.decode(String.self, forKey: .clientOrderID)
        side = try c.decode(BinanceOrderSide.self, forKey: .side)
        orderType = try c.decode(BinanceOrderType.self, forKey: .orderType)
        timeInForce = try c.decode(BinanceTimeInForce.self, forKey: .timeInForce)
        quantity = try c.decimal(.quantity)
        price = try c.decimal(.price)
        stopPrice = try c.decimal(.stopPrice)
        icebergQuantity = try c.decimalIfPresent(.icebergQuantity)
        orderListID = try c.decode(Int64.self, forKey: .orderListID)
        let original = try c.decodeIfPresent(String.self, forKey: .originalClientOrderID)
        originalClientOrderID = original?.isEmpty == false ? original : nil
        executionType = try c.decode(BinanceExecutionType.self, forKey: .executionType)
        orderStatus = try c.decode(BinanceOrderStatus.self, forKey: .orderStatus)
        rejectReason = try c.decode(String.self, forKey: .rejectReason)
        orderID = try c.decode(Int64.self, forKey: .orderID)
        lastExecutedQuantity = try c.decimal(.lastExecutedQuantity)
        cumulativeFilledQuantity = try c.decimal(.cumulativeFilledQuantity)
        lastExecutedPrice = try c.decimal(.lastExecutedPrice)
        commission = try c.decimal(.commission)
        commissionAsset = try c.decodeIfPresent(String.self, forKey: .commissionAsset)
        transactionTime = try c.decode(Int64.self, forKey: .transactionTime)
        tradeID = try c.decode(Int64.self, forKey: .tradeID)
        preventedMatchID = try c.decodeIfPresent(Int64.self, forKey: .preventedMatchID)
        executionID = try c.decodeIfPresent(Int64.self, forKey: .executionID)
        isOnBook = try c.decode(Bool.self, forKey: .isOnBook)
        isMaker = try c.decode(Bool.self, forKey: .isMaker)
        orderCreationTime = try c.decode(Int64.self, forKey: .orderCreationTime)
        cumulativeQuoteQuantity = try c.decimal(.cumulativeQuoteQuantity)
        lastQuoteQuantity = try c.decimal(.lastQuoteQuantity)
        quoteOrderQuantity = try c.decimal(.quoteOrderQuantity)
        workingTime = try c.decodeIfPresent(Int64.self, forKey: .workingTime)
        selfTradePreventionMode = try c.decodeIfPresent(String.self, forKey: .selfTradePreventionMode)
        expiryReason = try c.decodeIfPresent(String.self, forKey: .expiryReason)
    }
}

/// An execution type (`x`), kept as text so a type Binance adds later still reads.
public struct BinanceExecutionType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// The order was accepted.
    public static let new = Self(rawValue: "NEW")
    /// The order was cancelled.
    public static let canceled = Self(rawValue: "CANCELED")
    /// The order was replaced (cancel-replace).
    public static let replaced = Self(rawValue: "REPLACED")
    /// The order was rejected.
    public static let rejected = Self(rawValue: "REJECTED")
    /// Part or all of the order traded.
    public static let trade = Self(rawValue: "TRADE")
    /// The order expired.
    public static let expired = Self(rawValue: "EXPIRED")
    /// Self-trade prevention expired part of the order.
    public static let tradePrevention = Self(rawValue: "TRADE_PREVENTION")
}

/// An order list's change (`listStatus`), sent with the legs' execution reports.
public struct BinanceListStatus: Sendable, Hashable, Decodable {
    /// One order of the list (`O`: `s`, `i`, `c`).
    public struct Order: Sendable, Hashable, Decodable {
        /// `s`.
        public var symbol: String
        /// `i`.
        public var orderID: Int64
        /// `c`.
        public var clientOrderID: String

        private enum CodingKeys: String, CodingKey {
            case symbol = "s", orderID = "i", clientOrderID = "c"
        }
    }

    /// `E`, ms.
    public var eventTime: Int64
    /// `s`.
    public var symbol: String
    /// `g`.
    public var orderListID: Int64
    /// `c`: contingency type (`OCO`, `OTO`).
    public var contingencyType: String
    /// `l`: list status type (`RESPONSE`, `EXEC_STARTED`, `UPDATED`, `ALL_DONE`).
    public var listStatusType: String
    /// `L`: list order status (`EXECUTING`, `ALL_DONE`, `REJECT`).
    public var listOrderStatus: String
    /// `r`: list reject reason.
    public var listRejectReason: String
    /// `C`: the list's client id.
    public var listClientOrderID: String
    /// `T`: transaction time, ms.
    public var transactionTime: Int64
    /// `O`.
    public var orders: [Order]

    private enum CodingKeys: String, CodingKey {
        case eventTime = "E", symbol = "s", orderListID = "g", contingencyType = "c", listStatusType = "l"
        case listOrderStatus = "L", listRejectReason = "r", listClientOrderID = "C", transactionTime = "T", orders = "O"
    }
}

/// The balances an account change touched (`outboundAccountPosition`).
public struct BinanceAccountPosition: Sendable, Hashable, Decodable {
    /// `E`, ms.
    public var eventTime: Int64
    /// `u`: time of the last account update, ms.
    public var lastUpdateTime: Int64
    /// `B`: `a` asset, `f` free, `l` locked.
    public var balances: [BinanceBalance]

    private enum CodingKeys: String, CodingKey {
        case eventTime = "E", lastUpdateTime = "u", balances = "B"
    }

    private struct Wire: Decodable {
        var balance: BinanceBalance

        private enum CodingKeys: String, CodingKey {
            case asset = "a", free = "f", locked = "l"
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            balance = BinanceBalance(
                asset: try c.decode(String.self, forKey: .asset),
                free: try c.decimal(.free),
                locked: try c.decimal(.locked)
            )
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        eventTime = try c.decode(Int64.self, forKey: .eventTime)
        lastUpdateTime = try c.decode(Int64.self, forKey: .lastUpdateTime)
        balances = try c.decode([Wire].self, forKey: .balances).map(\.balance)
    }
}

/// A deposit, withdrawal or transfer (`balanceUpdate`); trades do not send one.
public struct BinanceBalanceUpdate: Sendable, Hashable, Decodable {
    /// `E`, ms.
    public var eventTime: Int64
    /// `a`.
    public var asset: String
    /// `d`: the change of the balance.
    public var delta: Decimal
    /// `T`: clear time, ms.
    public var clearTime: Int64

    private enum CodingKeys: String, CodingKey {
        case eventTime = "E", asset = "a", delta = "d", clearTime = "T"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        eventTime = try c.decode(Int64.self, forKey: .eventTime)
        asset = try c.decode(String.self, forKey: .asset)
        delta = try c.decimal(.delta)
        clearTime = try c.decode(Int64.self, forKey: .clearTime)
    }
}

/// What the user data stream delivers, in the order it happened.
public enum UserDataStreamEvent: Sendable, Hashable {
    /// Subscribed on a new connection: events flow from here on. Events of the time before (a
    /// first start, or the gap of a reconnect) are not sent again, so reconcile after every one:
    /// open orders, the orders in doubt by client id, the balances.
    case connected(subscriptionID: Int)
    /// The subscribed connection ended; the stream connects again after a backoff.
    case disconnected(reason: String)
    /// The subscription was refused (e.g. -2015 key, IP or permissions; -1022 signature; -1021
    /// timestamp): the stream tries again after a backoff (after a -1021 with the server's clock
    /// measured again, when it can), but a refusal of the key will repeat.
    case subscriptionRefused(BinanceAPIError)
    /// `executionReport`.
    case executionReport(BinanceExecutionReport)
    /// `listStatus`.
    case listStatus(BinanceListStatus)
    /// `outboundAccountPosition`.
    case accountPosition(BinanceAccountPosition)
    /// `balanceUpdate`.
    case balanceUpdate(BinanceBalanceUpdate)
    /// `eventStreamTerminated`: the subscription ended; the stream connects and subscribes again.
    case streamTerminated(eventTime: Int64)
    /// `serverShutdown`: the server is going away; the stream connects again at once.
    case serverShutdown(eventTime: Int64)
}

/// One text frame of the WebSocket API, read.
public enum UserDataStreamFrame: Sendable, Hashable {
    /// The answer to a request (`{"id","status","result"|"error"}`).
    case response(UserDataStreamResponse)
    /// An event (`{"subscriptionId":…,"event":{…}}`).
    case event(subscriptionID: Int?, UserDataStreamEvent)
    /// An event of a type this client does not read (`e`), skipped.
    case unknownEvent(type: String)

    /// Reads a frame.
    ///
    /// - Throws: ``UserDataStreamError/malformedFrame(_:)``.
    public static func parse(_ text: String) throws(UserDataStreamError) -> UserDataStreamFrame {
        let data = Data(text.utf8)
        let decoder = JSONDecoder()
        let head: Head
        do {
            head = try decoder.decode(Head.self, from: data)
        } catch {
            throw .malformedFrame(decodingReason(error))
        }
        if let type = head.event?.e {
            do {
                switch type {
                case "executionReport":
                    return .event(
                        subscriptionID: head.subscriptionId,
                        .executionReport(try decoder.decode(Wrapped<BinanceExecutionReport>.self, from: data).event)
                    )
                case "listStatus":
                    return .event(
                        subscriptionID: head.subscriptionId,
                        .listStatus(try decoder.decode(Wrapped<BinanceListStatus>.self, from: data).event)
                    )
                case "outboundAccountPosition":
                    return .event(
                        subscriptionID: head.subscriptionId,
                        .accountPosition(try decoder.decode(Wrapped<BinanceAccountPosition>.self, from: data).event)
                    )
                case "balanceUpdate":
                    return .event(
                        subscriptionID: head.subscriptionId,
                        .balanceUpdate(try decoder.decode(Wrapped<BinanceBalanceUpdate>.self, from: data).event)
                    )
                case "eventStreamTerminated":
                    return .event(
                        subscriptionID: head.subscriptionId,
                        .streamTerminated(eventTime: try decoder.decode(Wrapped<EventTime>.self, from: data).event.E)
                    )
                case "serverShutdown":
                    return .event(
                        subscriptionID: head.subscriptionId,
                        .serverShutdown(eventTime: try decoder.decode(Wrapped<EventTime>.self, from: data).event.E)
                    )
                default:
                    return .unknownEvent(type: type)
                }
            } catch {
                throw .malformedFrame("\(type): \(decodingReason(error))")
            }
        }
        guard let status = head.status else { throw .malformedFrame("neither an event nor a response") }
        var response = UserDataStreamResponse(
            id: head.id?.text,
            status: status,
            subscriptionID: head.result?.subscriptionId
        )
        if let error = head.error {
            response.error = BinanceAPIError(status: status, code: error.code, message: error.msg, path: "ws-api")
            response.retryAfter = error.data?.retryAfter
        }
        return .response(response)
    }

    private struct Head: Decodable {
        var id: RequestID?
        var status: Int?
        var result: Result?
        var error: ErrorBody?
        var subscriptionId: Int?
        var event: EventType?
    }

    private struct Result: Decodable {
        var subscriptionId: Int?
    }

    private struct ErrorBody: Decodable {
        struct Detail: Decodable {
            var retryAfter: Int64?
        }
        var code: Int
        var msg: String
        var data: Detail?
    }

    private struct EventType: Decodable {
        var e: String
    }

    private struct EventTime: Decodable {
        var E: Int64
    }

    private struct Wrapped<T: Decodable>: Decodable {
        var event: T
    }

    /// A request id: a number or a string, echoed.
    private struct RequestID: Decodable {
        var text: String

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let number = try? c.decode(Int64.self) {
                text = String(number)
            } else {
                text = try c.decode(String.self)
            }
        }
    }
}

/// The answer to a WebSocket API request.
public struct UserDataStreamResponse: Sendable, Hashable {
    /// The request's `id`, as text.
    public var id: String?
    /// `status`: 200 on success.
    public var status: Int
    /// `result.subscriptionId` (the subscription's answer).
    public var subscriptionID: Int?
    /// `error` (`code`, `msg`) when the request failed.
    public var error: BinanceAPIError?
    /// `error.data.retryAfter` of a 429 or 418: when the ban ends, epoch ms.
    public var retryAfter: Int64?

    /// An answer.
    public init(
        id: String?,
        status: Int,
        subscriptionID: Int? = nil,
        error: BinanceAPIError? = nil,
        retryAfter: Int64? = nil
    ) {
        self.id = id
        self.status = status
        self.subscriptionID = subscriptionID
        self.error = error
        self.retryAfter = retryAfter
    }
}

/// Why a user data stream call failed.
public enum UserDataStreamError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No subscribed connection now (``UserDataStreamEvent/connected(subscriptionID:)`` not yet, or
    /// the connection is down).
    case notConnected
    /// The connection ended before the answer came: events may have been lost, reconcile after
    /// the next ``UserDataStreamEvent/connected(subscriptionID:)``.
    case disconnected
    /// No answer within ``UserDataStreamSettings/requestTimeoutSeconds``.
    case timedOut
    /// The server refused the request.
    case refused(BinanceAPIError)
    /// A frame that could not be read.
    case malformedFrame(String)

    public var description: String {
        switch self {
        case .notConnected: "the user data stream is not connected"
        case .disconnected: "the user data stream's connection ended before the answer"
        case .timedOut: "the WebSocket API did not answer in time"
        case .refused(let error): "the WebSocket API refused the request: \(error)"
        case .malformedFrame(let reason): "unreadable WebSocket API frame: \(reason)"
        }
    }
}

// MARK: - Stream

/// Where a ``BinanceUserDataStream`` connects and how it retries.
public struct UserDataStreamSettings: Sendable {
    /// The WebSocket API's base (`wss://ws-api.binance.com:443`, `ws://127.0.0.1:<port>`); the
    /// stream connects to `<base>/ws-api/v3`.
    public var webSocketAPIURL: String
    /// `recvWindow` of the subscription, ms (nil: Binance's 5000).
    public var recvWindow: Int?
    /// Wait before the first reconnect, seconds; doubled per failed attempt (``Backoff``).
    public var backoffInitialSeconds = 0.5
    /// Longest wait between reconnects, seconds.
    public var backoffMaxSeconds = 30.0
    /// How long the subscription or a ``BinanceUserDataStream/barrier()`` waits for its answer, seconds.
    public var requestTimeoutSeconds = 10.0

    /// Settings for `webSocketAPIURL`.
    public init(webSocketAPIURL: String) {
        self.webSocketAPIURL = webSocketAPIURL
    }

    /// The URL the stream connects to.
    public var endpoint: String {
        (webSocketAPIURL.hasSuffix("/") ? String(webSocketAPIURL.dropLast()) : webSocketAPIURL) + "/ws-api/v3"
    }
}

/// Counters of a user data stream.
public struct UserDataStreamStatistics: Sendable, Hashable {
    /// Connections opened.
    public var connections = 0
    /// Subscriptions answered 200.
    public var subscriptions = 0
    /// Events delivered (``BinanceUserDataStream/events``, connection status included).
    public var events = 0
    /// Frames that could not be read, skipped.
    public var malformed = 0
    /// Events of types this client does not read, skipped.
    public var unknownEvents = 0
}

/// The account's user data stream over the WebSocket API: `userDataStream.subscribe.signature`
/// on `<base>/ws-api/v3`, signed as the WebSocket API signs (parameters sorted by name, not
/// percent-encoded; HMAC or Ed25519), events read into ``UserDataStreamEvent``s.
///
/// ``run()`` keeps one connection open and subscribed, reconnecting after a drop with
/// ``Backoff`` (a 429/418's `retryAfter` is waited out). ``events`` says when the stream is
/// subscribed (``UserDataStreamEvent/connected(subscriptionID:)``) and when it is not
/// (``UserDataStreamEvent/disconnected(reason:)``): events of the time between are lost, so the
/// caller reconciles over REST after every `connected`. The server's WebSocket pings (every 20 s;
/// no pong within a minute closes the connection) are answered by the WebSocket client itself.
///
/// ``barrier()`` sends a `ping` request and waits for its answer. The server answers in order on
/// one connection, and this stream delivers a connection's frames in the order they arrive, so
/// when `barrier()` returns, every event the server sent before its answer is already in
/// ``events``: whoever reads them in order sees them before anything that comes later.
///
/// The API key and the key never appear in a description, an error or a log line.
public actor BinanceUserDataStream: CustomStringConvertible, CustomReflectable {
    /// Everything the stream learns, in order. Finishes when ``run()`` returns.
    public nonisolated let events: AsyncStream<UserDataStreamEvent>
    /// Settings.
    public nonisolated let settings: UserDataStreamSettings
    private let continuation: AsyncStream<UserDataStreamEvent>.Continuation
    private let apiKey: String
    private let key: SigningKey
    private let timestamp: @Sendable () -> Int64
    private let resyncClock: (@Sendable () async throws -> Void)?
    private let logger: Logger

    /// How a connection's tasks end.
    private enum ConnectionStep: Sendable {
        case readerEnded, subscribed, refused
    }

    private struct Pending {
        var continuation: CheckedContinuation<UserDataStreamResponse, any Error>
        var timer: Task<Void, Never>
    }

    private var writer: WebSocketOutboundWriter?
    private var isSubscribed = false
    private var failedAttempts = 0
    private var retryAfter: Int64?
    private var subscriptionRequestID: Int?
    private var needsClockSync: Bool
    private var nextRequestID = 1
    private var pending: [Int: Pending] = [:]
    private var isRunning = false
    /// The counters now.
    public private(set) var statistics = UserDataStreamStatistics()

    /// A stream for the account of `apiKey`.
    ///
    /// - Parameters:
    ///   - timestamp: the server's clock, ms (``BinanceTradingClient/serverTime`` keeps one); a
    ///     subscription more than `recvWindow` off is refused with -1021.
    ///   - resyncClock: measures the server's clock again for `timestamp` (e.g.
    ///     ``BinanceTradingClient/syncTime()``); called before the first connection and before the
    ///     next one after a -1021 refusal. A failure is logged and the connection tried anyway.
    public init(
        settings: UserDataStreamSettings,
        apiKey: String,
        key: SigningKey,
        timestamp: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000) },
        resyncClock: (@Sendable () async throws -> Void)? = nil,
        logger: Logger
    ) {
        self.settings = settings
        self.apiKey = apiKey
        self.key = key
        self.timestamp = timestamp
        self.resyncClock = resyncClock
        needsClockSync = resyncClock != nil
        self.logger = logger
        (events, continuation) = AsyncStream.makeStream(of: UserDataStreamEvent.self, bufferingPolicy: .unbounded)
    }

    /// The endpoint and the kind of key; never the key.
    public nonisolated var description: String { "BinanceUserDataStream(\(settings.endpoint), \(key))" }

    /// What `dump` and debuggers show: the endpoint and the kind of key, not the stored key.
    public nonisolated var customMirror: Mirror {
        Mirror(self, children: ["endpoint": settings.endpoint, "key": key.description], displayStyle: .class)
    }

    /// Whether a connection is open and subscribed now.
    public var isConnected: Bool { isSubscribed }

    /// The subscription request: `userDataStream.subscribe.signature` with `apiKey`, `timestamp`
    /// (and `recvWindow`), signed over ``SignedRequest/webSocketPayload(_:)``.
    public static func subscriptionRequest(
        id: Int,
        apiKey: String,
        key: SigningKey,
        timestamp: Int64,
        recvWindow: Int? = nil
    ) -> String {
        var parameters = [("apiKey", apiKey), ("timestamp", String(timestamp))]
        if let recvWindow { parameters.append(("recvWindow", String(recvWindow))) }
        let signature = key.signature(of: SignedRequest.webSocketPayload(parameters))
        var params: [String: Any] = ["apiKey": apiKey, "timestamp": timestamp, "signature": signature]
        if let recvWindow { params["recvWindow"] = recvWindow }
        let object: [String: Any] = ["id": id, "method": "userDataStream.subscribe.signature", "params": params]
        // Strings and integers only: serialization cannot fail.
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Keeps the stream connected and subscribed until cancelled, then finishes ``events``. Call once.
    public func run() async throws {
        precondition(!isRunning, "BinanceUserDataStream.run() called twice")
        isRunning = true
        defer { continuation.finish() }
        let endpoint = settings.endpoint
        let logger = self.logger
        while true {
            try Task.checkCancellation()
            if needsClockSync, let resyncClock {
                needsClockSync = false
                do {
                    try await resyncClock()
                } catch {
                    logger.warning("the server's clock could not be measured", metadata: ["error": "\(error)"])
                }
            }
            do {
                try await WebSocketClient.connect(
                    url: endpoint,
                    configuration: .init(maxFrameSize: 1 << 20),
                    logger: logger
                ) {
                    inbound,
                    outbound,
                    _ in
                    try await withThrowingTaskGroup(of: ConnectionStep.self) { group in
                        await self.attach(outbound)
                        group.addTask {
                            for try await message in inbound.messages(maxSize: 1 << 22) {
                                guard case .text(let text) = message else { continue }
                                guard await self.handle(text) else { break }
                            }
                            return .readerEnded
                        }
                        group.addTask { await self.subscribe(on: outbound) ? .subscribed : .refused }
                        // Returning closes the connection: when the reader ends (the server closed, or
                        // asked for a new connection) or the subscription failed.
                        var failure: (any Error)?
                        do {
                            while let step = try await group.next(), step == .subscribed {}
                        } catch {
                            failure = error
                        }
                        // The subscription (or a barrier) may still wait for an answer that will not come.
                        await self.failPending()
                        group.cancelAll()
                        if let failure { throw failure }
                    }
                }
            } catch {
                if Task.isCancelled { throw CancellationError() }
                logger.warning(
                    "user data stream connection failed",
                    metadata: ["url": "\(endpoint)", "error": "\(error)"]
                )
            }
            let wait = detach()
            try await Task.sleep(for: .milliseconds(Int(wait * 1_000)))
        }
    }

    /// Waits until every event the server sent before now has been delivered to ``events``: a
    /// `ping` request (`{"id":…,"method":"ping","params":{}}`) answered in order on the connection.
    ///
    /// - Throws: ``UserDataStreamError/notConnected`` without a subscribed connection,
    ///   ``UserDataStreamError/disconnected`` when the connection ends first (reconcile after the
    ///   next `connected`), ``UserDataStreamError/timedOut``, ``UserDataStreamError/refused(_:)``.
    public func barrier() async throws {
        guard isSubscribed, let writer else { throw UserDataStreamError.notConnected }
        let response = try await request(method: "ping", params: [:], on: writer)
        if let error = response.error { throw UserDataStreamError.refused(error) }
    }

    // MARK: Connection

    /// A connection opened.
    private func attach(_ outbound: WebSocketOutboundWriter) {
        writer = outbound
        statistics.connections += 1
    }

    /// Subscribes on a new connection: true once subscribed, false when refused or unanswered (the
    /// caller closes the connection and the loop connects again).
    private func subscribe(on outbound: WebSocketOutboundWriter) async -> Bool {
        let id = nextRequestID
        nextRequestID += 1
        subscriptionRequestID = id
        let text = Self.subscriptionRequest(
            id: id,
            apiKey: apiKey,
            key: key,
            timestamp: timestamp(),
            recvWindow: settings.recvWindow
        )
        do {
            return try await send(text, id: id, on: outbound).error == nil
        } catch {
            logger.warning("user data stream subscription failed", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// The subscription's answer, applied as it is read, so that `connected` comes before every
    /// event of the connection.
    private func subscriptionAnswered(_ response: UserDataStreamResponse) {
        if let error = response.error {
            logger.warning("user data stream subscription refused", metadata: ["error": "\(error)"])
            retryAfter = response.retryAfter
            if error.code == -1021 { needsClockSync = true }
            deliver(.subscriptionRefused(error))
            return
        }
        isSubscribed = true
        failedAttempts = 0
        statistics.subscriptions += 1
        deliver(.connected(subscriptionID: response.subscriptionID ?? 0))
    }

    /// Fails every request waiting for an answer: the connection that would carry it is ending.
    private func failPending() {
        let failed = pending
        pending = [:]
        for (_, request) in failed {
            request.timer.cancel()
            request.continuation.resume(throwing: UserDataStreamError.disconnected)
        }
    }

    /// A connection ended (or never opened): pending requests fail, the status is delivered;
    /// returns the wait before the next attempt, seconds.
    private func detach() -> Double {
        writer = nil
        subscriptionRequestID = nil
        failPending()
        if isSubscribed {
            isSubscribed = false
            deliver(.disconnected(reason: "connection closed"))
        }
        let attempt = failedAttempts
        failedAttempts += 1
        var wait = Backoff(initialSeconds: settings.backoffInitialSeconds, maxSeconds: settings.backoffMaxSeconds)
            .seconds(attempt: attempt)
        if let until = retryAfter {
            wait = max(wait, Double(until - timestamp()) / 1_000)
            retryAfter = nil
        }
        return wait
    }

    /// One text frame; false when the connection should be closed (the server is going away or
    /// the subscription ended: a new connection subscribes again).
    private func handle(_ text: String) -> Bool {
        let frame: UserDataStreamFrame
        do {
            frame = try UserDataStreamFrame.parse(text)
        } catch {
            statistics.malformed += 1
            logger.debug(
                "malformed WebSocket API frame skipped",
                metadata: ["reason": "\(error)", "bytes": "\(text.utf8.count)"]
            )
            return true
        }
        switch frame {
        case .response(let response):
            guard let id = response.id.flatMap(Int.init), let request = pending.removeValue(forKey: id) else {
                logger.debug("answer to no pending request", metadata: ["id": "\(response.id ?? "null")"])
                return true
            }
            request.timer.cancel()
            if id == subscriptionRequestID {
                subscriptionRequestID = nil
                subscriptionAnswered(response)
            }
            request.continuation.resume(returning: response)
        case .event(_, let event):
            deliver(event)
            switch event {
            case .serverShutdown, .streamTerminated:
                // Reconnect at once rather than wait for the server to drop the connection.
                failedAttempts = 0
                return false
            default: break
            }
        case .unknownEvent(let type):
            statistics.unknownEvents += 1
            logger.debug("user data event of an unread type skipped", metadata: ["type": "\(type)"])
        }
        return true
    }

    private func deliver(_ event: UserDataStreamEvent) {
        statistics.events += 1
        continuation.yield(event)
    }

    // MARK: Requests

    /// Sends a request and waits for its answer.
    private func request(
        method: String,
        params: [String: String],
        on writer: WebSocketOutboundWriter
    ) async throws -> UserDataStreamResponse {
        let id = nextRequestID
        nextRequestID += 1
        let object: [String: Any] = ["id": id, "method": method, "params": params]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return try await send(String(decoding: data, as: UTF8.self), id: id, on: writer)
    }

    /// Registers request `id` before writing it (its answer may come at once), with a timeout.
    private func send(
        _ text: String,
        id: Int,
        on writer: WebSocketOutboundWriter
    ) async throws -> UserDataStreamResponse {
        let timeout = settings.requestTimeoutSeconds
        return try await withCheckedThrowingContinuation { continuation in
            let timer = Task {
                try? await Task.sleep(for: .milliseconds(Int(timeout * 1_000)))
                if !Task.isCancelled { self.fail(id, UserDataStreamError.timedOut) }
            }
            pending[id] = Pending(continuation: continuation, timer: timer)
            Task {
                do {
                    try await writer.write(.text(text))
                } catch {
                    self.fail(id, UserDataStreamError.disconnected)
                }
            }
        }
    }

    private func fail(_ id: Int, _ error: UserDataStreamError) {
        guard let request = pending.removeValue(forKey: id) else { return }
        request.timer.cancel()
        request.continuation.resume(throwing: error)
    }
}

extension BinanceTradingClient {
    /// A user data stream for this client's account, signed with its key and timestamped on the
    /// server's clock as this client measures it (measured before the first subscription and
    /// again after a -1021).
    public func userDataStream(settings: UserDataStreamSettings, logger: Logger) -> BinanceUserDataStream {
        BinanceUserDataStream(
            settings: settings,
            apiKey: apiKey,
            key: key,
            timestamp: { [self] in serverTime },
            resyncClock: { [self] in try await syncTime() },
            logger: logger
        )
    }
}
