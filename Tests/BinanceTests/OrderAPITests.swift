import Binance
import Exchange
import Foundation
import NIOCore
import NIOPosix
import ScalperCore
import ScalperTestSupport
import Synchronization
import Testing

// MARK: - A scripted HTTP server

/// A tiny HTTP/1.1 server on 127.0.0.1 that records every request and answers each as a test
/// says: an answer, a dropped connection, or none at all (a hang). `/api/v3/time` answers the
/// server time by itself and is recorded apart.
final class ScriptedHTTPServer: Sendable {
    /// A request as received.
    struct Request: Sendable {
        var method: String
        var path: String
        var query: String
        var headers: [String: String]
        var body: String

        /// The query or the body as `name → value` (percent-decoded).
        var parameters: [String: String] {
            var out: [String: String] = [:]
            for pair in (query + (query.isEmpty || body.isEmpty ? "" : "&") + body).split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                out[parts[0]] = parts.count > 1 ? parts[1].removingPercentEncoding : ""
            }
            return out
        }
    }

    /// What to do with a request.
    enum Action: Sendable {
        case answer(status: Int, headers: [(String, String)], body: String)
        case drop
        case hang
    }

    private let script: @Sendable (_ request: Request, _ count: Int) -> Action
    private let recorded = Mutex<[Request]>([])
    private let serverTime: Int64

    /// A server; `script` gets each request (not `/api/v3/time`) and how many came to its path before.
    init(
        serverTime: Int64 = 1_700_000_000_000,
        script: @escaping @Sendable (_ request: Request, _ count: Int) -> Action
    ) {
        self.serverTime = serverTime
        self.script = script
    }

    /// The requests so far, `/api/v3/time` left out.
    var requests: [Request] { recorded.withLock { $0 } }

    /// The requests to `path`.
    func requests(to path: String) -> [Request] { requests.filter { $0.path == path } }

    fileprivate func action(for request: Request) -> Action {
        if request.path == "/api/v3/time" {
            return .answer(
                status: 200,
                headers: [("X-MBX-USED-WEIGHT-1M", "1")],
                body: #"{"serverTime":\#(serverTime)}"#
            )
        }
        let count = recorded.withLock {
            $0.append(request)
            return $0.filter { $0.path == request.path }.count - 1
        }
        return script(request, count)
    }

    /// Runs the server for the duration of `body`, which gets its base URL.
    func run<R: Sendable>(_ body: @Sendable (URL) async throws -> R) async throws -> R {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(server: self))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        do {
            let result = try await body(URL(string: "http://127.0.0.1:\(port)")!)
            try? await channel.close()
            return result
        } catch {
            try? await channel.close()
            throw error
        }
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let server: ScriptedHTTPServer
        var received: [UInt8] = []
        var continued = false

        init(server: ScriptedHTTPServer) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received += buffer.readBytes(length: buffer.readableBytes) ?? []
            let separator: [UInt8] = Array("\r\n\r\n".utf8)
            guard let end = received.indices.dropLast(3).first(where: { Array(received[$0..<$0 + 4]) == separator })
            else { return }
            let head = String(decoding: received[..<end], as: UTF8.self).components(separatedBy: "\r\n")
            var headers: [String: String] = [:]
            for line in head.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                    in: .whitespaces
                )
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            guard received.count >= end + 4 + length else {
                if headers["expect"]?.lowercased() == "100-continue", !continued {
                    continued = true
                    context.writeAndFlush(
                        wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n")),
                        promise: nil
                    )
                }
                return
            }
            let requestLine = head[0].split(separator: " ").map(String.init)
            let target = requestLine.count > 1 ? requestLine[1] : "/"
            let (path, query) =
                target.firstIndex(of: "?").map { (String(target[..<$0]), String(target[target.index(after: $0)...])) }
                ?? (target, "")
            let request = Request(
                method: requestLine[0],
                path: path,
                query: query,
                headers: headers,
                body: String(decoding: received[(end + 4)..<(end + 4 + length)], as: UTF8.self)
            )
            received = []
            switch server.action(for: request) {
            case .answer(let status, let extra, let body):
                var text =
                    "HTTP/1.1 \(status) Scripted\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n"
                for (name, value) in extra { text += "\(name): \(value)\r\n" }
                text += "\r\n" + body
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
                context.close(promise: nil)
            case .drop:
                context.close(promise: nil)
            case .hang:
                break
            }
        }
    }
}

/// The waits a client made (its injected sleep returns at once).
final class WaitLog: Sendable {
    private let values = Mutex<[Double]>([])

    func record(_ seconds: Double) { values.withLock { $0.append(seconds) } }

    var all: [Double] { values.withLock { $0 } }
}

// MARK: - Tests

@Suite("Binance order API", .timeLimit(.minutes(5)))
struct OrderAPITests {
    static let apiKey = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
    static let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

    private func decimal(_ text: String) -> Decimal { BinanceDecimal.parse(text)! }

    private func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }

    private func client(_ base: URL, waits: WaitLog = WaitLog(), timeout: Double = 30) -> BinanceTradingClient {
        BinanceTradingClient(
            baseURL: base,
            apiKey: Self.apiKey,
            key: .hmac(secret: Self.secret),
            clock: { 1_700_000_000_000 },
            sleep: { seconds in waits.record(seconds) },
            requestTimeoutSeconds: timeout
        )
    }

    private static let fullAnswer =
        #"{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"6gCrw2kRUAF9CvJDGP16IP","transactTime":1507725176595,"price":"0.00000000","origQty":"10.00000000","executedQty":"10.00000000","origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"10.00000000","status":"FILLED","timeInForce":"GTC","type":"MARKET","side":"SELL","workingTime":1507725176595,"selfTradePreventionMode":"NONE","fills":[{"price":"4000.00000000","qty":"1.00000000","commission":"4.00000000","commissionAsset":"USDT","tradeId":56},{"price":"3999.00000000","qty":"5.00000000","commission":"19.99500000","commissionAsset":"USDT","tradeId":57},{"price":"3998.00000000","qty":"2.00000000","commission":"7.99600000","commissionAsset":"USDT","tradeId":58},{"price":"3997.00000000","qty":"1.00000000","commission":"3.99700000","commissionAsset":"USDT","tradeId":59},{"price":"3995.00000000","qty":"1.00000000","commission":"3.99500000","commissionAsset":"USDT","tradeId":60}]}"#

    // MARK: Answers

    @Test("The documentation's ACK, RESULT and FULL placement answers read field by field, fills exact")
    func placementAnswers() throws {
        let ack = try decode(
            BinanceNewOrderResponse.self,
            #"{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"6gCrw2kRUAF9CvJDGP16IP","transactTime":1507725176595}"#
        )
        #expect(ack.symbol == "BTCUSDT" && ack.orderID == 28 && ack.orderListID == -1)
        #expect(ack.clientOrderID == "6gCrw2kRUAF9CvJDGP16IP" && ack.transactTime == 1_507_725_176_595)
        #expect(ack.order == nil && ack.fills.isEmpty)

        let result = try decode(
            BinanceNewOrderResponse.self,
            #"{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"6gCrw2kRUAF9CvJDGP16IP","transactTime":1507725176595,"price":"0.00000000","origQty":"10.00000000","executedQty":"10.00000000","origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"10.00000000","status":"FILLED","timeInForce":"GTC","type":"MARKET","side":"SELL","workingTime":1507725176595,"selfTradePreventionMode":"NONE"}"#
        )
        let order = try #require(result.order)
        #expect(order.price == 0 && order.originalQuantity == 10 && order.executedQuantity == 10)
        #expect(order.originalQuoteOrderQuantity == 0 && order.cumulativeQuoteQuantity == 10)
        #expect(order.status == .filled && order.timeInForce == .gtc && order.type == .market && order.side == .sell)
        #expect(order.workingTime == 1_507_725_176_595 && order.transactTime == 1_507_725_176_595)
        #expect(order.selfTradePreventionMode == "NONE" && result.fills.isEmpty)

        let full = try decode(BinanceNewOrderResponse.self, Self.fullAnswer)
        #expect(full.order == order)
        #expect(
            full.fills == [
                BinanceFill(price: 4_000, quantity: 1, commission: 4, commissionAsset: "USDT", tradeID: 56),
                BinanceFill(
                    price: 3_999,
                    quantity: 5,
                    commission: decimal("19.995"),
                    commissionAsset: "USDT",
                    tradeID: 57
                ),
                BinanceFill(
                    price: 3_998,
                    quantity: 2,
                    commission: decimal("7.996"),
                    commissionAsset: "USDT",
                    tradeID: 58
                ),
                BinanceFill(
                    price: 3_997,
                    quantity: 1,
                    commission: decimal("3.997"),
                    commissionAsset: "USDT",
                    tradeID: 59
                ),
                BinanceFill(
                    price: 3_995,
                    quantity: 1,
                    commission: decimal("3.995"),
                    commissionAsset: "USDT",
                    tradeID: 60
                ),
            ]
        )
    }

    @Test("Cancel, query and open-orders answers of the documentation read field by field")
    func orderAnswers() throws {
        let cancel = try decode(
            BinanceOrder.self,
            #"{"symbol":"LTCBTC","origClientOrderId":"myOrder1","orderId":4,"orderListId":-1,"clientOrderId":"cancelMyOrder1","transactTime":1684804350068,"price":"2.00000000","origQty":"1.00000000","executedQty":"0.00000000","origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"0.00000000","status":"CANCELED","timeInForce":"GTC","type":"LIMIT","side":"BUY","selfTradePreventionMode":"NONE"}"#
        )
        #expect(
            cancel.symbol == "LTCBTC" && cancel.originalClientOrderID == "myOrder1"
                && cancel.clientOrderID == "cancelMyOrder1"
        )
        #expect(
            cancel.orderID == 4 && cancel.transactTime == 1_684_804_350_068 && cancel.price == 2
                && cancel.originalQuantity == 1
        )
        #expect(
            cancel.executedQuantity == 0 && cancel.status == .canceled && cancel.type == .limit && cancel.side == .buy
        )
        #expect(!cancel.status.isOpen && cancel.workingTime == nil)

        let query = try decode(
            BinanceOrder.self,
            #"{"symbol":"LTCBTC","orderId":1,"orderListId":-1,"clientOrderId":"myOrder1","price":"0.1","origQty":"1.0","executedQty":"0.0","cummulativeQuoteQty":"0.0","status":"NEW","timeInForce":"GTC","type":"LIMIT","side":"BUY","stopPrice":"0.0","icebergQty":"0.0","time":1499827319559,"updateTime":1499827319559,"isWorking":true,"workingTime":1499827319559,"origQuoteOrderQty":"0.000000","selfTradePreventionMode":"NONE"}"#
        )
        #expect(
            query.price == decimal("0.1") && query.originalQuantity == 1 && query.stopPrice == 0
                && query.icebergQuantity == 0
        )
        #expect(query.time == 1_499_827_319_559 && query.updateTime == 1_499_827_319_559 && query.isWorking == true)
        #expect(query.status == .new && query.status.isOpen && query.transactTime == nil)

        let open = try decode(
            [BinanceOrder].self,
            #"[{"symbol":"LTCBTC","orderId":1,"orderListId":-1,"clientOrderId":"myOrder1","price":"0.1","origQty":"1.0","executedQty":"0.0","cummulativeQuoteQty":"0.0","status":"NEW","timeInForce":"GTC","type":"LIMIT","side":"BUY","stopPrice":"0.0","icebergQty":"0.0","time":1499827319559,"updateTime":1499827319559,"isWorking":true,"origQuoteOrderQty":"0.000000","workingTime":1499827319559,"selfTradePreventionMode":"NONE"}]"#
        )
        #expect(open == [query])
    }

    private static let ocoAnswer =
        #"{"orderListId":1,"contingencyType":"OCO","listStatusType":"EXEC_STARTED","listOrderStatus":"EXECUTING","listClientOrderId":"lH1YDkuQKWiXVXHPSKYEIp","transactionTime":1710485608839,"symbol":"LTCBTC","orders":[{"symbol":"LTCBTC","orderId":10,"clientOrderId":"44nZvqpemY7sVYgPYbvPih"},{"symbol":"LTCBTC","orderId":11,"clientOrderId":"NuMp0nVYnciDiFmVqfpBqK"}],"orderReports":[{"symbol":"LTCBTC","orderId":10,"orderListId":1,"clientOrderId":"44nZvqpemY7sVYgPYbvPih","transactTime":1710485608839,"price":"1.00000000","origQty":"5.00000000","executedQty":"0.00000000","origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"0.00000000","status":"NEW","timeInForce":"GTC","type":"STOP_LOSS_LIMIT","side":"SELL","stopPrice":"1.00000000","workingTime":-1,"icebergQty":"1.00000000","selfTradePreventionMode":"NONE"},{"symbol":"LTCBTC","orderId":11,"orderListId":1,"clientOrderId":"NuMp0nVYnciDiFmVqfpBqK","transactTime":1710485608839,"price":"3.00000000","origQty":"5.00000000","executedQty":"0.00000000","origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"0.00000000","status":"NEW","timeInForce":"GTC","type":"LIMIT_MAKER","side":"SELL","workingTime":1710485608839,"selfTradePreventionMode":"NONE"}]}"#

    private static let cancelListAnswer =
        #"{"orderListId":0,"contingencyType":"OCO","listStatusType":"ALL_DONE","listOrderStatus":"ALL_DONE","listClientOrderId":"C3wyj4WVEktd7u9aVBRXcN","transactionTime":1574040868128,"symbol":"LTCBTC","orders":[{"symbol":"LTCBTC","orderId":2,"clientOrderId":"pO9ufTiFGg3nw2fOdgeOXa"},{"symbol":"LTCBTC","orderId":3,"clientOrderId":"TXOvglzXuaubXAaENpaRCB"}],"orderReports":[{"symbol":"LTCBTC","origClientOrderId":"pO9ufTiFGg3nw2fOdgeOXa","orderId":2,"orderListId":0,"clientOrderId":"unfWT8ig8i0uj6lPuYLez6","transactTime":1688005070874,"price":"1.00000000","origQty":"10.00000000","executedQty":"0.00000000","origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"0.00000000","status":"CANCELED","timeInForce":"GTC","type":"STOP_LOSS_LIMIT","side":"SELL","stopPrice":"1.00000000","selfTradePreventionMode":"NONE"},{"symbol":"LTCBTC","origClientOrderId":"TXOvglzXuaubXAaENpaRCB","orderId":3,"orderListId":0,"clientOrderId":"unfWT8ig8i0uj6lPuYLez6","transactTime":1688005070874,"price":"3.00000000","origQty":"10.00000000","executedQty":"0.00000000","origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"0.00000000","status":"CANCELED","timeInForce":"GTC","type":"LIMIT_MAKER","side":"SELL","selfTradePreventionMode":"NONE"}]}"#

    @Test("The documentation's OCO placement and list cancel answers read; DELETE openOrders tells orders from lists")
    func orderListAnswers() throws {
        let oco = try decode(BinanceOrderList.self, Self.ocoAnswer)
        #expect(oco.orderListID == 1 && oco.contingencyType == "OCO" && oco.listStatusType == "EXEC_STARTED")
        #expect(oco.listOrderStatus == "EXECUTING" && oco.listClientOrderID == "lH1YDkuQKWiXVXHPSKYEIp")
        #expect(oco.transactionTime == 1_710_485_608_839 && oco.symbol == "LTCBTC")
        #expect(
            oco.orders.map(\.orderID) == [10, 11]
                && oco.orders.map(\.clientOrderID) == ["44nZvqpemY7sVYgPYbvPih", "NuMp0nVYnciDiFmVqfpBqK"]
        )
        let stop = try #require(oco.report(clientOrderID: "44nZvqpemY7sVYgPYbvPih"))
        #expect(stop.type == .stopLossLimit && stop.price == 1 && stop.stopPrice == 1 && stop.icebergQuantity == 1)
        #expect(stop.workingTime == -1 && stop.orderListID == 1 && stop.originalQuantity == 5)
        let maker = try #require(oco.report(clientOrderID: "NuMp0nVYnciDiFmVqfpBqK"))
        #expect(
            maker.type == .limitMaker && maker.price == 3 && maker.stopPrice == nil
                && maker.workingTime == 1_710_485_608_839
        )

        let cancelled = try decode(BinanceOrderList.self, Self.cancelListAnswer)
        #expect(cancelled.listStatusType == "ALL_DONE" && cancelled.listOrderStatus == "ALL_DONE")
        #expect(cancelled.orderReports.map(\.status) == [.canceled, .canceled])
        #expect(
            cancelled.orderReports.map(\.originalClientOrderID) == ["pO9ufTiFGg3nw2fOdgeOXa", "TXOvglzXuaubXAaENpaRCB"]
        )
        #expect(cancelled.orderReports.map(\.clientOrderID) == ["unfWT8ig8i0uj6lPuYLez6", "unfWT8ig8i0uj6lPuYLez6"])

        let single =
            #"{"symbol":"LTCBTC","origClientOrderId":"myOrder1","orderId":4,"orderListId":-1,"clientOrderId":"cancelMyOrder1","transactTime":1684804350068,"price":"2.00000000","origQty":"1.00000000","executedQty":"0.00000000","origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"0.00000000","status":"CANCELED","timeInForce":"GTC","type":"LIMIT","side":"BUY","selfTradePreventionMode":"NONE"}"#
        let mixed = try decode([BinanceCanceledEntry].self, "[" + single + "," + Self.cancelListAnswer + "]")
        guard mixed.count == 2, case .order(let order) = mixed[0], case .orderList(let list) = mixed[1] else {
            Issue.record("not an order then a list: \(mixed)")
            return
        }
        #expect(order.orderID == 4 && list == cancelled)
    }

    @Test("Account and myTrades answers of the documentation read as exact decimals")
    func accountAndTrades() throws {
        let account = try decode(
            BinanceAccount.self,
            #"{"makerCommission":15,"takerCommission":15,"buyerCommission":0,"sellerCommission":0,"commissionRates":{"maker":"0.00150000","taker":"0.00150000","buyer":"0.00000000","seller":"0.00000000"},"canTrade":true,"canWithdraw":true,"canDeposit":true,"brokered":false,"requireSelfTradePrevention":false,"preventSor":false,"updateTime":123456789,"accountType":"SPOT","balances":[{"asset":"BTC","free":"4723846.89208129","locked":"0.00000000"},{"asset":"LTC","free":"4763368.68006011","locked":"0.00000000"}],"permissions":["SPOT"],"uid":354937868}"#
        )
        #expect(
            account.commissionRates?.maker == decimal("0.0015") && account.commissionRates?.taker == decimal("0.0015")
        )
        #expect(account.commissionRates?.buyer == 0 && account.commissionRates?.seller == 0)
        #expect(account.canTrade && account.canWithdraw && account.canDeposit && account.updateTime == 123_456_789)
        #expect(account.accountType == "SPOT" && account.permissions == ["SPOT"] && account.uid == 354_937_868)
        #expect(account.balance("BTC") == BinanceBalance(asset: "BTC", free: decimal("4723846.89208129"), locked: 0))
        #expect(account.balance("LTC").free == decimal("4763368.68006011"))
        #expect(account.balance("USDT") == BinanceBalance(asset: "USDT", free: 0, locked: 0))

        let trades = try decode(
            [BinanceTrade].self,
            #"[{"symbol":"BNBBTC","id":28457,"orderId":100234,"orderListId":-1,"price":"4.00000100","qty":"12.00000000","quoteQty":"48.000012","commission":"10.10000000","commissionAsset":"BNB","time":1499865549590,"isBuyer":true,"isMaker":false,"isBestMatch":true}]"#
        )
        let trade = try #require(trades.first)
        #expect(
            trade.symbol == "BNBBTC" && trade.tradeID == 28_457 && trade.orderID == 100_234 && trade.orderListID == -1
        )
        #expect(
            trade.price == decimal("4.000001") && trade.quantity == 12 && trade.quoteQuantity == decimal("48.000012")
        )
        #expect(
            trade.commission == decimal("10.1") && trade.commissionAsset == "BNB" && trade.time == 1_499_865_549_590
        )
        #expect(trade.isBuyer && !trade.isMaker && trade.isBestMatch == true)
    }

    @Test("Decimal text: exact in both directions, strict when reading, grid rounding without binary error")
    func decimalText() {
        #expect(BinanceDecimal.text(decimal("0.1") + decimal("0.2")) == "0.3")
        #expect(BinanceDecimal.text(decimal("0.00000001")) == "0.00000001")
        #expect(BinanceDecimal.text(decimal("52000.00")) == "52000")
        #expect(BinanceDecimal.text(decimal("123456789.12345678")) == "123456789.12345678")
        #expect(BinanceDecimal.parse("-0.5") == decimal("-0.5"))
        for bad in ["", "1.2.3", "1x", "1e-8", ".5", "5.", "-", "0x10", " 1"] {
            #expect(BinanceDecimal.parse(bad) == nil, "\(bad)")
        }
        #expect(BinanceDecimal.floor(decimal("1.23456"), step: decimal("0.001")) == decimal("1.234"))
        #expect(BinanceDecimal.floor(decimal("0.3"), step: decimal("0.1")) == decimal("0.3"))
        #expect(BinanceDecimal.nearest(decimal("2.34567"), tick: decimal("0.0005")) == decimal("2.3455"))
    }

    @Test("Each order type carries exactly Binance's mandatory parameters, in table order, amounts as exact text")
    func orderParameters() throws {
        func names(_ order: BinanceNewOrder) throws -> [String] { try order.parameters().map(\.0) }
        let market = BinanceNewOrder.market(
            symbol: "FILUSDT",
            side: .buy,
            quantity: decimal("0.1") + decimal("0.2"),
            clientOrderID: "a1"
        )
        #expect(
            try market.parameters().map { "\($0.0)=\($0.1)" } == [
                "symbol=FILUSDT", "side=BUY", "type=MARKET", "quantity=0.3", "newClientOrderId=a1",
            ]
        )
        let quote = BinanceNewOrder.market(
            symbol: "FILUSDT",
            side: .sell,
            quoteOrderQuantity: 20,
            clientOrderID: "a2",
            responseType: .full
        )
        #expect(
            try quote.parameters().map { "\($0.0)=\($0.1)" } == [
                "symbol=FILUSDT", "side=SELL", "type=MARKET", "quoteOrderQty=20", "newClientOrderId=a2",
                "newOrderRespType=FULL",
            ]
        )
        let limit = BinanceNewOrder.limit(
            symbol: "LTCBTC",
            side: .buy,
            quantity: 1,
            price: decimal("0.1"),
            timeInForce: .ioc,
            clientOrderID: "a3"
        )
        #expect(
            try limit.parameters().map { "\($0.0)=\($0.1)" } == [
                "symbol=LTCBTC", "side=BUY", "type=LIMIT", "timeInForce=IOC", "quantity=1", "price=0.1",
                "newClientOrderId=a3",
            ]
        )
        #expect(
            try names(.limitMaker(symbol: "X", side: .sell, quantity: 1, price: 2)) == [
                "symbol", "side", "type", "quantity", "price", "newClientOrderId",
            ]
        )
        #expect(
            try names(.stopLoss(symbol: "X", side: .sell, quantity: 1, stopPrice: 2)) == [
                "symbol", "side", "type", "quantity", "newClientOrderId", "stopPrice",
            ]
        )
        #expect(
            try names(.takeProfit(symbol: "X", side: .sell, quantity: 1, stopPrice: 2)) == [
                "symbol", "side", "type", "quantity", "newClientOrderId", "stopPrice",
            ]
        )
        let stopLimit = BinanceNewOrder.stopLossLimit(
            symbol: "X",
            side: .sell,
            quantity: 1,
            price: decimal("1.5"),
            stopPrice: decimal("1.6")
        )
        #expect(
            try stopLimit.parameters().map(\.0) == [
                "symbol", "side", "type", "timeInForce", "quantity", "price", "newClientOrderId", "stopPrice",
            ]
        )
        #expect(stopLimit.type == .stopLossLimit && stopLimit.timeInForce == .gtc)
        #expect(
            try BinanceNewOrder.takeProfitLimit(symbol: "X", side: .sell, quantity: 1, price: 3, stopPrice: 3)
                .parameters()[2].1 == "TAKE_PROFIT_LIMIT"
        )
        // Ids made for orders that have none are fresh and acceptable to Binance.
        let made = (0..<100).map { _ in BinanceNewOrder.market(symbol: "X", side: .buy, quantity: 1).clientOrderID }
        #expect(Set(made).count == 100 && made.allSatisfy(BinanceClientOrderID.isValid))

        let oco = BinanceNewOCO.sellExit(
            symbol: "LTCBTC",
            quantity: 5,
            takeProfitPrice: 3,
            stopPrice: 1,
            stopLimitPrice: decimal("0.9"),
            listClientOrderID: "L",
            takeProfitClientOrderID: "TP",
            stopClientOrderID: "SL"
        )
        #expect(
            try oco.parameters().map { "\($0.0)=\($0.1)" } == [
                "symbol=LTCBTC", "listClientOrderId=L", "side=SELL", "quantity=5", "aboveType=LIMIT_MAKER",
                "aboveClientOrderId=TP",
                "abovePrice=3", "belowType=STOP_LOSS_LIMIT", "belowClientOrderId=SL", "belowPrice=0.9",
                "belowStopPrice=1",
                "belowTimeInForce=GTC",
            ]
        )
        let marketStop = BinanceNewOCO.sellExit(symbol: "LTCBTC", quantity: 5, takeProfitPrice: 3, stopPrice: 1)
        #expect(
            try marketStop.parameters().filter { $0.0.hasPrefix("below") && $0.0 != "belowClientOrderId" }.map {
                "\($0.0)=\($0.1)"
            } == ["belowType=STOP_LOSS", "belowStopPrice=1"]
        )
    }

    @Test(
        "Requests the client refuses are never sent",
        arguments: [
            "negative quantity", "zero price", "bad client id", "OCO maker below", "myTrades combination", "limit 0",
        ]
    )
    func refusedBeforeSending(_ name: String) async throws {
        let server = ScriptedHTTPServer { _, _ in .answer(status: 200, headers: [], body: "{}") }
        try await server.run { base in
            let client = client(base)
            let error = await #expect(throws: BinanceTradingError.self) {
                switch name {
                case "negative quantity": _ = try await client.newOrder(.market(symbol: "X", side: .buy, quantity: -1))
                case "zero price": _ = try await client.newOrder(.limit(symbol: "X", side: .buy, quantity: 1, price: 0))
                case "bad client id":
                    _ = try await client.newOrder(
                        .market(symbol: "X", side: .buy, quantity: 1, clientOrderID: "has space")
                    )
                case "OCO maker below":
                    _ = try await client.newOCO(
                        .init(
                            symbol: "X",
                            side: .buy,
                            quantity: 1,
                            above: .stopLoss(stopPrice: 2),
                            below: .limitMaker(price: 1)
                        )
                    )
                case "myTrades combination": _ = try await client.myTrades(symbol: "X", startTime: 1, fromID: 2)
                default: _ = try await client.allOrders(symbol: "X", limit: 0)
                }
            }
            guard case .invalidRequest = error else {
                Issue.record("\(String(describing: error))")
                return
            }
            #expect(server.requests.isEmpty)
        }
    }

    // MARK: The wire

    @Test(
        "POST sends a signed form body, DELETE and GET a signed query; the signature covers the exact percent-encoded bytes"
    )
    func wireForm() async throws {
        let server = ScriptedHTTPServer { request, _ in
            switch (request.method, request.path) {
            case ("POST", "/api/v3/order"): .answer(status: 200, headers: [], body: Self.fullAnswer)
            case ("POST", "/api/v3/orderList/oco"): .answer(status: 200, headers: [], body: Self.ocoAnswer)
            case ("DELETE", "/api/v3/orderList"): .answer(status: 200, headers: [], body: Self.cancelListAnswer)
            case ("GET", "/api/v3/openOrders"), ("GET", "/api/v3/allOrders"), ("GET", "/api/v3/myTrades"),
                ("DELETE", "/api/v3/openOrders"):
                .answer(status: 200, headers: [], body: "[]")
            default:
                .answer(
                    status: 200,
                    headers: [],
                    body:
                        #"{"symbol":"FILUSDT","orderId":7,"orderListId":-1,"clientOrderId":"c","price":"4.1","origQty":"2","executedQty":"0","cummulativeQuoteQty":"0","status":"NEW","timeInForce":"GTC","type":"LIMIT","side":"BUY"}"#
                )
            }
        }
        try await server.run { base in
            let client = client(base)
            let placed = try await client.newOrder(
                .limit(
                    symbol: "FILUSDT",
                    side: .buy,
                    quantity: decimal("2.50"),
                    price: decimal("4.1000"),
                    clientOrderID: "exit:1/a"
                )
            )
            #expect(placed.orderID == 28 && placed.fills.count == 5)
            _ = try await client.cancelOrder(
                symbol: "FILUSDT",
                .clientOrderID("exit:1/a"),
                cancelClientOrderID: "cancel-1"
            )
            _ = try await client.queryOrder(symbol: "FILUSDT", .orderID(7))
            _ = try await client.openOrders()
            _ = try await client.openOrders(symbol: "FILUSDT")
            _ = try await client.cancelOpenOrders(symbol: "FILUSDT")
            _ = try await client.allOrders(symbol: "FILUSDT", fromOrderID: 5, limit: 1_000)
            _ = try await client.myTrades(symbol: "FILUSDT", orderID: 7, fromID: 3, limit: 10)
            _ = try await client.newOCO(
                .sellExit(symbol: "LTCBTC", quantity: 5, takeProfitPrice: 3, stopPrice: 1, listClientOrderID: "L1")
            )
            _ = try await client.cancelOrderList(symbol: "LTCBTC", .listClientOrderID("L1"))

            let verifier = VerificationKey.hmac(secret: Self.secret)
            for request in server.requests {
                #expect(request.headers["x-mbx-apikey"] == Self.apiKey, "\(request.path)")
                let signed = request.method == "POST" ? request.body : request.query
                #expect(
                    request.method == "POST" ? request.query.isEmpty : request.body.isEmpty,
                    "\(request.method) \(request.path)"
                )
                if request.method == "POST" {
                    #expect(request.headers["content-type"] == "application/x-www-form-urlencoded")
                }
                // The signature is the last pair and signs every byte before `&signature=`.
                let range = try #require(signed.range(of: "&signature="), "\(request.path)")
                #expect(
                    verifier.verifies(String(signed[range.upperBound...]), of: String(signed[..<range.lowerBound])),
                    "\(request.path)"
                )
                #expect(
                    request.parameters["timestamp"] == "1700000000000" && request.parameters["recvWindow"] == "5000"
                )
            }
            let requests = server.requests
            #expect(
                requests.map { "\($0.method) \($0.path)" } == [
                    "POST /api/v3/order", "DELETE /api/v3/order", "GET /api/v3/order", "GET /api/v3/openOrders",
                    "GET /api/v3/openOrders",
                    "DELETE /api/v3/openOrders", "GET /api/v3/allOrders", "GET /api/v3/myTrades",
                    "POST /api/v3/orderList/oco",
                    "DELETE /api/v3/orderList",
                ]
            )
            #expect(
                requests[0].body.hasPrefix(
                    "symbol=FILUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=2.5&price=4.1&newClientOrderId=exit%3A1%2Fa&recvWindow=5000&timestamp=1700000000000&signature="
                )
            )
            #expect(
                requests[1].query.hasPrefix(
                    "symbol=FILUSDT&origClientOrderId=exit%3A1%2Fa&newClientOrderId=cancel-1&recvWindow="
                )
            )
            #expect(requests[2].query.hasPrefix("symbol=FILUSDT&orderId=7&recvWindow="))
            #expect(
                requests[3].query.hasPrefix("recvWindow=") && requests[4].query.hasPrefix("symbol=FILUSDT&recvWindow=")
            )
            #expect(requests[6].query.hasPrefix("symbol=FILUSDT&orderId=5&limit=1000&recvWindow="))
            #expect(requests[7].query.hasPrefix("symbol=FILUSDT&orderId=7&fromId=3&limit=10&recvWindow="))
            #expect(
                requests[8].parameters["listClientOrderId"] == "L1"
                    && requests[8].parameters["aboveType"] == "LIMIT_MAKER"
            )
            #expect(requests[9].query.hasPrefix("symbol=LTCBTC&listClientOrderId=L1&recvWindow="))
        }
    }

    @Test("The weight and order-count headers are kept; an answer without them leaves the last values")
    func rateLimitHeaders() async throws {
        let server = ScriptedHTTPServer { request, _ in
            request.path == "/api/v3/order"
                ? .answer(
                    status: 200,
                    headers: [
                        ("X-MBX-USED-WEIGHT-1M", "17"), ("X-MBX-ORDER-COUNT-10S", "3"), ("X-MBX-ORDER-COUNT-1D", "412"),
                    ],
                    body: Self.fullAnswer
                )
                : .answer(status: 200, headers: [("X-MBX-USED-WEIGHT-1M", "21")], body: "[]")
        }
        try await server.run { base in
            let client = client(base)
            _ = try await client.newOrder(.market(symbol: "BTCUSDT", side: .sell, quantity: 10))
            #expect(client.rateLimits == BinanceRateLimitUsage(usedWeight1m: 17, orderCount10s: 3, orderCount1d: 412))
            _ = try await client.openOrders(symbol: "BTCUSDT")
            #expect(client.rateLimits == BinanceRateLimitUsage(usedWeight1m: 21, orderCount10s: 3, orderCount1d: 412))
            #expect(client.usedWeight == 21)
        }
    }

    // MARK: Retries and unknown outcomes

    @Test("429 on an order (-1015): Retry-After waited, the same order sent once more with the same client id")
    func orderRetriedAfter429() async throws {
        let server = ScriptedHTTPServer { _, count in
            count == 0
                ? .answer(
                    status: 429,
                    headers: [("Retry-After", "7")],
                    body: #"{"code":-1015,"msg":"Too many new orders; current limit is 50 orders per 10 SECOND."}"#
                )
                : .answer(status: 200, headers: [], body: Self.fullAnswer)
        }
        let waits = WaitLog()
        try await server.run { base in
            let order = BinanceNewOrder.market(symbol: "BTCUSDT", side: .sell, quantity: 10)
            let answer = try await client(base, waits: waits).newOrder(order)
            #expect(answer.order?.status == .filled)
            let sent = server.requests(to: "/api/v3/order")
            #expect(sent.count == 2 && waits.all == [7])
            #expect(sent.map { $0.parameters["newClientOrderId"] } == [order.clientOrderID, order.clientOrderID])
        }
    }

    @Test("429 on a query (-1003): waited and retried once; refused again, the answer is thrown with its Retry-After")
    func queryRetriedAfter429() async throws {
        let refusal =
            #"{"code":-1003,"msg":"Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."}"#
        let server = ScriptedHTTPServer { request, count in
            if request.parameters["symbol"] == "ONCE" && count == 1 {
                return .answer(status: 200, headers: [], body: "[]")
            }
            return .answer(status: 429, headers: [("Retry-After", "3")], body: refusal)
        }
        let waits = WaitLog()
        try await server.run { base in
            let client = client(base, waits: waits)
            let orders = try await client.allOrders(symbol: "ONCE")
            #expect(orders.isEmpty)
            #expect(waits.all == [3] && server.requests(to: "/api/v3/allOrders").count == 2)

            let error = await #expect(throws: BinanceAPIError.self) { try await client.allOrders(symbol: "ALWAYS") }
            #expect(
                error?.code == -1003 && error?.status == 429 && error?.retryAfterSeconds == 3
                    && error?.isRateLimit == true
            )
            #expect(waits.all == [3, 3] && server.requests(to: "/api/v3/allOrders").count == 4)
        }
    }

    @Test("418 with a Retry-After beyond the longest wait is thrown at once: no wait, no second request")
    func banNotWaited() async throws {
        let server = ScriptedHTTPServer { _, _ in
            .answer(
                status: 418,
                headers: [("Retry-After", "7200")],
                body:
                    #"{"code":-1003,"msg":"Way too much request weight used; IP banned until 1659146400000. Please use WebSocket Streams for live updates to avoid bans."}"#
            )
        }
        let waits = WaitLog()
        try await server.run { base in
            let error = await #expect(throws: BinanceAPIError.self) {
                try await client(base, waits: waits).newOrder(.market(symbol: "BTCUSDT", side: .buy, quantity: 1))
            }
            #expect(error?.status == 418 && error?.retryAfterSeconds == 7_200)
            #expect(waits.all.isEmpty && server.requests.count == 1)
        }
    }

    @Test(
        "A placement met by a 5xx or -1007 has an unknown outcome: thrown with its client id, never sent again",
        arguments: [
            (500, #"{"code":-1000,"msg":"An unknown error occurred while processing the request."}"#),
            (502, "<html>Bad Gateway</html>"),
            (
                503,
                #"{"code":-1007,"msg":"Timeout waiting for response from backend server. Send status unknown; execution status unknown."}"#
            ),
            (
                408,
                #"{"code":-1007,"msg":"Timeout waiting for response from backend server. Send status unknown; execution status unknown."}"#
            ),
        ]
    )
    func serverErrorIsUnknownOutcome(status: Int, body: String) async throws {
        let server = ScriptedHTTPServer { _, _ in .answer(status: status, headers: [], body: body) }
        let waits = WaitLog()
        try await server.run { base in
            let order = BinanceNewOrder.limit(
                symbol: "BTCUSDT",
                side: .buy,
                quantity: 1,
                price: 100,
                clientOrderID: "entry-42"
            )
            let error = await #expect(throws: BinanceTradingError.self) {
                try await client(base, waits: waits).newOrder(order)
            }
            guard case .unknownOutcome(let path, let clientOrderID, _) = error else {
                Issue.record("\(String(describing: error))")
                return
            }
            #expect(path == "/api/v3/order" && clientOrderID == "entry-42")
            #expect(server.requests.count == 1 && waits.all.isEmpty)
        }
    }

    @Test("An OCO and a cancel met by a 5xx have unknown outcomes too, sent once")
    func otherWritesUnknownOutcome() async throws {
        let server = ScriptedHTTPServer { _, _ in .answer(status: 503, headers: [], body: "Service Unavailable") }
        try await server.run { base in
            let client = client(base)
            let oco = await #expect(throws: BinanceTradingError.self) {
                try await client.newOCO(
                    .sellExit(
                        symbol: "LTCBTC",
                        quantity: 5,
                        takeProfitPrice: 3,
                        stopPrice: 1,
                        listClientOrderID: "exit-list"
                    )
                )
            }
            #expect(
                oco
                    == .unknownOutcome(
                        path: "/api/v3/orderList/oco",
                        clientOrderID: "exit-list",
                        reason: "HTTP 503, 0: Service Unavailable"
                    )
            )
            let cancel = await #expect(throws: BinanceTradingError.self) {
                try await client.cancelOrder(symbol: "LTCBTC", .clientOrderID("tp-1"))
            }
            #expect(
                cancel
                    == .unknownOutcome(
                        path: "/api/v3/order",
                        clientOrderID: "tp-1",
                        reason: "HTTP 503, 0: Service Unavailable"
                    )
            )
            #expect(server.requests.count == 2)
        }
    }

    @Test(
        "A placement whose connection drops or times out has an unknown outcome, sent once",
        arguments: ["drop", "hang"]
    )
    func lostConnectionIsUnknownOutcome(_ fault: String) async throws {
        let server = ScriptedHTTPServer { _, _ in fault == "drop" ? .drop : .hang }
        try await server.run { base in
            let order = BinanceNewOrder.market(symbol: "BTCUSDT", side: .buy, quantity: 1, clientOrderID: "entry-7")
            let error = await #expect(throws: BinanceTradingError.self) {
                try await client(base, timeout: 1).newOrder(order)
            }
            guard case .unknownOutcome(_, let clientOrderID, let reason) = error else {
                Issue.record("\(String(describing: error))")
                return
            }
            #expect(clientOrderID == "entry-7" && server.requests.count == 1)
            #expect(!reason.contains(Self.apiKey) && !reason.contains("signature"))
        }
    }

    @Test("A read met by a 5xx throws the answer, once; a lost connection on a read is a transport error")
    func readFailures() async throws {
        let server = ScriptedHTTPServer { request, _ in
            request.parameters["symbol"] == "DROP"
                ? .drop
                : .answer(
                    status: 500,
                    headers: [],
                    body: #"{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}"#
                )
        }
        try await server.run { base in
            let client = client(base)
            await #expect(
                throws: BinanceAPIError(
                    status: 500,
                    code: -1001,
                    message: "Internal error; unable to process your request. Please try again.",
                    path: "/api/v3/openOrders"
                )
            ) {
                try await client.openOrders(symbol: "X")
            }
            let error = await #expect(throws: BinanceTradingError.self) { try await client.openOrders(symbol: "DROP") }
            guard case .transport(let path, _) = error else {
                Issue.record("\(String(describing: error))")
                return
            }
            #expect(path == "/api/v3/openOrders" && server.requests.count == 2)
        }
    }

    @Test("No connection at all: a placement is a transport error (nothing was sent), not an unknown outcome")
    func connectionRefused() async throws {
        let server = ScriptedHTTPServer { _, _ in .answer(status: 200, headers: [], body: "{}") }
        // The clock is measured while the server runs; then it stops and its port refuses connections.
        let synced = try await server.run { base in
            let client = client(base)
            try await client.syncTime()
            return client
        }
        let error = await #expect(throws: BinanceTradingError.self) {
            try await synced.newOrder(.market(symbol: "BTCUSDT", side: .buy, quantity: 1))
        }
        guard case .transport(let path, _) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(path == "/api/v3/order")
    }

    @Test("Query: -2013 reads as nil (never booked); any other refusal is thrown")
    func queryNotFound() async throws {
        let server = ScriptedHTTPServer { request, _ in
            request.parameters["origClientOrderId"] == "never"
                ? .answer(status: 400, headers: [], body: #"{"code":-2013,"msg":"Order does not exist."}"#)
                : .answer(status: 400, headers: [], body: #"{"code":-1121,"msg":"Invalid symbol."}"#)
        }
        try await server.run { base in
            let client = client(base)
            let never = try await client.queryOrder(symbol: "BTCUSDT", .clientOrderID("never"))
            #expect(never == nil)
            await #expect(
                throws: BinanceAPIError(status: 400, code: -1121, message: "Invalid symbol.", path: "/api/v3/order")
            ) {
                try await client.queryOrder(symbol: "NOPE", .orderID(1))
            }
            #expect(
                BinanceAPIError(status: 400, code: -2011, message: "Unknown order sent.", path: "/api/v3/order")
                    .isUnknownOrder
            )
            #expect(
                !BinanceAPIError(
                    status: 400,
                    code: -2011,
                    message: "Order was not canceled due to cancel restrictions.",
                    path: ""
                ).isUnknownOrder
            )
        }
    }

    @Test("-1021 on a placement: the clock is measured again and the order sent once more (a refusal books nothing)")
    func clockResyncOnPlacement() async throws {
        let server = ScriptedHTTPServer { _, count in
            count == 0
                ? .answer(
                    status: 400,
                    headers: [],
                    body: #"{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}"#
                )
                : .answer(status: 200, headers: [], body: Self.fullAnswer)
        }
        try await server.run { base in
            _ = try await client(base).newOrder(
                .market(symbol: "BTCUSDT", side: .sell, quantity: 10, clientOrderID: "x1")
            )
            #expect(server.requests(to: "/api/v3/order").map { $0.parameters["newClientOrderId"] } == ["x1", "x1"])
        }
    }

    // MARK: Against the local exchange

    @Test(
        "Over loopback against the local exchange with an accounts file: a market buy's fills agree with the query, myTrades, the balances and the user data stream; a resting limit is listed and cancelled"
    )
    func localExchange() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let accountsFile = directory.path("accounts.json")
        try Data(
            #"{"accounts":[{"apiKey":"\#(Self.apiKey)","secret":"\#(Self.secret)","balances":{"USDT":"1000"}}]}"#.utf8
        )
        .write(to: URL(fileURLWithPath: accountsFile))
        var settings = ExchangeSettings()
        settings.accounts = try ExchangeAccounts.load(path: accountsFile)
        let clock = ManualClock(start: sampleDay(2) + 30_000)
        try await withExchange(market: try sampleMarket(), settings: settings, clock: clock) { server, port in
            // The local clock is far from the replay's: the client measures the offset.
            let client = BinanceTradingClient(
                baseURL: URL(string: "http://127.0.0.1:\(port)")!,
                apiKey: Self.apiKey,
                key: .hmac(secret: Self.secret),
                clock: { clock.now + 86_400_000 }
            )
            // Generous waits: a loaded 2-core machine running the whole suite can stall a task for seconds.
            var streamSettings = UserDataStreamSettings(webSocketAPIURL: "ws://127.0.0.1:\(port)")
            streamSettings.requestTimeoutSeconds = 120
            let stream = client.userDataStream(settings: streamSettings, logger: quietLogger)
            let runner = Task { try await stream.run() }
            defer { runner.cancel() }
            var events = stream.events.makeAsyncIterator()
            guard case .connected = await events.next() else {
                Issue.record("the user data stream did not connect")
                return
            }

            let buy = BinanceNewOrder.market(
                symbol: "FILUSDT",
                side: .buy,
                quoteOrderQuantity: 100,
                responseType: .full
            )
            let placed = try await client.newOrder(buy)
            let order = try #require(placed.order)
            #expect(placed.clientOrderID == buy.clientOrderID && order.status == .filled && !placed.fills.isEmpty)
            let filled = placed.fills.reduce(Decimal(0)) { $0 + $1.quantity }
            let spent = placed.fills.reduce(Decimal(0)) { $0 + $1.price * $1.quantity }
            let commission = placed.fills.reduce(Decimal(0)) { $0 + $1.commission }
            #expect(filled == order.executedQuantity && spent == order.cumulativeQuoteQuantity && commission > 0)
            #expect(placed.fills.allSatisfy { $0.commissionAsset == "FIL" })  // a BUY pays in the base asset
            #expect(client.rateLimits.orderCount10s == 1)

            let queried = try #require(
                try await client.queryOrder(symbol: "FILUSDT", .clientOrderID(buy.clientOrderID))
            )
            #expect(
                queried.orderID == placed.orderID && queried.status == .filled && queried.executedQuantity == filled
            )
            let trades = try await client.myTrades(symbol: "FILUSDT", orderID: placed.orderID)
            #expect(trades.map(\.tradeID) == placed.fills.map(\.tradeID))
            #expect(
                trades.map(\.quantity) == placed.fills.map(\.quantity)
                    && trades.map(\.commission) == placed.fills.map(\.commission)
            )
            #expect(trades.allSatisfy { $0.isBuyer && !$0.isMaker })
            let account = try await client.accountInformation()
            #expect(account.balance("USDT").free == 1_000 - spent)
            #expect(account.balance("FIL").free == filled - commission)

            // Every report of the order has come by the barrier; the last says FILLED with the totals.
            try await stream.barrier()
            var reports: [BinanceExecutionReport] = []
            while reports.last?.orderStatus != .filled, let event = await events.next() {
                if case .executionReport(let report) = event, report.clientOrderID == buy.clientOrderID {
                    reports.append(report)
                }
            }
            #expect(reports.first?.executionType == .new)
            #expect(reports.filter { $0.executionType == .trade }.map(\.tradeID) == placed.fills.map(\.tradeID))
            #expect(reports.last?.cumulativeFilledQuantity == filled && reports.last?.cumulativeQuoteQuantity == spent)

            // A limit buy 10 % below the last price rests, is listed, and is cancelled by client id.
            let filters = try #require(server.market.pairs["FILUSDT"]?.filters)
            let last = try #require(server.market.state("FILUSDT", at: server.now)?.price)
            let price = try #require(
                BinanceDecimal.parse(filters.format(price: filters.roundPrice(last * 0.9, up: false)))
            )
            let resting = BinanceNewOrder.limit(symbol: "FILUSDT", side: .buy, quantity: 10, price: price)
            let booked = try await client.newOrder(resting)
            #expect(booked.order?.status == .new)
            #expect(try await client.openOrders(symbol: "FILUSDT").map(\.clientOrderID) == [resting.clientOrderID])
            let cancelled = try await client.cancelOrder(symbol: "FILUSDT", .clientOrderID(resting.clientOrderID))
            #expect(
                cancelled.status == .canceled && cancelled.originalClientOrderID == resting.clientOrderID
                    && cancelled.price == price
            )
            #expect(try await client.openOrders(symbol: "FILUSDT").isEmpty)
            #expect(try await client.queryOrder(symbol: "FILUSDT", .clientOrderID("never-sent")) == nil)
        }
    }

    // MARK: Secrets

    @Test("No description, error, dump or log text shows the API key or the secret")
    func secretsNeverShown() async throws {
        let secret = "Sup3rS3cr3tValueThatMustNeverAppear0123456789abcdefABCDEF012345"
        let apiKey = "ApiKeyThatMustNeverAppearEither0123456789abcdefABCDEF0123456789"
        let server = ScriptedHTTPServer { request, _ in
            switch request.parameters["symbol"] {
            case "DROP": .drop
            case "BUSY": .answer(status: 503, headers: [], body: "busy")
            default:
                .answer(
                    status: 400,
                    headers: [],
                    body: #"{"code":-1022,"msg":"Signature for this request is not valid."}"#
                )
            }
        }
        var texts = try await server.run { base in
            let client = BinanceTradingClient(
                baseURL: base,
                apiKey: apiKey,
                key: .hmac(secret: secret),
                clock: { 1_700_000_000_000 }
            )
            var seen: [String] = ["\(client)", String(reflecting: client)]
            var dumped = ""
            dump(client, to: &dumped)
            seen.append(dumped)
            for symbol in ["DROP", "BUSY", "X"] {
                do {
                    _ = try await client.newOrder(.market(symbol: symbol, side: .buy, quantity: 1))
                } catch {
                    seen += ["\(error)", String(reflecting: error), error.localizedDescription]
                }
            }
            let stream = client.userDataStream(
                settings: UserDataStreamSettings(webSocketAPIURL: "ws://127.0.0.1:1"),
                logger: quietLogger
            )
            var streamDump = ""
            dump(stream, to: &streamDump)
            seen += ["\(stream)", streamDump]
            return seen
        }
        let errors: [any Error] = [
            BinanceAPIError(
                status: 429,
                code: -1015,
                message: "Too many new orders.",
                path: "/api/v3/order",
                retryAfterSeconds: 3
            ),
            BinanceTradingError.unknownOutcome(path: "/api/v3/order", clientOrderID: "c", reason: "r"),
            BinanceTradingError.transport(path: "/p", reason: "r"),
            BinanceTradingError.malformedResponse(path: "/p", reason: "r"),
            BinanceTradingError.invalidRequest("r"), UserDataStreamError.notConnected, UserDataStreamError.disconnected,
            UserDataStreamError.timedOut, UserDataStreamError.malformedFrame("r"),
            UserDataStreamError.refused(
                BinanceAPIError(
                    status: 401,
                    code: -2015,
                    message: "Invalid API-key, IP, or permissions for action.",
                    path: "ws-api"
                )
            ),
        ]
        texts += errors.map { "\($0)" }
        texts += ["\(SigningKey.hmac(secret: secret))", "\(VerificationKey.hmac(secret: secret))"]
        #expect(texts.count > 20)
        for text in texts {
            #expect(!text.contains(secret) && !text.contains(apiKey), "\(text)")
        }
    }
}
