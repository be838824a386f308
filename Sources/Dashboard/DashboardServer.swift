public import Foundation
import HTTPTypes
import Hummingbird
public import Logging
import NIOCore
import Session
public import Trading

/// The dashboard's web server, in the session's process: the page (HTML, CSS and JS from the
/// repository, no CDN), its live updates as server-sent events, `/metrics` for Prometheus, and the
/// session's controls behind a token.
///
/// - `GET /` (the page), `/dashboard.js`, `/dashboard.css`
/// - `GET /api/snapshot`: the latest ``SessionSnapshot`` as JSON
/// - `GET /api/events`: server-sent events, one `update` with everything so far, then one each time
///   the session commits (at most every 250 ms)
/// - `GET /metrics`: Prometheus' text format
/// - `POST /api/control/{pause|resume|reset-kill-switch|close-all}` with `Authorization: Bearer
///   TOKEN`: asks the session as `scalper paper ctl` does (202); a wrong or missing token is 401,
///   and with no token configured the controls are off (403). Nothing changes on a refusal.
public struct DashboardServer: Sendable {
    /// The hub the session feeds.
    public let hub: DashboardHub
    /// The token the controls need (`dashboard.token`; nil: read-only).
    public let token: String?
    /// Asks the session for a control; returns the request's id.
    public let requestControl: @Sendable (UserControl) throws -> Int64
    /// Where the page's files are.
    public let webDirectory: URL

    /// A server for `hub`.
    public init(hub: DashboardHub, token: String?, webDirectory: URL? = nil, requestControl: @escaping @Sendable (UserControl) throws -> Int64) {
        self.hub = hub
        self.token = token?.isEmpty == true ? nil : token
        self.requestControl = requestControl
        self.webDirectory = webDirectory ?? Bundle.module.resourceURL!.appendingPathComponent("Web")
    }

    /// Serves on `host:port` (0: a free port) until cancelled; `onStart` gets the bound port.
    public func run(host: String, port: Int, logger: Logger, onStart: @escaping @Sendable (Int) async -> Void) async throws {
        let router = Router()
        for (path, type) in [("index.html", "text/html; charset=utf-8"), ("dashboard.js", "text/javascript; charset=utf-8"), ("dashboard.css", "text/css; charset=utf-8")] {
            let file = webDirectory.appendingPathComponent(path)
            let bytes = try Data(contentsOf: file)
            let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { _, _ in
                Response(
                    status: .ok, headers: [.contentType: type, .cacheControl: "no-store"],
                    body: .init(byteBuffer: ByteBuffer(bytes: bytes))
                )
            }
            router.get(path == "index.html" ? "/" : "/\(path)", use: handler)
        }
        router.get("/api/snapshot") { [hub] _, _ -> Response in
            guard let snapshot = hub.snapshot else {
                return Self.json(.serviceUnavailable, #"{"error":"the session has not committed anything yet"}"#)
            }
            return Self.json(.ok, String(decoding: try Self.encoder.encode(snapshot), as: UTF8.self))
        }
        router.get("/api/events") { [hub] _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                body: .init { writer in
                    var cursor = DashboardHub.Cursor()
                    try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
                    while !Task.isCancelled {
                        if let (update, next) = hub.update(after: cursor) {
                            let json = String(decoding: try Self.encoder.encode(update), as: UTF8.self)
                            try await writer.write(ByteBuffer(string: "event: update\ndata: \(json)\n\n"))
                            cursor = next
                        }
                        try await Task.sleep(for: .milliseconds(250))
                    }
                    try await writer.finish(nil)
                }
            )
        }
        router.get("/metrics") { [hub] _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: hub.metrics.render()))
            )
        }
        router.post("/api/control/{name}") { [token, requestControl] request, context -> Response in
            guard let token else {
                return Self.json(.forbidden, #"{"error":"controls are off: set dashboard.token in the configuration"}"#)
            }
            let sent = request.headers[.authorization] ?? ""
            guard Self.constantTimeEqual(sent, "Bearer \(token)") else {
                return Self.json(.unauthorized, #"{"error":"a control needs the dashboard token (Authorization: Bearer TOKEN)"}"#)
            }
            guard let name = context.parameters.get("name"), let control = UserControl(rawValue: name) else {
                return Self.json(.notFound, #"{"error":"no such control: pause, resume, reset-kill-switch or close-all"}"#)
            }
            let id = try requestControl(control)
            return Self.json(.accepted, #"{"control":"\#(control.rawValue)","request":\#(id)}"#)
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in await onStart(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        try await app.runService()
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return encoder
    }()

    private static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Compares without stopping at the first difference (the time does not tell how much matched).
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) { diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
        return diff == 0
    }
}
