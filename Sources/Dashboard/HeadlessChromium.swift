public import Foundation
import HummingbirdWSClient
import Logging
import NIOWebSocket
import Synchronization

/// What went wrong driving the browser.
public struct BrowserError: Error, CustomStringConvertible {
    /// What.
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Debian's `chromium`, headless, driven over the DevTools protocol: a page opened at a URL, its
/// DOM read with JavaScript, its console errors and uncaught exceptions collected, a screenshot.
/// The dashboard's browser test and its `make bench` figure use it; nothing else needs a browser.
public final class HeadlessChromium: Sendable {
    private let process: Process
    private let profile: URL
    /// The browser's DevTools WebSocket (`ws://127.0.0.1:PORT/devtools/browser/ID`).
    public let endpoint: String

    /// Starts the browser (Debian's `/usr/bin/chromium`).
    public init() async throws {
        profile = FileManager.default.temporaryDirectory.appendingPathComponent("scalper-chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        let executable = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let executable else {
            throw BrowserError("no /usr/bin/chromium: `make setup` installs Debian's chromium (the dashboard's browser test and bench)")
        }
        let log = profile.appendingPathComponent("stderr.log").path
        guard FileManager.default.createFile(atPath: log, contents: nil) else { throw BrowserError("cannot create \(log)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--mute-audio",
            "--remote-debugging-port=0", "--remote-allow-origins=*", "--user-data-dir=\(profile.appendingPathComponent("profile").path)", "--window-size=1400,2000", "about:blank",
        ]
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/…"
        var found: String?
        for _ in 0..<6_000 where found == nil {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: "ws://127.0.0.1:"), text[range.lowerBound...].contains("\n") {
                found = String(text[range.lowerBound...].prefix { !$0.isWhitespace })
            } else if !process.isRunning {
                throw BrowserError("chromium exited: \(text.suffix(2_000))")
            } else {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        guard let found else { throw BrowserError("chromium printed no DevTools address within 300 s") }
        endpoint = found
    }

    /// Ends the browser.
    public func close() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: profile)
    }

    /// Opens `url` in the browser's page and runs `body` with it.
    public func withPage<R: Sendable>(_ url: String, _ body: @escaping @Sendable (Page) async throws -> R) async throws -> R {
        let result = Mutex<R?>(nil)
        try await WebSocketClient.connect(url: endpoint, configuration: .init(maxFrameSize: 1 << 26), logger: Logger(label: "cdp")) { inbound, outbound, _ in
            let page = Page(outbound: outbound)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in inbound.messages(maxSize: 1 << 27) {
                        if case .text(let text) = message { page.received(text) }
                    }
                }
                // A new tab, attached to this connection (its commands and events carry its session id).
                let target = try await page.call("Target.createTarget", ["url": "about:blank"])
                guard let targetID = target["targetId"] as? String else { throw BrowserError("no targetId: \(target)") }
                let attached = try await page.call("Target.attachToTarget", ["targetId": targetID, "flatten": true])
                guard let sessionID = attached["sessionId"] as? String else { throw BrowserError("no sessionId: \(attached)") }
                page.attach(sessionID)
                for method in ["Runtime.enable", "Log.enable", "Page.enable"] { _ = try await page.call(method) }
                _ = try await page.call("Page.navigate", ["url": url])
                let value = try await body(page)
                result.withLock { $0 = value }
                group.cancelAll()
            }
            try await outbound.close(.normalClosure, reason: nil)
        }
        guard let value = result.withLock({ $0 }) else { throw BrowserError("the page's session ended early") }
        return value
    }

    /// One page over the DevTools protocol.
    public final class Page: Sendable {
        private let outbound: WebSocketOutboundWriter
        private let state = Mutex<(next: Int, answers: [Int: String], errors: [String], session: String?)>((1, [:], [], nil))

        /// From now on, commands go to the tab of `session`.
        func attach(_ session: String) { state.withLock { $0.session = session } }

        init(outbound: WebSocketOutboundWriter) { self.outbound = outbound }

        /// Console errors, uncaught exceptions and error log entries so far.
        public var errors: [String] { state.withLock { $0.errors } }

        func received(_ text: String) {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else { return }
            state.withLock { s in
                if let id = object["id"] as? Int {
                    s.answers[id] = text
                    return
                }
                let params = object["params"] as? [String: Any] ?? [:]
                switch object["method"] as? String {
                case "Runtime.consoleAPICalled" where params["type"] as? String == "error": s.errors.append("console.error: \(params["args"] ?? "")")
                case "Runtime.exceptionThrown": s.errors.append("exception: \(params["exceptionDetails"] ?? "")")
                case "Log.entryAdded":
                    if let entry = params["entry"] as? [String: Any], entry["level"] as? String == "error" {
                        s.errors.append("log: \(entry["text"] ?? "") \(entry["url"] ?? "")")
                    }
                default: break
                }
            }
        }

        /// Calls `method`; returns its `result` (throws on an `error` answer).
        public func call(_ method: String, _ params: [String: Any] = [:]) async throws -> [String: Any] {
            let (id, session) = state.withLock { s in
                defer { s.next += 1 }
                return (s.next, s.session)
            }
            var message: [String: Any] = ["id": id, "method": method, "params": params]
            if let session { message["sessionId"] = session }
            let text = String(decoding: try JSONSerialization.data(withJSONObject: message), as: UTF8.self)
            try await outbound.write(.text(text))
            for _ in 0..<12_000 {
                if let text = state.withLock({ $0.answers.removeValue(forKey: id) }) {
                    let answer = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
                    if let error = answer["error"] { throw BrowserError("\(method): \(error)") }
                    return answer["result"] as? [String: Any] ?? [:]
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw BrowserError("\(method): no answer within 120 s")
        }

        /// The value of a JavaScript expression (JSON-serialisable).
        public func evaluate(_ expression: String) async throws -> Any? {
            let result = try await call("Runtime.evaluate", ["expression": expression, "returnByValue": true])
            if let exception = result["exceptionDetails"] { throw BrowserError("\(expression): \(exception)") }
            return (result["result"] as? [String: Any])?["value"]
        }

        /// A PNG of the whole page.
        public func screenshot() async throws -> Data {
            let result = try await call("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true])
            guard let base64 = result["data"] as? String, let data = Data(base64Encoded: base64) else {
                throw BrowserError("Page.captureScreenshot gave no image")
            }
            return data
        }
    }
}
