import Foundation
import GRDB
import JobQueue
import Logging
import PostgresNIO
import PostgresRuns
import ScalperTestSupport
import Testing
import Trading

@testable import Backtest

/// A run of `pnl` trades (one a minute from 2023-09-01) made at `createdAt`.
private func makeRun(_ id: String, pnl: [Double], createdAt: String) -> (BacktestRunConfig, BacktestResult) {
    let start: Int64 = 1_693_526_400_000
    let trades = pnl.enumerated().map { i, p in
        TradeRecord(
            entryTime: start + Int64(i) * 60_000,
            exitTime: start + Int64(i) * 60_000 + 30_000,
            symbol: i % 2 == 0 ? "FILUSDT" : "NEARUSDT",
            side: .buy,
            entryPrice: 4.125,
            exitPrice: 4.125 + p / 100,
            quantity: 100.5,
            pnlUSDT: p,
            pnlPct: p / 4.125,
            durationSeconds: 30,
            exitReason: p > 0 ? .takeProfit : .stopLoss,
            fees: 0.8,
            probability: 0.6,
            confidence: 0.2
        )
    }
    let final = 10_000 + pnl.reduce(0, +)
    let curve = (0...pnl.count).map {
        BacktestEquityPoint(time: start + Int64($0) * 60_000, equity: 10_000 + pnl.prefix($0).reduce(0, +))
    }
    let metrics = BacktestMetrics.compute(
        trades: trades,
        equityCurve: curve,
        startingCapital: 10_000,
        finalEquity: final,
        feesPaid: 0.8 * Double(pnl.count),
        exposureMilliseconds: 0,
        series: [],
        signals: pnl.count,
        refusals: [:]
    )
    var settings = BacktestSettings()
    settings.signals.takeProfitPct = 0.002 + Double(pnl.count) / 10_000
    let config = BacktestRunConfig(
        id: id,
        model: "models/m",
        modelName: "m",
        symbols: ["FILUSDT", "NEARUSDT"],
        from: "2023-09-01T00:00:00Z",
        to: "2023-09-02T00:00:00Z",
        interval: "1m",
        store: "m.sqlite",
        settings: settings,
        createdAt: createdAt,
        gitCommit: "abc",
        description: id
    )
    return (config, BacktestResult(trades: trades, equityCurve: curve, metrics: metrics))
}

/// The runs both tests record: trades won and lost; none at all (NaN ratios); only wins (an infinite
/// profit factor); two made in the same second (ordered by id).
private let runs = [
    makeRun("2026-12-03_1000_mixed", pnl: [12.5, -3.25, 7, -1.5, 0.25], createdAt: "2026-12-03T10:00:00Z"),
    makeRun("2026-12-03_1001_empty", pnl: [], createdAt: "2026-12-03T10:01:00Z"),
    makeRun("2026-12-03_1002_wins", pnl: [1, 2, 3], createdAt: "2026-12-03T10:02:00Z"),
    makeRun("2026-12-03_1002_wins-2", pnl: [4, -1], createdAt: "2026-12-03T10:02:00Z"),
    makeRun("2026-12-03_1002_Wins_upper", pnl: [-2], createdAt: "2026-12-03T10:02:00Z"),
]

private let grades = [
    "2026-12-03_1000_mixed": RunGrade(
        letter: "B",
        summary: "B (71 points)",
        reasonsJSON: #"{"letter":"B"}"#,
        gradedAt: "2026-12-04T08:00:00Z"
    ),
    "2026-12-03_1001_empty": RunGrade(
        letter: nil,
        summary: "no grade: 0 trades",
        reasonsJSON: "{}",
        gradedAt: "2026-12-04T08:00:01Z"
    ),
]

/// Whether two runs read back the same: every field equal, NaN metrics equal to NaN (both stored as NULL).
private func same(_ a: RunSummary, _ b: RunSummary) -> Bool {
    func nanless(_ m: [String: Double]) -> [String: Double?] { m.mapValues { $0.isNaN ? nil : $0 } }
    var x = a
    var y = b
    guard nanless(x.metrics) == nanless(y.metrics) else { return false }
    x.metrics = [:]
    y.metrics = [:]
    return x == y
}

/// A plain PostgreSQL client on `url` for `body` (the tests' own queries).
private func withClient<R: Sendable>(
    _ url: DatabaseURL,
    _ body: @Sendable (PostgresClient) async throws -> R
) async throws -> R {
    let client = PostgresClient(configuration: url.configuration)
    return try await withThrowingTaskGroup(of: Void.self, returning: R.self) { group in
        group.addTask { await client.run() }
        defer { group.cancelAll() }
        return try await body(client)
    }
}

/// The connection wait of these tests: the whole suite loads both cores with many servers and
/// clients at once, and a test must not fail because the machine is busy.
private let loaded: Duration = .seconds(600)

@Suite("The runs database on PostgreSQL against SQLite (a server started on 127.0.0.1 by each test)")
struct PostgresRunDatabaseTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pg-runs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    @Test(
        "The same runs, files and grades recorded in SQLite and in PostgreSQL read back equal: order, metrics (NULL as NaN), parameters, grades, trades, files"
    )
    func sameAsSQLite() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try PostgresServer.start()
        defer { server.stop() }
        let sqlite = try RunDatabase(path: folder.appendingPathComponent("runs.sqlite").path)
        for (config, result) in runs {
            #expect(
                try sqlite.record(
                    config: config,
                    result: result,
                    files: try BacktestRunWriter.files(result, config: config)
                )
            )
        }
        for (id, grade) in grades { try sqlite.record(grade: grade, forRun: id) }
        let expected = try sqlite.runs()
        #expect(
            expected.map(\.id) == [
                "2026-12-03_1002_wins-2", "2026-12-03_1002_wins", "2026-12-03_1002_Wins_upper", "2026-12-03_1001_empty",
                "2026-12-03_1000_mixed",
            ]
        )
        // The cases the comparison must cover are there.
        let empty = try #require(expected.first { $0.id == "2026-12-03_1001_empty" })
        #expect(empty.metrics["win_rate"]?.isNaN == true)
        #expect(
            try #require(expected.first { $0.id == "2026-12-03_1002_wins" }).metrics["profit_factor"]?.isNaN == true
        )
        #expect(empty.grade?.letter == nil && empty.grade != nil)

        try await PostgresRunDatabase.with(try DatabaseURL(server.url), connectTimeout: loaded) { (pg) async throws in
            for (config, result) in runs {
                #expect(try await pg.record(config: config, result: result, files: try sqlite.files(ofRun: config.id)))
            }
            for (id, grade) in grades { try await pg.record(grade: grade, forRun: id) }
            let actual = try await pg.runs()
            #expect(actual.map(\.id) == expected.map(\.id))
            for (a, b) in zip(actual, expected) { #expect(same(a, b), "\(a.id)") }
            for (config, _) in runs {
                let a = try #require(try await pg.run(config.id))
                #expect(same(a, try #require(try sqlite.run(config.id))))
                let pnlPG = try await pg.tradePnL(run: config.id)
                let pnlSQLite = try sqlite.tradePnL(run: config.id)
                #expect(
                    pnlPG.map(\.pnlUSDT) == pnlSQLite.map(\.pnlUSDT) && pnlPG.map(\.pnlPct) == pnlSQLite.map(\.pnlPct)
                )
                let files = try await pg.files(ofRun: config.id)
                #expect(files == (try sqlite.files(ofRun: config.id)))
                #expect(Set(files.keys) == ["config.json", "trades.csv", "metrics.csv", "summary.txt", "equity.svg"])
            }
            // A later grade replaces the first in both.
            let regrade = RunGrade(
                letter: "A",
                summary: "A (90 points)",
                reasonsJSON: "{}",
                gradedAt: "2026-12-05T00:00:00Z"
            )
            try sqlite.record(grade: regrade, forRun: "2026-12-03_1000_mixed")
            try await pg.record(grade: regrade, forRun: "2026-12-03_1000_mixed")
            #expect(try await pg.run("2026-12-03_1000_mixed")?.grade == regrade)
            #expect(try sqlite.run("2026-12-03_1000_mixed")?.grade == regrade)
            // Unknown runs: nil, no trades, no files, and a grade refused naming the run.
            #expect(try await pg.run("nope") == nil)
            #expect(try await pg.tradePnL(run: "nope").isEmpty)
            #expect(try await pg.files(ofRun: "nope").isEmpty)
            await #expect(throws: RunDatabaseError.noSuchRun("nope")) {
                try await pg.record(grade: regrade, forRun: "nope")
            }
            #expect(throws: RunDatabaseError.noSuchRun("nope")) { try sqlite.record(grade: regrade, forRun: "nope") }
        }
    }

    @Test(
        "Recording a run id again stores nothing and answers false, in both; eight recorders of one id at once in PostgreSQL store it once"
    )
    func idempotentRecord() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try PostgresServer.start()
        defer { server.stop() }
        let (config, result) = runs[0]
        let (_, other) = runs[2]
        let files = try BacktestRunWriter.files(result, config: config)
        let sqlite = try RunDatabase(path: folder.appendingPathComponent("runs.sqlite").path)
        #expect(try sqlite.record(config: config, result: result, files: files))
        #expect(try !sqlite.record(config: config, result: other, files: ["extra.txt": [1]]))
        #expect(try sqlite.tradePnL(run: config.id).count == result.trades.count)
        #expect(try sqlite.files(ofRun: config.id) == files)

        let url = try DatabaseURL(server.url)
        try await PostgresRunDatabase.with(url, connectTimeout: loaded) { (pg) async throws in
            #expect(try await pg.record(config: config, result: result, files: files))
            #expect(try await !pg.record(config: config, result: other, files: ["extra.txt": [1]]))
            #expect(try await pg.tradePnL(run: config.id).count == result.trades.count)
            #expect(try await pg.files(ofRun: config.id) == files)
            #expect(try await pg.runs().count == 1)
            await #expect(throws: RunDatabaseError.badFileName("../escape")) {
                try await pg.record(config: runs[1].0, result: runs[1].1, files: ["../escape": [0]])
            }
            #expect(try await pg.run(runs[1].0.id) == nil)
        }
        // Separate connections, as separate workers retrying one job.
        let (raced, racedResult) = runs[3]
        let stored = try await withThrowingTaskGroup(of: Bool.self, returning: [Bool].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try await PostgresRunDatabase.with(url, connectTimeout: loaded) { pg in
                        try await pg.record(config: raced, result: racedResult, files: [:])
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(stored.filter { $0 }.count == 1 && stored.count == 8)
        let trades = try await withClient(url) { client in
            let rows = try await client.query(
                "SELECT count(*) FROM trade WHERE run_id = \(raced.id)",
                logger: Logger(label: "test")
            )
            var n = 0
            for try await count in rows.decode(Int.self) { n = count }
            return n
        }
        #expect(trades == racedResult.trades.count)
    }

    @Test(
        "PostgreSQL's tables and columns are SQLite's (names, order, NOT NULL, primary keys, types mapped), plus run_file"
    )
    func schemaMatchesSQLite() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try PostgresServer.start()
        defer { server.stop() }
        let path = folder.appendingPathComponent("runs.sqlite").path
        _ = try RunDatabase(path: path)
        let sqliteColumns = try await DatabaseQueue(path: path).read { db in
            var out: [String: [String]] = [:]
            let tables = try String.fetchAll(
                db,
                sql:
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%'"
            )
            for table in tables {
                out[table] = try Row.fetchAll(
                    db,
                    sql: "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?) ORDER BY cid",
                    arguments: [table]
                ).map { row in
                    let type =
                        ["TEXT": "text", "INTEGER": "bigint", "REAL": "double precision"][row["type"] as String]
                        ?? "?\(row["type"] as String)"
                    // SQLite lets a primary-key TEXT column hold NULL unless it says NOT NULL; PostgreSQL never does.
                    let notNull = (row["notnull"] as Int) == 1 || (row["pk"] as Int) > 0
                    return
                        "\(row["name"] as String) \(type)\(notNull ? " not null" : "")\((row["pk"] as Int) > 0 ? " pk" : "")"
                }
            }
            return out
        }
        #expect(Set(sqliteColumns.keys) == ["run", "parameter", "metric", "trade", "grade"])
        let url = try DatabaseURL(server.url)
        try await PostgresRunDatabase.with(url, connectTimeout: loaded) { _ in }
        // Created under the advisory lock with IF NOT EXISTS: a second start changes nothing.
        try await PostgresRunDatabase.with(url, connectTimeout: loaded) { _ in }
        let pgColumns = try await withClient(url) { client in
            let rows = try await client.query(
                """
                SELECT c.table_name::text, c.column_name::text, c.data_type::text, c.is_nullable::text,
                    EXISTS (SELECT 1 FROM information_schema.key_column_usage k JOIN information_schema.table_constraints t
                            ON t.constraint_name = k.constraint_name AND t.table_name = k.table_name
                            WHERE t.constraint_type = 'PRIMARY KEY' AND k.table_name = c.table_name AND k.column_name = c.column_name)
                FROM information_schema.columns c WHERE c.table_schema = 'public' ORDER BY c.table_name, c.ordinal_position
                """,
                logger: Logger(label: "test")
            )
            var out: [String: [String]] = [:]
            for try await (table, column, type, nullable, pk) in rows.decode(
                (String, String, String, String, Bool).self
            ) {
                out[table, default: []].append(
                    "\(column) \(type)\(nullable == "NO" ? " not null" : "")\(pk ? " pk" : "")"
                )
            }
            return out
        }
        for (table, columns) in sqliteColumns { #expect(pgColumns[table] == columns, "table \(table)") }
        #expect(Set(pgColumns.keys) == Set(sqliteColumns.keys).union(["run_file"]))
        #expect(pgColumns["run_file"] == ["run_id text not null pk", "name text not null pk", "body bytea not null"])
    }
}
