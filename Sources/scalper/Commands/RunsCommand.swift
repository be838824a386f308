import ArgumentParser
import Backtest
import Foundation
import JobQueue
import PostgresRuns
import Research
import ScalperCore

/// `scalper runs`: the backtest runs database.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List, show and compare backtest runs.",
        subcommands: [List.self, Show.self, Compare.self, ExportManifest.self]
    )

    struct RunsOptions: ParsableArguments {
        @OptionGroup var global: GlobalOptions

        @Option(help: "Root folder of run folders (default: backtest.runs_dir of the config).")
        var runsDir: String?

        @Option(name: .customLong("runs-db"), help: RunsCommand.runsDBHelp)
        var runsDB: String?

        /// The runs' root folder.
        func root() throws -> String { try runsDir ?? global.loadConfiguration().backtest.runsDir }

        /// The PostgreSQL runs database chosen, or nil for `<runs-dir>/runs.sqlite`.
        func databaseURL() throws -> DatabaseURL? {
            try RunsCommand.databaseURL(option: runsDB, settings: global.loadConfiguration())
        }

        /// `body`'s answer from the runs database chosen: PostgreSQL (`--runs-db`, `$SCALPER_RUNS_DB`,
        /// `runs.database_url`), else SQLite under the runs folder.
        func withStore<Result: Sendable>(_ body: @Sendable (any RunStore) async throws -> Result) async throws -> Result {
            guard let url = try databaseURL() else { return try await body(database()) }
            return try await RunsCommand.withPostgres(url) { try await body($0) }
        }

        func database() throws -> RunDatabase {
            let root = try root()
            let path = (root as NSString).appendingPathComponent("runs.sqlite")
            guard FileManager.default.fileExists(atPath: path) else {
                throw fail("no runs under \(root) yet: run `scalper backtest` first")
            }
            return try RunDatabase(path: path)
        }
    }

    /// `--runs-db`'s help, shared by every command that reads or records runs.
    static let runsDBHelp = ArgumentHelp(
        "The runs database on PostgreSQL: postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require] (default: $SCALPER_RUNS_DB, else runs.database_url of the config; with neither, runs.sqlite under the runs folder).",
        valueName: "url"
    )

    /// The PostgreSQL runs database: `--runs-db`, else `$SCALPER_RUNS_DB`, else `runs.database_url`
    /// (checked when the configuration was loaded); nil when none is set (SQLite). A bad URL fails
    /// naming where it came from.
    static func databaseURL(option: String?, settings: ScalperConfiguration) throws -> DatabaseURL? {
        let environment = ProcessInfo.processInfo.environment["SCALPER_RUNS_DB"].flatMap { $0.isEmpty ? nil : $0 }
        let (source, text): (String, String)
        if let option {
            (source, text) = ("--runs-db", option)
        } else if let environment {
            (source, text) = ("$SCALPER_RUNS_DB", environment)
        } else if !settings.runs.databaseURL.isEmpty {
            (source, text) = ("runs.database_url", settings.runs.databaseURL)
        } else {
            return nil
        }
        do {
            return try DatabaseURL(text)
        } catch {
            throw fail("\(source): \(error)")
        }
    }

    /// `body` on the PostgreSQL runs database at `url`; a database error fails naming the URL
    /// (without its password).
    static func withPostgres<Result: Sendable>(
        _ url: DatabaseURL,
        _ body: @Sendable (PostgresRunDatabase) async throws -> Result
    ) async throws -> Result {
        do {
            return try await PostgresRunDatabase.with(url, body)
        } catch let exit as ExitCode {
            throw exit
        } catch let error as JobQueueError {
            throw fail("\(error)")
        } catch let error as RunDatabaseError {
            throw fail("\(url): \(error)")
        } catch {
            throw fail("\(url): \(JobQueue.describe(error))")
        }
    }

    /// The folder of run `id` on this machine, `<root>/<id>/`. With a PostgreSQL runs database, the
    /// run's stored files are written there when this machine has no such folder; a folder of the
    /// same name holding another run (a different `config.json`) is refused.
    static func localFolder(ofRun id: String, root: String, url: DatabaseURL?) async throws -> URL {
        let folder = URL(fileURLWithPath: root).appendingPathComponent(id)
        guard let url else { return folder }
        guard BacktestRunWriter.isPlainFileName(id) else { throw fail("no run \(id)") }
        let files = try await withPostgres(url) { runs -> [String: [UInt8]]? in
            guard try await runs.run(id) != nil else { return nil }
            return try await runs.files(ofRun: id)
        }
        guard let files else { throw fail("no run \(id) in \(url)") }
        guard let stored = files["config.json"] else { throw fail("run \(id) in \(url) has no files stored (config.json missing)") }
        let fm = FileManager.default
        if fm.fileExists(atPath: folder.path) {
            let local = fm.contents(atPath: folder.appendingPathComponent("config.json").path).map { Array($0) }
            guard local == stored else {
                throw fail("\(folder.path) holds another run than \(id) of \(url) (its config.json differs): move it away or pass another --runs-dir")
            }
            return folder
        }
        do {
            try BacktestRunWriter.writeFolder(files, to: folder)
        } catch {
            throw fail("cannot write run \(id) of \(url) to \(folder.path): \(error.localizedDescription)")
        }
        return folder
    }

    /// The metrics `runs list` shows for each run.
    static let columns: [BacktestMetricField] = [.trades, .winRate, .profitFactor, .totalPnL, .maxDrawdown, .sharpe, .totalReturn]

    /// The width of the metric-name column: the longest name of the table, plus room.
    static let nameWidth = BacktestMetricField.names.map(\.count).max().map { $0 + 2 } ?? 28

    /// A value in a terminal table: as its field writes it, or with 4 decimals (1 from 100 up) for a
    /// name an older version stored that the table no longer has.
    static func f(_ x: Double?, _ field: BacktestMetricField?) -> String {
        if let field { return field.displayText(x) }
        guard let x, x.isFinite else { return "–" }
        return abs(x) >= 100 ? String(format: "%.1f", x) : String(format: "%.4f", x)
    }

    /// A run's grade for `runs list`: the letter, `none` when it was judged but had too few trades
    /// for a grade, `not graded` when no research command graded it.
    static func gradeCell(_ grade: RunGrade?) -> String {
        guard let grade else { return "not graded" }
        return grade.letter ?? "none"
    }

    /// A run's grade for `runs show`: the grade's own report (summary, then each criterion with its
    /// score and reason), or `grade: not graded`.
    static func gradeLines(_ grade: RunGrade?) -> [String] {
        guard let grade else { return ["grade: not graded"] }
        // The stored JSON is the grade itself; should it not decode (written by a later version),
        // the summary column still says what the grade was.
        guard let decoded = try? Grade.decode(json: grade.reasonsJSON) else { return ["grade: \(grade.summary)"] }
        return decoded.report + ["  graded \(grade.gradedAt)"]
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List runs, newest first.")
        @OptionGroup var options: RunsOptions

        func run() async throws {
            let runs = try await options.withStore { try await $0.runs() }
            print("id".padding(toLength: 46, withPad: " ", startingAt: 0) + " model / symbols / window")
            for r in runs {
                print(r.id.padding(toLength: 46, withPad: " ", startingAt: 0) + " \(r.model)  \(r.symbols)  \(r.window)")
                print(
                    "    " + RunsCommand.columns.map { "\($0.name) \($0.displayText(r.metrics[$0.name]))" }.joined(separator: "  ")
                        + "  grade \(RunsCommand.gradeCell(r.grade))"
                )
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one run's parameters and metrics.")
        @OptionGroup var options: RunsOptions
        @Argument(help: "Run id.") var id: String

        func run() async throws {
            let id = self.id
            guard let r = try await options.withStore({ try await $0.run(id) }) else { throw fail("no run \(id)") }
            print("run \(r.id)\nmodel \(r.model)  symbols \(r.symbols)  window \(r.window)  created \(r.createdAt)\n")
            for line in RunsCommand.gradeLines(r.grade) { print(line) }
            print("\nmetrics")
            for (key, field) in RunSummary.metricRows([r]) {
                print("  \(key.padding(toLength: RunsCommand.nameWidth, withPad: " ", startingAt: 0)) \(RunsCommand.f(r.metrics[key], field))")
            }
            print("\nparameters")
            for (k, v) in r.parameters.sorted(by: { $0.key < $1.key }) { print("  \(k.padding(toLength: 40, withPad: " ", startingAt: 0)) \(v)") }
        }
    }

    struct ExportManifest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-manifest",
            abstract: "Write a run's model, symbols, capital and trading settings to one file that `scalper paper --manifest FILE` trades.",
            discussion: "The file also names the source run and carries its figures, so a session can be held to what its backtest showed. Default output: <runs-dir>/<id>/manifest.json. With a PostgreSQL runs database (--runs-db), the run's stored files are written to <runs-dir>/<id>/ first when this machine has no such folder."
        )
        @OptionGroup var options: RunsOptions
        @Argument(help: "Run id.") var id: String
        @Option(help: "Output file (default: manifest.json in the run's folder).") var output: String?

        func run() async throws {
            let id = self.id
            guard let summary = try await options.withStore({ try await $0.run(id) }) else { throw fail("no run \(id)") }
            let folder = try await RunsCommand.localFolder(ofRun: id, root: try options.root(), url: try options.databaseURL())
            let figures = summary.metrics.mapValues { $0.isFinite ? Optional($0) : nil }
            let manifest: PaperManifest
            do {
                manifest = try PaperManifest.exported(fromRun: folder, figures: figures, exportedAt: UTC.isoString(UTC.now()))
            } catch {
                throw fail("\(error)")
            }
            let target = output ?? folder.appendingPathComponent("manifest.json").path
            try manifest.encoded().write(to: URL(fileURLWithPath: target), options: .atomic)
            print(target)
        }
    }

    struct Compare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Compare two runs side by side (metrics, and parameters that differ).")
        @OptionGroup var options: RunsOptions
        @Argument(help: "First run id.") var first: String
        @Argument(help: "Second run id.") var second: String

        func run() async throws {
            let (first, second) = (self.first, self.second)
            let found = try await options.withStore { store in (try await store.run(first), try await store.run(second)) }
            guard let a = found.0 else { throw fail("no run \(first)") }
            guard let b = found.1 else { throw fail("no run \(second)") }
            print("metric".padding(toLength: RunsCommand.nameWidth, withPad: " ", startingAt: 0) + " A            B            B − A")
            for (key, field) in RunSummary.metricRows([a, b]) {
                let (x, y) = (a.metrics[key], b.metrics[key])
                let delta = x.flatMap { x in y.map { $0 - x } }
                print(
                    key.padding(toLength: RunsCommand.nameWidth, withPad: " ", startingAt: 0) + " "
                        + RunsCommand.f(x, field).padding(toLength: 12, withPad: " ", startingAt: 0) + " "
                        + RunsCommand.f(y, field).padding(toLength: 12, withPad: " ", startingAt: 0) + " " + RunsCommand.f(delta, field)
                )
            }
            let differing = Set(a.parameters.keys).union(b.parameters.keys).sorted().filter { a.parameters[$0] != b.parameters[$0] }
            print("\nparameters that differ: \(differing.isEmpty ? "none" : "")")
            for key in differing { print("  \(key): \(a.parameters[key] ?? "–") → \(b.parameters[key] ?? "–")") }
            if a.window != b.window || a.symbols != b.symbols {
                print("note: different data (A: \(a.symbols) \(a.window); B: \(b.symbols) \(b.window))")
            }
        }
    }
}
