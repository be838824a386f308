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

    /// The metric names to show for `runs`, in order: every ``BacktestMetricField`` of the table,
    /// then, sorted and with no field, any other name one of them stored (a run recorded by an
    /// older version).
    public static func metricRows(_ runs: [RunSummary]) -> [(name: String, field: BacktestMetricField?)] {
        let names = Set(BacktestMetricField.names)
        let others = Set(runs.flatMap(\.metrics.keys)).subtracting(names).sorted()
        return BacktestMetricField.all.map { ($0.name, $0) } + others.map { ($0, nil) }
    }
}

/// The SQLite database of runs (`<runs-dir>/runs.sqlite`): runs, their parameters, metrics and trades.
public final class RunDatabase: Sendable {
    private let queue: DatabaseQueue

    /// Opens or creates the database.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        queue = try DatabaseQueue(path: path, configuration: configuration)
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
        try migrator.migrate(queue)
    }

    /// Records one run in a single transaction.
    public func record(config: BacktestRunConfig, result: BacktestResult) throws {
        let parameters = Self.flatten(config.settings)
        // One row per table field; a run recorded before a field existed simply lacks its row.
        let metrics = BacktestMetricField.all.map { ($0.name, $0.value(result.metrics)) }
        try queue.write { db in
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
        return RunSummary(
            id: id,
            createdAt: row["created_at"],
            model: row["model"],
            symbols: row["symbols"],
            window: "\(row["window_from"] as String) … \(row["window_to"] as String)",
            metrics: metrics,
            parameters: parameters
        )
    }

    /// Settings as `section.key = value` pairs (the YAML names).
    static func flatten(_ settings: BacktestSettings) -> [String: String] {
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
