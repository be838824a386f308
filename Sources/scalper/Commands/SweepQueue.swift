import Backtest
import Foundation
import JobQueue
import MarketData
import Model
import PostgresRuns
import ScalperCore
import Trading

/// What every job of a queued sweep needs: the window, the model (by the SHA-256 of its bundle, stored
/// in the database), the base settings and the swept keys. Each job adds one combination's values.
struct QueuedSweepSpec: Codable, Equatable {
    var symbols: [String]
    /// The sweep's window [from, to) (ms).
    var from: Int64
    var to: Int64
    var interval: String
    var warmupBars: Int
    /// The lowest min_probability of any combination: the rows that get full predictions, exactly as
    /// in one process.
    var minimumProbability: Double
    var modelSHA256: String
    var modelName: String
    /// The bundle's path on the machine that queued it (recorded with the runs).
    var modelPath: String
    var base: BacktestSettings
    var keys: [String]
    /// XGBoost threads per job (1: one compute thread per job; a worker runs --concurrency jobs).
    var threads: Int
    /// With `--out-of-sample-from`: the jobs cover [from, to) in sample, and `queue results`
    /// judges the champion over [to, outOfSampleEnd) once every combination has a result.
    var judging: QueuedSweepJudging?
}

/// How a queued sweep's champion is judged out of sample (the options it was queued with).
struct QueuedSweepJudging: Codable, Equatable {
    var outOfSampleEnd: Int64
    var maxDrawdown: Double?
    var monteCarloPaths: Int
}

extension QueuedSweepSpec {
    /// A combination's run as a local sweep records it: `key=value` pairs name it.
    func runConfig(id: String, result: QueuedSweepResult, store: String, createdAt: Int64, description: String) -> BacktestRunConfig {
        BacktestRunConfig(
            id: id, model: modelPath, modelName: modelName, symbols: symbols, from: UTC.isoString(from), to: UTC.isoString(to),
            interval: interval, store: store, settings: result.settings, createdAt: UTC.isoString(createdAt),
            gitCommit: gitCommit(), description: "\(description): \(label(result.values))"
        )
    }

    /// `take_profit_pct=0.004_stop_loss_pct=0.002`.
    func label(_ values: [Double]) -> String {
        zip(keys, values).map { "\($0.0.split(separator: ".").last ?? "")=\(Sweep.format($0.1))" }.joined(separator: "_")
    }
}

/// One combination.
struct QueuedSweepJob: Codable, Equatable {
    var values: [Double]
}

/// A combination's result as stored in the database: what the run folder of a local sweep holds.
struct QueuedSweepResult: Codable {
    var values: [Double]
    var settings: BacktestSettings
    var metrics: BacktestMetrics
    var trades: [TradeRecord]
    /// The equity curve thinned to at most 2,000 points (for the run folder's plot).
    var equity: [BacktestEquityPoint]
}

/// JSON with ∞ and NaN as text (metrics such as the profit factor may be infinite).
enum QueueJSON {
    static func encode(_ value: some Encodable) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try e.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try d.decode(type, from: Data(text.utf8))
    }
}

enum SweepQueueing {
    /// Queues one job per combination on `url` (the bundle stored once by its SHA-256); returns the batch id.
    static func enqueue(
        url: DatabaseURL,
        modelPath: String,
        predictor: Predictor,
        symbols: [String],
        window: (from: Int64, to: Int64),
        warmupBars: Int,
        base: BacktestSettings,
        parameters: [SweepParameter],
        name: String?,
        judging: QueuedSweepJudging? = nil
    ) async throws -> (id: String, jobs: Int) {
        let combinations = Sweep.combinations(parameters)
        // Every combination is checked here, so a bad value fails now rather than on a worker.
        for values in combinations {
            _ = try zip(parameters, values).reduce(base) { try Sweep.apply($0, key: $1.0.key, value: $1.1) }
        }
        let swept = parameters.first { $0.key == "signals.min_probability" }?.values ?? []
        let floor = ([base.signals.minProbability] + swept).min() ?? 0
        let bundle = try FolderBlob.pack(folder: modelPath, files: ModelBundle.requiredFiles)
        let spec = QueuedSweepSpec(
            symbols: symbols, from: window.from, to: window.to, interval: predictor.metadata.interval, warmupBars: warmupBars,
            minimumProbability: floor, modelSHA256: bundle.sha256, modelName: predictor.metadata.name, modelPath: modelPath,
            base: base, keys: parameters.map(\.key), threads: 1, judging: judging
        )
        let id = batchID(kind: "sweep", name: name)
        let payloads = try combinations.map { try QueueJSON.encode(QueuedSweepJob(values: $0)) }
        let specText = try QueueJSON.encode(spec)
        try await JobQueue.with(url) { q in
            try await q.putBlob(sha256: bundle.sha256, bytes: bundle.bytes)
            try await q.enqueue(id: id, kind: "sweep", owner: owner(), spec: specText, payloads: payloads)
        }
        return (id, payloads.count)
    }

    /// `sweep-<name->20261203T101500Z-<8 hex>`: unique across users and machines.
    static func batchID(kind: String, name: String?) -> String {
        let stamp = UTC.isoString(UTC.now()).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
        let label = name.map { "\($0)-" } ?? ""
        return "\(kind)-\(label)\(stamp)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// `user@host` of this process.
    static func owner() -> String {
        let user = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "user"
        return "\(user)@\(ProcessInfo.processInfo.hostName)"
    }
}

/// What a worker prepares once per batch (bars, features, predictions) and every later job of the
/// batch reuses; a preparation that failed is not kept, so the job given back prepares afresh.
actor OncePerBatch<Value: Sendable> {
    private var tasks: [String: Task<Value, any Error>] = [:]

    /// The value of `batch`, made by `make` the first time it is asked for (callers at the same
    /// time wait for the same making).
    func value(_ batch: String, _ make: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if let task = tasks[batch] { return try await task.value }
        let task = Task(operation: make)
        tasks[batch] = task
        do {
            return try await task.value
        } catch {
            if tasks[batch] == task { tasks[batch] = nil }
            throw error
        }
    }
}

/// Runs queued sweep jobs on one worker: each batch's bars, features and predictions are prepared
/// once per worker (the first of its jobs here) and every later job of the batch replays them.
actor SweepJobRunner {
    let storePath: String
    let cacheDir: String
    let queue: JobQueue
    private let prepared = OncePerBatch<PreparedBacktest>()

    init(storePath: String, cacheDir: String, queue: JobQueue) {
        self.storePath = storePath
        self.cacheDir = cacheDir
        self.queue = queue
    }

    /// The result body of `job`, its run first recorded in the shared runs database `runs` as
    /// `<batch>-j<n>` (keyed: a retried job records nothing twice), so `scalper runs list --runs-db`
    /// shows the sweep's runs while it runs.
    func run(_ batch: QueuedBatch, _ job: ClaimedJob, runs: PostgresRunDatabase, worker: String) async throws -> String {
        let spec = try QueueJSON.decode(QueuedSweepSpec.self, batch.spec)
        let values = try QueueJSON.decode(QueuedSweepJob.self, job.payload).values
        guard values.count == spec.keys.count else { throw JobQueueError("job \(job.seq) has \(values.count) values for \(spec.keys.count) keys") }
        let ready = try await preparedBacktest(batch.id, spec)
        var settings = spec.base
        for (key, value) in zip(spec.keys, values) { settings = try Sweep.apply(settings, key: key, value: value) }
        let result = await Task.detached { BacktestEngine.replay(ready, settings: settings) }.value
        let stored = QueuedSweepResult(values: values, settings: settings, metrics: result.metrics, trades: result.trades, equity: BacktestResult.thinned(result.equityCurve))
        let config = spec.runConfig(
            id: "\(batch.id)-j\(job.seq + 1)", result: stored, store: "\(worker)'s copy", createdAt: UTC.now(),
            description: "queued sweep \(batch.id) job \(job.seq + 1)"
        )
        let replay = BacktestResult(trades: stored.trades, equityCurve: stored.equity, metrics: stored.metrics)
        _ = try await runs.record(config: config, result: replay, files: try BacktestRunWriter.files(replay, config: config))
        return try QueueJSON.encode(stored)
    }

    private func preparedBacktest(_ batchID: String, _ spec: QueuedSweepSpec) async throws -> PreparedBacktest {
        let (storePath, cacheDir, queue) = (self.storePath, self.cacheDir, self.queue)
        return try await prepared.value(batchID) {
            let folder = (cacheDir as NSString).appendingPathComponent("models/\(spec.modelSHA256)")
            // Workers on one machine share the cache: the folder appears complete or not at all.
            if !FileManager.default.fileExists(atPath: folder) {
                guard let bytes = try await queue.blob(sha256: spec.modelSHA256) else {
                    throw JobQueueError("the model bundle \(spec.modelSHA256.prefix(12))… is not in the database")
                }
                try FolderBlob.install(bytes, sha256: spec.modelSHA256, at: folder)
            }
            let predictor = try ModelBundle.load(folder)
            try predictor.setThreads(spec.threads)
            guard let interval = KlineInterval(spec.interval) else { throw JobQueueError("unknown interval \(spec.interval)") }
            let store = try MarketStore(readingOnly: storePath)
            let series = try loadTradingSeries(store, symbols: spec.symbols, interval: interval, from: spec.from, to: spec.to, warmupBars: spec.warmupBars)
            var ready = try BacktestEngine.prepare(
                series: series, predictor: predictor, interval: interval, minimumProbability: spec.minimumProbability,
                tradableFrom: spec.from, warmupBars: spec.warmupBars
            )
            for symbol in spec.symbols { ready.filters[symbol] = try store.symbolFilters(symbol: symbol) }
            return ready
        }
    }
}
