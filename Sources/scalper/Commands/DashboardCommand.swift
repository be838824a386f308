import ArgumentParser
import Dashboard
import Foundation
import Logging
import Session

/// `scalper dashboard --session NAME`: the dashboard of a session that is not running, from its
/// store (its last committed state, equity, trades and the exchange's fills); read-only.
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve the dashboard of a stopped paper/live session from its store (read-only).",
        discussion: "A running session serves its own: scalper paper --dashboard HOST:PORT."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "The session's name (its store: sessions/NAME/session.sqlite in the workspace).")
    var session: String

    @Option(help: "HOST:PORT to serve on (port 0: a free one; the address is printed on standard error).")
    var listen = "127.0.0.1:8080"

    func validate() throws { _ = try PaperRunCommand.address(listen) }

    func run() async throws {
        let store = try openSessionStore(global: global, name: session)
        let (snapshot, events): (SessionSnapshot, SessionEvents)
        do {
            (snapshot, events) = try StoredSessionView.read(store, name: session)
        } catch {
            throw fail("\(error)")
        }
        let hub = DashboardHub()
        hub.sessionUpdated(snapshot, events: events)
        let (host, port) = try PaperRunCommand.address(listen)
        // No token: a stopped session takes no controls (`scalper paper ctl` queues them for its next start).
        let server = DashboardServer(hub: hub, token: nil) { _ in throw ValidationError("the session is not running") }
        try await server.run(host: host, port: port, logger: Logger(label: "scalper.dashboard")) { bound in
            FileHandle.standardError.write(Data("dashboard: http://\(host):\(bound) (session \(session), stopped; Ctrl-C ends)\n".utf8))
        }
    }
}
