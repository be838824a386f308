import Backtest
import Dashboard
import Foundation
import JobQueue
import MarketData
import Model
import PostgresRuns
import ScalperCore
import Trading

/// One backtest of a queued window as stored in the database: what its run folder holds.
struct QueuedBacktest: Codable, Sendable {
    var from: Int64
    var to: Int64
    var metrics: BacktestMetrics
    var trades: [TradeRecord]
    /// The equity curve thinned to at most 2,000 points (for the run folder's plot).
    var equity: [BacktestEquityPoint]
    var reliability: [Backtest.ReliabilityBin]

    init(_ b: WalkForwardBacktest) {
        (from, to, metrics, trades) = (b.from, b.to, b.result.metrics, b.result.trades)
        equity = BacktestResult.thinned(b.result.equityCurve)
        reliability = b.reliability
    }

    var backtest: WalkForwardBacktest {
        WalkForwardBacktest(from: from, to: to, result: BacktestResult(trades: trades, equityCurve: equity, metrics: metrics), reliability: reliability)
    }
}

/// A queued window's result: its model (a blob in the database, by SHA-256) and both backtests, or
/// why it was skipped (too little data to train).
struct QueuedWindowResult: Codable, Sendable {
    var bounds: WalkForwardBounds
    var skipped: String?
    var bundleName: String?
    var bundleSHA256: String?
    /// The bundle's files, in the blob.
    var bundleFiles: [String]?
    var testAUC: Double?
    var settings: BacktestSettings?
    var inSample: QueuedBacktest?
    var outOfSample: QueuedBacktest?
}

/// Runs queued walk-forward windows on one worker: the batch's bars and feature rows are computed
/// once per worker (over the walk-forward's whole span, as `scalper walk-forward` computes them, so
/// every window's rows are the same as in one process) and each window job trains and backtests.
actor WalkForwardJobRunner {
    struct Prepared: @unchecked Sendable {
        var series: [(symbol: String, klines: [Kline])]
        var rows: LabeledRows
        var gaps: Int
        var filters: [String: SymbolFilters]
    }

    let storePath: String
    let cacheDir: String
    let queue: JobQueue
    private let prepared = OncePerBatch<Prepared>()

    init(storePath: String, cacheDir: String, queue: JobQueue) {
        self.storePath = storePath
        self.cacheDir = cacheDir
        self.queue = queue
    }

    /// The result body of `job`; the window's bundle is stored in the database as a blob first, and
    /// its two runs in the shared runs database as `<batch>-w<n>-in-sample` / `-out-of-sample`
    /// (keyed: a retried job records nothing twice; `queue results` writes the same ids locally).
    func run(_ batch: QueuedBatch, _ job: ClaimedJob, runs: PostgresRunDatabase, worker: String) async throws -> String {
        let plan = try QueueJSON.decode(WalkForwardPlan.self, batch.spec)
        let bounds = try QueueJSON.decode(WalkForwardBounds.self, job.payload)
        let ready = try await prepare(batch.id, plan)
        // Each attempt trains into its own folder: a retried job never meets a half-written one.
        let folder = URL(fileURLWithPath: cacheDir).appendingPathComponent("walkforward/\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        // The window trains and backtests off the actor; what comes back is its result and bundle.
        let computed: (result: QueuedWindowResult, bundle: String?) = try await Task.detached {
            let ran: WalkForwardWindowRun
            do {
                ran = try WalkForwardWindowRunner.run(
                    bounds, plan: plan, series: ready.series, rows: ready.rows, gaps: ready.gaps, filters: ready.filters,
                    modelsFolder: folder, gitCommit: gitCommit(), progress: { _ in }
                )
            } catch let error as ModelError {
                return (QueuedWindowResult(bounds: bounds, skipped: "\(error)"), nil)
            }
            return (
                QueuedWindowResult(
                    bounds: bounds, skipped: nil, bundleName: ran.outcome.metadata.name, testAUC: ran.outcome.model.testRaw.auc,
                    settings: ran.settings, inSample: QueuedBacktest(ran.inSample), outOfSample: QueuedBacktest(ran.outOfSample)
                ),
                ran.outcome.bundle.path
            )
        }.value
        var result = computed.result
        if let bundle = computed.bundle {
            let files = try FileManager.default.contentsOfDirectory(atPath: bundle).filter { !$0.hasPrefix(".") }.sorted()
            let blob = try FolderBlob.pack(folder: bundle, files: files)
            try await queue.putBlob(sha256: blob.sha256, bytes: blob.bytes)
            (result.bundleSHA256, result.bundleFiles) = (blob.sha256, files)
        }
        if let name = result.bundleName, let settings = result.settings, let inSample = result.inSample, let outOfSample = result.outOfSample {
            for (label, b) in [("in-sample", inSample.backtest), ("out-of-sample", outOfSample.backtest)] {
                let config = plan.runConfig(
                    id: "\(batch.id)-w\(bounds.index + 1)-\(label)", window: bounds, label: label, backtest: b, bundlePath: name, bundleName: name,
                    settings: settings, store: "\(worker)'s copy", createdAt: UTC.now()
                )
                var files = try BacktestRunWriter.files(b.result, config: config)
                files["report.html"] = Array(try BacktestReportPage.html(b.result, config: config, reliability: b.reliability).utf8)
                _ = try await runs.record(config: config, result: b.result, files: files)
            }
        }
        return try QueueJSON.encode(result)
    }

    private func prepare(_ batchID: String, _ plan: WalkForwardPlan) async throws -> Prepared {
        let storePath = self.storePath
        return try await prepared.value(batchID) {
            let interval = try plan.klineInterval
            let store = try MarketStore(readingOnly: storePath)
            var series: [(symbol: String, klines: [Kline])] = []
            for symbol in plan.symbols {
                series.append((symbol, try store.requireKlines(symbol: symbol, interval: interval, from: plan.from, to: plan.to)))
            }
            let (rows, gaps) = try WalkForwardWindowRunner.rows(plan, series: series)
            var filters: [String: SymbolFilters] = [:]
            for symbol in plan.symbols { filters[symbol] = try store.symbolFilters(symbol: symbol) }
            return Prepared(series: series, rows: rows, gaps: gaps, filters: filters)
        }
    }
}
