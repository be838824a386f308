import ArgumentParser
import Backtest
import Foundation
import JobQueue
import MarketData
import Model
import PostgresRuns
import Registry
import Research
import ScalperCore
import Session

/// The shared database every queued command and worker names: `--runs-db`, else `$SCALPER_RUNS_DB`.
struct SharedDatabaseOptions: ParsableArguments {
    @Option(name: .customLong("runs-db"), help: "The shared runs database and job queue: postgres://user[:password]@host[:port]/database[?sslmode=disable] (or $SCALPER_RUNS_DB).")
    var runsDB: String?

    /// The checked URL; a failing exit naming the option when there is none or it is not PostgreSQL.
    func url() throws -> DatabaseURL {
        guard let text = runsDB ?? ProcessInfo.processInfo.environment["SCALPER_RUNS_DB"] else {
            throw fail("--runs-db: give the postgres:// URL of the shared database (or set $SCALPER_RUNS_DB)")
        }
        do {
            return try DatabaseURL(text)
        } catch {
            throw fail("--runs-db: \(error)")
        }
    }
}

/// `scalper worker`: claims queued jobs from PostgreSQL and runs them until the queue is empty.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Claim and run queued sweep and walk-forward jobs from the shared PostgreSQL database until none is left (or forever with --follow).",
        discussion: """
            Start one per machine (or several: each claims with SELECT … FOR UPDATE SKIP LOCKED, so no job runs twice at once). A running job sends a heartbeat every --heartbeat seconds; a job whose worker fell silent for --stale-after seconds (it died, or its machine did) is queued again and taken by another worker; its result is stored once whatever happens. The market data comes from this machine's own copy of the store (--store, opened read-only); the model comes from the database. deploy/ has a Kubernetes Indexed Job, a Slurm array script and a systemd unit that start workers.
            """
    )

    @OptionGroup var shared: SharedDatabaseOptions

    @Option(help: "This machine's copy of the market-data store (read-only). Default: $SCALPER_STORE, else store.path of the config.")
    var store: String?

    @Option(help: "A YAML file laid over the built-in defaults (for store.path).")
    var config: String?

    @Option(help: "Jobs run at once (each with one compute thread).")
    var concurrency = 1

    @Flag(help: "Keep waiting for new jobs once the queue is empty.")
    var follow = false

    @Option(help: "Only this batch's jobs.")
    var batch: String?

    @Option(help: "Seconds of silence after which another worker's running job is queued again.")
    var staleAfter = 60.0

    @Option(help: "Seconds between heartbeats of a running job.")
    var heartbeat = 10.0

    @Option(help: "Claims of one job before it is marked failed.")
    var maxAttempts = 3

    @Option(help: "Where model bundles fetched from the database are kept (default: a folder under the system's temporary folder).")
    var cacheDir: String?

    @Option(help: "This worker's name in the job table (default: host:pid).")
    var name: String?

    func validate() throws {
        if concurrency < 1 { throw ValidationError("--concurrency must be ≥ 1") }
        if !(staleAfter > 0) { throw ValidationError("--stale-after must be > 0 seconds") }
        if !(heartbeat > 0 && heartbeat < staleAfter) { throw ValidationError("--heartbeat must be > 0 and below --stale-after") }
        if maxAttempts < 1 { throw ValidationError("--max-attempts must be ≥ 1") }
    }

    func run() async throws {
        let url = try shared.url()
        let storePath: String
        if let store {
            storePath = store
        } else {
            let settings = try ConfigurationLoader.load(overlay: config, workspace: Workspace(home: nil))
            storePath = ProcessInfo.processInfo.environment["SCALPER_STORE"] ?? settings.store.path
        }
        // One compute thread per job (features, predictions, backtests; XGBoost trains with the
        // job's own `threads: 1`): --concurrency N jobs use N cores, as N workers on N machines would.
        ComputeThreads.limit(to: 1)
        var options = WorkerOptions(name: name ?? WorkerOptions.defaultName)
        options.concurrency = concurrency
        options.follow = follow
        options.batch = batch
        options.staleAfter = staleAfter
        options.heartbeatEvery = heartbeat
        options.maxAttempts = maxAttempts
        let cache = cacheDir ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("scalper-worker-cache")
        let chosen = options
        note("worker \(options.name): \(url), store \(storePath), \(concurrency) at once\(follow ? ", following" : "")")
        let summary: WorkerSummary
        do {
            summary = try await JobQueue.with(url) { queue in
                try await PostgresRunDatabase.with(url) { runs in
                    let sweeps = SweepJobRunner(storePath: storePath, cacheDir: cache, queue: queue)
                    let windows = WalkForwardJobRunner(storePath: storePath, cacheDir: cache, queue: queue)
                    let faults = FaultPoints()
                    return try await queue.work(chosen, log: { note($0) }) { batch, job in
                        faults.reach("worker-after-claim")
                        let body: String
                        switch batch.kind {
                        case "sweep": body = try await sweeps.run(batch, job, runs: runs, worker: chosen.name)
                        case "walkforward": body = try await windows.run(batch, job, runs: runs, worker: chosen.name)
                        default: throw JobQueueError("this worker runs sweep and walkforward jobs; batch \(batch.id) is \(batch.kind)")
                        }
                        faults.reach("worker-before-complete")
                        return body
                    }
                }
            }
        } catch let error as JobQueueError {
            throw fail("\(error)")
        } catch let error as ExitCode {
            throw error
        } catch {
            throw fail("\(url): \(JobQueue.describe(error))")
        }
        print("worker \(options.name): \(summary.stored) jobs done, \(summary.alreadyStored) finished after another worker had stored their result, \(summary.failed) failed attempts")
    }
}

/// `scalper queue`: queued batches, their progress and their results.
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Queued sweeps and walk-forwards on the shared PostgreSQL database: list, progress, results.",
        subcommands: [List.self, Status.self, Results.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every queued batch with its progress, newest first.")
        @OptionGroup var shared: SharedDatabaseOptions

        func run() async throws {
            let url = try shared.url()
            let rows = try await JobQueue.with(url) { q in
                var out: [(QueuedBatch, BatchProgress)] = []
                for b in try await q.batches() { out.append((b, try await q.progress(batch: b.id))) }
                return out
            }
            print("batch".padding(toLength: 52, withPad: " ", startingAt: 0) + "kind   owner                 queued  running  done  failed  created")
            for (b, p) in rows {
                print(
                    b.id.padding(toLength: 52, withPad: " ", startingAt: 0) + b.kind.padding(toLength: 7, withPad: " ", startingAt: 0)
                        + b.owner.padding(toLength: 22, withPad: " ", startingAt: 0)
                        + "\(p.queued)".padding(toLength: 8, withPad: " ", startingAt: 0) + "\(p.running)".padding(toLength: 9, withPad: " ", startingAt: 0)
                        + "\(p.done)".padding(toLength: 6, withPad: " ", startingAt: 0) + "\(p.failed)".padding(toLength: 8, withPad: " ", startingAt: 0) + b.createdAt
                )
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One batch's progress: jobs by state, who holds the running ones, errors.")
        @OptionGroup var shared: SharedDatabaseOptions
        @Argument(help: "The batch id (scalper queue list).") var id: String

        func run() async throws {
            let url = try shared.url()
            let (batch, progress, jobs) = try await JobQueue.with(url) { q in
                (try await q.batch(id), try await q.progress(batch: id), try await q.jobs(batch: id))
            }
            guard let batch else { throw fail("no batch \(id) in \(url)") }
            print("\(batch.kind) \(batch.id), queued by \(batch.owner) at \(batch.createdAt)")
            print("\(progress.done)/\(batch.total) done, \(progress.running) running, \(progress.queued) queued, \(progress.failed) failed; \(progress.results) results stored")
            for job in jobs where job.state == "running" { print("  job \(job.seq + 1): running on \(job.worker ?? "?") (attempt \(job.attempts))") }
            for (seq, error) in progress.errors.sorted(by: { $0.key < $1.key }) { print("  job \(seq + 1): failed: \(error)") }
            print(progress.finished ? "finished" : "in progress")
        }
    }

    struct Results: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A queued batch's results. A sweep: a table ranked by a metric, and with --runs-dir every combination written as a run folder (as a local sweep writes it). A walk-forward: each window's model registered under --models-dir, its runs written under --runs-dir, and the table, efficiency, verdict and grade `scalper walk-forward` prints.",
            discussion: "While the batch runs, this shows what has finished so far. Collecting a walk-forward again writes nothing twice: its run folders are named after the batch and window."
        )
        @OptionGroup var shared: SharedDatabaseOptions
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The batch id (scalper queue list).") var id: String
        @Option(help: "Metric to rank by (a name of metrics.csv).") var metric = BacktestMetricField.totalPnL.name
        @Option(help: "Write each combination's run folder (config.json, trades.csv, metrics.csv, …) here and record it in runs.sqlite (a walk-forward's default: backtest.runs_dir of the config).") var runsDir: String?
        @Option(help: "A walk-forward's bundles are registered here (default: model.models_dir of the config).") var modelsDir: String?
        @Option(help: "Rows of the table.") var top = 15
        @Flag(help: "A walk-forward's report as one JSON object.") var json = false
        @Option(help: "A sweep's champion is the best return with max drawdown at most this fraction (e.g. 0.05).") var maxDrawdown: Double?

        func validate() throws {
            if let maxDrawdown, !(maxDrawdown > 0 && maxDrawdown <= 1) { throw ValidationError("--max-drawdown must be in (0, 1], a fraction of equity") }
        }

        func run() async throws {
            let url = try shared.url()
            let field: BacktestMetricField
            do { field = try BacktestMetricField.named(metric) } catch { throw ValidationError("--metric: \(error)") }
            let (batch, stored, progress) = try await JobQueue.with(url) { q in
                (try await q.batch(id), try await q.results(batch: id), try await q.progress(batch: id))
            }
            guard let batch else { throw fail("no batch \(id) in \(url)") }
            if batch.kind == "walkforward" {
                try await collectWalkForward(batch, stored: stored, progress: progress, url: url)
                return
            }
            guard batch.kind == "sweep" else { throw fail("\(id) is a \(batch.kind) batch, which this version cannot read") }
            let spec = try QueueJSON.decode(QueuedSweepSpec.self, batch.spec)
            let results = try stored.map { (seq: $0.seq, worker: $0.worker, result: try QueueJSON.decode(QueuedSweepResult.self, $0.body)) }
                .sorted { $0.seq < $1.seq }
            note("\(results.count) of \(batch.total) combinations have a result\(progress.finished ? "" : " (the sweep is still running)")")
            if let judging = spec.judging {
                if progress.finished && !results.isEmpty {
                    try await judgeQueuedSweep(spec, judging: judging, results: results.map(\.result), rankField: field, url: url)
                    return
                }
                note("queued with --out-of-sample-from: once every combination has a result, this judges the champion out of sample (\(UTC.minuteString(spec.to)) → \(UTC.minuteString(judging.outOfSampleEnd))) with its deflated Sharpe ratio, Monte Carlo bands and grade")
            }
            var ids: [Int: String] = [:]
            if let runsDir {
                let root = URL(fileURLWithPath: runsDir)
                try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
                let database = try RunDatabase(path: root.appendingPathComponent("runs.sqlite").path)
                let now = UTC.now()
                for r in results {
                    let config = spec.runConfig(
                        id: BacktestRunWriter.runID(createdAt: now, description: "sweep_\(spec.label(r.result.values))", in: root),
                        result: r.result, store: "(each worker's copy)", createdAt: now, description: "queued sweep \(batch.id) job \(r.seq + 1)"
                    )
                    let replay = BacktestResult(trades: r.result.trades, equityCurve: r.result.equity, metrics: r.result.metrics)
                    _ = try BacktestRunWriter.write(replay, config: config, to: root)
                    try database.record(config: config, result: replay)
                    ids[r.seq] = config.id
                }
            }
            let ranked = results.sorted { a, b in
                let (x, y) = (field.value(a.result.metrics), field.value(b.result.metrics))
                return (x.isNaN ? -.infinity : x) > (y.isNaN ? -.infinity : y)
            }
            let names = spec.keys.map { String($0.split(separator: ".").last ?? "") }
            print("rank  " + names.map { $0.padding(toLength: 20, withPad: " ", startingAt: 0) }.joined() + metric.padding(toLength: 16, withPad: " ", startingAt: 0) + "trades  max DD   worker" + (runsDir == nil ? "" : "                run"))
            for (i, r) in ranked.prefix(top).enumerated() {
                let m = r.result.metrics
                var line = "\(i + 1)".padding(toLength: 6, withPad: " ", startingAt: 0)
                line += r.result.values.map { Sweep.format($0).padding(toLength: 20, withPad: " ", startingAt: 0) }.joined()
                line += String(format: "%.4f", field.value(m)).padding(toLength: 16, withPad: " ", startingAt: 0)
                line += "\(m.trades)".padding(toLength: 8, withPad: " ", startingAt: 0)
                line += String(format: "%.2f %%", m.maxDrawdown * 100).padding(toLength: 9, withPad: " ", startingAt: 0)
                line += r.worker.padding(toLength: 22, withPad: " ", startingAt: 0)
                if let id = ids[r.seq] { line += id }
                print(line)
            }
            guard !results.isEmpty else { return }
            // The Pareto front of return against max drawdown over the combinations finished so far,
            // and the champion under --max-drawdown, as a local sweep prints them.
            let returns = results.map(\.result.metrics.totalReturn)
            let drawdowns = results.map(\.result.metrics.maxDrawdown)
            let front = Pareto.front(returns: returns, drawdowns: drawdowns)
            let champion = Pareto.champion(returns: returns, drawdowns: drawdowns, maxDrawdown: maxDrawdown ?? .infinity)
            print("")
            print("Pareto front (whole window\(progress.finished ? "" : ", so far")): total return against max drawdown, \(front.count) of \(results.count) combinations")
            print("      " + names.map { $0.padding(toLength: 20, withPad: " ", startingAt: 0) }.joined() + "return    max DD   trades  job")
            for i in front {
                let m = results[i].result.metrics
                print(
                    (i == champion ? "  *   " : "      ") + results[i].result.values.map { Sweep.format($0).padding(toLength: 20, withPad: " ", startingAt: 0) }.joined()
                        + String(format: "%7.2f%%  %6.2f%%  %6d  ", m.totalReturn * 100, m.maxDrawdown * 100, m.trades) + "\(results[i].seq + 1)"
                        + (ids[results[i].seq].map { " (\($0))" } ?? "")
                )
            }
            if let champion {
                let c = results[champion]
                let capText = maxDrawdown.map { String(format: "max drawdown ≤ %.2f %%", $0 * 100) } ?? "no drawdown cap"
                print("champion (\(capText)): " + zip(names, c.result.values).map { "\($0)=\(Sweep.format($1))" }.joined(separator: " ") + " — job \(c.seq + 1)")
            } else {
                print("champion: none — no combination kept its max drawdown within \(String(format: "%.2f", (maxDrawdown ?? .infinity) * 100)) %")
            }
        }
    }
}

extension QueueCommand.Results {
    /// A queued walk-forward's windows so far: models registered, runs written and recorded (named
    /// after the batch, so collecting again writes nothing twice), then the report and grade
    /// `scalper walk-forward` prints.
    func collectWalkForward(
        _ batch: QueuedBatch, stored: [(seq: Int, worker: String, attempt: Int, body: String)], progress: BatchProgress, url: DatabaseURL
    ) async throws {
        let settings = try global.loadConfiguration()
        let plan = try QueueJSON.decode(WalkForwardPlan.self, batch.spec)
        let windows = try stored.map { try QueueJSON.decode(QueuedWindowResult.self, $0.body) }.sorted { $0.bounds.index < $1.bounds.index }
        note("\(windows.count) of \(batch.total) windows have a result\(progress.finished ? "" : " (the walk-forward is still running)")")
        let modelsFolder = URL(fileURLWithPath: modelsDir ?? settings.model.modelsDir)
        let root = URL(fileURLWithPath: runsDir ?? settings.backtest.runsDir)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: modelsFolder, withIntermediateDirectories: true)
        let registry: ModelRegistry
        do {
            registry = try ModelRegistry(path: modelsFolder.appendingPathComponent("registry.sqlite").path)
        } catch {
            throw fail("\(error)")
        }
        let database = try RunDatabase(path: root.appendingPathComponent("runs.sqlite").path)
        // Bundles not here yet come from the database.
        let missing = windows.compactMap { w -> String? in
            guard let name = w.bundleName, let sha = w.bundleSHA256 else { return nil }
            return FileManager.default.fileExists(atPath: modelsFolder.appendingPathComponent(name).path) ? nil : sha
        }
        let blobs = try await JobQueue.with(url) { q in
            var out: [String: [UInt8]] = [:]
            for sha in Set(missing) { out[sha] = try await q.blob(sha256: sha) }
            return out
        }
        var results: [WalkForwardCommand.Window] = []
        for w in windows {
            guard let name = w.bundleName, let sha = w.bundleSHA256, let auc = w.testAUC, let trading = w.settings,
                let inSample = w.inSample, let outOfSample = w.outOfSample
            else {
                note("window \(w.bounds.index + 1) (\(UTC.dayString(w.bounds.trainStart)) … \(UTC.dayString(w.bounds.testEnd))): skipped: \(w.skipped ?? "no result")")
                continue
            }
            let bundle = modelsFolder.appendingPathComponent(name)
            if !FileManager.default.fileExists(atPath: bundle.path) {
                guard let bytes = blobs[sha] else { throw fail("window \(w.bounds.index + 1): its bundle \(sha.prefix(12))… is not in \(url)") }
                do {
                    try FolderBlob.install(bytes, sha256: sha, at: bundle.path)
                    try registry.register(bundle: bundle, origin: .walkForward)
                } catch {
                    throw fail("window \(w.bounds.index + 1): \(error)")
                }
            }
            results.append(
                try WalkForwardCommand.record(
                    w.bounds, bundlePath: bundle.path, bundleName: name, testAUC: auc, settings: trading,
                    inSample: inSample.backtest, outOfSample: outOfSample.backtest, plan: plan, store: "(each worker's copy)",
                    root: root, database: database,
                    runIDs: ("\(batch.id)-w\(w.bounds.index + 1)-in-sample", "\(batch.id)-w\(w.bounds.index + 1)-out-of-sample")
                )
            )
        }
        guard let first = results.first else {
            throw fail(progress.finished ? "no window of \(batch.id) had enough data" : "no window of \(batch.id) has finished yet")
        }
        let day = 86_400_000.0
        WalkForwardCommand.report(
            results, train: plan.train, test: plan.test, json: json,
            trainDays: Double(first.trainEnd - first.trainStart) / day, testDays: Double(first.testEnd - first.trainEnd) / day
        )
        let grade = try WalkForwardGrade.record(results, settings: plan.trading, database: database)
        // The same grade with the out-of-sample runs the workers recorded in the shared runs
        // database, so `scalper runs show ID --runs-db URL` prints it on any machine.
        let stored = RunGrade(letter: grade.letter?.rawValue, summary: grade.summary, reasonsJSON: try grade.json(), gradedAt: UTC.isoString(UTC.now()))
        let outRuns = results.map(\.outRun)
        try await PostgresRunDatabase.with(url) { runs in
            for id in outRuns where try await runs.run(id) != nil { try await runs.record(grade: stored, forRun: id) }
        }
        if !json { for line in grade.report { print(line) } }
    }
}

extension QueueCommand.Results {
    /// A finished queued sweep queued with `--out-of-sample-from`, reported as `scalper sweep` reports
    /// one run here: every combination a run under the runs folder, the ranking, heatmap, Pareto
    /// front and champion, the champion backtested on the out-of-sample days from this machine's
    /// store with the model from the database, its deflated Sharpe ratio, Monte Carlo bands and
    /// grade. The champion's out-of-sample run and grade also go into the shared runs database.
    func judgeQueuedSweep(
        _ spec: QueuedSweepSpec, judging: QueuedSweepJudging, results: [QueuedSweepResult], rankField: BacktestMetricField, url: DatabaseURL
    ) async throws {
        let settings = try global.loadConfiguration()
        let storePath = global.storePath(settings)
        let store = try MarketStore(readingOnly: storePath)
        let folder = (NSTemporaryDirectory() as NSString).appendingPathComponent("scalper-worker-cache/models/\(spec.modelSHA256)")
        if !FileManager.default.fileExists(atPath: folder) {
            let sha = spec.modelSHA256
            let blob = try await JobQueue.with(url) { try await $0.blob(sha256: sha) }
            guard let bytes = blob else {
                throw fail("the model bundle \(sha.prefix(12))… is not in \(url)")
            }
            try FolderBlob.install(bytes, sha256: sha, at: folder)
        }
        let predictor: Predictor
        do {
            predictor = try ModelBundle.load(folder)
        } catch {
            throw fail("\(error)")
        }
        guard let interval = KlineInterval(spec.interval) else { throw fail("unknown interval \(spec.interval)") }
        // The in-sample window once more on this machine: the reliability table every run's page shows.
        let series = try loadTradingSeries(store, symbols: spec.symbols, interval: interval, from: spec.from, to: spec.to, warmupBars: spec.warmupBars)
        var prepared = try BacktestEngine.prepare(
            series: series, predictor: predictor, interval: interval, minimumProbability: spec.minimumProbability,
            tradableFrom: spec.from, warmupBars: spec.warmupBars
        )
        for symbol in spec.symbols { prepared.filters[symbol] = try store.symbolFilters(symbol: symbol) }
        // Each key's values in the order of the grid (the jobs' order).
        var values = [[Double]](repeating: [], count: spec.keys.count)
        for r in results {
            for (k, v) in r.values.enumerated() where k < values.count && !values[k].contains(v) { values[k].append(v) }
        }
        let parameters = zip(spec.keys, values).map { SweepParameter(key: $0, values: $1) }
        let root = URL(fileURLWithPath: runsDir ?? settings.backtest.runsDir)
        let now = UTC.now()
        let sweepFolder = root.appendingPathComponent(BacktestRunWriter.runID(createdAt: now, description: "sweep", in: root))
        try FileManager.default.createDirectory(at: sweepFolder, withIntermediateDirectories: true)
        note("sweep folder: \(sweepFolder.path)")
        let judged = try SweepCommand.report(
            results.map { (values: $0.values, settings: $0.settings, result: BacktestResult(trades: $0.trades, equityCurve: $0.equity, metrics: $0.metrics)) },
            parameters: parameters, rankField: rankField, predictor: predictor, prepared: prepared, list: spec.symbols, interval: interval,
            window: (spec.from, spec.to, judging.outOfSampleEnd), split: spec.to, store: store, settings: settings, root: root,
            folder: sweepFolder, now: now,
            choices: SweepCommand.ReportChoices(
                model: spec.modelPath, metric: metric, top: top, maxDrawdown: maxDrawdown ?? judging.maxDrawdown,
                monteCarloPaths: judging.monteCarloPaths, storePath: storePath
            )
        )
        guard let judged else { return }
        let files = try BacktestRunWriter.files(inFolder: root.appendingPathComponent(judged.config.id))
        let recorded = try await PostgresRunDatabase.with(url) { runs in
            guard try await runs.record(config: judged.config, result: judged.result, files: files) else { return false }
            if let grade = judged.grade { try await runs.record(grade: grade, forRun: judged.config.id) }
            return true
        }
        note(
            recorded
                ? "the champion's out-of-sample run \(judged.config.id) and its grade are in the shared runs database too"
                : "the shared runs database already holds a run \(judged.config.id); the champion's run is under \(root.path) only"
        )
    }
}
