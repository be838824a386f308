import Binance
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import Synchronization
import Testing

// MARK: - A scripted WebSocket API

/// A WebSocket API on 127.0.0.1 (`/ws-api/v3`) whose every connection runs a script, with
/// WebSocket pings every `pingPeriod` (a connection whose client does not answer is closed by the
/// server, as Binance does).
final class FakeWebSocketAPI: Sendable {
    typealias Script = @Sendable (_ connection: FakeAPIConnection, _ index: Int) async throws -> Void

    private let script: Script
    private let pingPeriod: Duration
    private let connections = Mutex(0)

    init(pingPeriod: Duration = .seconds(30), script: @escaping Script) {
        self.pingPeriod = pingPeriod
        self.script = script
    }

    /// Connections accepted so far.
    var connectionCount: Int { connections.withLock { $0 } }

    /// Runs the server for the duration of `body`, which gets its base URL (`ws://127.0.0.1:<port>`).
    func run<R: Sendable>(_ body: @Sendable (String) async throws -> R) async throws -> R {
        let router = Router(context: BasicWebSocketRequestContext.self)
        let wsRouter = Router(context: BasicWebSocketRequestContext.self)
        wsRouter.ws("/ws-api/v3") { _, _ in
            .upgrade()
        } onUpgrade: { [self] inbound, outbound, _ in
            let index = connections.withLock {
                $0 += 1
                return $0 - 1
            }
            let (texts, continuation) = AsyncStream.makeStream(of: String.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Always reading, so that the pongs to the server's pings are seen.
                group.addTask {
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        if case .text(let text) = message { continuation.yield(text) }
                    }
                    continuation.finish()
                }
                try await script(FakeAPIConnection(texts: texts, outbound: outbound), index)
                group.cancelAll()
            }
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(
                webSocketRouter: wsRouter,
                configuration: .init(ws: .init(autoPing: .enabled(timePeriod: pingPeriod)))
            ),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) },
            logger: quietLogger
        )
        return try await withThrowingTaskGroup(of: R?.self) { group in
            group.addTask {
                try await app.runService()
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            let result = try await body("ws://127.0.0.1:\(port)")
            group.cancelAll()
            return result
        }
    }
}

/// One connection of the fake WebSocket API, driven by its script.
final class FakeAPIConnection {
    private var texts: AsyncStream<String>.AsyncIterator
    private let outbound: WebSocketOutboundWriter

    init(texts: AsyncStream<String>, outbound: WebSocketOutboundWriter) {
        self.texts = texts.makeAsyncIterator()
        self.outbound = outbound
    }

    /// The next request as a JSON object (nil once the client has gone).
    func next() async -> [String: Any]? {
        guard let text = await texts.next() else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    /// Sends a frame.
    func send(_ text: String) async throws { try await outbound.write(.text(text)) }

    /// Answers `request` with 200 and `result` (JSON text).
    func answer(_ request: [String: Any], result: String) async throws {
        try await send(#"{"id":\#(request["id"] as? Int ?? -1),"status":200,"result":\#(result)}"#)
    }

    /// Reads the subscription request and checks it as Binance does: the method, the API key, and
    /// the signature over the parameters sorted by name, not percent-encoded. Answers 200 with
    /// `subscriptionID`, or -2015 / -1022 as Binance would. Returns whether it was accepted.
    func subscription(apiKey: String, verifier: VerificationKey, subscriptionID: Int) async throws -> Bool {
        guard let request = await next(), request["method"] as? String == "userDataStream.subscribe.signature",
            let params = request["params"] as? [String: Any], let signature = params["signature"] as? String
        else { return false }
        let id = request["id"] as? Int ?? -1
        guard params["apiKey"] as? String == apiKey else {
            try await send(
                #"{"id":\#(id),"status":401,"error":{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}}"#
            )
            return false
        }
        let pairs = params.map { ($0.key, ($0.value as? String) ?? "\($0.value)") }
        guard verifier.verifies(signature, of: SignedRequest.webSocketPayload(pairs)) else {
            try await send(
                #"{"id":\#(id),"status":400,"error":{"code":-1022,"msg":"Signature for this request is not valid."}}"#
            )
            return false
        }
        try await answer(request, result: #"{"subscriptionId":\#(subscriptionID)}"#)
        return true
    }

    /// Reads the next request, which must be a `ping`, sends `before` (frames the server queued
    /// first), then answers it.
    func answerPing(sendingFirst before: [String] = []) async throws -> Bool {
        guard let request = await next(), request["method"] as? String == "ping" else { return false }
        for frame in before { try await send(frame) }
        try await answer(request, result: "{}")
        return true
    }
}

// MARK: - Frames of the documentation

enum UserDataFrames {
    static let executionReport =
        #"{"subscriptionId":0,"event":{"e":"executionReport","E":1499405658658,"s":"ETHBTC","c":"mUvoqJxFIILMdfAW5iGSOW","S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000","p":"0.10264410","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"NEW","X":"NEW","r":"NONE","i":4293153,"l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null,"T":1499405658657,"t":-1,"v":3,"I":8641984,"w":true,"m":false,"M":false,"O":1499405658657,"Z":"0.00000000","Y":"0.00000000","Q":"0.00000000","W":1499405658657,"V":"NONE"}}"#
    /// A fill of a MARKET BUY (faqs/market_orders_faq.md's TRADE report, wrapped; W absent: not on the book).
    static let tradeReport =
        #"{"subscriptionId":1,"event":{"e":"executionReport","E":1499405658700,"s":"ETHBTC","c":"entry-1","S":"BUY","o":"MARKET","f":"GTC","q":"3.00000000","p":"0.00000000","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"TRADE","X":"PARTIALLY_FILLED","r":"NONE","i":4293160,"l":"2.00000000","z":"2.00000000","L":"1.00000000","n":"0.00100000","N":"BNB","T":1499405658699,"t":7,"I":63,"w":false,"m":false,"M":true,"O":1499405658690,"Z":"2.00000000","Y":"2.00000000","Q":"0.00000000","V":"NONE"}}"#
    static let listStatus =
        #"{"subscriptionId":0,"event":{"e":"listStatus","E":1564035303637,"s":"ETHBTC","g":2,"c":"OCO","l":"EXEC_STARTED","L":"EXECUTING","r":"NONE","C":"F4QN4G8DlFATFlIUQ0cjdD","T":1564035303625,"O":[{"s":"ETHBTC","i":17,"c":"AJYsMjErWJesZvqlJCTUgL"},{"s":"ETHBTC","i":18,"c":"bfYPSQdLoqAJeNrOr9adzq"}]}}"#
    static let accountPosition =
        #"{"subscriptionId":0,"event":{"e":"outboundAccountPosition","E":1564034571105,"u":1564034571073,"B":[{"a":"ETH","f":"10000.000000","l":"0.000000"}]}}"#
    static let balanceUpdate =
        #"{"subscriptionId":0,"event":{"e":"balanceUpdate","E":1573200697110,"a":"BTC","d":"100.00000000","T":1573200697068}}"#
    static let terminated = #"{"subscriptionId":0,"event":{"e":"eventStreamTerminated","E":1728973001334}}"#
    static let shutdown = #"{"event":{"e":"serverShutdown","E":1770123456789}}"#

    static func event(_ frame: String) -> UserDataStreamEvent {
        guard case .event(_, let event) = try? UserDataStreamFrame.parse(frame) else {
            fatalError("not an event: \(frame)")
        }
        return event
    }
}

// MARK: - Tests

@Suite("Binance user data stream", .timeLimit(.minutes(10)))
struct UserDataStreamTests {
    static let apiKey = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
    static let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    static let ed25519PEM =
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n"

    private func decimal(_ text: String) -> Decimal { BinanceDecimal.parse(text)! }

    private func settings(_ base: String) -> UserDataStreamSettings {
        var settings = UserDataStreamSettings(webSocketAPIURL: base)
        settings.backoffInitialSeconds = 0.05
        settings.backoffMaxSeconds = 0.2
        // Generous: a loaded 2-core machine running the whole suite can stall these tasks for seconds.
        settings.requestTimeoutSeconds = 120
        return settings
    }

    // MARK: Signing

    @Test(
        "WebSocket API signing: the documentation's HMAC vectors, parameters given in any order",
        arguments: [
            (
                [
                    ("type", "LIMIT"), ("timestamp", "1645423376532"), ("symbol", "BTCUSDT"), ("timeInForce", "GTC"),
                    ("side", "SELL"),
                    ("recvWindow", "100"), ("quantity", "0.01000000"), ("price", "52000.00"), ("apiKey", apiKey),
                ],
                "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
            ),
            (
                [
                    ("symbol", "１２３４５６"), ("apiKey", apiKey), ("side", "BUY"), ("type", "LIMIT"),
                    ("timeInForce", "GTC"),
                    ("quantity", "1.00000000"), ("price", "0.10000000"), ("recvWindow", "5000"),
                    ("timestamp", "1645423376532"),
                ],
                "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"
            ),
            (
                [("timestamp", "1649729878532"), ("apiKey", apiKey)],
                "1cf54395b336b0a9727ef27d5d98987962bc47aca6e13fe978612d0adee066ed"
            ),
        ]
    )
    func webSocketVectors(parameters: [(String, String)], signature: String) {
        #expect(
            SigningKey.hmac(secret: Self.secret).signature(
                of: SignedRequest.webSocketPayload(parameters + [("signature", "ignored")])
            ) == signature
        )
    }

    @Test("The subscription request is signed as session.logon's example (HMAC), with recvWindow, and with Ed25519")
    func subscriptionRequest() throws {
        func params(_ text: String) throws -> [String: Any] {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(object["id"] as? Int == 9 && object["method"] as? String == "userDataStream.subscribe.signature")
            return try #require(object["params"] as? [String: Any])
        }
        let hmac = SigningKey.hmac(secret: Self.secret)
        let logon = try params(
            BinanceUserDataStream.subscriptionRequest(
                id: 9,
                apiKey: Self.apiKey,
                key: hmac,
                timestamp: 1_649_729_878_532
            )
        )
        #expect(
            logon["apiKey"] as? String == Self.apiKey
                && (logon["timestamp"] as? NSNumber)?.int64Value == 1_649_729_878_532
        )
        #expect(logon["signature"] as? String == "1cf54395b336b0a9727ef27d5d98987962bc47aca6e13fe978612d0adee066ed")
        #expect(logon.count == 3)
        // `openssl dgst -sha256 -hmac <secret>` of apiKey=…&recvWindow=5000&timestamp=1649729878532.
        let windowed = try params(
            BinanceUserDataStream.subscriptionRequest(
                id: 9,
                apiKey: Self.apiKey,
                key: hmac,
                timestamp: 1_649_729_878_532,
                recvWindow: 5_000
            )
        )
        #expect(windowed["signature"] as? String == "3de3765640097ae620330c2f18594f62698463df18f435c5bd456f2b30ce2f91")
        #expect(windowed["recvWindow"] as? Int == 5_000)
        // RFC 8032 test key 1; `openssl pkeyutl -sign -rawin` of apiKey=…&timestamp=1649729878532.
        let ed = try params(
            BinanceUserDataStream.subscriptionRequest(
                id: 9,
                apiKey: Self.apiKey,
                key: try .ed25519(pem: Self.ed25519PEM),
                timestamp: 1_649_729_878_532
            )
        )
        #expect(
            ed["signature"] as? String
                == "763GJeFgG09B/06V/dq24cLu6f0R57whgDMyOCubDex4CTTElmDgPSIQqLdOsvW5TBxyaaFotVCI8tUmQMChAA=="
        )
    }

    // MARK: Frames

    @Test("The documentation's executionReport reads field by field")
    func executionReport() throws {
        guard
            case .event(let subscription, .executionReport(let r)) = try UserDataStreamFrame.parse(
                UserDataFrames.executionReport
            )
        else {
            Issue.record("not an execution report")
            return
        }
        #expect(subscription == 0)
        #expect(r.eventTime == 1_499_405_658_658 && r.symbol == "ETHBTC" && r.clientOrderID == "mUvoqJxFIILMdfAW5iGSOW")
        #expect(r.side == .buy && r.orderType == .limit && r.timeInForce == .gtc)
        #expect(r.quantity == 1 && r.price == decimal("0.1026441") && r.stopPrice == 0 && r.icebergQuantity == 0)
        #expect(r.orderListID == -1 && r.originalClientOrderID == nil)
        #expect(r.executionType == .new && r.orderStatus == .new && r.rejectReason == "NONE" && r.orderID == 4_293_153)
        #expect(r.lastExecutedQuantity == 0 && r.cumulativeFilledQuantity == 0 && r.lastExecutedPrice == 0)
        #expect(
            r.commission == 0 && r.commissionAsset == nil && r.transactionTime == 1_499_405_658_657 && r.tradeID == -1
        )
        #expect(r.preventedMatchID == 3 && r.executionID == 8_641_984 && r.isOnBook && !r.isMaker)
        #expect(r.orderCreationTime == 1_499_405_658_657 && r.cumulativeQuoteQuantity == 0 && r.lastQuoteQuantity == 0)
        #expect(r.quoteOrderQuantity == 0 && r.workingTime == 1_499_405_658_657 && r.selfTradePreventionMode == "NONE")
        #expect(r.expiryReason == nil)

        guard case .event(_, .executionReport(let trade)) = try UserDataStreamFrame.parse(UserDataFrames.tradeReport)
        else {
            Issue.record("not an execution report")
            return
        }
        #expect(trade.executionType == .trade && trade.orderStatus == .partiallyFilled && trade.orderType == .market)
        #expect(trade.lastExecutedQuantity == 2 && trade.cumulativeFilledQuantity == 2 && trade.lastExecutedPrice == 1)
        #expect(trade.commission == decimal("0.001") && trade.commissionAsset == "BNB" && trade.tradeID == 7)
        #expect(
            trade.lastQuoteQuantity == 2 && trade.workingTime == nil && trade.preventedMatchID == nil && !trade.isOnBook
        )

        let cancel = UserDataFrames.executionReport.replacingOccurrences(of: #""C":"""#, with: #""C":"myOrder1""#)
            .replacingOccurrences(of: #""x":"NEW","X":"NEW""#, with: #""x":"EXPIRED","X":"EXPIRED""#)
            .replacingOccurrences(of: #""V":"NONE"}"#, with: #""V":"NONE","eR":"INSUFFICIENT_LIQUIDITY"}"#)
        guard case .event(_, .executionReport(let expired)) = try UserDataStreamFrame.parse(cancel) else {
            Issue.record("not an execution report")
            return
        }
        #expect(
            expired.originalClientOrderID == "myOrder1" && expired.executionType == .expired
                && expired.expiryReason == "INSUFFICIENT_LIQUIDITY"
        )
    }

    @Test(
        "listStatus, outboundAccountPosition, balanceUpdate, eventStreamTerminated and serverShutdown read field by field"
    )
    func otherEvents() throws {
        guard case .event(_, .listStatus(let list)) = try UserDataStreamFrame.parse(UserDataFrames.listStatus) else {
            Issue.record("not a list status")
            return
        }
        #expect(
            list.eventTime == 1_564_035_303_637 && list.symbol == "ETHBTC" && list.orderListID == 2
                && list.contingencyType == "OCO"
        )
        #expect(
            list.listStatusType == "EXEC_STARTED" && list.listOrderStatus == "EXECUTING"
                && list.listRejectReason == "NONE"
        )
        #expect(list.listClientOrderID == "F4QN4G8DlFATFlIUQ0cjdD" && list.transactionTime == 1_564_035_303_625)
        #expect(
            list.orders.map(\.orderID) == [17, 18]
                && list.orders.map(\.clientOrderID) == ["AJYsMjErWJesZvqlJCTUgL", "bfYPSQdLoqAJeNrOr9adzq"]
        )
        #expect(list.orders.allSatisfy { $0.symbol == "ETHBTC" })

        #expect(
            try UserDataStreamFrame.parse(UserDataFrames.accountPosition)
                == .event(subscriptionID: 0, UserDataFrames.event(UserDataFrames.accountPosition))
        )
        guard
            case .event(_, .accountPosition(let position)) = try UserDataStreamFrame.parse(
                UserDataFrames.accountPosition
            )
        else {
            Issue.record("not an account position")
            return
        }
        #expect(position.eventTime == 1_564_034_571_105 && position.lastUpdateTime == 1_564_034_571_073)
        #expect(position.balances == [BinanceBalance(asset: "ETH", free: 10_000, locked: 0)])

        guard case .event(_, .balanceUpdate(let update)) = try UserDataStreamFrame.parse(UserDataFrames.balanceUpdate)
        else {
            Issue.record("not a balance update")
            return
        }
        #expect(
            update.eventTime == 1_573_200_697_110 && update.asset == "BTC" && update.delta == 100
                && update.clearTime == 1_573_200_697_068
        )

        #expect(
            try UserDataStreamFrame.parse(UserDataFrames.terminated)
                == .event(subscriptionID: 0, .streamTerminated(eventTime: 1_728_973_001_334))
        )
        #expect(
            try UserDataStreamFrame.parse(UserDataFrames.shutdown)
                == .event(subscriptionID: nil, .serverShutdown(eventTime: 1_770_123_456_789))
        )
        #expect(
            try UserDataStreamFrame.parse(#"{"subscriptionId":0,"event":{"e":"externalLockUpdate","E":1}}"#)
                == .unknownEvent(type: "externalLockUpdate")
        )
    }

    @Test("Answers: the subscription's, ping's, and a 418 with its retryAfter; unreadable frames are errors")
    func answers() throws {
        #expect(
            try UserDataStreamFrame.parse(
                #"{"id":"d3df8a22-98ea-4fe0-9f4e-0fcea5d418b7","status":200,"result":{"subscriptionId":0}}"#
            )
                == .response(
                    UserDataStreamResponse(id: "d3df8a22-98ea-4fe0-9f4e-0fcea5d418b7", status: 200, subscriptionID: 0)
                )
        )
        #expect(
            try UserDataStreamFrame.parse(
                #"{"id":12,"status":200,"result":{},"rateLimits":[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,"count":1}]}"#
            )
                == .response(UserDataStreamResponse(id: "12", status: 200))
        )
        let banned = try UserDataStreamFrame.parse(
            #"{"id":"fc93a61a-a192-4cf4-bb2a-a8f0f0c51e06","status":418,"error":{"code":-1003,"msg":"Way too much request weight used; IP banned until 1659146400000. Please use WebSocket Streams for live updates to avoid bans.","data":{"serverTime":1659142907531,"retryAfter":1659146400000}},"rateLimits":[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000,"count":2411}]}"#
        )
        guard case .response(let response) = banned else {
            Issue.record("not a response")
            return
        }
        #expect(response.status == 418 && response.error?.code == -1003 && response.retryAfter == 1_659_146_400_000)
        #expect(
            response.error?.message.hasPrefix("Way too much request weight used; IP banned until 1659146400000.")
                == true
        )
        for bad in [
            "not json", "[]", #"{"foo":1}"#, #"{"event":{"e":"balanceUpdate","E":1}}"#,
            #"{"event":{"e":"executionReport","E":1,"q":"1.2.3"}}"#,
        ] {
            #expect(throws: UserDataStreamError.self, "\(bad)") { try UserDataStreamFrame.parse(bad) }
        }
    }

    // MARK: Over a connection

    @Test(
        "Subscribes with a signature the server verifies, delivers every event in order, barriers order, answers pings, reconnects after a drop, a terminated stream and a shutdown"
    )
    func stream() async throws {
        // Server pings every 20 s, as Binance: a pong missing by the next ping closes the
        // connection. (5 s was too short for a full test run on 2 cores, whose cooperative
        // threads other tests' synchronous work can hold for seconds.)
        let api = FakeWebSocketAPI(pingPeriod: .seconds(20)) { connection, index in
            guard
                try await connection.subscription(
                    apiKey: Self.apiKey,
                    verifier: .hmac(secret: Self.secret),
                    subscriptionID: index
                )
            else { return }
            switch index {
            case 0:
                try await connection.send(UserDataFrames.executionReport)
                try await connection.send(UserDataFrames.accountPosition)
                // The list status is queued before the ping's answer: the barrier must deliver it.
                // The client's second ping says it has counted: nothing more is sent before.
                _ = try await connection.answerPing(sendingFirst: [UserDataFrames.listStatus])
                _ = try await connection.answerPing()
            // Returning drops the connection.
            case 1:
                try await connection.send(UserDataFrames.balanceUpdate)
                try await connection.send(UserDataFrames.tradeReport)
                try await connection.send(#"{"subscriptionId":1,"event":{"e":"externalLockUpdate","E":1}}"#)
                try await connection.send("garbage")
                _ = try await connection.answerPing()
                _ = try await connection.answerPing()
                try await connection.send(UserDataFrames.terminated)
                _ = await connection.next()  // the client closes
            case 2:
                // Two of the server's pings (one every 20 s): a client that did not answer the
                // first would be closed at the second, before the shutdown is sent.
                try await Task.sleep(for: .seconds(45))
                try await connection.send(UserDataFrames.shutdown)
                _ = await connection.next()
            default:
                _ = await connection.next()
            }
        }
        let (events, statistics, barrierCounts) = try await api.run { base in
            let stream = BinanceUserDataStream(
                settings: settings(base),
                apiKey: Self.apiKey,
                key: .hmac(secret: Self.secret),
                logger: quietLogger
            )
            #expect(!"\(stream)".contains(Self.secret) && !"\(stream)".contains(Self.apiKey))
            let runner = Task { try await stream.run() }
            var events: [UserDataStreamEvent] = []
            var barrierCounts: [Int] = []
            for await event in stream.events {
                events.append(event)
                let isBarrierPoint: Bool
                switch event {
                case .accountPosition: isBarrierPoint = true
                case .executionReport(let report): isBarrierPoint = report.executionType == .trade
                default: isBarrierPoint = false
                }
                if isBarrierPoint {
                    try await stream.barrier()
                    barrierCounts.append(await stream.statistics.events)
                    try await stream.barrier()  // the server waits for it before sending more
                }
                if event == .connected(subscriptionID: 3) { break }
            }
            runner.cancel()
            return (events, await stream.statistics, barrierCounts)
        }
        let e = UserDataFrames.event
        #expect(
            events == [
                .connected(subscriptionID: 0), e(UserDataFrames.executionReport), e(UserDataFrames.accountPosition),
                e(UserDataFrames.listStatus),
                .disconnected(reason: "connection closed"),
                .connected(subscriptionID: 1), e(UserDataFrames.balanceUpdate), e(UserDataFrames.tradeReport),
                e(UserDataFrames.terminated),
                .disconnected(reason: "connection closed"),
                .connected(subscriptionID: 2), e(UserDataFrames.shutdown), .disconnected(reason: "connection closed"),
                .connected(subscriptionID: 3),
            ]
        )
        // When each barrier returned, the events before the ping's answer had been delivered:
        // the list status (4th event) and the trade report (8th).
        #expect(barrierCounts == [4, 8])
        #expect(
            statistics.connections == 4 && statistics.subscriptions == 4 && statistics.unknownEvents == 1
                && statistics.malformed == 1
        )
        #expect(api.connectionCount == 4)
    }

    @Test(
        "A refused subscription (wrong secret: -1022; unknown key: -2015) is reported and tried again after a backoff"
    )
    func refusedSubscription() async throws {
        let api = FakeWebSocketAPI { connection, _ in
            _ = try await connection.subscription(
                apiKey: Self.apiKey,
                verifier: .hmac(secret: Self.secret),
                subscriptionID: 0
            )
        }
        for (apiKey, secret, code) in [(Self.apiKey, "not-the-secret", -1022), ("unknown-key", Self.secret, -2015)] {
            let events = try await api.run { base in
                let stream = BinanceUserDataStream(
                    settings: settings(base),
                    apiKey: apiKey,
                    key: .hmac(secret: secret),
                    logger: quietLogger
                )
                let runner = Task { try await stream.run() }
                var events: [UserDataStreamEvent] = []
                for await event in stream.events {
                    events.append(event)
                    if events.count == 2 { break }
                }
                runner.cancel()
                return events
            }
            #expect(events.count == 2)
            for event in events {
                guard case .subscriptionRefused(let error) = event else {
                    Issue.record("\(event)")
                    continue
                }
                #expect(error.code == code)
                #expect(!"\(error)".contains(secret))
            }
        }
    }

    @Test("-1021: the stream measures the server's clock again and subscribes with the new timestamp")
    func clockResync() async throws {
        let serverTime: Int64 = 1_700_000_000_000
        let api = FakeWebSocketAPI { connection, index in
            guard let request = await connection.next(), let params = request["params"] as? [String: Any] else {
                return
            }
            let timestamp = (params["timestamp"] as? NSNumber)?.int64Value ?? 0
            guard abs(timestamp - serverTime) <= 5_000 else {
                let id = request["id"] as? Int ?? -1
                try await connection.send(
                    #"{"id":\#(id),"status":400,"error":{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}}"#
                )
                return
            }
            try await connection.answer(request, result: #"{"subscriptionId":\#(index)}"#)
            _ = await connection.next()
        }
        // The local clock is an hour behind; the first measurement fails to correct it, the second does.
        let clock = Mutex<(offset: Int64, syncs: Int)>((-3_600_000, 0))
        let events = try await api.run { base in
            let stream = BinanceUserDataStream(
                settings: settings(base),
                apiKey: Self.apiKey,
                key: .hmac(secret: Self.secret),
                timestamp: { serverTime + clock.withLock { $0.offset } },
                resyncClock: {
                    clock.withLock {
                        $0.syncs += 1
                        if $0.syncs >= 2 { $0.offset = 0 }
                    }
                },
                logger: quietLogger
            )
            let runner = Task { try await stream.run() }
            var events: [UserDataStreamEvent] = []
            for await event in stream.events {
                events.append(event)
                if events.count == 2 { break }
            }
            runner.cancel()
            return events
        }
        #expect(clock.withLock { $0.syncs } == 2)
        guard events.count == 2, case .subscriptionRefused(let error) = events[0] else {
            Issue.record("\(events)")
            return
        }
        #expect(error.code == -1021 && events[1] == .connected(subscriptionID: 1))
    }

    @Test("Ed25519: the server verifies the subscription with the public key")
    func ed25519Subscription() async throws {
        let verifier = try VerificationKey.ed25519(
            publicKeyHex: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        )
        let api = FakeWebSocketAPI { connection, index in
            guard try await connection.subscription(apiKey: Self.apiKey, verifier: verifier, subscriptionID: 5) else {
                return
            }
            _ = try await connection.answerPing()
            _ = await connection.next()
        }
        let first = try await api.run { base in
            let stream = BinanceUserDataStream(
                settings: settings(base),
                apiKey: Self.apiKey,
                key: try .ed25519(pem: Self.ed25519PEM),
                logger: quietLogger
            )
            let runner = Task { try await stream.run() }
            var iterator = stream.events.makeAsyncIterator()
            let first = await iterator.next()
            try await stream.barrier()
            runner.cancel()
            return first
        }
        #expect(first == .connected(subscriptionID: 5))
    }

    @Test("barrier(): not connected is an error at once; a connection lost before the answer is .disconnected")
    func barrierFailures() async throws {
        let idle = BinanceUserDataStream(
            settings: settings("ws://127.0.0.1:1"),
            apiKey: Self.apiKey,
            key: .hmac(secret: Self.secret),
            logger: quietLogger
        )
        await #expect(throws: UserDataStreamError.notConnected) { try await idle.barrier() }

        let api = FakeWebSocketAPI { connection, index in
            guard
                try await connection.subscription(
                    apiKey: Self.apiKey,
                    verifier: .hmac(secret: Self.secret),
                    subscriptionID: index
                )
            else { return }
            if index == 0 {
                _ = await connection.next()  // the ping, never answered: the connection drops
            } else {
                _ = await connection.next()
            }
        }
        let (thrown, events) = try await api.run { base in
            let stream = BinanceUserDataStream(
                settings: settings(base),
                apiKey: Self.apiKey,
                key: .hmac(secret: Self.secret),
                logger: quietLogger
            )
            let runner = Task { try await stream.run() }
            var events: [UserDataStreamEvent] = []
            var thrown: (any Error)?
            for await event in stream.events {
                events.append(event)
                if event == .connected(subscriptionID: 0) {
                    do { try await stream.barrier() } catch { thrown = error }
                }
                if event == .connected(subscriptionID: 1) { break }
            }
            runner.cancel()
            return (thrown.map { "\($0)" }, events)
        }
        #expect(thrown == "\(UserDataStreamError.disconnected)")
        #expect(
            events == [
                .connected(subscriptionID: 0), .disconnected(reason: "connection closed"),
                .connected(subscriptionID: 1),
            ]
        )
    }

    @Test("The trading client's stream signs with its key and timestamps on the server's clock")
    func streamFromClient() async throws {
        let timestamps = Mutex<[Int64]>([])
        let api = FakeWebSocketAPI { connection, _ in
            guard let request = await connection.next(), let params = request["params"] as? [String: Any] else {
                return
            }
            timestamps.withLock { $0.append((params["timestamp"] as? NSNumber)?.int64Value ?? 0) }
            let pairs = params.map { ($0.key, ($0.value as? String) ?? "\($0.value)") }
            let signature = params["signature"] as? String ?? ""
            #expect(
                VerificationKey.hmac(secret: Self.secret).verifies(signature, of: SignedRequest.webSocketPayload(pairs))
            )
            try await connection.answer(request, result: #"{"subscriptionId":0}"#)
            _ = await connection.next()
        }
        let rest = ScriptedHTTPServer(serverTime: 1_700_000_060_000) { _, _ in
            .answer(status: 200, headers: [], body: "[]")
        }
        try await rest.run { restBase in
            try await api.run { base in
                let client = BinanceTradingClient(
                    baseURL: restBase,
                    apiKey: Self.apiKey,
                    key: .hmac(secret: Self.secret),
                    clock: { 1_700_000_000_000 }
                )
                try await client.syncTime()
                let stream = client.userDataStream(settings: settings(base), logger: quietLogger)
                let runner = Task { try await stream.run() }
                var iterator = stream.events.makeAsyncIterator()
                #expect(await iterator.next() == .connected(subscriptionID: 0))
                runner.cancel()
            }
        }
        #expect(timestamps.withLock { $0 } == [1_700_000_060_000])
    }
}
