public import Backtest
import Foundation
public import JobQueue
public import Logging
import PostgresNIO
import Trading

/// The runs database on PostgreSQL (`--runs-db postgres://…`, `runs.database_url`), shared by every
/// machine: the tables and columns of the SQLite ``RunDatabase`` (`run`, `parameter`, `metric`,
/// `trade`, `grade`), plus `run_file`, which holds each run's folder (`config.json`, `metrics.csv`,
/// `trades.csv`, `summary.txt`, `equity.svg`, `report.html`) so `scalper runs show`,
/// `runs export-manifest` and `export-notebook` work from any machine.
///
/// Recording is keyed on the run id: a run recorded twice (a retried queued job) is stored once.
public struct PostgresRunDatabase: RunStore {
    let client: PostgresClient
    let logger: Logger

    /// The advisory lock the schema is created under (JobQueue's is 7347001).
    static let schemaLock: Int64 = 7_347_002

    /// Connects to `url`, creates the tables if missing, runs `body`, disconnects.
    ///
    /// - Throws: ``JobQueueError`` naming the URL (without its password) when no connection is made
    ///   within `connectTimeout` or the schema cannot be created; `body`'s errors as they are.
    public static func with<Result: Sendable>(
        _ url: DatabaseURL,
        connectTimeout: Duration = .seconds(60),
        logger: Logger = Logger(label: "scalper.runs", factory: { _ in SwiftLogNoOpLogHandler() }),
        _ body: @Sendable (PostgresRunDatabase) async throws -> Result
    ) async throws -> Result {
        let client = PostgresClient(configuration: url.configuration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let database = PostgresRunDatabase(client: client, logger: logger)
            do {
                // The pool retries a refused connection for a minute before it gives up, and then
                // says only that it gave up: a server that does not answer is reported sooner.
                try await withThrowingTaskGroup(of: Bool.self) { first in
                    first.addTask {
                        try await database.migrate()
                        return true
                    }
                    first.addTask {
                        try await Task.sleep(for: connectTimeout)
                        return false
                    }
                    defer { first.cancelAll() }
                    guard try await first.next() == true else {
                        throw JobQueueError(
                            "\(url): no connection within \(connectTimeout) (is the server up, and the URL right?)"
                        )
                    }
                }
            } catch let error as JobQueueError {
                throw error
            } catch {
                throw JobQueueError("\(url): cannot create the runs tables: \(JobQueue.describe(error))")
            }
            return try await body(database)
        }
    }

    /// Creates the tables once (machines starting together serialise on an advisory lock).
    func migrate() async throws {
        try await client.withTransaction(logger: logger) { c in
            try await c.query("SELECT pg_advisory_xact_lock(\(Self.schemaLock))", logger: logger)
            for statement in Self.schema { try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
        }
    }

    /// The SQLite schema's tables and columns under the same names: TEXT stays TEXT, INTEGER
    /// (64-bit in SQLite) is BIGINT, REAL (an 8-byte float) is DOUBLE PRECISION.
    static let schema = [
        """
        CREATE TABLE IF NOT EXISTS run (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, model TEXT NOT NULL,
            symbols TEXT NOT NULL, window_from TEXT NOT NULL, window_to TEXT NOT NULL, description TEXT)
        """,
        """
        CREATE TABLE IF NOT EXISTS parameter (run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE, key TEXT NOT NULL,
            value TEXT NOT NULL, PRIMARY KEY (run_id, key))
        """,
        """
        CREATE TABLE IF NOT EXISTS metric (run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE, key TEXT NOT NULL,
            value DOUBLE PRECISION, PRIMARY KEY (run_id, key))
        """,
        """
        CREATE TABLE IF NOT EXISTS trade (run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE, seq BIGINT NOT NULL,
            entry_time BIGINT NOT NULL, exit_time BIGINT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL,
            entry_price DOUBLE PRECISION NOT NULL, exit_price DOUBLE PRECISION NOT NULL, quantity DOUBLE PRECISION NOT NULL,
            pnl_usdt DOUBLE PRECISION NOT NULL, pnl_pct DOUBLE PRECISION NOT NULL, duration_sec DOUBLE PRECISION NOT NULL,
            exit_reason TEXT NOT NULL, fees DOUBLE PRECISION NOT NULL, PRIMARY KEY (run_id, seq))
        """,
        """
        CREATE TABLE IF NOT EXISTS grade (run_id TEXT PRIMARY KEY REFERENCES run(id) ON DELETE CASCADE, letter TEXT,
            summary TEXT NOT NULL, reasons TEXT NOT NULL, graded_at TEXT NOT NULL)
        """,
        // Not in SQLite, whose runs keep their files in folders beside the database.
        """
        CREATE TABLE IF NOT EXISTS run_file (run_id TEXT NOT NULL REFERENCES run(id) ON DELETE CASCADE, name TEXT NOT NULL,
            body BYTEA NOT NULL, PRIMARY KEY (run_id, name))
        """,
    ]

    // MARK: - Recording

    /// Records the run, its rows and its `files` in one transaction, unless its id is recorded
    /// already: then nothing is written and the answer is `false`.
    ///
    /// `INSERT … ON CONFLICT DO NOTHING` on the run's primary key decides; two machines recording
    /// the same id at once store it once (the second waits for the first's transaction).
    @discardableResult
    public func record(
        config: BacktestRunConfig,
        result: BacktestResult,
        files: [String: [UInt8]] = [:]
    ) async throws -> Bool {
        if let bad = files.keys.sorted().first(where: { !BacktestRunWriter.isPlainFileName($0) }) {
            throw RunDatabaseError.badFileName(bad)
        }
        let id = config.id
        let parameters = RunDatabase.flatten(config.settings).sorted { $0.key < $1.key }
        // As in SQLite: one row per table field, NULL where the value is not finite (NaN compares
        // equal to NaN in PostgreSQL, so NULLIF turns the NaN sent for it into NULL).
        let metrics = BacktestMetricField.all.map { ($0.name, $0.value(result.metrics)) }
        let trades = result.trades
        let names = files.keys.sorted()
        return try await client.withTransaction(logger: logger) { c in
            let inserted = try await c.query(
                """
                INSERT INTO run (id, created_at, model, symbols, window_from, window_to, description)
                VALUES (\(id), \(config.createdAt), \(config.modelName), \(config.symbols.joined(separator: ",")), \(config.from),
                    \(config.to), \(config.description))
                ON CONFLICT (id) DO NOTHING RETURNING id
                """,
                logger: logger
            )
            var isNew = false
            for try await _ in inserted.decode(String.self) { isNew = true }
            guard isNew else { return false }
            try await c.query(
                """
                INSERT INTO parameter (run_id, key, value)
                SELECT \(id), k, v FROM unnest(\(parameters.map(\.key))::text[], \(parameters.map(\.value))::text[]) AS p(k, v)
                """,
                logger: logger
            )
            try await c.query(
                """
                INSERT INTO metric (run_id, key, value)
                SELECT \(id), k, NULLIF(v, 'NaN'::float8)
                FROM unnest(\(metrics.map(\.0))::text[], \(metrics.map { $0.1.isFinite ? $0.1 : .nan })::float8[]) AS m(k, v)
                """,
                logger: logger
            )
            if !trades.isEmpty {
                try await c.query(
                    """
                    INSERT INTO trade (run_id, seq, entry_time, exit_time, symbol, side, entry_price, exit_price, quantity,
                        pnl_usdt, pnl_pct, duration_sec, exit_reason, fees)
                    SELECT \(id), * FROM unnest(\(trades.indices.map { Int64($0) })::int8[], \(trades.map(\.entryTime))::int8[],
                        \(trades.map(\.exitTime))::int8[], \(trades.map(\.symbol))::text[], \(trades.map(\.side.rawValue))::text[],
                        \(trades.map(\.entryPrice))::float8[], \(trades.map(\.exitPrice))::float8[], \(trades.map(\.quantity))::float8[],
                        \(trades.map(\.pnlUSDT))::float8[], \(trades.map(\.pnlPct))::float8[], \(trades.map(\.durationSeconds))::float8[],
                        \(trades.map(\.exitReason.rawValue))::text[], \(trades.map(\.fees))::float8[])
                    """,
                    logger: logger
                )
            }
            if !names.isEmpty {
                try await c.query(
                    """
                    INSERT INTO run_file (run_id, name, body)
                    SELECT \(id), n, b FROM unnest(\(names)::text[], \(names.map { ByteBuffer(bytes: files[$0] ?? []) })::bytea[]) AS f(n, b)
                    """,
                    logger: logger
                )
            }
            return true
        }
    }

    /// Stores `grade` as the grade of run `id`, replacing any earlier one.
    /// - Throws: ``RunDatabaseError/noSuchRun(_:)`` when no run `id` is recorded.
    public func record(grade: RunGrade, forRun id: String) async throws {
        let stored = try await client.withTransaction(logger: logger) { c in
            // The run's row is locked, so it cannot be deleted between the check and the insert.
            let exists = try await c.query("SELECT id FROM run WHERE id = \(id) FOR SHARE", logger: logger)
            var found = false
            for try await _ in exists.decode(String.self) { found = true }
            guard found else { return false }
            try await c.query(
                """
                INSERT INTO grade (run_id, letter, summary, reasons, graded_at)
                VALUES (\(id), \(grade.letter), \(grade.summary), \(grade.reasonsJSON), \(grade.gradedAt))
                ON CONFLICT (run_id) DO UPDATE SET letter = EXCLUDED.letter, summary = EXCLUDED.summary,
                    reasons = EXCLUDED.reasons, graded_at = EXCLUDED.graded_at
                """,
                logger: logger
            )
            return true
        }
        guard stored else { throw RunDatabaseError.noSuchRun(id) }
    }

    // MARK: - Reading

    /// Each trade's net P&L (quote currency) and net return (percent) of run `id`, in order.
    public func tradePnL(run id: String) async throws -> [(pnlUSDT: Double, pnlPct: Double)] {
        let rows = try await client.query(
            "SELECT pnl_usdt, pnl_pct FROM trade WHERE run_id = \(id) ORDER BY seq",
            logger: logger
        )
        var out: [(pnlUSDT: Double, pnlPct: Double)] = []
        for try await (usdt, pct) in rows.decode((Double, Double).self) { out.append((usdt, pct)) }
        return out
    }

    /// Every run, newest first: by `created_at`, then id, both compared byte by byte (SQLite's
    /// order, whatever the server's collation).
    public func runs() async throws -> [RunSummary] {
        try await summaries(of: nil)
    }

    /// One run, or nil.
    public func run(_ id: String) async throws -> RunSummary? {
        try await summaries(of: id).first
    }

    /// The files of run `id`'s folder (empty when none are stored).
    public func files(ofRun id: String) async throws -> [String: [UInt8]] {
        let rows = try await client.query("SELECT name, body FROM run_file WHERE run_id = \(id)", logger: logger)
        var out: [String: [UInt8]] = [:]
        for try await (name, body) in rows.decode((String, ByteBuffer).self) {
            out[name] = Array(body.readableBytesView)
        }
        return out
    }

    /// The runs (all, or only `id`) with their metrics, parameters and grades: four queries
    /// whatever the number of runs.
    private func summaries(of id: String?) async throws -> [RunSummary] {
        try await client.withConnection { c in
            let all = id == nil
            let key = id ?? ""
            let runRows = try await c.query(
                """
                SELECT id, created_at, model, symbols, window_from, window_to FROM run
                WHERE \(all) OR id = \(key) ORDER BY created_at COLLATE "C" DESC, id COLLATE "C" DESC
                """,
                logger: logger
            )
            var runs: [RunSummary] = []
            var index: [String: Int] = [:]
            for try await (id, created, model, symbols, from, to) in runRows.decode(
                (String, String, String, String, String, String).self
            ) {
                index[id] = runs.count
                runs.append(
                    RunSummary(
                        id: id,
                        createdAt: created,
                        model: model,
                        symbols: symbols,
                        window: "\(from) … \(to)",
                        metrics: [:],
                        parameters: [:],
                        grade: nil
                    )
                )
            }
            guard !runs.isEmpty else { return [] }
            let metricRows = try await c.query(
                "SELECT run_id, key, value FROM metric WHERE \(all) OR run_id = \(key)",
                logger: logger
            )
            for try await (run, name, value) in metricRows.decode((String, String, Double?).self) {
                if let i = index[run] { runs[i].metrics[name] = value ?? .nan }
            }
            let parameterRows = try await c.query(
                "SELECT run_id, key, value FROM parameter WHERE \(all) OR run_id = \(key)",
                logger: logger
            )
            for try await (run, name, value) in parameterRows.decode((String, String, String).self) {
                if let i = index[run] { runs[i].parameters[name] = value }
            }
            let gradeRows = try await c.query(
                "SELECT run_id, letter, summary, reasons, graded_at FROM grade WHERE \(all) OR run_id = \(key)",
                logger: logger
            )
            for try await (run, letter, summary, reasons, gradedAt) in gradeRows.decode(
                (String, String?, String, String, String).self
            ) {
                if let i = index[run] {
                    runs[i].grade = RunGrade(letter: letter, summary: summary, reasonsJSON: reasons, gradedAt: gradedAt)
                }
            }
            return runs
        }
    }
}
