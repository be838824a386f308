@testable import Backtest
import Foundation
import Testing
import Trading

/// A run of `pnl` trades (one a minute from 2023-09-01) recorded under `id`.
private func record(_ id: String, pnl: [Double], in database: RunDatabase) throws {
    let start: Int64 = 1_693_526_400_000
    let trades = pnl.enumerated().map { i, p in
        TradeRecord(
            entryTime: start + Int64(i) * 60_000, exitTime: start + Int64(i) * 60_000 + 30_000, symbol: "FILUSDT", side: .buy,
            entryPrice: 4, exitPrice: 4 + p / 100, quantity: 100, pnlUSDT: p, pnlPct: p / 4, durationSeconds: 30,
            exitReason: p > 0 ? .takeProfit : .stopLoss, fees: 0.8, probability: 0.6, confidence: 0.2
        )
    }
    let final = 10_000 + pnl.reduce(0, +)
    let curve = [BacktestEquityPoint(time: start + Int64(pnl.count) * 60_000, equity: final)]
    let metrics = BacktestMetrics.compute(
        trades: trades, equityCurve: curve, startingCapital: 10_000, finalEquity: final, feesPaid: 0.8 * Double(pnl.count),
        exposureMilliseconds: 0, series: [], signals: pnl.count, refusals: [:]
    )
    let result = BacktestResult(trades: trades, equityCurve: curve, metrics: metrics, barsReplayed: pnl.count, timings: [:])
    let config = BacktestRunConfig(
        id: id, model: "models/m", modelName: "m", symbols: ["FILUSDT"], from: "2023-09-01T00:00:00Z", to: "2023-09-02T00:00:00Z",
        interval: "1m", store: "", settings: BacktestSettings(), createdAt: "2026-12-03T00:00:00Z", gitCommit: "", description: id
    )
    try database.record(config: config, result: result)
}

@Suite("Runs database: grades, and databases from before grades")
struct RunDatabaseGradeTests {
    @Test("A database written before grades existed opens, keeps its runs and trades, shows them not graded, and then stores grades")
    func oldDatabaseMigrates() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("run-grades-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("runs.sqlite").path
        do {
            // The schema as the version before grades wrote it.
            let old = try RunDatabase(path: path, migratingUpTo: "v1-runs")
            try record("old", pnl: [12, -5, 7], in: old)
        }
        let database = try RunDatabase(path: path)
        let old = try #require(try database.run("old"))
        #expect(old.grade == nil)
        #expect(old.metrics["trades"] == 3)
        #expect(try database.tradePnL(run: "old").map(\.pnlUSDT) == [12, -5, 7])
        #expect(try database.tradePnL(run: "old").map(\.pnlPct) == [3, -1.25, 1.75])

        let grade = RunGrade(letter: "C", summary: "C (6 of 10 points)", reasonsJSON: #"{"letter":"C"}"#, gradedAt: "2026-12-03T17:00:00Z")
        try database.record(grade: grade, forRun: "old")
        #expect(try database.run("old")?.grade == grade)
        // Graded again (a rerun of the research command): the new grade replaces the old one.
        let none = RunGrade(letter: nil, summary: "no grade (3 trades < 30)", reasonsJSON: "{}", gradedAt: "2026-12-03T18:00:00Z")
        try database.record(grade: none, forRun: "old")
        #expect(try database.run("old")?.grade == none)
        try record("new", pnl: [1], in: database)
        #expect(try database.run("new")?.grade == nil)
        #expect(try database.runs().map(\.id).sorted() == ["new", "old"])
        // Reopening an up-to-date database changes nothing.
        #expect(try RunDatabase(path: path).run("old")?.grade == none)
    }

    @Test("A grade for a run the database does not hold is refused with the run's id")
    func unknownRun() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("run-grades-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = try RunDatabase(path: folder.appendingPathComponent("runs.sqlite").path)
        let error = #expect(throws: RunDatabaseError.self) {
            try database.record(grade: RunGrade(letter: "A", summary: "A", reasonsJSON: "{}", gradedAt: ""), forRun: "nope")
        }
        #expect(error == .noSuchRun("nope"))
        #expect(try database.tradePnL(run: "nope").isEmpty)
    }
}
