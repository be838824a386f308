import Foundation
import Logging

/// How a worker takes jobs.
public struct WorkerOptions: Sendable {
    /// The worker's name in the job table (`host:pid` by default): who holds which job.
    public var name: String
    /// Jobs run at once.
    public var concurrency = 1
    /// Keep waiting for jobs once the queue is empty (a long-lived worker), instead of exiting.
    public var follow = false
    /// Only this batch's jobs, when given.
    public var batch: String?
    /// A running job whose worker has not sent a heartbeat for this many seconds is requeued.
    public var staleAfter = 60.0
    /// Seconds between heartbeats (well under `staleAfter`).
    public var heartbeatEvery = 10.0
    /// Seconds between looks at an empty queue.
    public var pollEvery = 1.0
    /// Claims of one job before it is marked failed.
    public var maxAttempts = 3

    /// Options for the worker `name`.
    public init(name: String) { self.name = name }

    /// `host:pid`.
    public static var defaultName: String {
        "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }
}

/// What a worker did.
public struct WorkerSummary: Sendable, Equatable {
    /// Jobs this worker finished and whose result it stored.
    public var stored = 0
    /// Jobs it finished whose result another worker had stored first (a requeued job's first run).
    public var alreadyStored = 0
    /// Jobs that threw (given back or failed).
    public var failed = 0
}

/// Runs one claimed job, returning its result body. Thrown errors give the job back.
public typealias JobHandler = @Sendable (_ batch: QueuedBatch, _ job: ClaimedJob) async throws -> String

extension JobQueue {
    /// Claims and runs jobs with `options.concurrency` loops until nothing is queued or running in
    /// scope (or forever with `follow`). A job another worker holds may still come back (its worker
    /// may die), so the loops wait for running jobs rather than exit while any remain.
    public func work(_ options: WorkerOptions, log: @escaping @Sendable (String) -> Void = { _ in }, handler: @escaping JobHandler)
        async throws -> WorkerSummary
    {
        let batches = BatchCache()
        return try await withThrowingTaskGroup(of: WorkerSummary.self, returning: WorkerSummary.self) { group in
            for slot in 0..<max(1, options.concurrency) {
                let name = options.concurrency > 1 ? "\(options.name)#\(slot + 1)" : options.name
                group.addTask {
                    var summary = WorkerSummary()
                    while !Task.isCancelled {
                        guard let job = try await claim(worker: name, batch: options.batch, staleAfter: options.staleAfter, maxAttempts: options.maxAttempts)
                        else {
                            let p = try await progress(batch: options.batch)
                            if !options.follow && p.running == 0 && p.queued == 0 { break }
                            try await Task.sleep(for: .seconds(options.pollEvery))
                            continue
                        }
                        guard let batch = try await batches.get(job.batchID, from: self) else {
                            try await fail(job, worker: name, error: "batch \(job.batchID) is gone", maxAttempts: 1)
                            continue
                        }
                        log("\(name): \(batch.kind) \(batch.id) job \(job.seq + 1)/\(batch.total) (attempt \(job.attempt))")
                        do {
                            let body = try await withHeartbeat(job, worker: name, every: options.heartbeatEvery) {
                                try await handler(batch, job)
                            }
                            if try await complete(job, worker: name, body: body) {
                                summary.stored += 1
                            } else {
                                summary.alreadyStored += 1
                                log("\(name): job \(job.seq + 1) of \(batch.id) already had a result (kept that one)")
                            }
                        } catch is CancellationError {
                            throw CancellationError()
                        } catch {
                            summary.failed += 1
                            log("\(name): job \(job.seq + 1) of \(batch.id) failed: \(error)")
                            try await fail(job, worker: name, error: "\(error)", maxAttempts: options.maxAttempts)
                        }
                    }
                    return summary
                }
            }
            var total = WorkerSummary()
            for try await s in group {
                total.stored += s.stored
                total.alreadyStored += s.alreadyStored
                total.failed += s.failed
            }
            return total
        }
    }

    /// Runs `body` while a heartbeat for `job` goes out every `every` seconds.
    func withHeartbeat(_ job: ClaimedJob, worker: String, every: Double, _ body: @escaping @Sendable () async throws -> String) async throws -> String {
        try await withThrowingTaskGroup(of: String?.self, returning: String.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(every))
                    if Task.isCancelled { break }
                    _ = try? await heartbeat(job, worker: worker)
                }
                return nil
            }
            group.addTask { try await body() }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                if let result = next { return result }
            }
            throw CancellationError()
        }
    }
}

/// Batches read once per worker.
private actor BatchCache {
    var known: [String: QueuedBatch] = [:]
    func get(_ id: String, from queue: JobQueue) async throws -> QueuedBatch? {
        if let b = known[id] { return b }
        let b = try await queue.batch(id)
        if let b { known[id] = b }
        return b
    }
}
