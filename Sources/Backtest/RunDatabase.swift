import Foundation
import GRDB
import Trading

/// One run as listed by `scalper runs`.
public struct RunSummary: Sendable, Equatable {
    /// Run id (folder name).
    public var id: String
    /// When it was made (ISO 8601).
    public var createdAt: String
    /// The model bundle's name.
    public var model: String
    /// Symbols.
    public var symbols: String
    /// Window.
    public var window: String
    /// Metric name → value, as stored: the names of ``BacktestMetricField`` (a run recorded by an
    /// older version may lack some and hold names no longer in the table); NaN where the stored
    /// value is `NULL` (not finite).
    public var metrics: [String: Double]
    /// Parameter name → value (flattened settings).
    public var parameters: [String: String]
    /// The run's grade; nil when it was never graded (a run recorded before grades existed, or
    /// one no research command judged).
    public var grade: RunGrade?

    /// A run as read from a runs database.
    public init(
        id: String,
        createdAt: String,
        model: String,
        symbols: String,
        window: String,
        metrics: [String: Double],
        parameters: [String: String],
        grade: RunGrade?
    ) {
        self.id = id
        self.createdAt = createdAt
        self.model = model
        self.symbols = symbols
        self.window = window
        self.metrics = metrics
        self.parameters = parameters
        self.grade = grade
    }

    /// The metric names to show for `runs`, in order: every ``BacktestMetricField`` of the table,
    /// then, sorted and with no field, any other name one of them stored (a run recorded by an
    /// older version).
    public static func metricRows(_ runs: [RunSummary]) -> [(name: String, field: BacktestMetricField?)] {
        let names = Set(BacktestMetricField.names)
        let others = Set(runs.flatMap(\.metrics.keys)).subtracting(names).sorted()
        return BacktestMetricField.all.map { ($0.name, $0) } + others.map { ($0, nil) }
    }
}

/// A run's grade as stored: the letter and the grade's own JSON (its summary, every criterion's
/// score, value and reason, and its inputs), written by the research commands that judge a run out
/// of sample (`scalper sweep --out-of-sample-from`, `scalper walk-forward`).
public struct RunGrade: Sendable, Equatable {
    /// "A" … "F"; nil when the run was judged but not graded (too few trades).
    public var letter: String?
    /// One line: the letter and its points, or why there is none.
    public var summary: String
    /// The grade's JSON (Research's `Grade`), criteria and reasons included.
    public var reasonsJSON: String
    /// When it was graded (ISO 8601).
    public var gradedAt: String

    /// A grade to store.
    public init(letter: String?, summary: String, reasonsJSON: String, gradedAt: String) {
        self.letter = letter
        self.summary = summary
        self.reasonsJSON = reasonsJSON
        self.gradedAt = gradedAt
    }
}

/// The SQLite database of runs (`<runs-dir>/runs.sqlite`): runs, their parameters, metrics, trades
/// and grades. The runs' files are their folders beside it (`<runs-dir>/<id>/`).
public final class RunDatabase: RunStore {
    private let queue: DatabaseQueue
    /// The folder holding the database and the run folders.
    private let root: URL

    /// The schema's migrations, oldest first. A database written by an older version has only the
    /// first ones; opening it applies the rest and keeps every row (its runs read as not graded).
    static let migrations = ["v1-runs", "v2-grades"]

    /// Opens or creates the database and brings its schema up to date.
    public convenience init(path: String) throws {
        try self.init(path: path, migratingUpTo: Self.migrations[Self.migrations.count - 1])
    }

    /// Opens or creates the database with the schema only up to `lastMigration` (tests make an
    /// older version's database with it).
    init(path: String, migratingUpTo lastMigration: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        queue = try DatabaseQueue(path: path, configuration: configuration)
        root = URL(fileURLWithPath: path).deletingLastPathComponent()
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-runs") { db in
            try db.execute(
                sql: """
                    CREATE TABLE run (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, model TEXT NOT NULL,
                        symbols TEXT NOT NULL, window_from TEXT NOT NULL, window_to TEXT NOT NULL, description TEXT);
                    CREATE TABLE parameter (run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE, key TEXT NOT NULL,
                        value TEXT NOT NULL, PRIMARY KEY (run_id, key));
                    CREATE TABLE metric (run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE, key TEXT NOT NULL,
                        value REAL, PRIMARY KEY (run_id, key));
                    CREATE TABLE trade (run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
                        entry_time INTEGER NOT NULL, exit_time INTEGER NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL,
                        entry_price REAL NOT NULL, exit_price REAL NOT NULL, quantity REAL NOT NULL, pnl_usdt REAL NOT NULL,
                        pnl_pct REAL NOT NULL, duration_sec REAL NOT NULL, exit_reason TEXT NOT NULL, fees REAL NOT NULL,
                        PRIMARY KEY (run_id, seq));
                    """
            )
        }
        // One grade per run, in its own table: runs recorded before it have no row, and reading
        // them needs no default in the run table.
        migrator.registerMigration("v2-grades") { db in
            try db.execute(
                sql: """
                    CREATE TABLE grade (run_id TEXT PRIMARY KEY REFERENCES run(id) ON DELETE CASCADE, letter TEXT,
                        summary TEXT NOT NULL, reasons TEXT NOT NULL, graded_at TEXT NOT NULL);
                    """
            )
        }
        try migrator.migrate(queue, upTo: lastMigration)
    }

    /// Stores `grade` as the grade of run `id`, replacing any earlier one.
    ///
    /// - Throws: when no run `id` is recorded.
    public func record(grade: RunGrade, forRun id: String) throws {
        try queue.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM run WHERE id = ?)", arguments: [id]) == true else {
                throw RunDatabaseError.noSuchRun(id)
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO grade (run_id, letter, summary, reasons, graded_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [id, grade.letter, grade.summary, grade.reasonsJSON, grade.gradedAt]
            )
        }
    }

    /// Each trade's net P&L (quote currency) and net return (percent) of run `id`, in order.
    public func tradePnL(run id: String) throws -> [(pnlUSDT: Double, pnlPct: Double)] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT pnl_usdt, pnl_pct FROM trade WHERE run_id = ? ORDER BY seq", arguments: [id])
                .map { row -> (pnlUSDT: Double, pnlPct: Double) in (row["pnl_usdt"], row["pnl_pct"]) }
        }
    }

    /// Records one run in a single transaction.
    public func record(config: BacktestRunConfig, result: BacktestResult) throws {
        try queue.write { db in try Self.insert(config: config, result: result, db) }
    }

    /// Records the run unless its id is already recorded (then `false`, and nothing is written),
    /// writing `files` as its folder `<runs-dir>/<id>/` when that folder does not exist yet.
    ///
    /// The folder is written (through a temporary folder renamed into place) inside the
    /// transaction: when it cannot be written, no row is kept.
    @discardableResult
    public func record(config: BacktestRunConfig, result: BacktestResult, files: [String: [UInt8]]) throws -> Bool {
        if let bad = files.keys.sorted().first(where: { !BacktestRunWriter.isPlainFileName($0) }) {
            throw RunDatabaseError.badFileName(bad)
        }
        return try queue.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM run WHERE id = ?)", arguments: [config.id]) == false else {
                return false
            }
            try Self.insert(config: config, result: result, db)
            let folder = root.appendingPathComponent(config.id)
            if !files.isEmpty && !FileManager.default.fileExists(atPath: folder.path) {
                try BacktestRunWriter.writeFolder(files, to: folder)
            }
            return true
        }
    }

    /// The files of the folder `<runs-dir>/<id>/` (empty when there is none).
    public func files(ofRun id: String) throws -> [String: [UInt8]] {
        guard BacktestRunWriter.isPlainFileName(id) else { return [:] }
        let folder = root.appendingPathComponent(id)
        guard FileManager.default.fileExists(atPath: folder.path) else { return [:] }
        return try BacktestRunWriter.files(inFolder: folder)
    }

    private static func insert(config: BacktestRunConfig, result: BacktestResult, _ db: Database) throws {
        let parameters = flatten(config.settings)
        // One row per table field; a run recorded before a field existed simply lacks its row.
        let metrics = BacktestMetricField.all.map { ($0.name, $0.value(result.metrics)) }
        try db.execute(
            sql: "INSERT INTO run (id, created_at, model, symbols, window_from, window_to, description) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [config.id, config.createdAt, config.modelName, config.symbols.joined(separator: ","), config.from, config.to, config.description]
        )
        for (k, v) in parameters {
            try db.execute(sql: "INSERT INTO parameter (run_id, key, value) VALUES (?, ?, ?)", arguments: [config.id, k, v])
        }
        for (k, v) in metrics {
            try db.execute(sql: "INSERT INTO metric (run_id, key, value) VALUES (?, ?, ?)", arguments: [config.id, k, v.isFinite ? v : nil])
        }
        let statement = try db.makeStatement(
            sql: """
                INSERT INTO trade (run_id, seq, entry_time, exit_time, symbol, side, entry_price, exit_price, quantity,
                    pnl_usdt, pnl_pct, duration_sec, exit_reason, fees) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        )
        for (i, t) in result.trades.enumerated() {
            try statement.execute(arguments: [
                config.id, i, t.entryTime, t.exitTime, t.symbol, t.side.rawValue, t.entryPrice, t.exitPrice, t.quantity,
                t.pnlUSDT, t.pnlPct, t.durationSeconds, t.exitReason.rawValue, t.fees,
            ])
        }
    }

    /// Every run, newest first.
    public func runs() throws -> [RunSummary] {
        try queue.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM run ORDER BY created_at DESC, id DESC")
            return try rows.map { try Self.summary(db, row: $0) }
        }
    }

    /// One run, or nil.
    public func run(_ id: String) throws -> RunSummary? {
        try queue.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM run WHERE id = ?", arguments: [id]) else { return nil }
            return try Self.summary(db, row: row)
        }
    }

    private static func summary(_ db: Database, row: Row) throws -> RunSummary {
        let id: String = row["id"]
        var metrics: [String: Double] = [:]
        for r in try Row.fetchAll(db, sql: "SELECT key, value FROM metric WHERE run_id = ?", arguments: [id]) {
            metrics[r["key"]] = (r["value"] as Double?) ?? .nan
        }
        var parameters: [String: String] = [:]
        for r in try Row.fetchAll(db, sql: "SELECT key, value FROM parameter WHERE run_id = ?", arguments: [id]) {
            parameters[r["key"]] = r["value"]
        }
        let grade = try Row.fetchOne(db, sql: "SELECT * FROM grade WHERE run_id = ?", arguments: [id]).map {
            RunGrade(letter: $0["letter"], summary: $0["summary"], reasonsJSON: $0["reasons"], gradedAt: $0["graded_at"])
        }
        return RunSummary(
            id: id,
            createdAt: row["created_at"],
            model: row["model"],
            symbols: row["symbols"],
            window: "\(row["window_from"] as String) … \(row["window_to"] as String)",
            metrics: metrics,
            parameters: parameters,
            grade: grade
        )
    }

    /// Settings as `section.key = value` pairs (the YAML names): the `parameter` rows of a run.
    public static func flatten(_ settings: BacktestSettings) -> [String: String] {
        var out: [String: String] = ["backtest.capital": "\(settings.capital)"]
        let encoder = JSONEncoder()
        for (section, value) in [
            ("signals", try? encoder.encode(settings.signals)), ("risk", try? encoder.encode(settings.risk)),
            ("execution", try? encoder.encode(settings.execution)),
        ] {
            guard let value, let object = try? JSONSerialization.jsonObject(with: value) as? [String: Any] else { continue }
            for (k, v) in object { out["\(section).\(k)"] = "\(v)" }
        }
        return out
    }
}

/// What the runs database refuses.
public enum RunDatabaseError: Error, Equatable, CustomStringConvertible {
    /// No run has this id.
    case noSuchRun(String)
    /// A run's file name that is not one plain path component.
    case badFileName(String)

    public var description: String {
        switch self {
        case .noSuchRun(let id): "no run \(id) in the runs database"
        case .badFileName(let name): "'\(name)' cannot name a file of a run's folder (one path component, not hidden)"
        }
    }
}
