import ArgumentParser
import Dashboard
import Foundation
import Logging

/// `scalper alert`: one alert to the configured webhook, now — what a process that has crashed
/// cannot send itself (deploy/'s OnFailure= unit calls it).
struct AlertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alert",
        abstract: "Send one alert to alerts.webhook_url now (e.g. from systemd's OnFailure=).",
        discussion: "Exits 1 when no webhook is configured or it did not accept the alert. Not rate-limited."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "What happened, e.g. crash.")
    var kind = "crash"

    @Option(help: "The session or unit it is about.")
    var session = "scalper"

    @Option(help: "The text.")
    var message: String

    func run() async throws {
        let settings = try global.loadConfiguration()
        let alertSettings = settings.alertSettings
        guard alertSettings.webhookURL != nil else {
            throw fail("alerts.webhook_url is not set in the config: nowhere to send the alert")
        }
        let sender = AlertSender(settings: alertSettings, logger: Logger(label: "scalper.alert"))
        let alert = Alert(kind: kind, session: session, message: message, time: Int64(Date().timeIntervalSince1970 * 1_000))
        guard await sender.send(alert, rateLimited: false) else {
            throw fail("the alert webhook did not accept the alert (see the log line above)")
        }
        print("alert sent: \(kind) \(session)")
    }
}

extension ScalperConfiguration {
    /// The `alerts:` section as the notifier takes it.
    var alertSettings: AlertSettings {
        var a = AlertSettings()
        a.webhookURL = alerts.webhookURL.isEmpty ? nil : URL(string: alerts.webhookURL)
        a.format = AlertSettings.Format(rawValue: alerts.format) ?? .json
        a.telegramChatID = alerts.telegramChatID
        a.minIntervalSeconds = alerts.minIntervalSeconds
        a.reconnectStorm = alerts.reconnectStorm
        return a
    }
}
