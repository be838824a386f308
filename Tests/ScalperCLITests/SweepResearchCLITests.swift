import Foundation
import ScalperTestSupport
import Testing

/// The sample in a store and a quick model trained on 2023-08-01 … 08-20.
private func workspace(_ dir: TemporaryDirectory) async throws -> (store: String, overlay: String, model: String) {
    let store = dir.path("m.sqlite")
    _ = try await ScalperProcess.run(["data", "import", "--store", store, "datasets/sample"])
    let overlay = dir.path("quick.yaml")
    try "model:\n  max_rounds: 40\n  early_stopping_rounds: 10\nsignals:\n  min_probability: 0.3\n  min_confidence: 0.0\n"
        .write(toFile: overlay, atomically: true, encoding: .utf8)
    let train = try await ScalperProcess.run([
        "train", "--store", store, "--config", overlay, "--symbols", "FILUSDT,NEARUSDT", "--from", "2023-08-01",
        "--to", "2023-08-20", "--name", "sw", "--models-dir", dir.path("models"),
    ])
    #expect(train.status == 0, "\(train.stderr)")
    return (store, overlay, dir.path("models/sw"))
}

private func json(_ path: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
}

@Suite("scalper sweep: Pareto champion, out of sample, robustness, progress and STOP", .serialized)
struct SweepResearchCLITests {
    @Test("A 24-combination sweep on real bars: the Pareto champion keeps its in-sample drawdown within --max-drawdown and is best among those that do, is judged out of sample in its own run, gets a DSR or says why not, and Monte Carlo bands; status.json ends done after 24 progress lines")
    func championWithinCap() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let w = try await workspace(dir)
        let runs = dir.path("runs")
        // In-sample drawdowns of this grid run from 6.4 % to 10 % (the kill switch): a cap of 8 % binds.
        let cap = 0.08
        let r = try await ScalperProcess.run([
            "sweep", "--store", w.store, "--config", w.overlay, "--model", w.model, "--symbols", "FILUSDT,NEARUSDT",
            "--from", "2023-08-20", "--to", "2023-10-01", "--out-of-sample-from", "2023-09-15",
            "--param", "min_probability=0.3:0.6:0.1", "--param", "take_profit_pct=0.002,0.004,0.006", "--param", "stop_loss_pct=0.002,0.003",
            "--max-drawdown", String(cap), "--runs-dir", runs, "--monte-carlo-paths", "500",
        ])
        #expect(r.status == 0, "\(r.stderr.suffix(3_000))")
        let folderLine = try #require(r.stderr.split(separator: "\n").first { $0.hasPrefix("sweep folder: ") })
        let folder = String(folderLine.dropFirst("sweep folder: ".count).prefix { $0 != " " })
        let status = try json("\(folder)/status.json")
        #expect(status["state"] as? String == "done" && status["done"] as? Int == 24 && status["total"] as? Int == 24)
        let progress = try String(contentsOfFile: "\(folder)/progress.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(progress.count == 24)

        // pareto.csv: index, three parameters, total_return, max_drawdown, trades, run_id, on_front, champion
        let rows = try String(contentsOfFile: "\(folder)/pareto.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.count == 24)
        let champions = rows.filter { $0[9] == "true" }
        let within = rows.filter { (Double($0[5]) ?? .infinity) <= cap }
        if let best = within.max(by: { Double($0[4])! < Double($1[4])! }) {
            let champion = try #require(champions.first)
            #expect(champions.count == 1)
            #expect(Double(champion[5])! <= cap)
            #expect(Double(champion[4])! == Double(best[4])!)
            #expect(champion[8] == "true", "the champion is on the front")
            let summary = try json("\(folder)/champion.json")
            let oos = try #require(summary["out_of_sample"] as? [String: Any])
            let oosRun = try #require(oos["run_id"] as? String)
            #expect(FileManager.default.fileExists(atPath: "\(runs)/\(oosRun)/trades.csv"))
            #expect(r.stdout.contains("out of sample, 2023-09-15 00:00 → 2023-10-01 00:00"))
            #expect(r.stdout.contains("deflated Sharpe ratio"))
            // The champion's grade: in champion.json and the output, stored with the out-of-sample
            // run (`runs show` prints it), while the in-sample combinations stay not graded.
            let grade = try #require(summary["grade"] as? [String: Any])
            let gradeSummary = try #require(grade["summary"] as? String)
            #expect(r.stdout.contains("  grade: \(gradeSummary)"))
            let show = try await ScalperProcess.run(["runs", "show", "--runs-dir", runs, oosRun])
            #expect(show.status == 0 && show.stdout.split(separator: "\n").contains { String($0) == "grade: \(gradeSummary)" }, "\(show.stdout)")
            #expect(show.stdout.contains("judged: sweep champion out of sample, 2023-09-15 00:00 → 2023-10-01 00:00"))
            let list = try await ScalperProcess.run(["runs", "list", "--runs-dir", runs])
            #expect(list.status == 0 && list.stdout.contains("grade not graded"))
            if (oos["trades"] as? Int ?? 0) > 0 {
                let bands = try #require((summary["monte_carlo"] as? [String: Any])?["bootstrap"] as? [String: Any])
                let ret = try #require(bands["total_return"] as? [String: Double])
                #expect(ret["p5"]! <= ret["p50"]! && ret["p50"]! <= ret["p95"]!)
                #expect(FileManager.default.fileExists(atPath: "\(folder)/montecarlo-bootstrap.svg"))
            }
        } else {
            #expect(champions.isEmpty)
            #expect(r.stdout.contains("champion: none"))
        }
        #expect(FileManager.default.fileExists(atPath: "\(folder)/pareto.svg"))
    }

    @Test("A STOP file in the sweep's folder stops it: no combination starts after it, at most one per core finishes, the table holds what ran, status.json says stopped and the output says so")
    func stopFile() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let w = try await workspace(dir)
        let process = try ScalperProcess.start([
            "sweep", "--store", w.store, "--config", w.overlay, "--model", w.model, "--symbols", "FILUSDT,NEARUSDT",
            "--from", "2023-08-20", "--to", "2023-10-01",
            "--param", "min_probability=0.30:0.79:0.01", "--param", "take_profit_pct=0.002,0.004",
            "--runs-dir", dir.path("runs"),
        ])
        // The folder is named on stderr once the predictions are ready.
        var folder: String?
        let deadline = ContinuousClock.now + .seconds(600)
        while folder == nil, ContinuousClock.now < deadline, process.isRunning {
            folder = process.errorSoFar.split(separator: "\n").first { $0.hasPrefix("sweep folder: ") }
                .map { String($0.dropFirst("sweep folder: ".count).prefix { $0 != " " }) }
            try await Task.sleep(for: .milliseconds(20))
        }
        let path = try #require(folder, "stderr: \(process.errorSoFar.suffix(2_000))")
        // Wait for the first finished combination, then ask it to stop.
        while ContinuousClock.now < deadline, process.isRunning,
            ((try? String(contentsOfFile: "\(path)/progress.jsonl", encoding: .utf8)) ?? "").isEmpty
        {
            try await Task.sleep(for: .milliseconds(10))
        }
        try Data().write(to: URL(fileURLWithPath: "\(path)/STOP"))
        let doneAtStop = ((try? String(contentsOfFile: "\(path)/progress.jsonl", encoding: .utf8)) ?? "").split(separator: "\n").count
        let r = try await process.wait()
        #expect(r.status == 0, "\(r.stderr.suffix(2_000))")
        let status = try json("\(path)/status.json")
        let done = try #require(status["done"] as? Int)
        #expect(status["state"] as? String == "stopped")
        #expect(status["total"] as? Int == 100)
        #expect(done >= doneAtStop && done <= doneAtStop + ProcessInfo.processInfo.activeProcessorCount, "\(done) done, \(doneAtStop) when STOP appeared")
        #expect(done < 100)
        #expect(r.stderr.contains("stopped by \(path)/STOP"))
        #expect(r.stderr.contains("swept \(done) of 100 combinations"))
    }
}
