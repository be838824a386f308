import Foundation
import Registry
import ScalperTestSupport
import Testing

/// The sample in a store, a quick model trained on 2023-08-01 … 08-15, and one store copy per worker.
private func queueWorkspace(_ dir: TemporaryDirectory, workers: Int) async throws -> (store: String, overlay: String, model: String, copies: [String]) {
    let store = dir.path("m.sqlite")
    _ = try await ScalperProcess.run(["data", "import", "--store", store, "datasets/sample"])
    let overlay = dir.path("quick.yaml")
    try "model:\n  max_rounds: 30\n  early_stopping_rounds: 10\nsignals:\n  min_probability: 0.3\n  min_confidence: 0.0\n"
        .write(toFile: overlay, atomically: true, encoding: .utf8)
    let train = try await ScalperProcess.run([
        "train", "--store", store, "--config", overlay, "--symbols", "FILUSDT,NEARUSDT", "--from", "2023-08-01",
        "--to", "2023-08-15", "--name", "q", "--models-dir", dir.path("models"),
    ])
    #expect(train.status == 0, "\(train.stderr)")
    // Each worker reads its own copy of the market data, as on separate machines.
    var copies: [String] = []
    for i in 0..<workers {
        let copy = dir.path("worker\(i).sqlite")
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: store + suffix) {
            try FileManager.default.copyItem(atPath: store + suffix, toPath: copy + suffix)
        }
        copies.append(copy)
    }
    return (store, overlay, dir.path("models/q"), copies)
}

/// Every run folder under `root` keyed by its settings (config.json's "settings", keys sorted):
/// the bytes of its metrics.csv and trades.csv.
private func runsBySettings(_ root: String) throws -> [String: String] {
    var out: [String: String] = [:]
    for id in try FileManager.default.contentsOfDirectory(atPath: root) where !id.hasPrefix(".") {
        let config = "\(root)/\(id)/config.json"
        guard FileManager.default.fileExists(atPath: config) else { continue }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as? [String: Any])
        let settings = try JSONSerialization.data(withJSONObject: try #require(object["settings"]), options: [.sortedKeys])
        let key = String(decoding: settings, as: UTF8.self)
        let metrics = try String(contentsOfFile: "\(root)/\(id)/metrics.csv", encoding: .utf8)
        let trades = try String(contentsOfFile: "\(root)/\(id)/trades.csv", encoding: .utf8)
        #expect(out[key] == nil, "two runs with the same settings in \(root)")
        out[key] = metrics + "\n--\n" + trades
    }
    return out
}

private let grid = ["--param", "min_probability=0.3:0.6:0.1", "--param", "take_profit_pct=0.002,0.004,0.006", "--param", "stop_loss_pct=0.002,0.003"]

/// The batch id a `sweep --queue` printed.
private func batchID(_ stdout: String) throws -> String {
    let line = try #require(stdout.split(separator: "\n").first { $0.hasPrefix("queued ") })
    return String(line.dropFirst("queued ".count).prefix { $0 != " " && $0 != ":" })
}

@Suite("scalper sweep --queue and scalper worker on PostgreSQL", .serialized)
struct QueueCLITests {
    @Test("24 combinations queued, run by 3 worker processes with their own store copies: every run's metrics.csv and trades.csv equal those of the same sweep in one process")
    func threeWorkersEqualOneProcess() async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let w = try await queueWorkspace(dir, workers: 3)
        let window = ["--symbols", "FILUSDT,NEARUSDT", "--from", "2023-08-20", "--to", "2023-09-01"]
        let local = try await ScalperProcess.run(
            ["sweep", "--store", w.store, "--config", w.overlay, "--model", w.model, "--runs-dir", dir.path("local")] + window + grid
        )
        #expect(local.status == 0, "\(local.stderr.suffix(2_000))")
        let queued = try await ScalperProcess.run(
            ["sweep", "--store", w.store, "--config", w.overlay, "--model", w.model, "--queue", "--runs-db", server.url] + window + grid
        )
        #expect(queued.status == 0, "\(queued.stderr.suffix(2_000))")
        let id = try batchID(queued.stdout)
        #expect(queued.stdout.contains("24 jobs"))
        let workers = try w.copies.enumerated().map { i, copy in
            try ScalperProcess.start(["worker", "--runs-db", server.url, "--store", copy, "--batch", id, "--name", "w\(i + 1)"])
        }
        for worker in workers {
            let r = try await worker.wait()
            #expect(r.status == 0, "\(r.stderr.suffix(2_000))")
        }
        let results = try await ScalperProcess.run(["queue", "results", id, "--runs-db", server.url, "--runs-dir", dir.path("queued"), "--top", "24"])
        #expect(results.status == 0, "\(results.stderr.suffix(2_000))")
        #expect(results.stderr.contains("24 of 24 combinations have a result"))
        // The same Pareto front and champion as the sweep in one process.
        func frontLine(_ out: String) -> String? { out.split(separator: "\n").first { $0.hasPrefix("Pareto front (whole window): ") }.map(String.init) }
        func championValues(_ out: String) -> String? {
            out.split(separator: "\n").first { $0.hasPrefix("champion (no drawdown cap): ") }
                .map { String($0.dropFirst("champion (no drawdown cap): ".count)).components(separatedBy: " — ")[0] }
        }
        #expect(frontLine(results.stdout) != nil && frontLine(results.stdout) == frontLine(local.stdout), "\(results.stdout)")
        #expect(championValues(results.stdout) != nil && championValues(results.stdout) == championValues(local.stdout), "\(local.stdout)")
        let mine = try runsBySettings(dir.path("local"))
        let theirs = try runsBySettings(dir.path("queued"))
        #expect(mine.count == 24 && theirs.count == 24)
        #expect(Set(mine.keys) == Set(theirs.keys))
        for (key, value) in mine { #expect(theirs[key] == value, "settings \(key)") }
        let status = try await ScalperProcess.run(["queue", "status", id, "--runs-db", server.url])
        #expect(status.stdout.contains("24/24 done, 0 running, 0 queued, 0 failed; 24 results stored") && status.stdout.contains("finished"))
        // The workers recorded each combination's run in the shared runs database as they went.
        let shared = try await ScalperProcess.run(["runs", "list", "--runs-db", server.url])
        #expect(shared.status == 0, "\(shared.stderr)")
        #expect(Set(shared.stdout.split(separator: "\n").filter { $0.hasPrefix("\(id)-j") }.map { $0.split(separator: " ")[0] }) == Set((1...24).map { "\(id)-j\($0)" }))
    }

    @Test("A sweep queued with --out-of-sample-from and --max-drawdown, once finished: queue results judges the champion out of sample as the same sweep run here does (champion, out-of-sample figures, DSR, Monte Carlo bands, grade), and the graded run is in the shared runs database")
    func queuedSweepJudgedOutOfSample() async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let w = try await queueWorkspace(dir, workers: 1)
        let args = ["--config", w.overlay, "--model", w.model, "--symbols", "FILUSDT,NEARUSDT", "--from", "2023-08-20", "--to", "2023-09-01",
                    "--out-of-sample-from", "2023-08-28", "--max-drawdown", "0.5", "--monte-carlo-paths", "500",
                    "--param", "min_probability=0.3,0.4", "--param", "take_profit_pct=0.004,0.006"]
        let local = try await ScalperProcess.run(["sweep", "--store", w.store, "--runs-dir", dir.path("local")] + args)
        #expect(local.status == 0, "\(local.stderr.suffix(2_000))")
        let queued = try await ScalperProcess.run(["sweep", "--store", w.store, "--queue", "--runs-db", server.url] + args)
        #expect(queued.status == 0, "\(queued.stderr.suffix(2_000))")
        let id = try batchID(queued.stdout)
        let worker = try await ScalperProcess.run(["worker", "--runs-db", server.url, "--store", w.copies[0], "--batch", id])
        #expect(worker.status == 0, "\(worker.stderr.suffix(2_000))")
        let results = try await ScalperProcess.run(
            ["queue", "results", id, "--runs-db", server.url, "--store", w.copies[0], "--config", w.overlay, "--runs-dir", dir.path("queued")]
        )
        #expect(results.status == 0, "\(results.stderr.suffix(2_000))")
        // From the champion on, both print the same lines but for the run ids.
        func judgement(_ out: String) -> [String] {
            let lines = out.split(separator: "\n").map(String.init)
            guard let start = lines.firstIndex(where: { $0.hasPrefix("champion (") }) else { return [] }
            return lines[start...].map { $0.replacingOccurrences(of: #"\d{4}-\d\d-\d\d_\d{4}_[A-Za-z0-9=._-]+"#, with: "RUN", options: .regularExpression) }
        }
        let mine = judgement(local.stdout)
        #expect(mine.contains { $0.hasPrefix("  out of sample, 2023-08-28") } && mine.contains { $0.contains("grade: ") || $0.hasPrefix("  grade") })
        #expect(judgement(results.stdout) == mine, "\(results.stdout)")
        // The graded out-of-sample run, read back from the shared runs database.
        let outLine = try #require(results.stdout.split(separator: "\n").first { $0.hasPrefix("  out of sample, ") })
        let outRun = try #require(outLine.components(separatedBy: " — run ").last)
        let show = try await ScalperProcess.run(["runs", "show", outRun, "--runs-db", server.url])
        #expect(show.status == 0 && show.stdout.contains("judged: sweep champion out of sample"), "\(show.stdout) \(show.stderr)")
    }

    @Test("A worker killed (SIGKILL) holding a computed, unstored job: after the timeout another worker requeues and finishes it; 24 results, none missing or twice")
    func killedWorkerRequeued() async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let w = try await queueWorkspace(dir, workers: 2)
        let queued = try await ScalperProcess.run(
            ["sweep", "--store", w.store, "--config", w.overlay, "--model", w.model, "--queue", "--runs-db", server.url,
             "--symbols", "FILUSDT,NEARUSDT", "--from", "2023-08-20", "--to", "2023-08-27"] + grid
        )
        #expect(queued.status == 0, "\(queued.stderr.suffix(2_000))")
        let id = try batchID(queued.stdout)
        // The first worker dies at its third job, after computing it and before storing it.
        let doomed = try await ScalperProcess.run(
            ["worker", "--runs-db", server.url, "--store", w.copies[0], "--batch", id, "--name", "doomed"],
            environment: ["SCALPER_FAULT": "worker-before-complete@3"]
        )
        #expect(doomed.status != 0 && doomed.stderr.contains("fault point worker-before-complete@3: SIGKILL"))
        let held = try await ScalperProcess.run(["queue", "status", id, "--runs-db", server.url])
        #expect(held.stdout.contains("2/24 done, 1 running, 21 queued") && held.stdout.contains("running on doomed"), "\(held.stdout)")
        let rescuer = try await ScalperProcess.run(
            ["worker", "--runs-db", server.url, "--store", w.copies[1], "--batch", id, "--name", "rescuer", "--stale-after", "2", "--heartbeat", "0.5"]
        )
        #expect(rescuer.status == 0, "\(rescuer.stderr.suffix(2_000))")
        #expect(rescuer.stdout.contains("worker rescuer: 22 jobs done"))
        let results = try await ScalperProcess.run(["queue", "results", id, "--runs-db", server.url, "--top", "24"])
        // The ranked table: the lines before the Pareto front's blank line.
        let rows = results.stdout.components(separatedBy: "\n\n")[0].split(separator: "\n").dropFirst()
        #expect(rows.count == 24)
        #expect(rows.filter { $0.contains("doomed") }.count == 2 && rows.filter { $0.contains("rescuer") }.count == 22)
        let status = try await ScalperProcess.run(["queue", "status", id, "--runs-db", server.url])
        #expect(status.stdout.contains("24/24 done, 0 running, 0 queued, 0 failed; 24 results stored"), "\(status.stdout)")
    }

    @Test("Two users queue sweeps at once on one database: each batch holds only its own combinations and results; queue list shows both owners")
    func twoSweepsDoNotMix() async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let w = try await queueWorkspace(dir, workers: 2)
        let common = ["sweep", "--store", w.store, "--config", w.overlay, "--model", w.model, "--queue", "--runs-db", server.url,
                      "--symbols", "FILUSDT,NEARUSDT", "--from", "2023-08-20", "--to", "2023-08-24"]
        async let alice = ScalperProcess.run(common + ["--param", "take_profit_pct=0.002,0.004,0.006,0.008"], environment: ["USER": "alice"])
        async let bob = ScalperProcess.run(common + ["--param", "stop_loss_pct=0.001,0.002,0.003", "--param", "min_probability=0.3,0.4"], environment: ["USER": "bob"])
        let (a, b) = try await (alice, bob)
        #expect(a.status == 0 && b.status == 0, "\(a.stderr.suffix(1_000)) \(b.stderr.suffix(1_000))")
        let (idA, idB) = (try batchID(a.stdout), try batchID(b.stdout))
        #expect(idA != idB)
        let workers = try w.copies.enumerated().map { i, copy in
            try ScalperProcess.start(["worker", "--runs-db", server.url, "--store", copy, "--name", "w\(i + 1)"])
        }
        for worker in workers { #expect(try await worker.wait().status == 0) }
        let ra = try await ScalperProcess.run(["queue", "results", idA, "--runs-db", server.url, "--runs-dir", dir.path("a"), "--top", "50"])
        let rb = try await ScalperProcess.run(["queue", "results", idB, "--runs-db", server.url, "--runs-dir", dir.path("b"), "--top", "50"])
        #expect(ra.status == 0 && rb.status == 0, "\(ra.stderr.suffix(1_000)) \(rb.stderr.suffix(1_000))")
        #expect(ra.stderr.contains("4 of 4 combinations") && rb.stderr.contains("6 of 6 combinations"))
        // Alice's runs differ only in take_profit_pct, Bob's only in stop_loss_pct and min_probability.
        func values(_ root: String, _ section: String, _ key: String) throws -> Set<Double> {
            var out = Set<Double>()
            for id in try FileManager.default.contentsOfDirectory(atPath: root) where !id.hasPrefix(".") && id != "runs.sqlite" {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(root)/\(id)/config.json"))) as? [String: Any])
                let settings = try #require(object["settings"] as? [String: Any])
                out.insert(try #require((settings[section] as? [String: Any])?[key] as? Double))
            }
            return out
        }
        #expect(try values(dir.path("a"), "signals", "take_profit_pct") == [0.002, 0.004, 0.006, 0.008])
        #expect(try values(dir.path("a"), "signals", "stop_loss_pct") == [0.003])
        #expect(try values(dir.path("b"), "signals", "stop_loss_pct") == [0.001, 0.002, 0.003])
        #expect(try values(dir.path("b"), "signals", "min_probability") == [0.3, 0.4])
        #expect(try values(dir.path("b"), "signals", "take_profit_pct") == [0.004])
        let list = try await ScalperProcess.run(["queue", "list", "--runs-db", server.url])
        #expect(list.stdout.contains(idA) && list.stdout.contains(idB) && list.stdout.contains("alice@") && list.stdout.contains("bob@"))
    }
}

@Suite("scalper walk-forward --queue on PostgreSQL", .serialized)
struct WalkForwardQueueCLITests {
    /// A walk-forward's JSON report without its run ids (a queued walk-forward's runs are named after its batch).
    private func report(_ stdout: String) throws -> [String: Any] {
        let line = try #require(stdout.split(separator: "\n").last)
        var object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let windows = try #require(object["windows"] as? [[String: Any]])
        object["windows"] = windows.map { w -> [String: Any] in
            var w = w
            for side in ["in_sample", "out_of_sample"] {
                var s = w[side] as? [String: Any] ?? [:]
                s["run_id"] = nil
                w[side] = s
            }
            return w
        }
        return object
    }

    @Test("Four walk-forward windows queued and run by 2 workers: the report (every window's trades, P&L, Sharpe, AUC, efficiencies, verdict) and each out-of-sample run's trades equal the walk-forward run in one process; models registered; collecting twice writes nothing twice")
    func queuedWalkForwardEqualsLocal() async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let w = try await queueWorkspace(dir, workers: 2)
        // One compute thread on both sides (a queued job trains with one).
        let overlay = dir.path("wf.yaml")
        try "model:\n  max_rounds: 30\n  early_stopping_rounds: 10\n  threads: 1\nsignals:\n  min_probability: 0.3\n  min_confidence: 0.0\nretrain:\n  calibration_days: 3\n"
            .write(toFile: overlay, atomically: true, encoding: .utf8)
        let args = ["--config", overlay, "--symbols", "FILUSDT,NEARUSDT", "--from", "2023-08-01", "--to", "2023-08-31", "--train", "10d", "--test", "5d", "--step", "5d", "--name", "wfq"]
        let local = try await ScalperProcess.run(
            ["walk-forward", "--store", w.store, "--models-dir", dir.path("local-models"), "--runs-dir", dir.path("local-runs"), "--json"] + args
        )
        #expect(local.status == 0, "\(local.stderr.suffix(2_000))")
        let queued = try await ScalperProcess.run(["walk-forward", "--store", w.store, "--queue", "--runs-db", server.url] + args)
        #expect(queued.status == 0, "\(queued.stderr.suffix(2_000))")
        #expect(queued.stdout.contains("4 jobs (walk-forward windows)"), "\(queued.stdout)")
        let id = try batchID(queued.stdout)
        let workers = try w.copies.enumerated().map { i, copy in
            try ScalperProcess.start(["worker", "--runs-db", server.url, "--store", copy, "--batch", id, "--name", "w\(i + 1)"])
        }
        for worker in workers {
            let r = try await worker.wait()
            #expect(r.status == 0, "\(r.stderr.suffix(2_000))")
        }
        let collect = ["queue", "results", id, "--runs-db", server.url, "--config", overlay, "--models-dir", dir.path("queued-models"), "--runs-dir", dir.path("queued-runs")]
        let collected = try await ScalperProcess.run(collect + ["--json"])
        #expect(collected.status == 0, "\(collected.stderr.suffix(2_000))")
        #expect(collected.stderr.contains("4 of 4 windows have a result"))
        let (mine, theirs) = (try report(local.stdout), try report(collected.stdout))
        #expect((mine["windows"] as? [Any])?.count == 4)
        #expect(NSDictionary(dictionary: mine).isEqual(to: theirs), "local \(mine)\nqueued \(theirs)")
        // Each window's out-of-sample trades, byte for byte.
        for n in 1...4 {
            let local = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.path("local-runs")).first { $0.hasSuffix("wfq-w\(n)-out-of-sample") })
            let a = try String(contentsOfFile: dir.path("local-runs/\(local)/trades.csv"), encoding: .utf8)
            let b = try String(contentsOfFile: dir.path("queued-runs/\(id)-w\(n)-out-of-sample/trades.csv"), encoding: .utf8)
            #expect(a == b, "window \(n)")
        }
        let registry = try ModelRegistry(path: dir.path("queued-models/registry.sqlite"))
        #expect(Set(try registry.models().map(\.name)) == Set((1...4).map { "wfq-w\($0)" }))
        // Collected again (as a table): the same runs, none written twice; the grade is printed.
        let again = try await ScalperProcess.run(collect)
        #expect(again.status == 0, "\(again.stderr.suffix(2_000))")
        #expect(again.stdout.contains("verdict: ") && again.stdout.split(separator: "\n").contains { $0.hasPrefix("grade: ") })
        let folders = try FileManager.default.contentsOfDirectory(atPath: dir.path("queued-runs")).filter { $0.hasPrefix(id) }
        #expect(folders.count == 8)
        let list = try await ScalperProcess.run(["runs", "list", "--runs-dir", dir.path("queued-runs")])
        #expect(list.stdout.split(separator: "\n").filter { $0.hasPrefix(id) }.count == 8)
        // The workers recorded the same runs in the shared runs database, and the grade went with
        // the out-of-sample ones: runs show prints it from there as from the local folder.
        let gradeLine = try #require(again.stdout.split(separator: "\n").first { $0.hasPrefix("grade: ") })
        for source in [["--runs-db", server.url], ["--runs-dir", dir.path("queued-runs")]] {
            let show = try await ScalperProcess.run(["runs", "show", "\(id)-w4-out-of-sample"] + source)
            #expect(show.status == 0 && show.stdout.split(separator: "\n").contains(gradeLine), "\(source[0]): \(show.stdout) \(show.stderr)")
        }
    }
}
