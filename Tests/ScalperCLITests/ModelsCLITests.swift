import Foundation
import ScalperTestSupport
import Testing

@Suite("scalper models: the registry train writes to")
struct ModelsCLITests {
    @Test("train registers each bundle as a candidate; promote, show, rollback and purge act on the registry and name it on bad input")
    func registryCommands() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = dir.path("m.sqlite")
        let models = dir.path("models")
        let overlay = dir.path("quick.yaml")
        try "model:\n  max_rounds: 20\n  early_stopping_rounds: 5\n".write(toFile: overlay, atomically: true, encoding: .utf8)
        #expect(try await ScalperProcess.run(["data", "import", "--store", store, "datasets/sample"]).status == 0)
        for (name, to) in [("aug", "2023-08-20"), ("sep", "2023-09-20")] {
            let train = try await ScalperProcess.run([
                "train", "--store", store, "--config", overlay, "--symbols", "FILUSDT,NEARUSDT", "--from", "2023-08-01", "--to", to,
                "--name", name, "--models-dir", models,
            ])
            #expect(train.status == 0, "\(train.stderr)")
            #expect(train.stdout.contains("registered as a candidate in \(models)/registry.sqlite"))
        }
        func list() async throws -> [[String: Any]] {
            let r = try await ScalperProcess.run(["models", "list", "--models-dir", models, "--json"])
            return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        }
        var entries = try await list()
        #expect(entries.compactMap { $0["name"] as? String } == ["sep", "aug"])
        #expect(entries.allSatisfy { $0["status"] as? String == "candidate" && $0["origin"] as? String == "train" })
        #expect(entries.first?["window_to"] as? String == "2023-09-20T00:00:00Z")

        #expect(try await ScalperProcess.run(["models", "promote", "aug", "--models-dir", models]).status == 0)
        let second = try await ScalperProcess.run(["models", "promote", "sep", "--models-dir", models, "--reason", "newer data"])
        #expect(second.stdout.contains("champion: sep (was aug, now retired)"))
        let show = try await ScalperProcess.run(["models", "show", "champion", "--models-dir", models])
        #expect(show.status == 0)
        #expect(show.stdout.hasPrefix("sep\n  status       champion (origin train)"))
        #expect(show.stdout.contains("promote sep (champion before: aug): newer data"))
        // The label it learnt, read from the bundle.
        #expect(show.stdout.contains("\n  label        forward_high: the high of the next 3 bars reaches close × (1 + 0.002)\n"), "\(show.stdout)")

        let back = try await ScalperProcess.run(["models", "rollback", "--models-dir", models])
        #expect(back.stdout.contains("champion: aug (was sep, now retired)"))
        entries = try await list()
        #expect(entries.first { $0["name"] as? String == "aug" }?["status"] as? String == "champion")

        let unknown = try await ScalperProcess.run(["models", "promote", "nope", "--models-dir", models])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("\(models)/registry.sqlite: no model named nope is registered"))

        // keep 0: everything but the champion goes, its folder too.
        let purge = try await ScalperProcess.run(["models", "purge", "--keep", "0", "--models-dir", models])
        #expect(purge.stdout.contains("purged 1: sep"))
        #expect(!FileManager.default.fileExists(atPath: "\(models)/sep") && FileManager.default.fileExists(atPath: "\(models)/aug"))
    }
}
