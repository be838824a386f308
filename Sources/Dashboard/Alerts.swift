public import Foundation
public import Logging
public import Session
import Synchronization

#if canImport(FoundationNetworking)
    public import FoundationNetworking
#endif

/// Where alerts go (`alerts:` in the config).
public struct AlertSettings: Sendable, Equatable {
    /// How the webhook is called.
    public enum Format: String, Sendable {
        /// `POST` of `{"kind","session","message","time"}` as JSON.
        case json
        /// Telegram's bot API: `POST https://api.telegram.org/bot<TOKEN>/sendMessage` with
        /// `{"chat_id","text"}` (the URL is the config's, so a local server can stand in).
        case telegram
    }

    /// The webhook (nil: alerts are only logged).
    public var webhookURL: URL?
    /// Its format.
    public var format: Format = .json
    /// Telegram's chat id (`telegram` format).
    public var telegramChatID: String = ""
    /// At most one alert of a kind per this many seconds (the rest are counted and said in the next).
    public var minIntervalSeconds: Double = 300
    /// Reconnects within 10 minutes that make a storm.
    public var reconnectStorm: Int = 5
    /// Seconds a webhook call may take.
    public var timeoutSeconds: Double = 10

    /// Alerts off.
    public init() {}
}

/// One alert.
public struct Alert: Sendable, Equatable, Codable {
    /// What happened: `kill_switch`, `daily_loss_limit`, `reconnect_storm`, `model_expired`, or a
    /// caller's own (`crash` from `scalper alert`).
    public var kind: String
    /// The session (or unit) it is about.
    public var session: String
    /// What to tell the user.
    public var message: String
    /// Wall time (ms).
    public var time: Int64

    /// An alert.
    public init(kind: String, session: String, message: String, time: Int64) {
        self.kind = kind
        self.session = session
        self.message = message
        self.time = time
    }
}

/// Sends alerts to a webhook, at most one of a kind per ``AlertSettings/minIntervalSeconds``.
public final class AlertSender: Sendable {
    private let settings: AlertSettings
    private let logger: Logger
    private let last = Mutex<[String: (sent: ContinuousClock.Instant, held: Int)]>([:])

    /// A sender.
    public init(settings: AlertSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// The request `alert` makes (nil: no webhook).
    public func request(for alert: Alert, held: Int = 0) throws -> URLRequest? {
        guard let url = settings.webhookURL else { return nil }
        let text = held > 0 ? "\(alert.message) (and \(held) more of this kind held back by the rate limit)" : alert.message
        let body: [String: String]
        switch settings.format {
        case .json:
            body = ["kind": alert.kind, "session": alert.session, "message": text, "time": String(alert.time)]
        case .telegram:
            body = ["chat_id": settings.telegramChatID, "text": "scalper \(alert.session): \(text)"]
        }
        var request = URLRequest(url: url, timeoutInterval: settings.timeoutSeconds)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        return request
    }

    /// Sends `alert` unless one of its kind went out less than the minimum interval ago (then it
    /// is counted and said with the next). Returns whether it was sent; logs it either way.
    @discardableResult
    public func send(_ alert: Alert, rateLimited: Bool = true) async -> Bool {
        let now = ContinuousClock.now
        let held: Int? = last.withLock { l in
            if rateLimited, let previous = l[alert.kind], now - previous.sent < .milliseconds(Int64(settings.minIntervalSeconds * 1_000)) {
                l[alert.kind] = (previous.sent, previous.held + 1)
                return nil
            }
            let held = l[alert.kind]?.held ?? 0
            l[alert.kind] = (now, 0)
            return held
        }
        guard let held else {
            logger.notice("alert held back by the rate limit", metadata: ["kind": "\(alert.kind)", "message": "\(alert.message)"])
            return false
        }
        logger.warning("alert", metadata: ["kind": "\(alert.kind)", "message": "\(alert.message)"])
        do {
            guard let request = try request(for: alert, held: held) else { return false }
            let (_, response) = try await URLSession.shared.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            guard (200..<300).contains(status) else {
                logger.error("the alert webhook refused the alert", metadata: ["status": "\(status)", "kind": "\(alert.kind)"])
                return false
            }
            return true
        } catch {
            logger.error("the alert webhook cannot be reached", metadata: ["error": "\(error)", "kind": "\(alert.kind)"])
            return false
        }
    }
}

/// Watches a session's snapshots for what a user must hear about at once: the kill switch
/// tripping, the daily loss limit reached, a reconnect storm, the model expiring. Each fires once
/// when it starts (again only after it has ended); sending happens off the session's task.
public final class AlertWatcher: SessionObserver {
    private struct Seen {
        var killSwitch = false
        var dailyLimit = false
        var expired = false
        /// Reconnects as they were counted: when, and how many.
        var reconnects: [(time: ContinuousClock.Instant, count: Int)] = []
        var reconnectsSeen = 0
        var storm = false
    }

    private let sender: AlertSender
    private let settings: AlertSettings
    private let seen = Mutex(Seen())
    private let queue: AsyncStream<Alert>.Continuation
    private let worker: Task<Void, Never>

    /// A watcher sending through `sender`.
    public init(settings: AlertSettings, sender: AlertSender) {
        self.settings = settings
        self.sender = sender
        let (alerts, queue) = AsyncStream.makeStream(of: Alert.self)
        self.queue = queue
        worker = Task { for await alert in alerts { await sender.send(alert) } }
    }

    deinit {
        queue.finish()
    }

    /// Waits until every alert queued so far has been sent (or refused).
    public func drain() async {
        queue.finish()
        await worker.value
    }

    public func sessionUpdated(_ snapshot: SessionSnapshot, events: SessionEvents) {
        let s = snapshot.status
        let now = ContinuousClock.now
        let wall = Int64(Date().timeIntervalSince1970 * 1_000)
        var alerts: [Alert] = []
        func alert(_ kind: String, _ message: String) { alerts.append(Alert(kind: kind, session: s.session, message: message, time: wall)) }
        seen.withLock { seen in
            if s.killSwitch != seen.killSwitch {
                seen.killSwitch = s.killSwitch
                if s.killSwitch {
                    alert("kill_switch", String(format: "kill switch ON: drawdown %.2f %% from the peak %.2f (limit %.1f %%); no new entries until reset", snapshot.risk.drawdown * 100, snapshot.risk.equityPeak, snapshot.risk.maxDrawdown * 100))
                }
            }
            let lossReached = snapshot.risk.dayStartEquity > 0 && -snapshot.risk.pnlToday >= snapshot.risk.dailyLossLimit * snapshot.risk.dayStartEquity
            if lossReached != seen.dailyLimit {
                seen.dailyLimit = lossReached
                if lossReached {
                    alert("daily_loss_limit", String(format: "daily loss limit reached: %.2f USDT today (limit %.1f %% of %.2f); no new entries until the UTC day ends", snapshot.risk.pnlToday, snapshot.risk.dailyLossLimit * 100, snapshot.risk.dayStartEquity))
                }
            }
            if snapshot.model.expired != seen.expired {
                seen.expired = snapshot.model.expired
                if snapshot.model.expired {
                    alert("model_expired", String(format: "model %@ expired: %.1f days past its training window (limit %.0f); no new entries", snapshot.model.name, snapshot.model.ageDays ?? .nan, snapshot.model.maxAgeDays))
                }
            }
            // Reconnects in the last 10 minutes of wall time.
            let count = snapshot.feed.reconnects
            if count > seen.reconnectsSeen {
                seen.reconnects.append((now, count - seen.reconnectsSeen))
                seen.reconnectsSeen = count
            }
            seen.reconnects.removeAll { now - $0.time > .seconds(600) }
            let recent = seen.reconnects.reduce(0) { $0 + $1.count }
            let storm = recent >= settings.reconnectStorm
            if storm != seen.storm {
                seen.storm = storm
                if storm { alert("reconnect_storm", "reconnect storm: \(recent) reconnects of the market data stream in 10 minutes (\(count) in all)") }
            }
        }
        for a in alerts { queue.yield(a) }
    }
}

/// Several observers of one session, called in order.
public struct SessionObservers: SessionObserver {
    private let observers: [any SessionObserver]

    /// The observers.
    public init(_ observers: [any SessionObserver]) { self.observers = observers }

    public func sessionUpdated(_ snapshot: SessionSnapshot, events: SessionEvents) {
        for o in observers { o.sessionUpdated(snapshot, events: events) }
    }
}
