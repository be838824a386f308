import Foundation
import ScalperTestSupport
import Testing

/// The sample imported and a quick model trained on August 2023 (FILUSDT, NEARUSDT), made once per
/// test process: eight tests each importing and training in parallel kept two cores busy for minutes.
actor PaperBase {
    static let shared = PaperBase()
    private var task: Task<TemporaryDirectory, any Error>?

    /// The folder with `m.sqlite`, `paper.yaml` and `models/paper`, made on the first call.
    func prepared() async throws -> TemporaryDirectory {
        if let task { return try await task.value }
        let made = Task { try await Self.make() }
        task = made
        return try await made.value
    }

    private static func make() async throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory(prefix: "scalper-paper-base")
        let store = dir.path("m.sqlite")
        let overlay = dir.path("paper.yaml")
        let imported = try await ScalperProcess.run(["data", "import", "--store", store, "datasets/sample"])
        guard imported.status == 0 else { throw ScalperProcessError(message: "import failed: \(imported.stderr)") }
        // A low threshold so that a few hours trade often; quick training.
        try """
            model:
              max_rounds: 40
              early_stopping_rounds: 10
            signals:
              min_probability: 0.2
              min_confidence: 0.0
            timing:
              stats_every_minutes: 60
              refresh_seconds: 0.2
            """.write(toFile: overlay, atomically: true, encoding: .utf8)
        let train = try await ScalperProcess.run([
            "train", "--store", store, "--config", overlay, "--symbols", PaperWorkspace.symbols, "--from", "2023-08-01",
            "--to", "2023-09-01", "--name", "paper", "--models-dir", dir.path("models"),
        ])
        guard train.status == 0 else { throw ScalperProcessError(message: "train failed: \(train.stderr)") }
        return dir
    }
}

/// A workspace with the sample imported and a quick model trained on August 2023 (FILUSDT,
/// NEARUSDT); sessions replay September through `scalper exchange --lock-step`.
struct PaperWorkspace {
    let dir: TemporaryDirectory
    let store: String
    let overlay: String
    let model: String
    static let symbols = "FILUSDT,NEARUSDT"
    /// The replay starts here (the session's first tradable minute).
    static let from = "2023-09-10T00:00"

    /// A fresh folder holding a copy of the shared store and model (``PaperBase``), so that each test's
    /// sessions and settings are its own while the import and training run once per test process.
    init() async throws {
        let base = try await PaperBase.shared.prepared()
        dir = try TemporaryDirectory()
        store = dir.path("m.sqlite")
        overlay = dir.path("paper.yaml")
        model = dir.path("models/paper")
        let files = FileManager.default
        for suffix in ["", "-wal", "-shm"] where files.fileExists(atPath: base.path("m.sqlite\(suffix)")) {
            try files.copyItem(atPath: base.path("m.sqlite\(suffix)"), toPath: store + suffix)
        }
        try files.copyItem(atPath: base.path("paper.yaml"), toPath: overlay)
        try files.copyItem(atPath: base.path("models"), toPath: dir.path("models"))
    }

    /// Starts a lock-step exchange on a free port; returns it and its port.
    func exchange(
        symbols: String = Self.symbols,
        from: String = Self.from,
        step: String = "60",
        extra: [String] = []
    ) async throws -> (ScalperProcess, Int) {
        let process = try ScalperProcess.start(
            [
                "exchange", "--store", store, "--symbols", symbols, "--from", from, "--port", "0", "--lock-step",
                "--lock-step-step", step, "--lock-step-timeout", "600",
            ] + extra
        )
        let line = try await process.waitForLine(startingWith: "exchange: http://127.0.0.1:")
        let port = line.dropFirst("exchange: http://127.0.0.1:".count).prefix { $0.isNumber }
        guard let number = Int(port) else { throw ScalperProcessError(message: "no port in '\(line)'") }
        return (process, number)
    }

    /// `scalper paper` arguments for a session against the exchange on `port`.
    func paperArguments(session: String, port: Int, minutes: Int, exits: String = "bar", symbols: String = Self.symbols) -> [String] {
        [
            "paper", "--home", dir.path("home"), "--config", overlay, "--model", model, "--symbols", symbols,
            "--session", session, "--exits", exits, "--lock-step", "--duration", String(minutes * 60),
            "--rest-url", "http://127.0.0.1:\(port)", "--ws-url", "ws://127.0.0.1:\(port)", "--json",
        ]
    }

    /// The summary object: the last line of a `--json` session's standard output.
    static func summary(_ result: ScalperProcess.Result) -> [String: Any]? {
        result.stdout.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The session's trades.csv rows (without the header), split into fields.
    func tradeRows(session: String) throws -> [[String]] {
        try trades(session: session).split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    /// The session's trades.csv.
    func trades(session: String) throws -> String {
        try String(contentsOfFile: dir.path("home/sessions/\(session)/trades.csv"), encoding: .utf8)
    }
}

@Suite("scalper paper against the lock-step local exchange")
struct PaperCLITests {
    @Test(
        "Parity: paper --exits bar over a replayed window and scalper backtest of the same window give identical trades",
        .timeLimit(.minutes(10))
    )
    func parityWithBacktest() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let (exchange, port) = try await w.exchange()
        defer { exchange.kill() }
        let minutes = 240
        let paper = try await ScalperProcess.run(w.paperArguments(session: "parity", port: port, minutes: minutes))
        #expect(paper.status == 0, "\(paper.stderr.suffix(3_000))")
        let summary = try #require(
            paper.stdout.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        )
        #expect(summary["reason"] as? String == "duration")
        let status = try #require(summary["status"] as? [String: Any])
        #expect(status["minutes"] as? Int == minutes)

        let runs = w.dir.path("runs")
        let backtest = try await ScalperProcess.run([
            "backtest", "--store", w.store, "--config", w.overlay, "--model", w.model, "--symbols", PaperWorkspace.symbols,
            "--from", PaperWorkspace.from, "--to", "2023-09-10T04:00", "--runs-dir", runs, "--json",
        ])
        #expect(backtest.status == 0, "\(backtest.stderr)")
        let metrics = try #require(try JSONSerialization.jsonObject(with: Data(backtest.stdout.utf8)) as? [String: Any])
        let runID = try #require(metrics["run_id"] as? String)
        let expected = try String(contentsOfFile: "\(runs)/\(runID)/trades.csv", encoding: .utf8).split(separator: "\n")
        let session = try w.trades(session: "parity").split(separator: "\n")
        // The session's file has the backtest's columns plus the model's name.
        #expect(session.first == expected.first.map { $0 + ",model" })
        let sessionRows = session.dropFirst().map { String($0.split(separator: ",").dropLast().joined(separator: ",")) }
        #expect(sessionRows.count >= 5, "too few trades to compare: \(sessionRows.count)")
        #expect(sessionRows == expected.dropFirst().map(String.init))
        #expect(status["trades"] as? Int == sessionRows.count)

        // The report's own comparison says the same.
        let report = try await ScalperProcess.run([
            "paper", "report", "parity", "--home", w.dir.path("home"), "--store", w.store, "--config", w.overlay,
            "--vs-backtest", "--json",
        ])
        #expect(report.status == 0, "\(report.stderr)")
        let r = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        let comparison = try #require(r["comparison"] as? [String: Any])
        #expect(comparison["identical"] as? Bool == true)
        #expect((comparison["only_in_session"] as? [Any])?.isEmpty == true)
        #expect((comparison["matched"] as? [Any])?.count == sessionRows.count)

        // The log went to the rotating file in the seed's format, with a Stats: line.
        let log = try String(contentsOfFile: w.dir.path("home/logs/parity.log"), encoding: .utf8)
        #expect(log.contains(" | INFO | paper | Stats:"))
        #expect(log.contains(" | INFO | paper | signal "))
    }

    @Test(
        "Crash recovery in bar mode: 20 SIGKILLs (named points before a send, after a send, after a fill is stored, mid-snapshot, and seeded random moments), each restarted, end with exactly the trades of an uninterrupted run",
        .timeLimit(.minutes(15))
    )
    func crashRecovery() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        // Six hours. However fast the machine, twenty interrupted runs cannot finish it: a named kill
        // comes within five commits (one a minute) or at the first trade stored, and a random moment
        // comes within 450 ms of the start while the exchange steps at most once per 25 ms (≤ 18
        // minutes a run).
        let minutes = 360
        let (cleanExchange, cleanPort) = try await w.exchange()
        let clean = try await ScalperProcess.run(w.paperArguments(session: "clean", port: cleanPort, minutes: minutes))
        cleanExchange.kill()
        #expect(clean.status == 0, "\(clean.stderr.suffix(3_000))")

        let (exchange, port) = try await w.exchange(extra: ["--lock-step-min-interval-ms", "25"])
        defer { exchange.kill() }
        let arguments = w.paperArguments(session: "crashed", port: port, minutes: minutes)
        var random = SplitMix64(seed: 20_261_202)
        let named = ["before-send", "after-send", "after-fill-stored", "mid-snapshot"]
        var kills: [String] = []
        var outcome = "running"
        while kills.count < 20 {
            let k = kills.count
            let result: ScalperProcess.Result
            let what: String
            if k % 2 == 0 {
                // A named point, reached the n-th time in this run.
                let point = named[(k / 2) % named.count]
                let n = point == "after-fill-stored" ? 1 : 1 + Int(random.next() % 5)
                what = "\(point)@\(n)"
                result = try await ScalperProcess.run(arguments, environment: ["SCALPER_FAULT": what])
            } else {
                // A seeded random moment: startup, catch-up over REST or following the stream.
                let delay = 50 + Int(random.next() % 400)
                what = "random \(delay) ms"
                let process = try ScalperProcess.start(arguments)
                try await Task.sleep(for: .milliseconds(delay))
                process.kill()
                result = try await process.wait()
            }
            if result.killedBySignal && result.status == SIGKILL {
                kills.append(what)
            } else {
                outcome = "ended before kill \(k + 1) (\(what)): status \(result.status) \(result.stderr.suffix(2_000))"
                break
            }
        }
        #expect(kills.count == 20, "\(outcome); kills: \(kills)")
        print("crash recovery kills: \(kills.joined(separator: ", "))")
        let last = try await ScalperProcess.run(arguments)
        #expect(last.status == 0, "\(last.stderr.suffix(3_000))")
        let summary = try #require(
            last.stdout.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        )
        #expect((summary["status"] as? [String: Any])?["minutes"] as? Int == minutes)
        let expected = try w.trades(session: "clean")
        #expect(expected.split(separator: "\n").count > 5)
        #expect(try w.trades(session: "crashed") == expected)
    }

    @Test(
        "A feed whose connections the exchange drops every simulated hour reconnects, misses no closed bar and trades as an undisturbed session",
        .timeLimit(.minutes(10))
    )
    func reconnectsWithoutLoss() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let minutes = 240
        let (calm, calmPort) = try await w.exchange()
        let undisturbed = try await ScalperProcess.run(w.paperArguments(session: "calm", port: calmPort, minutes: minutes))
        calm.kill()
        #expect(undisturbed.status == 0, "\(undisturbed.stderr.suffix(2_000))")
        let (stormy, port) = try await w.exchange(extra: ["--forced-disconnect", "3600"])
        defer { stormy.kill() }
        let disturbed = try await ScalperProcess.run(w.paperArguments(session: "stormy", port: port, minutes: minutes))
        #expect(disturbed.status == 0, "\(disturbed.stderr.suffix(2_000))")
        let status = try #require(PaperWorkspace.summary(disturbed)?["status"] as? [String: Any])
        #expect((status["reconnects"] as? Int ?? 0) >= 2)
        #expect(status["minutes"] as? Int == minutes)
        #expect(disturbed.stderr.contains("kline stream closed"))
        #expect(try w.trades(session: "stormy") == w.trades(session: "calm"))
    }

    @Test(
        "--exits tick: stops and targets trigger on trade prints inside the minute, timeouts at exactly 300 s of event time",
        .timeLimit(.minutes(10))
    )
    func tickExits() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let (exchange, port) = try await w.exchange()
        defer { exchange.kill() }
        let result = try await ScalperProcess.run(w.paperArguments(session: "tick", port: port, minutes: 240, exits: "tick"))
        #expect(result.status == 0, "\(result.stderr.suffix(2_000))")
        #expect((PaperWorkspace.summary(result)?["status"] as? [String: Any])?["minutes"] as? Int == 240)
        let rows = try w.tradeRows(session: "tick")
        #expect(rows.count >= 5)
        // duration_sec is column 9, exit_reason column 10 (1-based).
        let inside = rows.filter { ["SL", "TP"].contains($0[9]) && (Double($0[8]) ?? 60) < 60 }
        #expect(!inside.isEmpty, "no stop or target within a minute of entry: \(rows.map { $0[8] + " " + $0[9] })")
        #expect(rows.filter { $0[9] == "TIMEOUT" }.allSatisfy { $0[8] == "300" })
    }

    @Test(
        "ctl pauses and resumes a running session through its store; SIGTERM stops it with positions closed and a summary",
        .timeLimit(.minutes(10))
    )
    func controlsAndSignals() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let (exchange, port) = try await w.exchange()
        defer { exchange.kill() }
        // Ten simulated days: far longer than the test runs.
        let session = try ScalperProcess.start(w.paperArguments(session: "ctl", port: port, minutes: 14_400, exits: "tick"))
        defer { session.kill() }
        func status() -> [String: Any]? {
            session.outputSoFar.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        func waitFor(_ what: String, _ condition: ([String: Any]) -> Bool) async throws {
            for _ in 0..<1_500 {
                if let s = status(), condition(s) { return }
                try await Task.sleep(for: .milliseconds(20))
            }
            Issue.record("timed out waiting for \(what); last status: \(String(describing: status()))")
        }
        try await waitFor("the first status") { ($0["minutes"] as? Int ?? 0) > 0 }
        let ctl = ["--home", w.dir.path("home")]
        let pause = try await ScalperProcess.run(["paper", "ctl", "ctl", "pause"] + ctl)
        #expect(pause.status == 0 && pause.stdout.contains("pause requested"), "\(pause.stderr)")
        try await waitFor("paused") { $0["paused"] as? Bool == true }
        let shown = try await ScalperProcess.run(["paper", "ctl", "ctl", "status", "--json"] + ctl)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
        #expect(object["paused"] as? Bool == true)
        #expect((object["pending_controls"] as? [String])?.isEmpty == true)
        let resume = try await ScalperProcess.run(["paper", "ctl", "ctl", "resume"] + ctl)
        #expect(resume.status == 0)
        try await waitFor("resumed") { $0["paused"] as? Bool == false }
        let bad = try await ScalperProcess.run(["paper", "ctl", "ctl", "explode"] + ctl)
        #expect(bad.status != 0 && bad.stderr.contains("must be status, pause, resume, reset-kill-switch or close-all"))
        let missing = try await ScalperProcess.run(["paper", "ctl", "nosuch", "status"] + ctl)
        #expect(missing.status != 0 && missing.stderr.contains("no session store here"))

        session.send(SIGTERM)
        let result = try await session.wait()
        #expect(result.status == 0, "\(result.stderr.suffix(2_000))")
        let summary = try #require(PaperWorkspace.summary(result))
        #expect(summary["reason"] as? String == "signal")
        #expect(summary["positions_closed"] as? Bool == true)
        let final = try #require(summary["status"] as? [String: Any])
        #expect((final["positions"] as? [Any])?.isEmpty == true)
        #expect((final["minutes"] as? Int ?? 0) < 14_400)
        #expect(try w.tradeRows(session: "ctl").count == final["trades"] as? Int)
        let log = try String(contentsOfFile: w.dir.path("home/logs/ctl.log"), encoding: .utf8)
        #expect(log.contains("control=pause") && log.contains("control=resume") && log.contains("session stopped"))
    }

    @Test("A session runs on config/small-account.yaml: 30 USDT, one position at a time", .timeLimit(.minutes(10)))
    func smallAccount() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let (exchange, port) = try await w.exchange()
        defer { exchange.kill() }
        var arguments = w.paperArguments(session: "small", port: port, minutes: 120)
        let at = try #require(arguments.firstIndex(of: "--config"))
        arguments[at + 1] = Fixtures.packageRoot.appendingPathComponent("config/small-account.yaml").path
        let result = try await ScalperProcess.run(arguments)
        #expect(result.status == 0, "\(result.stderr.suffix(2_000))")
        let status = try #require(PaperWorkspace.summary(result)?["status"] as? [String: Any])
        #expect(status["capital"] as? Double == 30)
        #expect(status["minutes"] as? Int == 120)
        let equity = try #require(status["equity"] as? Double)
        #expect(equity > 20 && equity < 40)
    }

    @Test("Bad input: a bundle of another feature version refuses to start naming both versions; bad options name themselves")
    func badInput() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let old = w.dir.path("models/old")
        try FileManager.default.copyItem(atPath: w.model, toPath: old)
        let metadata = old + "/metadata.json"
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: metadata))) as? [String: Any])
        let running = try #require(object["featureSpecVersion"] as? String)
        object["featureSpecVersion"] = "v0-old"
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: metadata))
        var arguments = w.paperArguments(session: "old", port: 9, minutes: 60)
        let at = try #require(arguments.firstIndex(of: "--model"))
        arguments[at + 1] = old
        let refused = try await ScalperProcess.run(arguments)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("v0-old") && refused.stderr.contains(running), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: w.dir.path("home/sessions/old")))

        let exits = try await ScalperProcess.run(w.paperArguments(session: "x", port: 9, minutes: 60, exits: "sideways"))
        #expect(exits.status != 0 && exits.stderr.contains("--exits 'sideways'"))
        let name = try await ScalperProcess.run(w.paperArguments(session: "../escape", port: 9, minutes: 60))
        #expect(name.status != 0 && name.stderr.contains("--session"))
        let unreachable = try await ScalperProcess.run(w.paperArguments(session: "nowhere", port: 9, minutes: 60))
        #expect(unreachable.status != 0 && unreachable.stderr.contains("http://127.0.0.1:9"))
    }

    @Test(
        "On a terminal the session draws a full-screen view (risk state, candidates against the threshold, positions, the last log lines) and ends with its summary",
        .timeLimit(.minutes(10))
    )
    func terminalView() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let (exchange, port) = try await w.exchange()
        defer { exchange.kill() }
        // util-linux `script` gives the session a pseudo-terminal for its standard output and error.
        let command = ([ScalperProcess.binary.path] + w.paperArguments(session: "tty", port: port, minutes: 90))
            .filter { $0 != "--json" }
            .map { "'\($0)'" }
            .joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", command, "/dev/null"]
        process.currentDirectoryURL = Fixtures.packageRoot
        process.environment = ProcessInfo.processInfo.environment.merging(["TERM": "xterm", "COLUMNS": "160"]) { $1 }
        let output = w.dir.path("tty.out")
        #expect(FileManager.default.createFile(atPath: output, contents: nil))
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                done.resume()
            }
        }
        #expect(process.terminationStatus == 0)
        let text = try String(contentsOfFile: output, encoding: .utf8)
        let parts = text.components(separatedBy: "\u{1B}[H")
        // Nothing is written outside the view before it is first drawn (the log lines go inside it).
        #expect(parts.first?.trimmingCharacters(in: .whitespacesAndNewlines) == "", "\(parts.first ?? "")")
        let screens = parts.dropFirst()
        let last = try #require(screens.last)
        #expect(last.contains("scalper paper · session tty · 2023-09-10 01:30"))
        #expect(last.contains("CANDIDATES  (calibrated p against the threshold 0.20; † outside the training set)"))
        #expect(last.contains("  FILUSDT ") && last.contains("  NEARUSDT "))
        #expect(last.contains("POSITIONS"))
        // The console's log lines are drawn inside the view, not over it.
        #expect(last.contains("LOG\u{1B}[K\r\n  2"))
        #expect(last.contains("| INFO | paper | signal ") || last.contains("| INFO | paper | exit "))
        #expect(text.contains("session tty ended (duration)"))
    }

    @Test(
        "Past trading.max_model_age_days a session makes no new entries and says so once; its registered model is marked in use",
        .timeLimit(.minutes(10))
    )
    func modelAgeAndHeartbeat() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        // Trained through 2023-09-01 00:00; the replay starts 2023-09-10 00:00 (9 days on), so a
        // limit of 9.1 days passes at 02:24 and the session runs to 04:00.
        let overlay = w.dir.path("aged.yaml")
        try (String(contentsOfFile: w.overlay, encoding: .utf8) + "\ntrading:\n  max_model_age_days: 9.1\n")
            .write(toFile: overlay, atomically: true, encoding: .utf8)
        let (exchange, port) = try await w.exchange()
        defer { exchange.kill() }
        var arguments = w.paperArguments(session: "aged", port: port, minutes: 240)
        let at = try #require(arguments.firstIndex(of: w.overlay))
        arguments[at] = overlay
        let result = try await ScalperProcess.run(arguments)
        #expect(result.status == 0, "\(result.stderr.suffix(2_000))")
        let log = result.stderr.split(separator: "\n")
        let expiry = log.filter { $0.contains("| WARNING | paper | model expired: no new entries") }
        #expect(expiry.count == 1)
        #expect(expiry.first?.contains("limit_days=9.1") == true && expiry.first?.contains("trained_through=2023-09-01T00:00:00Z") == true)
        // Signals came before 02:24 and none after (a signal's time is its minute's close).
        let signalTimes = log.filter { $0.contains("| INFO | paper | signal ") }.compactMap { line in
            line.firstMatch(of: /time=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)/).map { String($0.1) }
        }
        #expect(!signalTimes.isEmpty)
        #expect(signalTimes.allSatisfy { $0 <= "2023-09-10T02:24:00Z" }, "\(signalTimes)")
        let status = try #require(PaperWorkspace.summary(result)?["status"] as? [String: Any])
        #expect(status["model_expired"] as? Bool == true)

        // The bundle is registered in its folder's registry (train did it); the session beat for it.
        let show = try await ScalperProcess.run(["models", "show", "paper", "--models-dir", w.dir.path("models")])
        #expect(show.stdout.contains("  used by session aged, last beat "), "\(show.stdout)")
    }
}
