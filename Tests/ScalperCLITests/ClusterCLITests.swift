import Foundation
import ScalperTestSupport
import Testing

/// `scalper cluster` on the bundled sample, as a user runs it.
@Suite("scalper cluster")
struct ClusterCLITests {
    @Test(
        "Three sample symbol-months and one not stored: a row per kept unit, the unstored one left out with its reason, and the k, members and ARIs printed match clusters.json and units.csv",
        .timeLimit(.minutes(10))
    )
    func threeUnits() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = dir.path("m.sqlite")
        let imported = try await ScalperProcess.run(["data", "import", "--store", store, "datasets/sample"])
        #expect(imported.status == 0, "\(imported.stderr)")
        let overlay = dir.path("quick.yaml")
        try "model:\n  max_rounds: 20\n  early_stopping_rounds: 5\nsignals:\n  min_confidence: 0.0\n"
            .write(toFile: overlay, atomically: true, encoding: .utf8)
        let out = dir.path("out")
        let r = try await ScalperProcess.run([
            "cluster", "--store", store, "--config", overlay,
            "--units", "FILUSDT:2023-08,NEARUSDT:2023-08,FILUSDT:2023-09,NEARUSDT:2023-10",
            "--grid", "min_probability=0.3,0.45", "--grid", "take_profit_pct=0.004,0.008", "--grid", "stop_loss_pct=0.003",
            "--grid", "timeout_seconds=300", "--min-trades", "1", "--k-max", "3", "--out", out,
        ])
        #expect(r.status == 0, "\(r.stderr.suffix(3_000))")
        let lines = r.stdout.split(separator: "\n").map(String.init)

        // units.csv: one row per unit asked for, kept or left out with a reason.
        let csv = try String(contentsOfFile: "\(out)/units.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        let header = csv[0].split(separator: ",").map(String.init)
        let rows = csv.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.count == 4)
        func column(_ name: String) throws -> Int { try #require(header.firstIndex(of: name), "\(name) in \(header)") }
        let statusColumn = try column("status")
        let missing = try #require(rows.first { $0[0] == "NEARUSDT" && $0[1] == "2023-10" })
        #expect(missing[statusColumn] == "left out")
        #expect(r.stdout.contains("NEARUSDT 2023-10 (0 bars): no bars stored for this month"))
        let kept = rows.filter { $0[statusColumn] == "kept" }
        #expect(kept.count == 3, "\(r.stdout)")
        for row in kept {
            let unit = "\(row[0]) \(row[1])"
            #expect(lines.contains { $0.hasPrefix(unit + " ") }, "a table row for \(unit)")
            #expect(FileManager.default.fileExists(atPath: "\(out)/models/\(row[0])-\(row[1])/metadata.json"))
        }

        // clusters.json against the printed clustering.
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(out)/clusters.json")))
        let clusters = try #require(object as? [String: Any])
        let k = try #require(clusters["k"] as? Int)
        #expect(k >= 1 && k <= 2)
        #expect(clusters["units_kept"] as? Int == 3)
        #expect(lines.contains { $0.hasPrefix("  k = \(k): ") }, "\(r.stdout)")
        let symbolARI = try #require(clusters["ari_symbol"] as? Double)
        let monthARI = try #require(clusters["ari_month"] as? Double)
        #expect(r.stdout.contains(String(format: "follows the symbol? ARI %.3f", symbolARI)))
        #expect(r.stdout.contains(String(format: "the period? ARI %.3f", monthARI)))
        #expect(r.stdout.contains("reading: "))
        // Three units allow k = 2 only, and only when they did not all choose the same values.
        let silhouettes = try #require(clusters["silhouettes"] as? [[String: Any]])
        let grid = ["signals.min_probability", "signals.take_profit_pct"]
        let chosen = try Set(kept.map { row in try grid.map { try row[column($0)] } })
        #expect(silhouettes.map { $0["k"] as? Int } == (chosen.count > 1 ? [2] : []))
        #expect(clusters["distinct_vectors"] as? Int == chosen.count)
        let leftOut = try #require(clusters["left_out"] as? [[String: Any]])
        #expect(leftOut.count == 1 && leftOut.first?["month"] as? String == "2023-10")

        // Each cluster's members are the kept units with that cluster in units.csv, and its
        // centroid is their mean chosen values.
        let list = try #require(clusters["clusters"] as? [[String: Any]])
        #expect(list.count == k)
        let clusterColumn = try column("cluster")
        let keys = ["signals.min_probability", "signals.take_profit_pct", "signals.stop_loss_pct", "execution.timeout_seconds"]
        for entry in list {
            let number = try #require(entry["cluster"] as? Int)
            let members = try #require(entry["members"] as? [[String: String]])
            let inCSV = kept.filter { $0[clusterColumn] == String(number) }
            #expect(Set(members.map { "\($0["symbol"] ?? "") \($0["month"] ?? "")" }) == Set(inCSV.map { "\($0[0]) \($0[1])" }))
            #expect(lines.contains { $0.hasPrefix("  cluster \(number) (\(members.count) units): centroid ") })
            let centroid = try #require(entry["centroid"] as? [String: Double])
            for key in keys {
                let values = try inCSV.map { try #require(Double($0[column(key)])) }
                let mean = values.reduce(0, +) / Double(values.count)
                #expect(abs((centroid[key] ?? .nan) - mean) <= 1e-9 * max(1, abs(mean)), "\(key) of cluster \(number)")
            }
        }
        // grid.csv: every kept unit's four combinations on validation, exactly one chosen each.
        let gridRows = try String(contentsOfFile: "\(out)/grid.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(gridRows.count == 3 * 4)
        #expect(gridRows.filter { $0.hasSuffix(",true") }.count == 3)
        let report = try String(contentsOfFile: "\(out)/report.md", encoding: .utf8)
        #expect(report.contains("## Clusters") && report.contains("k = \(k): "))
    }

    @Test(
        "Bad input is refused before any work, naming the flag",
        arguments: [
            (["--units", "FILUSDT-2023-08"], "--units"),
            (["--units", "FILUSDT:2023-13"], "--units"),
            (["--units", "FILUSDT:2023-08,FILUSDT:2023-08"], "given twice"),
            (["--units", "FILUSDT:2023-08", "--symbols", "FILUSDT"], "either --units or --symbols"),
            (["--symbols", "FILUSDT", "--months", "2023/08"], "--months"),
            (["--units", "FILUSDT:2023-08", "--split", "50/20/20"], "--split"),
            (["--units", "FILUSDT:2023-08", "--grid", "no_such_key=1,2"], "--grid"),
            (["--units", "FILUSDT:2023-08", "--k-max", "1"], "--k-max"),
        ]
    )
    func badInput(arguments: [String], named: String) async throws {
        let r = try await ScalperProcess.run(["cluster", "--store", "/nonexistent/none.sqlite"] + arguments)
        #expect(r.status != 0)
        #expect(r.stderr.contains(named), "\(r.stderr)")
    }
}
