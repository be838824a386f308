import ArgumentParser
import Backtest
import Foundation
import JobQueue
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
        abstract: "Claim and run queued sweep jobs from the shared PostgreSQL database until none is left (or forever with --follow).",
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
                let runner = SweepJobRunner(storePath: storePath, cacheDir: cache, queue: queue)
                let faults = FaultPoints()
                return try await queue.work(chosen, log: { note($0) }) { batch, job in
                    faults.reach("worker-after-claim")
                    guard batch.kind == "sweep" else { throw JobQueueError("this worker runs sweep jobs; batch \(batch.id) is \(batch.kind)") }
                    let body = try await runner.run(batch, job)
                    faults.reach("worker-before-complete")
                    return body
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
        abstract: "Queued sweeps on the shared PostgreSQL database: list, progress, results.",
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
            abstract: "A queued sweep's results: a table ranked by a metric, and with --runs-dir every combination written as a run folder (as a local sweep writes it)."
        )
        @OptionGroup var shared: SharedDatabaseOptions
        @Argument(help: "The batch id (scalper queue list).") var id: String
        @Option(help: "Metric to rank by (a name of metrics.csv).") var metric = BacktestMetricField.totalPnL.name
        @Option(help: "Write each combination's run folder (config.json, trades.csv, metrics.csv, …) here and record it in runs.sqlite.") var runsDir: String?
        @Option(help: "Rows of the table.") var top = 15

        func run() async throws {
            let url = try shared.url()
            let field: BacktestMetricField
            do { field = try BacktestMetricField.named(metric) } catch { throw ValidationError("--metric: \(error)") }
            let (batch, stored, progress) = try await JobQueue.with(url) { q in
                (try await q.batch(id), try await q.results(batch: id), try await q.progress(batch: id))
            }
            guard let batch else { throw fail("no batch \(id) in \(url)") }
            guard batch.kind == "sweep" else { throw fail("\(id) is a \(batch.kind) batch, not a sweep") }
            let spec = try QueueJSON.decode(QueuedSweepSpec.self, batch.spec)
            let results = try stored.map { (seq: $0.seq, worker: $0.worker, result: try QueueJSON.decode(QueuedSweepResult.self, $0.body)) }
            note("\(results.count) of \(batch.total) combinations have a result\(progress.finished ? "" : " (the sweep is still running)")")
            var ids: [Int: String] = [:]
            if let runsDir {
                let root = URL(fileURLWithPath: runsDir)
                try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
                let database = try RunDatabase(path: root.appendingPathComponent("runs.sqlite").path)
                let now = UTC.now()
                for r in results {
                    let label = zip(spec.keys, r.result.values).map { "\($0.0.split(separator: ".").last ?? "")=\(Sweep.format($0.1))" }.joined(separator: "_")
                    let config = BacktestRunConfig(
                        id: BacktestRunWriter.runID(createdAt: now, description: "sweep_\(label)", in: root),
                        model: spec.modelPath, modelName: spec.modelName, symbols: spec.symbols, from: UTC.isoString(spec.from), to: UTC.isoString(spec.to),
                        interval: spec.interval, store: "(each worker's copy)", settings: r.result.settings, createdAt: UTC.isoString(now),
                        gitCommit: gitCommit(), description: "queued sweep \(batch.id) job \(r.seq + 1): \(label)"
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
        }
    }
}
