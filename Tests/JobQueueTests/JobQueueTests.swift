import Foundation
import JobQueue
import ScalperTestSupport
import Synchronization
import Testing

/// A value several tasks update.
final class Locked<Value: Sendable>: Sendable {
    let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout sending Value) -> sending R) -> R { mutex.withLock(body) }
}

/// The PostgreSQL job queue against a real server started for the suite's tests (one per test).
@Suite("The job queue on PostgreSQL (a server started on 127.0.0.1 by the test)")
struct JobQueueTests {
    @Test("Eight claimers at once over 40 jobs of two batches: every job claimed exactly once, a batch filter sees only its batch")
    func concurrentClaims() async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let url = try DatabaseURL(server.url)
        try await JobQueue.with(url) { q in
            try await q.enqueue(id: "a", kind: "sweep", owner: "alice@h1", spec: "{}", payloads: (0..<20).map { #"{"n":\#($0)}"# })
            try await q.enqueue(id: "b", kind: "sweep", owner: "bob@h2", spec: "{}", payloads: (0..<20).map { #"{"n":\#($0)}"# })
        }
        let claimed = Locked<[String]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<8 {
                group.addTask {
                    try await JobQueue.with(url) { q in
                        // Workers 0–3 take only batch a; the others anything.
                        let only: String? = w < 4 ? "a" : nil
                        while let job = try await q.claim(worker: "w\(w)", batch: only, staleAfter: 60, maxAttempts: 3) {
                            if let only { #expect(job.batchID == only) }
                            claimed.withLock { $0.append("\(job.batchID)/\(job.seq)") }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let all = claimed.withLock { $0 }
        #expect(all.count == 40 && Set(all).count == 40)
        let running = try await JobQueue.with(url) { q in try await q.progress(batch: nil) }
        #expect(running.running == 40 && running.queued == 0)
    }

    @Test("A silent worker's job is requeued after the timeout and finished by another; the late first run stores nothing twice")
    func staleRequeue() async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let url = try DatabaseURL(server.url)
        try await JobQueue.with(url) { q in
            try await q.enqueue(id: "s", kind: "sweep", owner: "alice@h1", spec: "{}", payloads: [#"{"n":0}"#])
            let first = try #require(try await q.claim(worker: "dead", staleAfter: 0.5, maxAttempts: 3))
            #expect(first.attempt == 1)
            // Not stale yet: nothing to claim.
            #expect(try await q.claim(worker: "other", staleAfter: 3_600, maxAttempts: 3) == nil)
            try await Task.sleep(for: .seconds(1.2))
            let second = try #require(try await q.claim(worker: "other", staleAfter: 0.5, maxAttempts: 3))
            #expect(second.id == first.id && second.attempt == 2)
            // The requeued job is no longer the silent worker's own.
            #expect(try await q.heartbeat(first, worker: "dead") == false)
            #expect(try await q.heartbeat(second, worker: "other") == true)
            #expect(try await q.complete(second, worker: "other", body: "second") == true)
            // The first run turns up late: its result is not stored.
            #expect(try await q.complete(first, worker: "dead", body: "first") == false)
            let results = try await q.results(batch: "s")
            #expect(results.count == 1 && results[0].body == "second" && results[0].worker == "other" && results[0].attempt == 2)
            let p = try await q.progress(batch: "s")
            #expect(p.done == 1 && p.results == 1 && p.finished)
        }
    }

    @Test("A job that keeps failing is tried max_attempts times, then failed with its error; the batch still finishes")
    func failingJob() async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let url = try DatabaseURL(server.url)
        let calls = Locked(0)
        let summary = try await JobQueue.with(url) { q in
            try await q.enqueue(id: "f", kind: "sweep", owner: "alice@h1", spec: "{}", payloads: [#"{"ok":true}"#, #"{"ok":false}"#])
            var options = WorkerOptions(name: "w")
            options.pollEvery = 0.05
            return try await q.work(options) { _, job in
                calls.withLock { $0 += 1 }
                if job.payload.contains("false") { throw JobQueueError("bad combination") }
                return "fine"
            }
        }
        #expect(summary.stored == 1 && summary.failed == 3 && calls.withLock { $0 } == 4)
        try await JobQueue.with(url) { q in
            let p = try await q.progress(batch: "f")
            #expect(p.done == 1 && p.failed == 1 && p.errors[1] == "bad combination" && p.results == 1)
            let jobs = try await q.jobs(batch: "f")
            #expect(jobs.map(\.state) == ["done", "failed"] && jobs[1].attempts == 3)
        }
    }

    @Test("Three worker loops over 30 jobs: each result stored once, under its seq; a running job sends heartbeats")
    func workLoops() async throws {
        let server = try PostgresServer.start()
        defer { server.stop() }
        let url = try DatabaseURL(server.url)
        let summary = try await JobQueue.with(url) { q in
            try await q.enqueue(id: "w", kind: "sweep", owner: "alice@h1", spec: #"{"k":1}"#, payloads: (0..<30).map { #"{"n":\#($0)}"# })
            var options = WorkerOptions(name: "w")
            options.concurrency = 3
            options.heartbeatEvery = 0.1
            options.pollEvery = 0.05
            return try await q.work(options) { batch, job in
                #expect(batch.spec == #"{"k":1}"# && batch.total == 30)
                // Job 0 runs until three of its heartbeats are in the table (however slow the machine).
                if job.seq == 0 {
                    let deadline = ContinuousClock.now + .seconds(120)
                    while try await q.jobs(batch: "w")[0].beats < 3 {
                        guard ContinuousClock.now < deadline else { throw JobQueueError("no three heartbeats in 120 s") }
                        try await Task.sleep(for: .milliseconds(50))
                    }
                }
                return "result \(job.payload)"
            }
        }
        #expect(summary.stored == 30 && summary.alreadyStored == 0 && summary.failed == 0)
        try await JobQueue.with(url) { q in
            let results = try await q.results(batch: "w")
            #expect(results.map(\.seq) == Array(0..<30))
            #expect(results.allSatisfy { $0.body == #"result {"n":\#($0.seq)}"# && $0.attempt == 1 })
        }
    }

    @Test("A postgres URL is checked: host, user, sslmode; a file path is not one")
    func urls() throws {
        let u = try DatabaseURL("postgres://ana:s%40cret@db.lan:6543/runs?sslmode=require")
        #expect(u.host == "db.lan" && u.port == 6543 && u.username == "ana" && u.password == "s@cret" && u.database == "runs" && u.sslMode == "require")
        #expect(u.description == "postgres://ana@db.lan:6543/runs")
        #expect(try DatabaseURL("postgresql://ana@localhost").database == "ana")
        #expect(!DatabaseURL.isPostgres("runs/runs.sqlite"))
        #expect(throws: JobQueueError.self) { try DatabaseURL("postgres://db.lan/runs") }
        #expect(throws: JobQueueError.self) { try DatabaseURL("postgres://ana@db.lan/runs?sslmode=verify-full") }
    }
}

@Suite("Model bundles through the database: packed, checked, installed whole")
struct FolderBlobTests {
    @Test("Eight installs of one blob at once into one cache folder: each returns to a complete folder with every file's bytes; a blob whose hash differs is refused")
    func concurrentInstalls() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let source = dir.path("bundle")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        let files = (0..<6).map { "file\($0).json" }
        for (i, name) in files.enumerated() {
            try Data(repeating: UInt8(65 + i), count: 200_000 * (i + 1)).write(to: URL(fileURLWithPath: dir.path("bundle/\(name)")))
        }
        let (sha, bytes) = try FolderBlob.pack(folder: source, files: files)
        let target = dir.path("cache/models/\(sha)")
        let complete = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            do {
                try FolderBlob.install(bytes, sha256: sha, at: target)
                let whole = files.enumerated().allSatisfy { i, name in
                    FileManager.default.contents(atPath: "\(target)/\(name)") == Data(repeating: UInt8(65 + i), count: 200_000 * (i + 1))
                }
                if whole { complete.add(1, ordering: .relaxed) }
            } catch {
                Issue.record("install: \(error)")
            }
        }
        #expect(complete.load(ordering: .relaxed) == 8)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path("cache/models")) == [sha], "no staging folder is left behind")
        var bad = bytes
        bad[bad.count / 2] ^= 1
        #expect(throws: JobQueueError.self) { try FolderBlob.install(bad, sha256: sha, at: dir.path("cache/models/other")) }
        #expect(!FileManager.default.fileExists(atPath: dir.path("cache/models/other")))
    }
}
