import Foundation
import ScalperTestSupport
import Testing

@Suite("scalper backtest --scoring")
struct ScoringCLITests {
    @Test("The compiled trees and XGBoost's C API give the same backtest on real September bars: trades.csv byte for byte and every metric; an unknown --scoring is refused")
    func treesAndXGBoostTradeAlike() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = dir.path("m.sqlite")
        let models = dir.path("models")
        _ = try await ScalperProcess.run(["data", "import", "--store", store, "datasets/sample"])
        let overlay = dir.path("quick.yaml")
        try "model:\n  max_rounds: 60\n  early_stopping_rounds: 10\nsignals:\n  min_probability: 0.3\n  min_confidence: 0.0\n"
            .write(toFile: overlay, atomically: true, encoding: .utf8)
        let train = try await ScalperProcess.run([
            "train", "--store", store, "--config", overlay, "--symbols", "FILUSDT,NEARUSDT", "--from", "2023-08-01",
            "--to", "2023-09-01", "--name", "s", "--models-dir", models,
        ])
        #expect(train.status == 0, "\(train.stderr)")
        var metrics: [[String: Any]] = []
        var trades: [String] = []
        for scoring in ["trees", "xgboost"] {
            let runs = dir.path("runs-\(scoring)")
            let r = try await ScalperProcess.run([
                "backtest", "--store", store, "--config", overlay, "--model", "\(models)/s", "--symbols", "FILUSDT,NEARUSDT",
                "--from", "2023-09-01", "--to", "2023-10-01", "--runs-dir", runs, "--json", "--scoring", scoring,
            ])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(!r.stderr.contains("scoring through XGBoost's C API:"), "the bundle compiles: \(r.stderr)")
            let m = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            let id = try #require(m["run_id"] as? String)
            metrics.append(m)
            trades.append(try String(contentsOfFile: "\(runs)/\(id)/trades.csv", encoding: .utf8))
        }
        let count = try #require(metrics[0]["trades"] as? Int)
        #expect(count > 20, "enough trades to compare")
        #expect(trades[0] == trades[1])
        // Every metric equal; the run's own keys (id, folder, speed) naturally differ.
        let runKeys: Set<String> = ["run_id", "run_path", "seconds", "bars_per_s", "replay_bars_per_s", "timings"]
        let names = Set(metrics[0].keys).subtracting(runKeys)
        #expect(!names.isEmpty && names == Set(metrics[1].keys).subtracting(runKeys))
        for name in names.sorted() {
            #expect(String(describing: metrics[0][name]!) == String(describing: metrics[1][name]!), "\(name)")
        }
        let bad = try await ScalperProcess.run([
            "backtest", "--store", store, "--model", "\(models)/s", "--symbols", "FILUSDT", "--from", "2023-09-01",
            "--to", "2023-09-02", "--scoring", "gpu",
        ])
        #expect(bad.status != 0 && bad.stderr.contains("--scoring must be one of trees, xgboost, not 'gpu'"))
    }
}
