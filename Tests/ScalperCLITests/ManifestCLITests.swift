import Foundation
import ScalperTestSupport
import Testing

@Suite("scalper runs export-manifest and paper --manifest")
struct ManifestCLITests {
    @Test(
        "A manifest exported from a tuned backtest run makes paper trade that run's model, symbols, capital and settings: over the same replayed window the session's trades are the run's, which differ from the config's own settings; a manifest with --model is refused, a damaged one names the key",
        .timeLimit(.minutes(10))
    )
    func paperTradesTheManifest() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let runs = w.dir.path("runs")
        // Settings the session's config does not have.
        let tuned = w.dir.path("tuned.yaml")
        try (try String(contentsOfFile: w.overlay, encoding: .utf8)
            + "\nrisk:\n  max_open_positions: 1\nexecution:\n  slippage_bps: 5.0\n")
            .write(toFile: tuned, atomically: true, encoding: .utf8)
        func backtest(_ config: String, capital: String) async throws -> (id: String, trades: [String]) {
            let r = try await ScalperProcess.run([
                "backtest", "--store", w.store, "--config", config, "--model", w.model, "--symbols", PaperWorkspace.symbols,
                "--from", PaperWorkspace.from, "--to", "2023-09-10T03:00", "--runs-dir", runs, "--capital", capital, "--json",
            ])
            #expect(r.status == 0, "\(r.stderr)")
            let m = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            let id = try #require(m["run_id"] as? String)
            let rows = try String(contentsOfFile: "\(runs)/\(id)/trades.csv", encoding: .utf8).split(separator: "\n").dropFirst().map(String.init)
            return (id, rows)
        }
        let chosen = try await backtest(tuned, capital: "5000")
        let plain = try await backtest(w.overlay, capital: "10000")
        #expect(chosen.trades.count >= 3, "enough trades to compare")
        #expect(chosen.trades != plain.trades, "the tuned settings trade differently")

        let export = try await ScalperProcess.run(["runs", "export-manifest", chosen.id, "--runs-dir", runs])
        #expect(export.status == 0, "\(export.stderr)")
        let manifest = export.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(manifest == "\(runs)/\(chosen.id)/manifest.json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: manifest))) as? [String: Any])
        #expect(object["source_run"] as? String == chosen.id)
        #expect((object["settings"] as? [String: Any])?["capital"] as? Double == 5000)

        let (exchange, port) = try await w.exchange()
        defer { exchange.kill() }
        var arguments = w.paperArguments(session: "manifest", port: port, minutes: 180)
        // The manifest replaces --model and --symbols.
        for flag in ["--model", "--symbols"] {
            let i = try #require(arguments.firstIndex(of: flag))
            arguments.removeSubrange(i...(i + 1))
        }
        let paper = try await ScalperProcess.run(arguments + ["--manifest", manifest])
        #expect(paper.status == 0, "\(paper.stderr.suffix(3_000))")
        #expect(paper.stderr.contains("manifest \(manifest): model paper, FILUSDT,NEARUSDT, settings of run \(chosen.id)"))
        let session = try w.trades(session: "manifest").split(separator: "\n").dropFirst()
            .map { String($0.split(separator: ",").dropLast().joined(separator: ",")) }
        #expect(session == chosen.trades)

        let both = try await ScalperProcess.run(["paper", "--manifest", manifest, "--model", w.model, "--home", w.dir.path("home")])
        #expect(both.status != 0 && both.stderr.contains("--manifest sets the model, symbols and capital: drop --model"))
        let broken = w.dir.path("broken.json")
        try String(contentsOfFile: manifest, encoding: .utf8).replacingOccurrences(of: "\"symbols\"", with: "\"symbol\"")
            .write(toFile: broken, atomically: true, encoding: .utf8)
        let bad = try await ScalperProcess.run(arguments + ["--manifest", broken, "--session", "broken"])
        #expect(bad.status != 0 && bad.stderr.contains("\(broken): key 'symbols' is missing"), "\(bad.stderr)")
    }
}
