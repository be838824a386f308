import Foundation
import Testing
import Trading

@testable import Backtest

/// A run of three trades, one a minute from 2023-09-01.
private func makeRun(_ id: String) -> (BacktestRunConfig, BacktestResult) {
    let start: Int64 = 1_693_526_400_000
    let trades = [2.5, -1.25, 0.75].enumerated().map { i, p in
        TradeRecord(
            entryTime: start + Int64(i) * 60_000,
            exitTime: start + Int64(i) * 60_000 + 30_000,
            symbol: "FILUSDT",
            side: .buy,
            entryPrice: 4,
            exitPrice: 4 + p / 100,
            quantity: 100,
            pnlUSDT: p,
            pnlPct: p / 4,
            durationSeconds: 30,
            exitReason: p > 0 ? .takeProfit : .stopLoss,
            fees: 0.8,
            probability: 0.6,
            confidence: 0.2
        )
    }
    let curve = (0...3).map { BacktestEquityPoint(time: start + Int64($0) * 60_000, equity: 10_000 + Double($0)) }
    let metrics = BacktestMetrics.compute(
        trades: trades,
        equityCurve: curve,
        startingCapital: 10_000,
        finalEquity: 10_002,
        feesPaid: 2.4,
        exposureMilliseconds: 90_000,
        series: [],
        signals: 3,
        refusals: [:]
    )
    let config = BacktestRunConfig(
        id: id,
        model: "models/m",
        modelName: "m",
        symbols: ["FILUSDT"],
        from: "2023-09-01T00:00:00Z",
        to: "2023-09-02T00:00:00Z",
        interval: "1m",
        store: "",
        settings: BacktestSettings(),
        createdAt: "2026-12-03T00:00:00Z",
        gitCommit: "",
        description: id
    )
    return (config, BacktestResult(trades: trades, equityCurve: curve, metrics: metrics))
}

@Suite("A run's files in memory and in the SQLite runs database")
struct RunFilesTests {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("run-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    @Test("The files in memory are byte for byte those BacktestRunWriter writes, and files(inFolder:) reads them back")
    func filesEqualTheFolder() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let (config, result) = makeRun("2026-12-03_0000_files")
        let folder = try BacktestRunWriter.write(result, config: config, to: root)
        let written = try BacktestRunWriter.files(inFolder: folder)
        #expect(Set(written.keys) == ["config.json", "trades.csv", "metrics.csv", "summary.txt", "equity.svg"])
        #expect(try BacktestRunWriter.files(result, config: config) == written)
    }

    @Test(
        "RunDatabase as a RunStore: the files become the run's folder; a second record of the id stores nothing; a path in a file name is refused"
    )
    func sqliteRecordsFiles() async throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let database = try RunDatabase(path: root.appendingPathComponent("runs.sqlite").path)
        let store: any RunStore = database
        let (config, result) = makeRun("2026-12-03_0000_store")
        let files = try BacktestRunWriter.files(result, config: config)
        #expect(try await store.record(config: config, result: result, files: files))
        #expect(try await store.files(ofRun: config.id) == files)
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("\(config.id)/trades.csv").path))
        let (_, other) = makeRun("ignored")
        #expect(try await !store.record(config: config, result: other, files: ["other.txt": [1, 2]]))
        #expect(try await store.files(ofRun: config.id) == files)
        #expect(try await store.runs().map(\.id) == [config.id])
        #expect(try await store.tradePnL(run: config.id).map(\.pnlUSDT) == [2.5, -1.25, 0.75])
        var second = config
        second.id = "2026-12-03_0001_bad"
        let error = await #expect(throws: RunDatabaseError.self) {
            try await store.record(config: second, result: result, files: ["../x": []])
        }
        #expect(error == .badFileName("../x"))
        #expect(try await store.run(second.id) == nil)
        #expect(try await store.files(ofRun: "missing").isEmpty)
    }
}
