public import Foundation
import GRDB
import Model

/// Where a registered bundle came from.
public enum ModelOrigin: String, Codable, Sendable, CaseIterable {
    /// `scalper train`.
    case train
    /// `scalper retrain`.
    case retrain
    /// A walk-forward window.
    case walkForward = "walk-forward"
}

/// A bundle's standing in the registry.
public enum ModelStatus: String, Codable, Sendable, CaseIterable {
    /// Registered, never promoted.
    case candidate
    /// The model `--model champion` resolves to (one at a time).
    case champion
    /// Was champion, replaced.
    case retired
    /// Judged and not promoted.
    case rejected
}

/// One registered bundle.
public struct RegisteredModel: Codable, Equatable, Sendable {
    /// The bundle's name (its folder's).
    public var name: String
    /// Its folder, absolute: `<the registry's folder>/<name>` (a registry and its bundles move together).
    public var path: String
    /// Where it came from.
    public var origin: ModelOrigin
    /// Its standing.
    public var status: ModelStatus
    /// The champion it was trained to replace (nil: none).
    public var parent: String?
    /// Symbols it was trained on, comma-separated.
    public var symbols: String
    /// Training window, ISO 8601.
    public var windowFrom: String
    /// End of the training window.
    public var windowTo: String
    /// Hash of the training data (the bundle's).
    public var dataHash: String
    /// When it was registered (ms).
    public var registeredAt: Int64
    /// Test-split metrics of the bundle (calibrated): AUC, ECE, log-loss, Brier.
    public var auc: Double
    /// ECE.
    public var ece: Double
    /// Log-loss.
    public var logLoss: Double
    /// Brier score.
    public var brier: Double
}

/// One decision the registry recorded: a promotion, a rollback, a rejection, a champion kept.
public struct RegistryDecision: Codable, Equatable, Sendable {
    /// Its sequence number.
    public var id: Int64
    /// When (ms).
    public var time: Int64
    /// `promote`, `rollback`, `reject` or `keep`.
    public var kind: String
    /// The bundle decided on.
    public var model: String
    /// The champion before the decision (nil: none).
    public var previousChampion: String?
    /// Why, in words.
    public var reason: String
    /// The evidence as JSON (metrics, tests, backtests; `{}` for a manual decision).
    public var evidence: String
}

/// One `scalper retrain` run as the registry recorded it.
public struct RetrainRunRecord: Codable, Equatable, Sendable {
    /// The run's id (its report folder's name).
    public var id: String
    /// Start (ms).
    public var startedAt: Int64
    /// End (ms; nil while running).
    public var finishedAt: Int64?
    /// The as-of time it worked to (ISO 8601).
    public var asOf: String
    /// `retrain` or `calibration-only`.
    public var mode: String
    /// `running`, `promoted`, `kept`, `blocked`, `failed` or `abandoned`.
    public var status: String
    /// The one-line verdict.
    public var verdict: String?
    /// The exit code it ended with.
    public var exitCode: Int?
    /// The challenger it trained (nil: none).
    public var challenger: String?
    /// The champion it was judged against (nil: none).
    public var champion: String?
    /// Its report.md.
    public var report: String?
}

/// A registry failure, in words, naming the registry file.
public struct RegistryError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The message.
    public var description: String
    init(_ path: String, _ why: String) { description = "\(path): \(why)" }
}

/// The model registry: `models/registry.sqlite` in the workspace.
///
/// Every bundle `train` (and later `retrain` and walk-forward) writes is registered with its windows,
/// data hash, metrics, origin and parent; one of them is the champion. Every change of champion is a
/// decision row with its reason and evidence, written in the same transaction as the statuses it
/// changes, so a crash never leaves two champions or a champion without its decision. Sessions that
/// use a bundle beat a heartbeat; `purge` never removes the champion or a bundle with a recent beat.
public final class ModelRegistry: Sendable {
    /// The registry file.
    public let path: String
    /// The folder holding the registry and its bundles.
    public var folder: URL { URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL }
    private let queue: DatabaseQueue
    private let now: @Sendable () -> Int64

    /// Opens (or creates) the registry at `path`.
    ///
    /// - Parameter now: the clock of registrations and decisions (ms; the wall clock by default).
    public init(path: String, now: @escaping @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1_000).rounded(.down)) }) throws {
        self.path = path
        self.now = now
        do {
            try FileManager.default.createDirectory(
                at: URL(fileURLWithPath: path).deletingLastPathComponent(),
                withIntermediateDirectories: true
            )
            var configuration = Configuration()
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
            try Self.migrator.migrate(queue)
        } catch {
            throw RegistryError(path, "cannot open the model registry: \(error)")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-registry") { db in
            try db.execute(
                sql: """
                    CREATE TABLE models (
                        name TEXT PRIMARY KEY, path TEXT NOT NULL, origin TEXT NOT NULL, status TEXT NOT NULL,
                        parent TEXT, symbols TEXT NOT NULL, window_from TEXT NOT NULL, window_to TEXT NOT NULL,
                        data_hash TEXT NOT NULL, registered_at INTEGER NOT NULL,
                        auc REAL NOT NULL, ece REAL NOT NULL, log_loss REAL NOT NULL, brier REAL NOT NULL
                    );
                    CREATE UNIQUE INDEX one_champion ON models (status) WHERE status = 'champion';
                    CREATE TABLE decisions (
                        id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, kind TEXT NOT NULL,
                        model TEXT NOT NULL, previous_champion TEXT, reason TEXT NOT NULL, evidence TEXT NOT NULL
                    );
                    CREATE TABLE heartbeats (
                        model TEXT NOT NULL, session TEXT NOT NULL, time INTEGER NOT NULL, PRIMARY KEY (model, session)
                    );
                    """
            )
        }
        migrator.registerMigration("v2-retrain-runs") { db in
            try db.execute(
                sql: """
                    CREATE TABLE retrain_runs (
                        id TEXT PRIMARY KEY, started_at INTEGER NOT NULL, finished_at INTEGER, pid INTEGER NOT NULL,
                        as_of TEXT NOT NULL, mode TEXT NOT NULL, status TEXT NOT NULL, verdict TEXT,
                        exit_code INTEGER, challenger TEXT, champion TEXT, report TEXT, evidence TEXT
                    );
                    """
            )
        }
        return migrator
    }

    // MARK: Reading

    /// Every registered bundle, newest first.
    public func models() throws -> [RegisteredModel] {
        try read { db in try Row.fetchAll(db, sql: "SELECT * FROM models ORDER BY registered_at DESC, name DESC").map(model) }
    }

    /// The bundle called `name` (nil: not registered).
    public func model(named name: String) throws -> RegisteredModel? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM models WHERE name = ?", arguments: [name]).map(model) }
    }

    /// The champion (nil: none yet).
    public func champion() throws -> RegisteredModel? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM models WHERE status = 'champion'").map(model) }
    }

    /// The decisions, oldest first (those about `model` only, if given).
    public func decisions(about model: String? = nil) throws -> [RegistryDecision] {
        try read { db in
            let rows =
                if let model {
                    try Row.fetchAll(db, sql: "SELECT * FROM decisions WHERE model = ? OR previous_champion = ? ORDER BY id", arguments: [model, model])
                } else {
                    try Row.fetchAll(db, sql: "SELECT * FROM decisions ORDER BY id")
                }
            return rows.map { row in
                RegistryDecision(
                    id: row["id"], time: row["time"], kind: row["kind"], model: row["model"],
                    previousChampion: row["previous_champion"], reason: row["reason"], evidence: row["evidence"]
                )
            }
        }
    }

    // MARK: Writing

    /// Registers the bundle at `bundle` (its metadata read from the folder) as a candidate.
    ///
    /// - Throws: ``RegistryError`` when a bundle of that name is registered already, the folder is
    ///   not a readable bundle, or it does not lie in the registry's folder under its own name.
    @discardableResult
    public func register(bundle: URL, origin: ModelOrigin, parent: String? = nil) throws -> RegisteredModel {
        guard bundle.standardizedFileURL.deletingLastPathComponent().path == folder.path else {
            throw RegistryError(path, "\(bundle.path) is not in \(folder.path): a registry holds the bundles of its own folder")
        }
        let metadata: ModelMetadata
        do {
            metadata = try ModelBundle.metadata(at: bundle.path)
        } catch {
            throw RegistryError(path, "\(bundle.path) is not a model bundle: \(error)")
        }
        guard metadata.name == bundle.standardizedFileURL.lastPathComponent else {
            throw RegistryError(path, "\(bundle.path) holds the bundle named \(metadata.name), not \(bundle.lastPathComponent)")
        }
        let entry = RegisteredModel(
            name: metadata.name, path: folder.appendingPathComponent(metadata.name).path, origin: origin, status: .candidate, parent: parent,
            symbols: metadata.symbols.joined(separator: ","), windowFrom: metadata.windowFrom, windowTo: metadata.windowTo,
            dataHash: metadata.dataHash, registeredAt: now(), auc: metadata.testCalibrated.auc, ece: metadata.testCalibrated.ece,
            logLoss: metadata.testCalibrated.logLoss, brier: metadata.testCalibrated.brier
        )
        try write { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM models WHERE name = ?", arguments: [entry.name]) != nil {
                throw RegistryError(path, "a model named \(entry.name) is registered already")
            }
            try db.execute(
                sql: """
                    INSERT INTO models (name, path, origin, status, parent, symbols, window_from, window_to, data_hash,
                        registered_at, auc, ece, log_loss, brier)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    entry.name, entry.path, entry.origin.rawValue, entry.status.rawValue, entry.parent, entry.symbols,
                    entry.windowFrom, entry.windowTo, entry.dataHash, entry.registeredAt, entry.auc, entry.ece, entry.logLoss,
                    entry.brier,
                ]
            )
        }
        return entry
    }

    /// Promotes `name` only if the champion is still `expected` (the one it was judged against; nil:
    /// none), in one transaction; otherwise records a rejection saying the champion changed during
    /// the judgement (a manual promote or rollback) and returns false.
    public func promote(_ name: String, replacing expected: String?, reason: String, evidence: String) throws -> Bool {
        try write { db in
            let current = try String.fetchOne(db, sql: "SELECT name FROM models WHERE status = 'champion'")
            guard current == expected else {
                try db.execute(sql: "UPDATE models SET status = 'rejected' WHERE name = ? AND status = 'candidate'", arguments: [name])
                try insertDecision(
                    "reject",
                    model: name,
                    previous: current,
                    reason: "not promoted: the champion changed while it was judged (\(expected ?? "none") → \(current ?? "none")); \(reason)",
                    evidence: evidence,
                    in: db
                )
                return false
            }
            try promote(name, reason: reason, evidence: evidence, in: db)
            return true
        }
    }

    /// Makes `name` the champion (the old one retired), recording the decision with `reason` and
    /// `evidence` (JSON) in the same transaction.
    public func promote(_ name: String, reason: String, evidence: String = "{}") throws {
        try write { db in try promote(name, reason: reason, evidence: evidence, in: db) }
    }

    private func promote(_ name: String, reason: String, evidence: String, in db: Database) throws {
        guard let status = try String.fetchOne(db, sql: "SELECT status FROM models WHERE name = ?", arguments: [name]) else {
            throw RegistryError(path, "no model named \(name) is registered (scalper models list)")
        }
        guard status != ModelStatus.champion.rawValue else { throw RegistryError(path, "\(name) is the champion already") }
        let previous = try String.fetchOne(db, sql: "SELECT name FROM models WHERE status = 'champion'")
        try db.execute(sql: "UPDATE models SET status = 'retired' WHERE status = 'champion'")
        try db.execute(sql: "UPDATE models SET status = 'champion' WHERE name = ?", arguments: [name])
        try insertDecision("promote", model: name, previous: previous, reason: reason, evidence: evidence, in: db)
    }

    /// Records that `name` was judged and not promoted (the champion stays).
    public func reject(_ name: String, reason: String, evidence: String = "{}") throws {
        try write { db in
            guard try String.fetchOne(db, sql: "SELECT status FROM models WHERE name = ?", arguments: [name]) != nil else {
                throw RegistryError(path, "no model named \(name) is registered")
            }
            let previous = try String.fetchOne(db, sql: "SELECT name FROM models WHERE status = 'champion'")
            try db.execute(sql: "UPDATE models SET status = 'rejected' WHERE name = ? AND status = 'candidate'", arguments: [name])
            try insertDecision("reject", model: name, previous: previous, reason: reason, evidence: evidence, in: db)
        }
    }

    /// Gives the championship back to the champion the current one's last promotion replaced; the
    /// current one is retired. Rolling back again walks further back (a stack, not a toggle).
    /// Returns the new champion's name.
    @discardableResult
    public func rollback(reason: String) throws -> String {
        try write { db in
            guard let current = try String.fetchOne(db, sql: "SELECT name FROM models WHERE status = 'champion'") else {
                throw RegistryError(path, "there is no champion to roll back")
            }
            guard
                let previous = try String.fetchOne(
                    db,
                    sql: "SELECT previous_champion FROM decisions WHERE kind = 'promote' AND model = ? ORDER BY id DESC LIMIT 1",
                    arguments: [current]
                ),
                try String.fetchOne(db, sql: "SELECT name FROM models WHERE name = ?", arguments: [previous]) != nil
            else {
                throw RegistryError(path, "\(current) replaced no champion that is still registered: nothing to roll back to")
            }
            try db.execute(sql: "UPDATE models SET status = 'retired' WHERE name = ?", arguments: [current])
            try db.execute(sql: "UPDATE models SET status = 'champion' WHERE name = ?", arguments: [previous])
            try insertDecision("rollback", model: previous, previous: current, reason: reason, evidence: "{}", in: db)
            return previous
        }
    }

    /// A session's mark that it uses `model` now (the purge spares it for ``inUseWindowMs``).
    public func heartbeat(model: String, session: String) throws {
        try write { db in
            try db.execute(
                sql: "INSERT INTO heartbeats (model, session, time) VALUES (?, ?, ?) ON CONFLICT (model, session) DO UPDATE SET time = excluded.time",
                arguments: [model, session, now()]
            )
        }
    }

    /// The sessions that beat for `model`, with their last beat (ms), latest first.
    public func heartbeats(model: String) throws -> [(session: String, time: Int64)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT session, time FROM heartbeats WHERE model = ? ORDER BY time DESC", arguments: [model])
                .map { (session: $0["session"], time: $0["time"]) }
        }
    }

    /// How long a heartbeat keeps a bundle from being purged (ms): ten minutes.
    public static let inUseWindowMs: Int64 = 600_000

    /// Removes all but the `keep` newest bundles, never the champion nor a bundle a session beat
    /// for within ``inUseWindowMs``: their rows first (one transaction), then their folders
    /// (`<the registry's folder>/<name>`, and only one that still holds that bundle). Returns the
    /// names removed.
    public func purge(keep: Int) throws -> [String] {
        precondition(keep >= 0, "keep a non-negative number of bundles")
        let cutoff = now() - Self.inUseWindowMs
        let removed: [String] = try write { db in
            let inUse = Set(try String.fetchAll(db, sql: "SELECT model FROM heartbeats WHERE time >= ?", arguments: [cutoff]))
            let all = try Row.fetchAll(db, sql: "SELECT name, status FROM models ORDER BY registered_at DESC, name DESC")
            var gone: [String] = []
            for (index, row) in all.enumerated() where index >= keep {
                let name: String = row["name"]
                let status: String = row["status"]
                guard status != ModelStatus.champion.rawValue, !inUse.contains(name) else { continue }
                gone.append(name)
                try db.execute(sql: "DELETE FROM models WHERE name = ?", arguments: [name])
                try db.execute(sql: "DELETE FROM heartbeats WHERE model = ?", arguments: [name])
            }
            return gone
        }
        for name in removed {
            let bundle = folder.appendingPathComponent(name)
            if (try? ModelBundle.metadata(at: bundle.path))?.name == name { try? FileManager.default.removeItem(at: bundle) }
        }
        return removed
    }

    // MARK: Retrain runs

    /// Records that a retrain run started (status `running`), before it does anything else.
    public func beginRun(id: String, asOf: String, mode: String, pid: Int32) throws {
        try write { db in
            try db.execute(
                sql: "INSERT INTO retrain_runs (id, started_at, pid, as_of, mode, status) VALUES (?, ?, ?, ?, ?, 'running')",
                arguments: [id, now(), Int(pid), asOf, mode]
            )
        }
    }

    /// Records how a run ended: `status` is `promoted`, `kept`, `blocked` or `failed`.
    public func finishRun(
        id: String,
        status: String,
        verdict: String,
        exitCode: Int32,
        challenger: String?,
        champion: String?,
        report: String?,
        evidence: String
    ) throws {
        try write { db in
            try db.execute(
                sql: """
                    UPDATE retrain_runs SET finished_at = ?, status = ?, verdict = ?, exit_code = ?, challenger = ?,
                        champion = ?, report = ?, evidence = ? WHERE id = ?
                    """,
                arguments: [now(), status, verdict, Int(exitCode), challenger, champion, report, evidence, id]
            )
        }
    }

    /// Sets a running run's as-of time and challenger name once they are known.
    public func updateRun(id: String, asOf: String, challenger: String) throws {
        try write { db in
            try db.execute(sql: "UPDATE retrain_runs SET as_of = ?, challenger = ? WHERE id = ?", arguments: [asOf, challenger, id])
        }
    }

    /// Closes the runs still `running` (their process is gone: a retrain calls this only while it
    /// holds the job lock): `promoted` or `kept` when the decision about their challenger was
    /// recorded before the process ended (it stands), else `abandoned`. Returns (id, new status).
    public func abandonUnfinishedRuns() throws -> [(id: String, status: String)] {
        try write { db in
            let rows = try Row.fetchAll(db, sql: "SELECT id, challenger FROM retrain_runs WHERE status = 'running' ORDER BY started_at")
            var out: [(id: String, status: String)] = []
            for row in rows {
                let id: String = row["id"]
                let challenger: String? = row["challenger"]
                let kind = try challenger.flatMap {
                    try String.fetchOne(db, sql: "SELECT kind FROM decisions WHERE model = ? AND kind IN ('promote', 'reject') ORDER BY id DESC LIMIT 1", arguments: [$0])
                }
                let status = kind == "promote" ? "promoted" : (kind == "reject" ? "kept" : "abandoned")
                let verdict =
                    kind == nil
                    ? "the process ended before the run finished" : "the process ended after the decision (\(kind!)) was recorded, before the report"
                try db.execute(
                    sql: "UPDATE retrain_runs SET status = ?, finished_at = ?, verdict = ? WHERE id = ?",
                    arguments: [status, now(), verdict, id]
                )
                out.append((id, status))
            }
            return out
        }
    }

    /// Every retrain run, newest first.
    public func runs() throws -> [RetrainRunRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM retrain_runs ORDER BY started_at DESC, id DESC").map { row in
                RetrainRunRecord(
                    id: row["id"], startedAt: row["started_at"], finishedAt: row["finished_at"], asOf: row["as_of"], mode: row["mode"],
                    status: row["status"], verdict: row["verdict"], exitCode: row["exit_code"], challenger: row["challenger"],
                    champion: row["champion"], report: row["report"]
                )
            }
        }
    }

    // MARK: Plumbing

    private func insertDecision(_ kind: String, model: String, previous: String?, reason: String, evidence: String, in db: Database) throws {
        try db.execute(
            sql: "INSERT INTO decisions (time, kind, model, previous_champion, reason, evidence) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [now(), kind, model, previous, reason, evidence]
        )
    }

    private func model(_ row: Row) -> RegisteredModel {
        RegisteredModel(
            name: row["name"], path: folder.appendingPathComponent(row["name"]).path, origin: ModelOrigin(rawValue: row["origin"]) ?? .train,
            status: ModelStatus(rawValue: row["status"]) ?? .candidate, parent: row["parent"], symbols: row["symbols"],
            windowFrom: row["window_from"], windowTo: row["window_to"], dataHash: row["data_hash"],
            registeredAt: row["registered_at"], auc: row["auc"], ece: row["ece"], logLoss: row["log_loss"], brier: row["brier"]
        )
    }

    private func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try queue.read(body)
        } catch let error as RegistryError {
            throw error
        } catch {
            throw RegistryError(path, "\(error)")
        }
    }

    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try queue.write(body)
        } catch let error as RegistryError {
            throw error
        } catch {
            throw RegistryError(path, "\(error)")
        }
    }
}
