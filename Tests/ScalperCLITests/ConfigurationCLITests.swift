import Foundation
import MarketData
import ScalperTestSupport
import Testing

@Suite("Configuration and the workspace folder")
struct ConfigurationCLITests {
    let dir: TemporaryDirectory

    init() throws { dir = try TemporaryDirectory() }

    private func write(_ name: String, _ text: String) throws -> String {
        let path = dir.path(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("config/default.yaml lists every key with exactly the built-in default")
    func defaultFileMatchesBinary() async throws {
        defer { dir.remove() }
        let r = try await ScalperProcess.run(["config", "check", "--complete", "--equals-defaults", "config/default.yaml"])
        #expect(r.status == 0, "\(r.stderr)")
        // The check itself can fail: a file missing a key, and a file changing a value, are refused.
        let partial = try write("partial.yaml", "risk:\n  max_open_positions: 3\n")
        let missing = try await ScalperProcess.run(["config", "check", "--complete", partial])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("partial.yaml: alerts: missing"), "\(missing.stderr)")
        let changed = try write("changed.yaml", "risk:\n  max_open_positions: 4\n")
        let differs = try await ScalperProcess.run(["config", "check", "--equals-defaults", changed])
        #expect(differs.status != 0)
        #expect(differs.stderr.contains("risk.max_open_positions: 4 differs from the built-in default max_open_positions: 3"), "\(differs.stderr)")
    }

    @Test("An unknown key is refused naming the file, the key path, the value and the key meant")
    func unknownKey() async throws {
        defer { dir.remove() }
        let file = try write("bad.yaml", "risk:\n  max_drawdown: 0.05\n")
        let r = try await ScalperProcess.run(["data", "list", "--store", dir.path("m.sqlite"), "--config", file])
        #expect(r.status != 0)
        #expect(
            r.stderr.contains("config: \(file): risk.max_drawdown: unknown key (value 0.05); did you mean 'risk.max_drawdown_pct'?"),
            "\(r.stderr)"
        )
        let section = try write("section.yaml", "riks:\n  max_open_positions: 2\n")
        let s = try await ScalperProcess.run(["config", "show", "--config", section])
        #expect(s.status != 0)
        #expect(s.stderr.contains("\(section): riks: unknown key"), "\(s.stderr)")
        #expect(s.stderr.contains("did you mean 'risk'?"), "\(s.stderr)")
    }

    @Test(
        "Wrong types and out-of-range values are refused naming the file, the key path and the value",
        arguments: [
            ("risk:\n  max_open_positions: three\n", "risk.max_open_positions: expected a whole number, found 'three'"),
            ("risk:\n  max_open_positions: 2.5\n", "risk.max_open_positions: expected a whole number, found 2.5"),
            ("risk:\n  max_trades_per_hour: 0\n", "risk.max_trades_per_hour: 0: must be ≥ 1 (0 would block every entry)"),
            ("signals:\n  take_profit_pct: 1.5\n", "signals.take_profit_pct: 1.5: must be in (0, 1)"),
            ("execution: 3\n", "execution: must be a mapping of keys, found 3"),
            ("model:\n  max_depth:\n", "model.max_depth: has no value"),
            ("logging:\n  level: loud\n", "logging.level: 'loud': must be one of"),
            ("risk:\n  max_position_pct: .nan\n", "risk.max_position_pct: expected a number, found 'nan'"),
            (
                "download:\n  backoff_initial_seconds: 100\n",
                "download.backoff_max_seconds: 60: must be ≥ download.backoff_initial_seconds (download.backoff_initial_seconds was set)"
            ),
            ("model:\n  validation_fraction: 0.5\n", "model.train_fraction: 0.7: need 0 < train_fraction < validation_fraction < 1 (model.validation_fraction was set)"),
        ]
    )
    func badValues(yaml: String, expected: String) async throws {
        defer { dir.remove() }
        let file = try write("bad.yaml", yaml)
        let r = try await ScalperProcess.run(["config", "show", "--config", file])
        #expect(r.status != 0)
        #expect(r.stderr.contains("config: \(file): \(expected)"), "\(r.stderr)")
    }

    @Test("An overlay changes only the keys it names; the rest keep their defaults")
    func overlayChangesOnlyItsKeys() async throws {
        defer { dir.remove() }
        let defaults = try await ScalperProcess.run(["config", "show", "--defaults"])
        let file = try write("small.yaml", "risk:\n  max_open_positions: 1\n")
        let shown = try await ScalperProcess.run(["config", "show", "--config", file, "--home", dir.url.path])
        #expect(shown.status == 0, "\(shown.stderr)")
        let a = defaults.stdout.split(separator: "\n")
        let b = shown.stdout.split(separator: "\n")
        #expect(a.count == b.count && a.count > 60)
        let differing = zip(a, b).filter { $0 != $1 }.map { String($0.1).trimmingCharacters(in: .whitespaces) }
        // The changed key, and the five paths now absolute in the workspace.
        #expect(
            differing.sorted() == [
                "cache_dir: \"\(dir.url.path)/datasets/cache\"", "dir: \"\(dir.url.path)/logs\"", "max_open_positions: 1",
                "models_dir: \"\(dir.url.path)/models\"", "path: \"\(dir.url.path)/datasets/market.sqlite\"",
                "runs_dir: \"\(dir.url.path)/datasets/backtest_runs\"",
            ],
            "\(differing)"
        )
    }

    @Test("scalper runs from any folder: no config file needed, the store resolves against --home or SCALPER_HOME")
    func runsFromAnyFolder() async throws {
        defer { dir.remove() }
        let elsewhere = dir.url.appendingPathComponent("elsewhere")
        let home = dir.url.appendingPathComponent("home")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let sample = Fixtures.sampleZip("FILUSDT-1m-2023-08.zip").path
        let imported = try await ScalperProcess.run(["data", "import", "--home", home.path, sample], directory: elsewhere)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(FileManager.default.fileExists(atPath: home.appendingPathComponent("datasets/market.sqlite").path))
        #expect(!FileManager.default.fileExists(atPath: elsewhere.appendingPathComponent("datasets").path))
        // The same store through SCALPER_HOME, from yet another folder.
        let listed = try await ScalperProcess.run(
            ["data", "list", "--json"],
            environment: ["SCALPER_HOME": home.path],
            directory: dir.url
        )
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("\"rows\" : 44640") || listed.stdout.contains("\"rows\":44640"), "\(listed.stdout)")
        // Without --home, relative paths resolve against the current folder.
        let plain = try await ScalperProcess.run(["data", "import", sample], directory: elsewhere)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(FileManager.default.fileExists(atPath: elsewhere.appendingPathComponent("datasets/market.sqlite").path))
    }
}
