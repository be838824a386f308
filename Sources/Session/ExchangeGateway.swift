public import Binance
public import Foundation
public import Logging
import Synchronization
public import Trading

/// What a write to the exchange came to.
public enum GatewayOutcome: Sendable, Equatable {
    /// Accepted: what follows comes over the user data stream.
    case sent
    /// Refused by the exchange (nothing booked), with Binance's code and message.
    case refused(code: Int, message: String)
    /// No answer that says (a 5xx, -1007, a timeout, a dropped connection): look it up, never send it again.
    case unknown(reason: String)
}

/// The session's side of a Binance-compatible order API (the local exchange, Binance's testnet or
/// demo, or Binance itself behind `scalper live`): the engine's orders out over signed REST, order
/// updates in from the user data stream, an ordering barrier, and lookups by client order id.
/// Knows nothing of the session's store; the session writes every intent down before it calls.
public final class ExchangeGateway: Sendable {
    /// The signed REST client.
    public let client: BinanceTradingClient
    /// The user data stream.
    public let userData: BinanceUserDataStream
    private let logger: Logger
    private let received = Mutex<(events: [UserDataStreamEvent], reconnected: Bool)>(([], false))

    /// A gateway over `client` whose user data comes over the WebSocket API at `webSocketAPIURL`;
    /// a subscription or barrier unanswered after `requestTimeoutSeconds` fails.
    public init(client: BinanceTradingClient, webSocketAPIURL: String, logger: Logger, requestTimeoutSeconds: Double = 10) {
        self.client = client
        self.logger = logger
        // The profiles give the full endpoint (`…/ws-api/v3`, as Binance documents it); the stream takes its base.
        let base = webSocketAPIURL.hasSuffix("/ws-api/v3") ? String(webSocketAPIURL.dropLast("/ws-api/v3".count)) : webSocketAPIURL
        var settings = UserDataStreamSettings(webSocketAPIURL: base)
        settings.requestTimeoutSeconds = requestTimeoutSeconds
        userData = client.userDataStream(settings: settings, logger: logger)
    }

    /// Runs the user data stream and keeps what it delivers for ``sync()``, until cancelled.
    public func run() async throws {
        // The subscription is signed with the server's time: measure the offset first (a failure
        // here is retried by the stream's own -1021 handling).
        try? await client.syncTime()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.userData.run() }
            group.addTask {
                for await event in self.userData.events {
                    self.received.withLock { r in
                        switch event {
                        case .connected: r.reconnected = true
                        case .subscriptionRefused(let error):
                            self.logger.error("the user data stream was refused", metadata: ["error": "\(error)"])
                        default: r.events.append(event)
                        }
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Waits until the stream is subscribed (at most `seconds`); false if it did not come up.
    public func waitConnected(seconds: Double) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if await userData.isConnected { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Every order update the stream has delivered up to now (after a barrier: everything the
    /// exchange sent before it), in order, and whether the stream (re)connected since the last call
    /// (then the session reconciles: events of a gap are not sent again).
    public func sync(barrier: Bool) async throws -> (updates: [OrderUpdate], reconnected: Bool) {
        if barrier, await userData.isConnected { try await userData.barrier() }
        let (events, reconnected) = received.withLock { r in
            defer { r = ([], false) }
            return (r.events, r.reconnected)
        }
        return (events.compactMap { event in
            if case .executionReport(let report) = event { Self.update(report) } else { nil }
        }, reconnected)
    }

    // MARK: Writes

    /// Places one order with its exact texts (quantity on the step, prices on the tick).
    public func place(_ order: OrderRequest, quantity: Decimal, price: Decimal?, stopPrice: Decimal?) async -> GatewayOutcome {
        let side: BinanceOrderSide = order.side == .buy ? .buy : .sell
        let new: BinanceNewOrder
        switch order.type {
        case .market: new = .market(symbol: order.symbol, side: side, quantity: quantity, clientOrderID: order.clientOrderID, responseType: .ack)
        case .limit:
            guard let price else { return .refused(code: 0, message: "a limit order without a price") }
            let tif = BinanceTimeInForce(rawValue: (order.timeInForce ?? .gtc).rawValue)
            new = .limit(symbol: order.symbol, side: side, quantity: quantity, price: price, timeInForce: tif, clientOrderID: order.clientOrderID, responseType: .ack)
        default:
            return .refused(code: 0, message: "\(order.type.rawValue) orders are sent only as legs of a list")
        }
        return await write(order.clientOrderID) { _ = try await self.client.newOrder(new) }
    }

    /// Places a protective sell list: the take-profit LIMIT_MAKER above, the STOP_LOSS below.
    public func placeList(_ list: OCORequest, quantity: Decimal, target: Decimal, stop: Decimal) async -> GatewayOutcome {
        let oco = BinanceNewOCO(
            symbol: list.symbol, side: list.target.side == .buy ? .buy : .sell, quantity: quantity, above: .limitMaker(price: target),
            below: .stopLoss(stopPrice: stop), listClientOrderID: list.listClientOrderID, aboveClientOrderID: list.target.clientOrderID,
            belowClientOrderID: list.stop.clientOrderID, responseType: .ack
        )
        return await write(list.listClientOrderID) { _ = try await self.client.newOCO(oco) }
    }

    /// Cancels one order by client id.
    public func cancel(symbol: String, clientOrderID: String) async -> GatewayOutcome {
        await write(clientOrderID) { _ = try await self.client.cancelOrder(symbol: symbol, .clientOrderID(clientOrderID)) }
    }

    /// Cancels a list by its client id.
    public func cancelList(symbol: String, listClientOrderID: String) async -> GatewayOutcome {
        await write(listClientOrderID) { _ = try await self.client.cancelOrderList(symbol: symbol, .listClientOrderID(listClientOrderID)) }
    }

    private func write(_ id: String, _ body: @Sendable () async throws -> Void) async -> GatewayOutcome {
        do {
            try await body()
            return .sent
        } catch let error as BinanceAPIError {
            return .refused(code: error.code, message: error.message)
        } catch let error as BinanceTradingError {
            switch error {
            case .invalidRequest(let why): return .refused(code: 0, message: why)
            case .transport(_, let reason) where !reason.isEmpty: return .unknown(reason: "\(error)")
            default: return .unknown(reason: "\(error)")
            }
        } catch {
            return .unknown(reason: "\(error)")
        }
    }

    // MARK: Lookups

    /// An order as the exchange has it, by client id: its fills (from myTrades) and its status, as
    /// updates in order; nil when the exchange does not know the id.
    public func lookUp(symbol: String, clientOrderID: String) async throws -> [OrderUpdate]? {
        guard let order = try await client.queryOrder(symbol: symbol, .clientOrderID(clientOrderID)) else { return nil }
        var updates: [OrderUpdate] = []
        if order.executedQuantity > 0 {
            let trades = try await client.myTrades(symbol: symbol, orderID: order.orderID)
            for t in trades {
                let fill = OrderFill(
                    tradeID: t.tradeID, price: Self.double(t.price), quantity: Self.double(t.quantity), commission: Self.double(t.commission),
                    commissionAsset: Self.asset(t.commissionAsset, of: symbol), time: t.time
                )
                updates.append(OrderUpdate(clientOrderID: clientOrderID, symbol: symbol, status: .partiallyFilled, fill: fill, time: t.time))
            }
        }
        let time = order.updateTime ?? order.time ?? order.transactTime ?? 0
        let status = Self.status(order.status, expiry: order.expiryReason)
        updates.append(OrderUpdate(clientOrderID: clientOrderID, symbol: symbol, status: status.status, reason: status.reason, time: time))
        return updates
    }

    /// The account's balances (free, locked) by asset.
    public func balances() async throws -> [String: (free: Decimal, locked: Decimal)] {
        let account = try await client.accountInformation()
        var out: [String: (free: Decimal, locked: Decimal)] = [:]
        for b in account.balances { out[b.asset] = (b.free, b.locked) }
        return out
    }

    // MARK: Mapping

    /// An execution report as the engine's update: the order's own client id (a cancel's report
    /// carries the cancel's id in `c` and the order's in `C`), its status, the execution's fill.
    static func update(_ r: BinanceExecutionReport) -> OrderUpdate? {
        let id = r.executionType == .canceled ? (r.originalClientOrderID.flatMap { $0.isEmpty ? nil : $0 } ?? r.clientOrderID) : r.clientOrderID
        var fill: OrderFill?
        if r.executionType == .trade {
            fill = OrderFill(
                tradeID: r.tradeID, price: double(r.lastExecutedPrice), quantity: double(r.lastExecutedQuantity), commission: double(r.commission),
                commissionAsset: asset(r.commissionAsset ?? "", of: r.symbol), time: r.transactionTime
            )
        }
        var status = Self.status(r.orderStatus, expiry: r.expiryReason)
        if r.rejectReason == "INSUFFICIENT_BALANCES" {
            // Funds short at the fill: what the simulated venue answers, so the engine counts it the same way.
            status = (.rejected, SimulatedVenue.insufficientBalance)
        }
        return OrderUpdate(clientOrderID: id, symbol: r.symbol, status: status.status, fill: fill, reason: status.reason, time: r.transactionTime)
    }

    static func status(_ s: BinanceOrderStatus, expiry: String?) -> (status: OrderStatus, reason: String?) {
        switch s {
        case .new, .pendingNew: (.accepted, nil)
        case .partiallyFilled: (.partiallyFilled, nil)
        case .filled: (.filled, nil)
        case .canceled, .pendingCancel: (.cancelled, nil)
        case .rejected: (.rejected, expiry)
        default:
            switch expiry {
            case "OCO_TRIGGER"?: (.expired, "the other leg of the list filled")
            case "INSUFFICIENT_LIQUIDITY"?: (.expired, SimulatedVenue.noBarAtOpen)
            default: (.expired, expiry)
            }
        }
    }

    static func asset(_ asset: String, of symbol: String) -> CommissionAsset {
        symbol.hasSuffix(asset) && !asset.isEmpty ? .quote : .base
    }

    static func double(_ d: Decimal) -> Double { Double(d.description) ?? NSDecimalNumber(decimal: d).doubleValue }
}
