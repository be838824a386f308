import Foundation
import ScalperTestSupport
import Testing

/// `$SCALPER_RUNS_DB` emptied, so the machine's own setting never picks the database.
private let noSharedDatabase = ["SCALPER_RUNS_DB": ""]

@Suite("scalper runs on PostgreSQL (--runs-db, runs.database_url) against SQLite")
struct RunsPostgresCLITests {
    @Test(
        "Two backtests recorded in SQLite and PostgreSQL: runs list, show and compare print the same from both; export-manifest and export-notebook work from another machine's empty runs folder"
    )
    func samePrintoutAsSQLite() async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = dir.path("m.sqlite")
        let runs = dir.path("runs")
        _ = try await ScalperProcess.run(["data", "import", "--store", store, "datasets/sample"])
        let overlay = dir.path("quick.yaml")
        try
            "model:\n  max_rounds: 20\n  early_stopping_rounds: 5\nsignals:\n  min_probability: 0.3\n  min_confidence: 0.0\n"
            .write(toFile: overlay, atomically: true, encoding: .utf8)
        let train = try await ScalperProcess.run([
            "train", "--store", store, "--config", overlay, "--symbols", "FILUSDT,NEARUSDT", "--from", "2023-08-01",
            "--to", "2023-08-12", "--name", "pg", "--models-dir", dir.path("models"),
        ])
        #expect(train.status == 0, "\(train.stderr)")
        // The second run changes a setting through runs.database_url's own file: a parameter that differs.
        let other = dir.path("other.yaml")
        try
            "model:\n  max_rounds: 20\nsignals:\n  min_probability: 0.3\n  min_confidence: 0.0\n  take_profit_pct: 0.006\nruns:\n  database_url: \(server.url)\n"
            .write(toFile: other, atomically: true, encoding: .utf8)
        var ids: [String] = []
        for (symbols, settings) in [
            (["FILUSDT"], ["--config", overlay, "--runs-db", server.url]),
            (["FILUSDT", "NEARUSDT"], ["--config", other]),
        ] {
            let r = try await ScalperProcess.run(
                [
                    "backtest", "--store", store, "--model", dir.path("models/pg"), "--symbols",
                    symbols.joined(separator: ","), "--from", "2023-08-14",
                    "--to", "2023-08-18", "--runs-dir", runs, "--json",
                ] + settings,
                environment: noSharedDatabase
            )
            #expect(r.status == 0, "\(r.stderr.suffix(2_000))")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            ids.append(try #require(object["run_id"] as? String))
        }
        let (a, b) = (ids[0], ids[1])
        let commands = [["list"], ["show", a], ["show", b], ["compare", a, b]]
        for command in commands {
            let local = try await ScalperProcess.run(
                ["runs"] + command + ["--runs-dir", runs],
                environment: noSharedDatabase
            )
            let shared = try await ScalperProcess.run(
                ["runs"] + command + ["--runs-db", server.url],
                environment: noSharedDatabase
            )
            #expect(local.status == 0 && shared.status == 0, "\(command): \(local.stderr) \(shared.stderr)")
            #expect(!local.stdout.isEmpty && shared.stdout == local.stdout, "runs \(command.joined(separator: " "))")
        }
        // The config key chooses the database as --runs-db does, and $SCALPER_RUNS_DB too.
        let byConfig = try await ScalperProcess.run(["runs", "list", "--config", other], environment: noSharedDatabase)
        let byEnvironment = try await ScalperProcess.run(
            ["runs", "list"],
            environment: ["SCALPER_RUNS_DB": server.url]
        )
        let list = try await ScalperProcess.run(["runs", "list", "--runs-dir", runs], environment: noSharedDatabase)
        #expect(
            byConfig.stdout == list.stdout && byEnvironment.stdout == list.stdout && list.stdout.contains(a)
                && list.stdout.contains(b)
        )
        let compare = try await ScalperProcess.run(["runs", "compare", a, b, "--runs-db", server.url])
        #expect(compare.stdout.contains("signals.take_profit_pct") && compare.stdout.contains("note: different data"))

        // Another machine: an empty runs folder, the shared database.
        let elsewhere = dir.path("elsewhere")
        let manifest = try await ScalperProcess.run([
            "runs", "export-manifest", a, "--runs-db", server.url, "--runs-dir", elsewhere,
        ])
        #expect(manifest.status == 0, "\(manifest.stderr)")
        let localManifest = try await ScalperProcess.run(
            ["runs", "export-manifest", a, "--runs-dir", runs],
            environment: noSharedDatabase
        )
        #expect(localManifest.status == 0, "\(localManifest.stderr)")
        func withoutExportTime(_ path: String) throws -> String {
            try String(contentsOfFile: path.trimmingCharacters(in: .whitespacesAndNewlines), encoding: .utf8)
                .split(separator: "\n").filter { !$0.contains("\"exported_at\"") }.joined(separator: "\n")
        }
        #expect(try withoutExportTime(manifest.stdout) == withoutExportTime(localManifest.stdout))
        for file in ["config.json", "trades.csv", "metrics.csv", "summary.txt", "equity.svg", "report.html"] {
            let original = FileManager.default.contents(atPath: "\(runs)/\(a)/\(file)")
            #expect(
                original != nil && FileManager.default.contents(atPath: "\(elsewhere)/\(a)/\(file)") == original,
                "\(file)"
            )
        }
        let notebook = try await ScalperProcess.run(
            [
                "export-notebook", "--run", b, "--runs-db", server.url, "--runs-dir", elsewhere, "--out",
                dir.path("b.ipynb"),
            ]
        )
        #expect(notebook.status == 0, "\(notebook.stderr)")
        let localNotebook = try await ScalperProcess.run(
            ["export-notebook", "--run", b, "--runs-dir", runs, "--out", dir.path("b-local.ipynb")],
            environment: noSharedDatabase
        )
        #expect(localNotebook.status == 0, "\(localNotebook.stderr)")
        // The same notebook but for the folder it names.
        let fetched = try String(contentsOfFile: dir.path("b.ipynb"), encoding: .utf8).replacingOccurrences(
            of: "\(elsewhere)/\(b)",
            with: "FOLDER"
        )
        let original = try String(contentsOfFile: dir.path("b-local.ipynb"), encoding: .utf8).replacingOccurrences(
            of: "\(runs)/\(b)",
            with: "FOLDER"
        )
        #expect(fetched == original && fetched.contains(b))
        // A folder of that name holding another run is not mistaken for it.
        try FileManager.default.removeItem(atPath: "\(elsewhere)/\(a)/config.json")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: "\(elsewhere)/\(a)/config.json"))
        let clash = try await ScalperProcess.run([
            "runs", "export-manifest", a, "--runs-db", server.url, "--runs-dir", elsewhere,
        ])
        #expect(clash.status != 0 && clash.stderr.contains("holds another run than \(a)"), "\(clash.stderr)")
        let missing = try await ScalperProcess.run(["runs", "show", "no-such-run", "--runs-db", server.url])
        #expect(missing.status != 0 && missing.stderr.contains("error: no run no-such-run"))
    }

    @Test(
        "A runs database that is not a postgres:// URL is refused naming the config key, the option or the variable",
        arguments: [
            (
                ["--config", "FILE"], "runs:\n  database_url: sqlite://runs.sqlite\n", [String: String](),
                "config: FILE: runs.database_url: 'sqlite://runs.sqlite': must be a postgres://user[:password]@host[:port]/database URL, or empty for SQLite under backtest.runs_dir"
            ),
            (
                ["--config", "FILE"], "runs:\n  database_url: postgres://nouser\n", [:],
                "config: FILE: runs.database_url: 'postgres://nouser': must be a postgres://"
            ),
            (
                ["--runs-db", "runs.sqlite"], "", [:],
                "error: --runs-db: 'runs.sqlite' is not a postgres://user@host[:port]/database URL"
            ),
            (
                [], "", ["SCALPER_RUNS_DB": "mysql://u@h/db"],
                "error: $SCALPER_RUNS_DB: 'mysql://u@h/db' is not a postgres://"
            ),
        ]
    )
    func badDatabaseURL(options: [String], yaml: String, environment: [String: String], expected: String) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let file = dir.path("bad.yaml")
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        let arguments = options.map { $0 == "FILE" ? file : $0 }
        for command in [
            ["runs", "list", "--runs-dir", dir.path("runs")],
            ["export-notebook", "--run", "x", "--runs-dir", dir.path("runs")],
        ] {
            let r = try await ScalperProcess.run(
                command + arguments,
                environment: noSharedDatabase.merging(environment) { $1 }
            )
            #expect(r.status != 0)
            #expect(r.stderr.contains(expected.replacingOccurrences(of: "FILE", with: file)), "\(command): \(r.stderr)")
        }
    }
}
