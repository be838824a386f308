import Dashboard
import Foundation
import HTTPTypes
import Logging
import ScalperTestSupport
import Testing

@testable import Session

@Suite("Alerts")
struct AlertTests {
    private func kinds(_ posts: [(path: String, body: String)]) -> [String] {
        posts.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.body.utf8))) as? [String: String] }.compactMap { $0["kind"] }
    }

    @Test("Kill switch, daily loss limit, model expiry and a reconnect storm each alert once when they start; a kind again within the interval is held back")
    func watcher() async throws {
        let (_, posts) = try await withWebhook { url in
            var settings = AlertSettings()
            settings.webhookURL = url
            settings.minIntervalSeconds = 3_600
            settings.reconnectStorm = 5
            let watcher = AlertWatcher(settings: settings, sender: AlertSender(settings: settings, logger: Logger(label: "t")))
            var s = snapshot(minutes: 1)
            watcher.sessionUpdated(s, events: SessionEvents())  // nothing yet
            s.status.killSwitch = true
            watcher.sessionUpdated(s, events: SessionEvents())  // kill_switch
            watcher.sessionUpdated(s, events: SessionEvents())  // still on: nothing
            s.status.killSwitch = false
            watcher.sessionUpdated(s, events: SessionEvents())
            s.status.killSwitch = true
            watcher.sessionUpdated(s, events: SessionEvents())  // again within the interval: held back
            s.risk.pnlToday = -31  // 3.1 % of 1,000 against 3 %
            watcher.sessionUpdated(s, events: SessionEvents())  // daily_loss_limit
            s.model.expired = true
            s.model.ageDays = 31
            watcher.sessionUpdated(s, events: SessionEvents())  // model_expired
            s.feed.reconnects = 3
            watcher.sessionUpdated(s, events: SessionEvents())
            s.feed.reconnects = 6
            watcher.sessionUpdated(s, events: SessionEvents())  // reconnect_storm (6 in 10 minutes)
            s.feed.reconnects = 7
            watcher.sessionUpdated(s, events: SessionEvents())  // still a storm: nothing
            await watcher.drain()
        }
        #expect(kinds(posts) == ["kill_switch", "daily_loss_limit", "model_expired", "reconnect_storm"])
        let first = try #require((try JSONSerialization.jsonObject(with: Data(posts[0].body.utf8))) as? [String: String])
        #expect(first["session"] == "t" && first["message"]?.contains("kill switch ON") == true && posts[0].path == "/hook")
    }

    @Test("Telegram's shape: POST to the bot URL with chat_id and text")
    func telegram() async throws {
        let (sent, posts) = try await withWebhook { url in
            var settings = AlertSettings()
            settings.webhookURL = url.deletingLastPathComponent().appendingPathComponent("bot123:ABC/sendMessage")
            settings.format = .telegram
            settings.telegramChatID = "-100200"
            let sender = AlertSender(settings: settings, logger: Logger(label: "t"))
            return await sender.send(Alert(kind: "crash", session: "paper-1", message: "the unit failed", time: 1))
        }
        #expect(sent)
        #expect(posts.map(\.path) == ["/bot123:ABC/sendMessage"])
        let body = try #require((try JSONSerialization.jsonObject(with: Data(posts[0].body.utf8))) as? [String: String])
        #expect(body == ["chat_id": "-100200", "text": "scalper paper-1: the unit failed"])
    }

    @Test("A webhook that refuses (500) is reported as not sent")
    func refused() async throws {
        let (sent, posts) = try await withWebhook(status: .internalServerError) { url in
            var settings = AlertSettings()
            settings.webhookURL = url
            return await AlertSender(settings: settings, logger: Logger(label: "t")).send(Alert(kind: "crash", session: "s", message: "m", time: 1))
        }
        #expect(!sent && posts.count == 1)
    }
}
