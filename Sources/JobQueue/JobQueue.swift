import Foundation
public import Logging
import PostgresNIO

/// A batch of jobs queued together: one sweep or one walk-forward.
public struct QueuedBatch: Sendable, Equatable {
    /// Unique id (`sweep-20261203T101500-4f2a`): two users' batches never share one.
    public var id: String
    /// `sweep` or `walk-forward`.
    public var kind: String
    /// `user@host` that queued it.
    public var owner: String
    /// What every job of the batch needs (JSON, the kind's own specification).
    public var spec: String
    /// Jobs in the batch.
    public var total: Int
    /// When it was queued (ISO 8601, the database's clock).
    public var createdAt: String
}

/// A job a worker holds.
public struct ClaimedJob: Sendable, Equatable {
    /// Row id.
    public var id: Int64
    /// Its batch.
    public var batchID: String
    /// Position in the batch (0-based): the key of its one result.
    public var seq: Int
    /// What this job does (JSON).
    public var payload: String
    /// 1 for the first claim, 2 after one requeue, …
    public var attempt: Int
}

/// Counts of a batch's jobs by state, and its results.
public struct BatchProgress: Sendable, Equatable {
    public var queued = 0
    public var running = 0
    public var done = 0
    public var failed = 0
    /// Stored results (one per finished job, never more).
    public var results = 0
    /// The last error of each failed job, by seq.
    public var errors: [Int: String] = [:]
    /// Jobs in the batch.
    public var total: Int { queued + running + done + failed }
    /// `done` or `failed` for every job.
    public var finished: Bool { queued == 0 && running == 0 }
}

/// The shared job queue on PostgreSQL (the pattern of river, graphile-worker and Oban): a job table
/// claimed with `SELECT … FOR UPDATE SKIP LOCKED`, heartbeats, requeue of a silent worker's job after a
/// timeout, and one result per (batch, seq) whatever retries happen.
///
/// Every time comes from the database's clock (`now()`), so machines with skewed clocks agree on
/// who is late.
public struct JobQueue: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// Connects to `url`, creates the tables if missing, runs `body`, disconnects.
    public static func with<Result: Sendable>(
        _ url: DatabaseURL,
        logger: Logger = Logger(label: "scalper.queue", factory: { _ in SwiftLogNoOpLogHandler() }),
        _ body: @Sendable (JobQueue) async throws -> Result
    ) async throws -> Result {
        let client = PostgresClient(configuration: url.configuration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let queue = JobQueue(client: client, logger: logger)
            do {
                try await queue.migrate()
            } catch let error as PSQLError {
                throw JobQueueError("\(url): \(Self.describe(error))")
            }
            return try await body(queue)
        }
    }

    /// A PostgreSQL error in one line (the server's message where there is one).
    public static func describe(_ error: any Error) -> String {
        if let e = error as? PSQLError {
            if let message = e.serverInfo?[.message] { return "PostgreSQL: \(message)" }
            return "PostgreSQL: \(e.code)" + (e.underlying.map { " (\($0))" } ?? "")
        }
        return "\(error)"
    }

    /// Creates the tables once (concurrent workers starting together serialise on an advisory lock).
    func migrate() async throws {
        try await client.withTransaction(logger: logger) { c in
            try await c.query("SELECT pg_advisory_xact_lock(7347001)", logger: logger)
            for statement in Self.schema { try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
        }
    }

    static let schema = [
        """
        CREATE TABLE IF NOT EXISTS scalper_batch (id TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT NOT NULL,
            spec TEXT NOT NULL, total INTEGER NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())
        """,
        """
        CREATE TABLE IF NOT EXISTS scalper_job (id BIGSERIAL PRIMARY KEY,
            batch_id TEXT NOT NULL REFERENCES scalper_batch(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
            payload TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'queued', attempts INTEGER NOT NULL DEFAULT 0,
            worker TEXT, claimed_at TIMESTAMPTZ, heartbeat_at TIMESTAMPTZ, beats INTEGER NOT NULL DEFAULT 0,
            finished_at TIMESTAMPTZ, error TEXT,
            UNIQUE (batch_id, seq))
        """,
        "CREATE INDEX IF NOT EXISTS scalper_job_queued ON scalper_job (id) WHERE state = 'queued'",
        """
        CREATE TABLE IF NOT EXISTS scalper_result (batch_id TEXT NOT NULL REFERENCES scalper_batch(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL, job_id BIGINT NOT NULL, worker TEXT NOT NULL, attempt INTEGER NOT NULL,
            body TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (batch_id, seq))
        """,
        "CREATE TABLE IF NOT EXISTS scalper_blob (sha256 TEXT PRIMARY KEY, body BYTEA NOT NULL)",
    ]

    // MARK: - Queueing

    /// Stores `batch` and one queued job per payload (seq = index), in one transaction.
    public func enqueue(id: String, kind: String, owner: String, spec: String, payloads: [String]) async throws {
        try await client.withTransaction(logger: logger) { c in
            let total = payloads.count
            try await c.query(
                "INSERT INTO scalper_batch (id, kind, owner, spec, total) VALUES (\(id), \(kind), \(owner), \(spec), \(total))",
                logger: logger
            )
            for (seq, payload) in payloads.enumerated() {
                try await c.query("INSERT INTO scalper_job (batch_id, seq, payload) VALUES (\(id), \(seq), \(payload))", logger: logger)
            }
        }
    }

    /// Stores `bytes` under their SHA-256 (hex) unless already there.
    public func putBlob(sha256: String, bytes: [UInt8]) async throws {
        let buffer = ByteBuffer(bytes: bytes)
        try await client.query(
            "INSERT INTO scalper_blob (sha256, body) VALUES (\(sha256), \(buffer)) ON CONFLICT (sha256) DO NOTHING",
            logger: logger
        )
    }

    /// The blob stored under `sha256`, or nil.
    public func blob(sha256: String) async throws -> [UInt8]? {
        let rows = try await client.query("SELECT body FROM scalper_blob WHERE sha256 = \(sha256)", logger: logger)
        for try await body in rows.decode(ByteBuffer.self) { return Array(body.readableBytesView) }
        return nil
    }

    // MARK: - Working

    /// Requeues the running jobs whose worker has been silent for `staleAfter` seconds (marking
    /// them failed once they used `maxAttempts`), then claims the oldest queued job — of `batch`
    /// only, when given — for `worker`. Nil when nothing is queued.
    ///
    /// `FOR UPDATE SKIP LOCKED`: concurrent claimers never take the same row and never wait on
    /// each other's locks.
    public func claim(worker: String, batch: String? = nil, staleAfter: Double, maxAttempts: Int) async throws -> ClaimedJob? {
        try await client.withTransaction(logger: logger) { c in
            try await c.query(
                """
                UPDATE scalper_job SET state = CASE WHEN attempts >= \(maxAttempts) THEN 'failed' ELSE 'queued' END,
                    error = 'worker ' || worker || ' silent for more than ' || \(String(staleAfter)) || ' s (attempt ' || attempts || ')',
                    worker = NULL
                WHERE state = 'running' AND heartbeat_at < now() - make_interval(secs => \(staleAfter))
                """,
                logger: logger
            )
            let rows: PostgresRowSequence
            if let batch {
                rows = try await c.query(
                    """
                    UPDATE scalper_job SET state = 'running', worker = \(worker), attempts = attempts + 1,
                        claimed_at = now(), heartbeat_at = now(), beats = 0
                    WHERE id = (SELECT id FROM scalper_job WHERE state = 'queued' AND batch_id = \(batch)
                                ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
                    RETURNING id, batch_id, seq, payload, attempts
                    """,
                    logger: logger
                )
            } else {
                rows = try await c.query(
                    """
                    UPDATE scalper_job SET state = 'running', worker = \(worker), attempts = attempts + 1,
                        claimed_at = now(), heartbeat_at = now(), beats = 0
                    WHERE id = (SELECT id FROM scalper_job WHERE state = 'queued' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
                    RETURNING id, batch_id, seq, payload, attempts
                    """,
                    logger: logger
                )
            }
            for try await (id, batchID, seq, payload, attempts) in rows.decode((Int64, String, Int, String, Int).self) {
                return ClaimedJob(id: id, batchID: batchID, seq: seq, payload: payload, attempt: attempts)
            }
            return nil
        }
    }

    /// Says `worker` is still on `job`. False when the job is no longer its own (requeued after a
    /// silence, then perhaps claimed by another): its result may still be stored, at most once.
    @discardableResult
    public func heartbeat(_ job: ClaimedJob, worker: String) async throws -> Bool {
        let rows = try await client.query(
            "UPDATE scalper_job SET heartbeat_at = now(), beats = beats + 1 WHERE id = \(job.id) AND worker = \(worker) AND state = 'running' RETURNING id",
            logger: logger
        )
        for try await _ in rows.decode(Int64.self) { return true }
        return false
    }

    /// Stores `body` as the job's result unless one is stored already (a retried job never writes a
    /// second), and marks the job done. Returns whether this call stored the result.
    @discardableResult
    public func complete(_ job: ClaimedJob, worker: String, body: String) async throws -> Bool {
        try await client.withTransaction(logger: logger) { c in
            let inserted = try await c.query(
                """
                INSERT INTO scalper_result (batch_id, seq, job_id, worker, attempt, body)
                VALUES (\(job.batchID), \(job.seq), \(job.id), \(worker), \(job.attempt), \(body))
                ON CONFLICT (batch_id, seq) DO NOTHING RETURNING seq
                """,
                logger: logger
            )
            var stored = false
            for try await _ in inserted.decode(Int.self) { stored = true }
            try await c.query(
                "UPDATE scalper_job SET state = 'done', finished_at = now(), error = NULL WHERE id = \(job.id)",
                logger: logger
            )
            return stored
        }
    }

    /// Gives the job back after an error: queued again, or failed once it used `maxAttempts`.
    public func fail(_ job: ClaimedJob, worker: String, error: String, maxAttempts: Int) async throws {
        try await client.query(
            """
            UPDATE scalper_job SET state = CASE WHEN attempts >= \(maxAttempts) THEN 'failed' ELSE 'queued' END,
                error = \(error), worker = NULL
            WHERE id = \(job.id) AND worker = \(worker) AND state = 'running'
            """,
            logger: logger
        )
    }

    // MARK: - Reading

    /// The batch `id`, or nil.
    public func batch(_ id: String) async throws -> QueuedBatch? {
        let rows = try await client.query(
            "SELECT id, kind, owner, spec, total, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM scalper_batch WHERE id = \(id)",
            logger: logger
        )
        for try await (id, kind, owner, spec, total, created) in rows.decode((String, String, String, String, Int, String).self) {
            return QueuedBatch(id: id, kind: kind, owner: owner, spec: spec, total: total, createdAt: created)
        }
        return nil
    }

    /// Every batch, newest first.
    public func batches() async throws -> [QueuedBatch] {
        let rows = try await client.query(
            "SELECT id, kind, owner, spec, total, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM scalper_batch ORDER BY created_at DESC, id DESC",
            logger: logger
        )
        var out: [QueuedBatch] = []
        for try await (id, kind, owner, spec, total, created) in rows.decode((String, String, String, String, Int, String).self) {
            out.append(QueuedBatch(id: id, kind: kind, owner: owner, spec: spec, total: total, createdAt: created))
        }
        return out
    }

    /// Job counts by state and the results stored, for `batch` (or every batch).
    public func progress(batch: String?) async throws -> BatchProgress {
        var p = BatchProgress()
        let states: PostgresRowSequence
        let errors: PostgresRowSequence
        let results: PostgresRowSequence
        if let batch {
            states = try await client.query("SELECT state, count(*)::BIGINT FROM scalper_job WHERE batch_id = \(batch) GROUP BY state", logger: logger)
        } else {
            states = try await client.query("SELECT state, count(*)::BIGINT FROM scalper_job GROUP BY state", logger: logger)
        }
        for try await (state, count) in states.decode((String, Int64).self) {
            switch state {
            case "queued": p.queued = Int(count)
            case "running": p.running = Int(count)
            case "done": p.done = Int(count)
            default: p.failed += Int(count)
            }
        }
        if let batch {
            errors = try await client.query("SELECT seq, error FROM scalper_job WHERE batch_id = \(batch) AND state = 'failed'", logger: logger)
            results = try await client.query("SELECT count(*)::BIGINT FROM scalper_result WHERE batch_id = \(batch)", logger: logger)
        } else {
            errors = try await client.query("SELECT seq, error FROM scalper_job WHERE state = 'failed'", logger: logger)
            results = try await client.query("SELECT count(*)::BIGINT FROM scalper_result", logger: logger)
        }
        for try await (seq, error) in errors.decode((Int, String?).self) { p.errors[seq] = error ?? "" }
        for try await count in results.decode(Int64.self) { p.results = Int(count) }
        return p
    }

    /// The stored results of `batch` by seq, in seq order: (seq, worker, attempt, body).
    public func results(batch: String) async throws -> [(seq: Int, worker: String, attempt: Int, body: String)] {
        let rows = try await client.query(
            "SELECT seq, worker, attempt, body FROM scalper_result WHERE batch_id = \(batch) ORDER BY seq",
            logger: logger
        )
        var out: [(seq: Int, worker: String, attempt: Int, body: String)] = []
        for try await (seq, worker, attempt, body) in rows.decode((Int, String, Int, String).self) {
            out.append((seq, worker, attempt, body))
        }
        return out
    }

    /// Each job of `batch` with its state, attempts, worker and the heartbeats of its current claim, in seq order.
    public func jobs(batch: String) async throws -> [(seq: Int, state: String, attempts: Int, worker: String?, beats: Int)] {
        let rows = try await client.query(
            "SELECT seq, state, attempts, worker, beats FROM scalper_job WHERE batch_id = \(batch) ORDER BY seq",
            logger: logger
        )
        var out: [(seq: Int, state: String, attempts: Int, worker: String?, beats: Int)] = []
        for try await (seq, state, attempts, worker, beats) in rows.decode((Int, String, Int, String?, Int).self) {
            out.append((seq, state, attempts, worker, beats))
        }
        return out
    }
}
