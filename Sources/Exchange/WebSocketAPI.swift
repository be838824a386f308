import Binance
import Foundation
import HummingbirdWebSocket
import Logging
import NIOWebSocket
import ServiceLifecycle
import Synchronization

extension ExchangeServer {
    /// One connection to the WebSocket API (`/ws-api/v3`): requests `{"id":…,"method":…,"params":{…}}`
    /// answered `{"id":…,"status":200,"result":…}` in order, and user data events
    /// `{"subscriptionId":N,"event":{…}}` of the accounts subscribed on it. Methods: `ping`, `time`,
    /// `userDataStream.subscribe.signature` (params `apiKey`, `timestamp`, `signature`, optional
    /// `recvWindow`; the signature over the other parameters sorted by name, as Binance signs WebSocket
    /// API requests), `userDataStream.unsubscribe`, `session.subscriptions`.
    ///
    /// Everything goes out in one ordered queue, and `ping` matches every order through now before
    /// its reply is queued: once a client has the reply to a ping, it has every event due before it
    /// (a lock-step client uses this as its barrier before acting on a minute).
    func serveAPI(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, logger: Logger) async throws {
        let outbox = AsyncStream<String>.makeStream()
        let continuation = outbox.continuation
        let send: @Sendable (String) -> Void = { continuation.yield($0) }
        // Subscriptions of this connection: subscription id → (API key, venue subscriber id).
        let subscriptions = SubscriptionTable()
        defer {
            for (apiKey, subscriber) in subscriptions.all() { venue.unsubscribe(apiKey: apiKey, id: subscriber) }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                for try await message in inbound.messages(maxSize: 1 << 16) {
                    guard case .text(let text) = message else { continue }
                    send(apiRequest(text, subscriptions: subscriptions, send: send))
                }
            }
            group.addTask {
                for await text in outbox.stream { try await outbound.write(.text(text)) }
            }
            try await group.next()
            continuation.finish()
            group.cancelAll()
        }
    }

    /// Answers one WebSocket API request.
    func apiRequest(_ text: String, subscriptions: SubscriptionTable, send: @escaping @Sendable (String) -> Void) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return #"{"id":null,"status":400,"error":{"code":-1000,"msg":"Malformed request: not a JSON object."}}"#
        }
        let id: String
        switch object["id"] {
        case let n as Int: id = String(n)
        case let s as String where !s.contains("\"") && !s.contains("\\"): id = "\"\(s)\""
        default: id = "null"
        }
        func failure(_ status: Int, _ code: Int, _ message: String) -> String {
            #"{"id":\#(id),"status":\#(status),"error":{"code":\#(code),"msg":"\#(message)"}}"#
        }
        func success(_ result: String) -> String { #"{"id":\#(id),"status":200,"result":\#(result)}"# }
        let params = object["params"] as? [String: Any] ?? [:]
        switch object["method"] as? String {
        case "ping":
            venue.settle(through: now)
            return success("{}")
        case "time":
            return success(#"{"serverTime":\#(now)}"#)
        case "userDataStream.subscribe.signature":
            guard let apiKey = params["apiKey"] as? String, !apiKey.isEmpty else {
                return failure(400, -1102, "Mandatory parameter 'apiKey' was not sent, was empty/null, or malformed.")
            }
            guard let account = settings.accounts.account(apiKey) else {
                return failure(401, -2015, "Invalid API-key, IP, or permissions for action.")
            }
            guard let signature = params["signature"] as? String else {
                return failure(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
            }
            guard let timestamp = (params["timestamp"] as? NSNumber)?.int64Value else {
                return failure(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
            }
            let window = (params["recvWindow"] as? NSNumber)?.doubleValue ?? 5_000
            let time = now
            if Double(timestamp) >= Double(time) + 1_000 {
                return failure(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")
            }
            if Double(time - timestamp) > window { return failure(400, -1021, "Timestamp for this request is outside of the recvWindow.") }
            let signed = params.filter { $0.key != "signature" }.map { ($0.key, Self.paramText($0.value)) }
            guard account.verifier.verifies(signature, of: SignedRequest.webSocketPayload(signed)) else {
                return failure(400, -1022, "Signature for this request is not valid.")
            }
            guard let subscriptionID = subscriptions.add(apiKey: apiKey, subscribe: { number in
                self.venue.subscribe(apiKey: apiKey, subscription: number, send: send)
            }) else {
                return failure(400, -2035, "User Data Stream subscription already active.")
            }
            return success(#"{"subscriptionId":\#(subscriptionID)}"#)
        case "userDataStream.unsubscribe":
            let only = (params["subscriptionId"] as? NSNumber)?.intValue
            let removed = subscriptions.remove(only)
            guard !removed.isEmpty || only == nil else { return failure(400, -2036, "User Data Stream subscription not active.") }
            for (number, apiKey, subscriber) in removed {
                venue.unsubscribe(apiKey: apiKey, id: subscriber)
                send(#"{"subscriptionId":\#(number),"event":{"e":"eventStreamTerminated","E":\#(now)}}"#)
            }
            return success("{}")
        case "session.subscriptions":
            return success("[" + subscriptions.numbers().map { #"{"subscriptionId":\#($0)}"# }.joined(separator: ",") + "]")
        default:
            return failure(400, -1020, "This operation is not supported.")
        }
    }

    /// A JSON parameter's value as it is signed: strings as they are, numbers as written.
    static func paramText(_ value: Any) -> String {
        switch value {
        case let s as String: return s
        case let n as NSNumber: return n.stringValue
        default: return "\(value)"
        }
    }
}

/// The user data subscriptions of one WebSocket API connection (one per account, numbered from 0).
final class SubscriptionTable: Sendable {
    private let state = Mutex<(next: Int, entries: [(number: Int, apiKey: String, subscriber: UInt64)])>((0, []))

    /// Subscribes `apiKey` (nil when it already is on this connection); returns the subscription id.
    func add(apiKey: String, subscribe: (Int) -> UInt64) -> Int? {
        state.withLock { s in
            guard !s.entries.contains(where: { $0.apiKey == apiKey }) else { return nil }
            let number = s.next
            s.next += 1
            s.entries.append((number, apiKey, subscribe(number)))
            return number
        }
    }

    /// Removes one subscription (or all).
    func remove(_ number: Int?) -> [(Int, String, UInt64)] {
        state.withLock { s in
            let gone = s.entries.filter { number == nil || $0.number == number }
            s.entries.removeAll { number == nil || $0.number == number }
            return gone.map { ($0.number, $0.apiKey, $0.subscriber) }
        }
    }

    func all() -> [(String, UInt64)] { state.withLock { $0.entries.map { ($0.apiKey, $0.subscriber) } } }
    func numbers() -> [Int] { state.withLock { $0.entries.map(\.number) } }
}

/// Matches orders against the replay as the exchange's clock moves (a wall-clock exchange; a
/// lock-step one settles at each step).
struct MatchingService: Service {
    let server: ExchangeServer

    func run() async throws {
        let server = server
        do {
            try await cancelWhenGracefulShutdown {
                var last = server.now
                while !Task.isCancelled {
                    last = try await server.clock.tick(after: last)
                    server.venue.settle(through: last)
                }
            }
        } catch is CancellationError {
            // Shutting down.
        }
    }
}
