import Dashboard
import Foundation
import ScalperTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `scalper paper --dashboard` over a lock-step replay: the page in headless Chromium, `/metrics`
/// against Prometheus' own parser, the controls behind the token.
@Suite("scalper paper --dashboard", .serialized)
struct DashboardCLITests {
    static let token = "dashboard-test-token-7f3a"

    private func get(_ url: String) async throws -> (status: Int, body: String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? -1, String(decoding: data, as: UTF8.self))
    }

    private func post(_ url: String, token: String?) async throws -> Int {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? -1
    }

    private func snapshot(_ base: String) async throws -> [String: Any]? {
        let (status, body) = try await get(base + "/api/snapshot")
        guard status == 200 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
    }

    /// `/metrics` read by `prometheus_client`'s parser (Debian's python3-prometheus-client): every
    /// sample as `name{label="value",…}` → value.
    private func parsedMetrics(_ text: String) async throws -> [String: Double] {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try text.write(toFile: dir.path("metrics.txt"), atomically: true, encoding: .utf8)
        let script = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in family.samples:
                    labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                    out[s.name + ("{" + labels + "}" if labels else "")] = s.value
            print(json.dumps(out))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script, dir.path("metrics.txt")]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        guard process.terminationStatus == 0 else {
            throw ScalperProcessError(message: "prometheus_client could not parse /metrics (`make setup` installs python3-prometheus-client): \(errors)")
        }
        return try JSONSerialization.jsonObject(with: data) as? [String: Double] ?? [:]
    }

    @Test(
        "A replayed session's dashboard: every panel in headless Chromium with no console error, the session's fills in the DOM, /metrics parsed by Prometheus' parser and equal to the session's figures, controls refused without the token",
        .timeLimit(.minutes(15))
    )
    func dashboard() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        try (try String(contentsOfFile: w.overlay, encoding: .utf8) + "\ndashboard:\n  token: \(Self.token)\n")
            .write(toFile: w.overlay, atomically: true, encoding: .utf8)
        let (exchange, port) = try await w.exchange()
        defer { exchange.kill() }
        // Ten simulated days: far longer than the test runs.
        let session = try ScalperProcess.start(
            w.paperArguments(session: "dash", port: port, minutes: 14_400) + ["--dashboard", "127.0.0.1:0"]
        )
        defer { session.kill() }
        var base = ""
        for _ in 0..<15_000 where base.isEmpty {
            if let range = session.errorSoFar.range(of: "dashboard: http://127.0.0.1:") {
                base = "http://127.0.0.1:" + session.errorSoFar[range.upperBound...].prefix { $0.isNumber }
            } else {
                #expect(session.isRunning, "the session ended: \(session.errorSoFar.suffix(2_000))")
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        try #require(!base.isEmpty, "no 'dashboard:' line within 300 s")

        // Until the session has filled something.
        var fills = 0
        for _ in 0..<3_000 where fills < 2 {
            fills = try await snapshot(base)?["fills"] as? Int ?? 0
            if fills < 2 { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(fills >= 2, "no fills within 300 s")
        // The replay stops here: the exchange is stopped, the session decides nothing more.
        exchange.send(SIGSTOP)
        defer { exchange.send(SIGCONT) }
        var stable: [String: Any] = [:]
        var last = -1
        for _ in 0..<600 {
            try await Task.sleep(for: .milliseconds(500))
            guard let s = try await snapshot(base), let status = s["status"] as? [String: Any], let minutes = status["minutes"] as? Int else { continue }
            if minutes == last {
                stable = s
                break
            }
            last = minutes
        }
        let status = try #require(stable["status"] as? [String: Any], "the session did not settle")
        let minutes = try #require(status["minutes"] as? Int)
        fills = try #require(stable["fills"] as? Int)

        // /metrics: Prometheus' parser reads it, and its figures are the session's.
        let (metricsStatus, metricsText) = try await get(base + "/metrics")
        #expect(metricsStatus == 200)
        let metrics = try await parsedMetrics(metricsText)
        #expect(metrics["scalper_decisions_total"] == Double(minutes))
        #expect(metrics["scalper_signals_total"] == Double(stable["signals"] as? Int ?? -1))
        let feed = try #require(stable["feed"] as? [String: Any])
        #expect(metrics["scalper_feed_frames_total"] == Double(feed["frames"] as? Int ?? -1))
        #expect(metrics["scalper_feed_reconnects_total"] == Double(feed["reconnects"] as? Int ?? -1))
        let fillSamples = metrics.filter { $0.key.hasPrefix("scalper_fills_total{") }.values.reduce(0, +)
        #expect(fillSamples == Double(fills))
        let tradeSamples = metrics.filter { $0.key.hasPrefix("scalper_trades_total{") }.values.reduce(0, +)
        #expect(tradeSamples == Double(status["trades"] as? Int ?? -1))
        #expect(abs((metrics["scalper_equity_usdt"] ?? 0) - (status["equity"] as? Double ?? -1)) < 1e-9)
        #expect(metrics["scalper_open_positions"] == Double((status["positions"] as? [Any])?.count ?? -1))
        #expect(metrics["scalper_paused"] == 0 && metrics["scalper_kill_switch"] == 0)
        let ended = try #require(stable["orders"] as? [String: Int])
        #expect(!ended.isEmpty && (ended["FILLED"] ?? 0) > 0)
        for (outcome, count) in ended { #expect(metrics["scalper_orders_total{outcome=\"\(outcome)\"}"] == Double(count), "\(outcome)") }
        // The warm-up klines came over REST, whose answers carry the weight used.
        #expect(metrics["scalper_request_weight_used"] == Double(feed["requestWeight"] as? Int ?? -1))

        // The page in a browser: each panel, the session's fills, no console error, a screenshot.
        let browser = try await HeadlessChromium()
        defer { browser.close() }
        let expectedRows = min(200, fills)
        let (pageJSON, errors, png) = try await browser.withPage(base + "/") { page -> (String, [String], Data) in
            var json = "{}"
            for _ in 0..<1_200 {
                json = try await page.evaluate(
                    """
                    JSON.stringify({
                      panels: [...document.querySelectorAll('[data-panel]')].filter(e => e.offsetHeight > 0).map(e => e.dataset.panel),
                      fillRows: document.querySelectorAll('#fills tbody tr.fill-row').length,
                      fillOrders: [...document.querySelectorAll('#fills tbody tr.fill-row')].map(r => r.dataset.order),
                      minutes: document.getElementById('feed-facts')?.textContent ?? '',
                      equity: document.getElementById('equity')?.textContent ?? '',
                      heatmap: document.querySelectorAll('#heatmap .cell').length
                    })
                    """
                ) as? String ?? "{}"
                let seen = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] ?? [:]
                if seen["fillRows"] as? Int == expectedRows { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            return (json, page.errors, try await page.screenshot())
        }
        let page = try JSONSerialization.jsonObject(with: Data(pageJSON.utf8)) as? [String: Any] ?? [:]
        #expect(errors.isEmpty, "console errors: \(errors)")
        let panels = Set(page["panels"] as? [String] ?? [])
        #expect(panels == ["risk", "equity", "scanner", "positions", "model", "feed", "fills", "trades"], "\(panels)")
        #expect(page["fillRows"] as? Int == expectedRows, "\(page)")
        // The rows are this session's orders (its client-id prefix is the one its trades carry).
        let orders = page["fillOrders"] as? [String] ?? []
        #expect(!orders.isEmpty && orders.allSatisfy { $0.hasPrefix("cs") && ($0.hasSuffix("FILUSDT") || $0.hasSuffix("NEARUSDT")) })
        #expect((page["equity"] as? String ?? "").contains("USDT") && (page["heatmap"] as? Int) == 2)
        let artifacts = Fixtures.packageRoot.appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        try png.write(to: artifacts.appendingPathComponent("dashboard.png"))
        #expect(png.count > 10_000 && png.starts(with: [0x89, 0x50, 0x4E, 0x47]))

        // Controls: refused without the token, and nothing changes; accepted with it.
        #expect(try await post(base + "/api/control/pause", token: nil) == 401)
        #expect(try await post(base + "/api/control/close-all", token: "wrong") == 401)
        try await Task.sleep(for: .seconds(2))
        let ctl = try await ScalperProcess.run(["paper", "ctl", "dash", "status", "--json", "--home", w.dir.path("home")])
        let stored = try #require(try JSONSerialization.jsonObject(with: Data(ctl.stdout.utf8)) as? [String: Any], "\(ctl.stderr)")
        #expect(stored["paused"] as? Bool == false && (stored["pending_controls"] as? [String])?.isEmpty == true)
        #expect((try await snapshot(base)?["status"] as? [String: Any])?["paused"] as? Bool == false)
        #expect(try await post(base + "/api/control/pause", token: Self.token) == 202)
        var paused = false
        for _ in 0..<600 where !paused {
            paused = (try await snapshot(base)?["status"] as? [String: Any])?["paused"] as? Bool == true
            if !paused { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(paused, "the session did not apply the dashboard's pause")

        exchange.send(SIGCONT)
        session.send(SIGTERM)
        let result = try await session.wait()
        #expect(result.status == 0, "\(result.stderr.suffix(2_000))")
        #expect(!result.stdout.contains(Self.token) && !result.stderr.contains(Self.token))

        // The stopped session's dashboard, from its store: its figures, read-only.
        let final = try #require(PaperWorkspace.summary(result)?["status"] as? [String: Any])
        let stopped = try ScalperProcess.start(["dashboard", "--session", "dash", "--listen", "127.0.0.1:0", "--home", w.dir.path("home")])
        defer { stopped.kill() }
        var stoppedBase = ""
        for _ in 0..<15_000 where stoppedBase.isEmpty {
            if let range = stopped.errorSoFar.range(of: "dashboard: http://127.0.0.1:") {
                stoppedBase = "http://127.0.0.1:" + stopped.errorSoFar[range.upperBound...].prefix { $0.isNumber }
            } else {
                #expect(stopped.isRunning, "scalper dashboard ended: \(stopped.errorSoFar.suffix(2_000))")
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        try #require(!stoppedBase.isEmpty)
        let view = try #require(try await snapshot(stoppedBase))
        let viewStatus = try #require(view["status"] as? [String: Any])
        #expect(view["running"] as? Bool == false)
        #expect(viewStatus["trades"] as? Int == final["trades"] as? Int && viewStatus["minutes"] as? Int == final["minutes"] as? Int)
        #expect(abs((viewStatus["equity"] as? Double ?? 0) - (final["equity"] as? Double ?? -1)) < 1e-9)
        #expect(viewStatus["trades"] as? Int == (try w.tradeRows(session: "dash")).count)
        #expect(try await post(stoppedBase + "/api/control/pause", token: Self.token) == 403)
    }

    @Test("scalper alert POSTs one alert to alerts.webhook_url (what OnFailure= runs); without a webhook it fails, saying why")
    func alertCommand() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (result, posts) = try await withWebhook { url in
            try "alerts:\n  webhook_url: \(url.absoluteString)\n".write(toFile: dir.path("alerts.yaml"), atomically: true, encoding: .utf8)
            return try await ScalperProcess.run([
                "alert", "--config", dir.path("alerts.yaml"), "--session", "scalper-paper.service", "--message", "scalper-paper.service failed",
            ])
        }
        #expect(result.status == 0, "\(result.stderr)")
        #expect(posts.count == 1)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(posts[0].body.utf8)) as? [String: String])
        #expect(body["kind"] == "crash" && body["session"] == "scalper-paper.service" && body["message"] == "scalper-paper.service failed")
        let none = try await ScalperProcess.run(["alert", "--message", "x", "--home", dir.path("home")])
        #expect(none.status != 0 && none.stderr.contains("alerts.webhook_url is not set"), "\(none.stderr)")
    }

    @Test(
        "scalper backtest writes report.html: in headless Chromium with no console error, the trades of trades.csv, reliability bins with their counts, buy and hold beside equity ending at the metrics' return",
        .timeLimit(.minutes(10))
    )
    func backtestReport() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let run = try await ScalperProcess.run([
            "backtest", "--store", w.store, "--config", w.overlay, "--model", w.model, "--symbols", PaperWorkspace.symbols,
            "--from", "2023-09-01", "--to", "2023-09-15", "--runs-dir", w.dir.path("runs"), "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let folder = try #require(summary["run_path"] as? String)
        let trades = try String(contentsOfFile: folder + "/trades.csv", encoding: .utf8).split(separator: "\n").count - 1
        #expect(trades > 0)
        let browser = try await HeadlessChromium()
        defer { browser.close() }
        let (json, errors, png) = try await browser.withPage("file://" + folder + "/report.html") { page -> (String, [String], Data) in
            var json = "{}"
            for _ in 0..<600 {
                json = try await page.evaluate(
                    """
                    JSON.stringify(window.SCALPER_REPORT ? {
                      rows: document.querySelectorAll('#trades tbody tr').length,
                      points: document.querySelectorAll('#reliability circle').length,
                      labels: [...document.querySelectorAll('#reliability text')].map(t => t.textContent),
                      bins: window.SCALPER_REPORT.reliability,
                      equity: window.SCALPER_REPORT.equity.length,
                      hold: window.SCALPER_REPORT.buyAndHold,
                      metrics: Object.fromEntries(window.SCALPER_REPORT.metrics),
                      title: document.getElementById('session').textContent
                    } : {})
                    """
                ) as? String ?? "{}"
                // Rendered: the page's script sets the title, then draws everything in the same task.
                if json.contains(#""title":"Backtest "#) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            return (json, page.errors, try await page.screenshot())
        }
        #expect(errors.isEmpty, "console errors: \(errors)")
        let artifacts = Fixtures.packageRoot.appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        try png.write(to: artifacts.appendingPathComponent("backtest-report.png"))
        let page = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(page["rows"] as? Int == min(300, trades))
        let bins = page["bins"] as? [[String: Any]] ?? []
        let filled = bins.filter { ($0["count"] as? Int ?? 0) > 0 }
        #expect(bins.count == 10 && !filled.isEmpty && page["points"] as? Int == filled.count)
        // Every filled bin's count is written beside its point.
        let labels = Set(page["labels"] as? [String] ?? [])
        #expect(filled.allSatisfy { labels.contains(String($0["count"] as? Int ?? -1)) })
        // Buy and hold: one point per equity point, ending at the metrics' buy-and-hold return.
        let hold = page["hold"] as? [[String: Any]] ?? []
        let metrics = page["metrics"] as? [String: String] ?? [:]
        #expect(hold.count == page["equity"] as? Int)
        let capital = try #require(Double(metrics["starting_capital"] ?? ""))
        let holdReturn = try #require(Double(metrics["buy_and_hold_return"] ?? ""))
        let last = try #require(hold.last?["equity"] as? Double)
        #expect(abs(last / capital - 1 - holdReturn) < 1e-6, "\(last / capital - 1) vs \(holdReturn)")
        #expect((page["title"] as? String ?? "").hasPrefix("Backtest "))

        // A sweep's run folders get the page too, each with the same reliability (one model, one window).
        let sweep = try await ScalperProcess.run([
            "sweep", "--store", w.store, "--config", w.overlay, "--model", w.model, "--symbols", PaperWorkspace.symbols,
            "--from", "2023-09-01", "--to", "2023-09-08", "--runs-dir", w.dir.path("sweep"), "--param", "signals.min_probability=0.2:0.3:0.1",
        ])
        #expect(sweep.status == 0, "\(sweep.stderr)")
        // The run folders, not the sweep's own folder (status, progress, plots).
        let folders = try FileManager.default.contentsOfDirectory(atPath: w.dir.path("sweep")).filter {
            !$0.hasPrefix(".") && !$0.hasPrefix("runs.sqlite") && !FileManager.default.fileExists(atPath: w.dir.path("sweep/\($0)/status.json"))
        }
        #expect(folders.count == 2, "\(folders)")
        let reliabilities = try folders.map { folder -> NSArray in
            let html = try String(contentsOfFile: w.dir.path("sweep/\(folder)/report.html"), encoding: .utf8)
            // The data written into the page: `window.SCALPER_REPORT = {…};`.
            let start = try #require(html.range(of: "window.SCALPER_REPORT = ")).upperBound
            let end = try #require(html.range(of: ";\n</script>", range: start..<html.endIndex)).lowerBound
            let data = try #require(try JSONSerialization.jsonObject(with: Data(html[start..<end].utf8)) as? [String: Any])
            return try #require(data["reliability"] as? NSArray)
        }
        #expect(reliabilities.count == 2 && reliabilities[0] == reliabilities[1] && reliabilities[0].count == 10)
    }
}
