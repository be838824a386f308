import Foundation
import Registry
import ScalperCore
import ScalperTestSupport
import Testing

/// `scalper retrain` on the bundled real data, as a user runs it.
@Suite("scalper retrain")
struct RetrainCLITests {
    /// `retrain` arguments over the workspace's store into `models`.
    private func arguments(_ w: PaperWorkspace, models: String, extra: [String] = []) -> [String] {
        ["retrain", "--store", w.store, "--models-dir", models, "--symbols", "FILUSDT,NEARUSDT", "--train", "40d", "--calibration", "7d", "--holdout", "7d"]
            + extra
    }

    @Test(
        "A whole cycle: FIL+NEAR 2023-08..09 → a first champion; FILUSDT 2023-10 imported → a decision with its evidence, NEAR named as left out",
        .timeLimit(.minutes(20))
    )
    func wholeCycle() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let models = w.dir.path("registry")

        let first = try await ScalperProcess.run(arguments(w, models: models))
        #expect(first.status == 0, "\(first.stderr.suffix(2_000))")
        #expect(first.stdout.contains("retrain: PROMOTED retrain-20231001T0000-"), "\(first.stdout)")
        let registry = try ModelRegistry(path: models + "/registry.sqlite")
        let champion = try #require(try registry.champion())
        #expect(champion.origin == .retrain)
        #expect(champion.symbols == "FILUSDT,NEARUSDT")
        let report = try #require(first.stdout.split(separator: "\n").first { $0.hasPrefix("report: ") }.map { String($0.dropFirst(8)) })
        let text = try String(contentsOfFile: report, encoding: .utf8)
        #expect(text.contains("| truncation | yes |") && text.contains("| canary | yes |") && text.contains("| auc_gap | yes |"))
        for file in ["evidence.json", "reliability.svg", "importance.svg"] {
            #expect(FileManager.default.fileExists(atPath: (report as NSString).deletingLastPathComponent + "/" + file), "\(file)")
        }

        let imported = try await ScalperProcess.run(["data", "import", "--store", w.store, "Tests/Fixtures/klines"])
        #expect(imported.status == 0, "\(imported.stderr)")
        let second = try await ScalperProcess.run(arguments(w, models: models))
        #expect(second.status == 0, "\(second.stderr.suffix(2_000))")
        #expect(second.stderr.contains("retrain 2") && second.stderr.contains("as of 2023-11-01 00:00"), "\(second.stderr.suffix(2_000))")
        // NEARUSDT ends 2023-09-30: it is left out of the calibration and holdout windows, by name.
        #expect(second.stderr.contains("NEARUSDT: no bars in the calibration window"))
        #expect(second.stderr.contains("NEARUSDT: no bars in the holdout window"))

        // The decision is recorded with its evidence: both models' holdout metrics, the test, the backtests.
        let decisions = try registry.decisions()
        let decision = try #require(decisions.last)
        #expect(decisions.count == 2)
        #expect(["promote", "reject"].contains(decision.kind))
        #expect(decision.previousChampion == champion.name)
        let evidence = try #require(try JSONSerialization.jsonObject(with: Data(decision.evidence.utf8)) as? [String: Any])
        let dm = try #require(evidence["diebold_mariano"] as? [String: Any])
        #expect((dm["p_value"] as? Double).map { $0 >= 0 && $0 <= 1 } == true)
        #expect((dm["lag"] as? Int).map { $0 >= 3 } == true)
        let championFigures = try #require(evidence["champion"] as? [String: Any])
        let challengerFigures = try #require(evidence["challenger"] as? [String: Any])
        #expect(championFigures["name"] as? String == champion.name)
        #expect((championFigures["backtest"] as? [String: Any])?["net_pnl"] is Double)
        #expect((challengerFigures["backtest"] as? [String: Any])?["net_pnl"] is Double)
        #expect((evidence["symbols"] as? [String: Any])?["holdout"] as? [String] == ["FILUSDT"])
        #expect((evidence["left_out"] as? [String])?.contains { $0.hasPrefix("NEARUSDT: no bars in the holdout window") } == true)
        let rules = (evidence["rules"] as? [[String: Any]])?.compactMap { $0["rule"] as? String } ?? []
        #expect(rules == ["truncation", "canary", "auc_gap", "log_loss_margin", "diebold_mariano", "backtest_pnl"])
        // The verdict line says which way it went, and `models list` shows it.
        #expect(second.stdout.contains(decision.kind == "promote" ? "retrain: PROMOTED" : "retrain: KEPT \(champion.name)"))
        let runs = try registry.runs()
        #expect(runs.count == 2 && runs.allSatisfy { ["promoted", "kept"].contains($0.status) })

        // --calibration-only: the champion's boosters, recalibrated on the newest calibration days,
        // deployed only if that beats the current calibration on the holdout after them.
        let before = try #require(try registry.champion())
        let recalibrated = try await ScalperProcess.run(arguments(w, models: models, extra: ["--calibration-only"]))
        #expect(recalibrated.status == 0, "\(recalibrated.stderr.suffix(2_000))")
        let entry = try #require(try registry.models().first { $0.name.hasPrefix("recal-") })
        #expect(entry.parent == before.name && entry.origin == .retrain)
        let boosters = try Data(contentsOf: URL(fileURLWithPath: entry.path + "/model.json"))
        #expect(boosters == (try Data(contentsOf: URL(fileURLWithPath: before.path + "/model.json"))))
        let verdict = try #require(recalibrated.stdout.split(separator: "\n").first { $0.hasPrefix("retrain: ") })
        let promoted = verdict.hasPrefix("retrain: PROMOTED \(entry.name) (\(before.name) recalibrated")
        #expect(promoted || verdict.hasPrefix("retrain: KEPT \(before.name)'s calibration"), "\(verdict)")
        #expect(try registry.champion()?.name == (promoted ? entry.name : before.name))
        #expect(try registry.decisions(about: entry.name).last?.kind == (promoted ? "promote" : "reject"))
        #expect(try registry.runs().first?.mode == "calibration-only")
        // NEARUSDT has no bar at all in those days: left out, by name.
        #expect(recalibrated.stderr.contains("retrain: NEARUSDT has no bars from 2023-10-17"), "\(recalibrated.stderr.prefix(2_000))")
    }

    @Test("SIGKILL during a retrain leaves the registry and the champion intact; the next run names the stale lock and proceeds", .timeLimit(.minutes(20)))
    func killDuringRetrain() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let models = w.dir.path("registry")
        // The first champion on the pairs a scanner picks from the store's 24 h before the as-of time.
        let first = try await ScalperProcess.run([
            "retrain", "--store", w.store, "--models-dir", models, "--from-scanner", "--as-of", "2023-10-01", "--train", "40d",
        ])
        #expect(first.status == 0, "\(first.stderr.suffix(2_000))")
        #expect(first.stderr.contains("--from-scanner picked FILUSDT, NEARUSDT") || first.stderr.contains("--from-scanner picked NEARUSDT, FILUSDT"), "\(first.stderr.prefix(2_000))")
        let registry = try ModelRegistry(path: models + "/registry.sqlite")
        let champion = try #require(try registry.champion()).name
        #expect(try registry.champion()?.symbols.split(separator: ",").sorted() == ["FILUSDT", "NEARUSDT"])

        var generator = SplitMix64(seed: UInt64(Date().timeIntervalSince1970))
        let running = try ScalperProcess.start(arguments(w, models: models))
        let deadline = ContinuousClock.now + .seconds(120)
        while !running.errorSoFar.contains(": retrain of FILUSDT+NEARUSDT"), running.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(running.isRunning, "the run ended before it could be killed: \(running.errorSoFar.suffix(1_000))")
        // A second job while the first holds the lock: refused, exit 4, naming the holder.
        let second = try await ScalperProcess.run(arguments(w, models: models))
        #expect(second.status == 4, "\(second.stderr)")
        #expect(second.stderr.contains("another retrain job holds the lock (pid \(running.pid)"), "\(second.stderr)")
        // Then a kill somewhere in the data, guard, training or judging stages.
        try await Task.sleep(for: .milliseconds(Int64.random(in: 100...4_000, using: &generator)))
        running.kill()
        let killed = try await running.wait()
        #expect(killed.killedBySignal)

        #expect(try registry.champion()?.name == champion)
        #expect(try registry.runs().contains { $0.status == "running" })
        let list = try await ScalperProcess.run(["models", "list", "--models-dir", models])
        #expect(list.status == 0 && list.stdout.contains("champion"), "\(list.stdout)\(list.stderr)")

        let next = try await ScalperProcess.run(arguments(w, models: models))
        #expect(next.status == 0, "\(next.stderr.suffix(2_000))")
        #expect(next.stderr.contains("a stale lock of pid \(running.pid)"), "\(next.stderr.suffix(2_000))")
        #expect(next.stderr.contains("never finished (its process ended); marked abandoned"))
        let runs = try registry.runs()
        #expect(runs.filter { $0.status == "abandoned" }.count == 1)
        #expect(runs.contains { ["promoted", "kept"].contains($0.status) && $0.startedAt > runs.first { $0.status == "abandoned" }!.startedAt })
        #expect(try registry.champion() != nil)
        // No half-written bundle is left behind.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: models).filter { $0.contains(".partial-") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test("A --model champion paper session swaps to a newly promoted champion mid-run; each trade names the model that opened it", .timeLimit(.minutes(20)))
    func championSwap() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let models = w.dir.path("models")
        // A second bundle beside `paper` (trained on later days), both registered by train.
        let train = try await ScalperProcess.run([
            "train", "--store", w.store, "--config", w.overlay, "--symbols", PaperWorkspace.symbols, "--from", "2023-08-10",
            "--to", "2023-09-05", "--name", "paper2", "--models-dir", models,
        ])
        #expect(train.status == 0, "\(train.stderr.suffix(2_000))")
        let promote = try await ScalperProcess.run(["models", "promote", "paper", "--models-dir", models])
        #expect(promote.status == 0, "\(promote.stderr)")

        let overlay = w.dir.path("swap.yaml")
        var text = try String(contentsOfFile: w.overlay, encoding: .utf8)
        text = text.replacingOccurrences(of: "model:\n", with: "model:\n  models_dir: \(models)\n")
        text = text.replacingOccurrences(of: "timing:\n", with: "timing:\n  champion_poll_seconds: 0.1\n")
        try text.write(toFile: overlay, atomically: true, encoding: .utf8)
        let (exchange, port) = try await w.exchange(extra: ["--lock-step-min-interval-ms", "40"])
        defer { exchange.kill() }
        var arguments = w.paperArguments(session: "swap", port: port, minutes: 360)
        arguments[try #require(arguments.firstIndex(of: w.overlay))] = overlay
        arguments[try #require(arguments.firstIndex(of: w.model))] = "champion"
        let session = try ScalperProcess.start(arguments)
        // Promote paper2 once the session has decided two hours.
        let deadline = ContinuousClock.now + .seconds(300)
        while session.isRunning, ContinuousClock.now < deadline {
            let minutes = session.outputSoFar.split(separator: "\n").last.flatMap { line in
                line.firstMatch(of: /"minutes":(\d+)/).flatMap { Int($0.1) }
            }
            if let minutes, minutes >= 120 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(session.isRunning)
        let second = try await ScalperProcess.run(["models", "promote", "paper2", "--models-dir", models])
        #expect(second.status == 0, "\(second.stderr)")
        let result = try await session.wait()
        #expect(result.status == 0, "\(result.stderr.suffix(3_000))")

        let swap = try #require(result.stderr.split(separator: "\n").first { $0.contains("| paper | model swapped") }, "\(result.stderr.suffix(3_000))")
        #expect(swap.contains("from=paper ") && swap.contains("to=paper2"), "\(swap)")
        let minute = try #require(swap.firstMatch(of: /minute=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)/).map { String($0.1) })
        #expect(minute > "2023-09-10T02:00:00Z" && minute < "2023-09-10T06:00:00Z", "\(minute)")
        // A signal decided at minute m enters at m + 1 min: entries up to the swap minute were
        // decided by `paper`, later ones by `paper2`.
        let rows = try w.tradeRows(session: "swap")
        let before = rows.filter { $0[0] <= minute }
        let after = rows.filter { $0[0] > minute }
        #expect(!before.isEmpty && !after.isEmpty, "\(rows.map { "\($0[0]) \($0.last ?? "")" })")
        #expect(before.allSatisfy { $0.last == "paper" }, "\(before.map { "\($0[0]) \($0.last ?? "")" })")
        #expect(after.allSatisfy { $0.last == "paper2" }, "\(after.map { "\($0[0]) \($0.last ?? "")" })")
        let status = try #require(PaperWorkspace.summary(result)?["status"] as? [String: Any])
        #expect(status["model"] as? String == "paper2")
        // The session beat for the model deciding now.
        let show = try await ScalperProcess.run(["models", "show", "paper2", "--models-dir", models])
        #expect(show.stdout.contains("  used by session swap, last beat "), "\(show.stdout)")
    }

    @Test("A session over a drift threshold logs it at WARNING and leaves a retrain request, which brings a --every loop's run forward", .timeLimit(.minutes(20)))
    func driftRequest() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let overlay = w.dir.path("drift.yaml")
        try (String(contentsOfFile: w.overlay, encoding: .utf8) + "\nretrain:\n  psi_warning: 0.01\n  live_ece_warning: 0.001\n  retrain_on_drift: true\n")
            .write(toFile: overlay, atomically: true, encoding: .utf8)
        let (exchange, port) = try await w.exchange()
        defer { exchange.kill() }
        var arguments = w.paperArguments(session: "drift", port: port, minutes: 240)
        arguments[try #require(arguments.firstIndex(of: w.overlay))] = overlay
        let result = try await ScalperProcess.run(arguments)
        #expect(result.status == 0, "\(result.stderr.suffix(2_000))")
        let log = result.stderr.split(separator: "\n")
        let stats = try #require(log.last { $0.contains("| paper | Stats:") })
        #expect(stats.contains("psi_max=") && stats.contains("live_ece=") && stats.contains("live_n="), "\(stats)")
        let warning = try #require(log.first { $0.contains("| WARNING | paper | model drift") }, "\(result.stderr.suffix(2_000))")
        #expect(warning.contains("model=paper") && warning.contains("PSI") && warning.contains("live ECE"), "\(warning)")
        // The status carries the same figures (the full-screen view shows them beside the model).
        let status = try #require(PaperWorkspace.summary(result)?["status"] as? [String: Any])
        #expect(status["drift_feature"] is String && status["drift_psi"] is Double, "\(status)")
        #expect(status["live_ece"] is Double && (status["live_realised"] as? Int).map { $0 >= 200 } == true, "\(status)")
        let request = w.dir.path("models/retrain.requested")
        let why = try String(contentsOfFile: request, encoding: .utf8)
        #expect(why.hasPrefix("session drift, model paper, "), "\(why)")

        // A --every loop sleeping until its next turn runs at once on the request (its runs fail
        // here, quickly: the store has no such symbol, which the loop logs and outlives).
        try FileManager.default.removeItem(atPath: request)
        let noCooldown = w.dir.path("loop.yaml")
        try "retrain:\n  drift_request_cooldown_hours: 0\n".write(toFile: noCooldown, atomically: true, encoding: .utf8)
        let loop = try ScalperProcess.start([
            "retrain", "--store", w.store, "--config", noCooldown, "--models-dir", w.dir.path("models"), "--symbols", "NOPEUSDT", "--every", "30d",
        ])
        defer { loop.kill() }
        let deadline = ContinuousClock.now + .seconds(60)
        while !loop.errorSoFar.contains("retrain: next run"), loop.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(loop.errorSoFar.contains("error: the store has no 1m bars of NOPEUSDT"), "\(loop.errorSoFar)")
        try "session drift, model paper: test\n".write(toFile: request, atomically: true, encoding: .utf8)
        while !loop.errorSoFar.contains("run brought forward"), loop.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(loop.errorSoFar.contains("retrain: run brought forward by \(request): session drift, model paper: test"), "\(loop.errorSoFar)")
        while loop.errorSoFar.components(separatedBy: "retrain: next run").count < 3, loop.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(loop.isRunning)
        #expect(!FileManager.default.fileExists(atPath: request))
    }

    @Test("scalper walk-forward over FILUSDT 2023-08..10 (30d/7d/7d): eight windows, each trained through the pipeline and registered with origin walk-forward, backtested in and out of sample as runs; the table, both efficiencies, the verdict, every window's model and runs, and the grade runs show prints for them", .timeLimit(.minutes(20)))
    func walkForwardTrades() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let imported = try await ScalperProcess.run([
            "data", "import", "--store", w.store, Fixtures.bundled.appendingPathComponent("klines/FILUSDT-1m-2023-10.zip").path,
        ])
        #expect(imported.status == 0, "\(imported.stderr)")
        let (models, runs) = (w.dir.path("wf"), w.dir.path("runs"))
        let r = try await ScalperProcess.run([
            "walk-forward", "--store", w.store, "--config", w.overlay, "--symbols", "FILUSDT", "--from", "2023-08-01", "--to", "2023-11-01",
            "--train", "30d", "--test", "7d", "--step", "7d", "--models-dir", models, "--runs-dir", runs, "--name", "wf",
        ])
        #expect(r.status == 0, "\(r.stderr.suffix(2_000))")
        let names = (1...8).map { "wf-w\($0)" }
        let registry = try ModelRegistry(path: models + "/registry.sqlite")
        let entries = try registry.models()
        #expect(Set(entries.map(\.name)) == Set(names))
        #expect(entries.allSatisfy { $0.origin == .walkForward && $0.status == .candidate })
        let first = try #require(entries.first { $0.name == "wf-w1" })
        #expect(first.windowFrom == "2023-08-01T00:00:00Z" && first.windowTo == "2023-08-31T00:00:00Z")
        // The table: one row per window, then the efficiencies, the verdict and the models with their runs.
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.range(of: #"^\s+\d+  2023-\d\d-\d\d → 2023-\d\d-\d\d  "#, options: .regularExpression) != nil }.count == 8)
        #expect(lines.contains { $0.hasPrefix("walk-forward efficiency: return ") && $0.contains(", Sharpe ") })
        #expect(lines.contains { $0.hasPrefix("verdict: ") })
        let listed = lines.filter { $0.hasPrefix("  w") }
        #expect(listed.count == 8)
        // The walk-forward's grade, stored with every out-of-sample run: runs show prints the same line.
        let gradeLine = try #require(lines.first { $0.hasPrefix("grade: ") })
        let outRun = try #require(listed.first.flatMap { $0.split(separator: " ").filter { $0.hasPrefix("20") }.last }.map(String.init))
        let show = try await ScalperProcess.run(["runs", "show", "--runs-dir", runs, outRun])
        #expect(show.stdout.split(separator: "\n").contains { String($0) == gradeLine }, "\(show.stdout)")
        #expect(show.stdout.contains("judged: walk-forward of 8 windows"))
        // Its folder: status.json done after 8 windows, one progress line each.
        let folderLine = try #require(r.stderr.split(separator: "\n").first { $0.hasPrefix("walk-forward folder: ") })
        let folder = String(folderLine.dropFirst("walk-forward folder: ".count).prefix { $0 != " " })
        let status = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/status.json"))) as? [String: Any])
        #expect(status["state"] as? String == "done" && status["done"] as? Int == 8 && status["total"] as? Int == 8)
        #expect(try String(contentsOfFile: "\(folder)/progress.jsonl", encoding: .utf8).split(separator: "\n").count == 8)
        // Every listed run is in the runs database and on disk: 16 runs, in and out of sample.
        let database = try String(contentsOfFile: runs + "/runs.sqlite", encoding: .isoLatin1)
        for line in listed {
            let ids = line.split(separator: " ").filter { $0.hasPrefix("20") }.map { String($0.trimmingCharacters(in: CharacterSet(charactersIn: ","))) }
            #expect(ids.count == 2, "\(line)")
            for id in ids {
                #expect(FileManager.default.fileExists(atPath: "\(runs)/\(id)/trades.csv"), "\(id)")
                #expect(database.contains(id), "\(id) in runs.sqlite")
            }
        }
        let bad = try await ScalperProcess.run(["walk-forward", "--store", w.store, "--symbols", "FILUSDT", "--from", "2023-08-01", "--to", "2023-11-01", "--train", "30"])
        #expect(bad.status != 0 && bad.stderr.contains("--train '30' is not a duration like 30d or 12h"))
    }

    @Test("--download fetches what the store lacks up to --as-of, each series from its own market, then retrains", .timeLimit(.minutes(20)))
    func downloadThenRetrain() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        // A Vision mirror holding FILUSDT October 2023 (USDⓈ-M futures, the market the sample's series were stored for).
        let mirror = w.dir.url.appendingPathComponent("mirror")
        let folder = mirror.appendingPathComponent("data/futures/um/monthly/klines/FILUSDT/1m")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for file in ["FILUSDT-1m-2023-10.zip", "FILUSDT-1m-2023-10.zip.CHECKSUM"] {
            try FileManager.default.copyItem(
                at: Fixtures.bundled.appendingPathComponent("klines/\(file)"),
                to: folder.appendingPathComponent(file)
            )
        }
        let server = LocalBinanceServer(series: [:], visionRoot: mirror)
        let (store, models, config, cache) = (w.store, w.dir.path("registry"), w.dir.path("download.yaml"), w.dir.path("cache"))
        let result = try await server.run { base in
            try "download:\n  vision_base_url: \(base.absoluteString)\n  cache_dir: \(cache)\n".write(toFile: config, atomically: true, encoding: .utf8)
            return try await ScalperProcess.run([
                "retrain", "--store", store, "--config", config, "--models-dir", models, "--symbols", "FILUSDT,NEARUSDT", "--train", "40d",
                "--download", "--as-of", "2023-11-01",
            ])
        }
        #expect(result.status == 0, "\(result.stderr.suffix(2_000))")
        #expect(result.stderr.contains("retrain: --download FILUSDT (futures-um): 44640 new bars up to 2023-11-01 00:00"), "\(result.stderr.prefix(3_000))")
        // The mirror has no NEARUSDT October: named, and the run goes on without it where it lacks bars.
        #expect(result.stderr.contains("warning: retrain: --download NEARUSDT (futures-um) failed, going on with what the store has"))
        #expect(result.stderr.contains("as of 2023-11-01 00:00"))
        #expect(result.stderr.contains("NEARUSDT: no bars in the holdout window"))
        #expect(result.stdout.contains("retrain: PROMOTED") || result.stdout.contains("retrain: REJECTED"), "\(result.stdout)")
    }
}
