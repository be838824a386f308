import Foundation
import GRDB
public import Logging
import Trading

/// A session's SQLite store (`sessions/NAME/session.sqlite` in the workspace): write before you act
/// (LIVE-DESIGN §3).
///
/// - ``commit(event:newState:commands:)``: one transaction per event holds the engine's new state
///   and the intents of its commands: submitted orders as `intended`, cancels, records, and for an
///   order update the update itself (status and fill), so the state and what it is based on never
///   part.
/// - ``markSending(clientOrderID:)`` (or ``markSending(listClientOrderID:)``) commits
///   `intended → sending` just before the socket write; only an `intended` order can be sent, so
///   an order that may be at the venue is never sent twice.
/// - ``apply(update:venueOrderID:)`` stores a venue's answer (status, fill) in one transaction; a
///   fill whose venue trade id is stored already is not stored again and is reported as a duplicate.
/// - ``recover(as:)`` reads what a restart needs: the last state, the unfinished orders by status,
///   the unanswered cancels and the pending controls.
/// - ``requestControl(_:)`` is how another process (`scalper paper ctl`) reaches the session: the
///   store is the channel; WAL lets it write while the session holds its own connection.
///
/// The database runs in WAL mode with `synchronous = FULL`: a commit is on disk before the call
/// returns, even across a power loss, because an order may be sent right after it.
public final class SessionStore: Sendable {
    /// Where the database lives.
    public let path: String
    /// The schema version this code writes (migrations up to it run at open).
    public static let schemaVersion = 2

    let queue: DatabaseQueue
    let logger: Logger
    let now: @Sendable () -> Int64
    /// Called with `mid-snapshot` inside each event's transaction, after the state row is written and
    /// before the commit (the crash tests' hook: see ``FaultPoints``).
    let faultPoint: (@Sendable (String) -> Void)?

    /// The store's path relative to the workspace folder: `sessions/NAME/session.sqlite`.
    ///
    /// Throws for a name that is empty, starts with a dot, or has characters other than letters,
    /// digits, `.`, `_` and `-` (it becomes a folder name).
    public static func relativePath(session name: String) throws(SessionStoreError) -> String {
        let allowed = name.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "." || c == "_"
                || c == "-"
        }
        guard !name.isEmpty, !name.hasPrefix("."), allowed else {
            throw SessionStoreError(
                path: name,
                message: "a session name takes letters, digits, '.', '_' and '-', and does not start with '.'"
            )
        }
        return "sessions/\(name)/session.sqlite"
    }

    /// Opens the store at `path` and brings its schema up to date.
    ///
    /// - Parameters:
    ///   - createIfMissing: false for a process that must find a running session's store
    ///     (`scalper paper ctl`): a missing file is then an error instead of a new, empty session.
    ///   - logger: duplicates, stale updates and recoveries are logged here.
    ///   - now: the wall clock (ms) for the store's own timestamps (`created_at`, `requested_at`, …);
    ///     event times come inside the events.
    ///   - faultPoint: a test hook called at `mid-snapshot` (nil: none).
    public init(
        path: String,
        createIfMissing: Bool = true,
        logger: Logger = Logger(label: "scalper.session"),
        now: @escaping @Sendable () -> Int64 = SessionStore.wallClockMilliseconds,
        faultPoint: (@Sendable (String) -> Void)? = nil
    ) throws(SessionStoreError) {
        self.path = path
        self.faultPoint = faultPoint
        self.logger = logger
        self.now = now
        if !FileManager.default.fileExists(atPath: path) {
            guard createIfMissing else {
                throw SessionStoreError(path: path, message: "no session store here (is the session name right?)")
            }
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                do {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                } catch {
                    throw SessionStoreError(
                        path: path,
                        message: "cannot create the folder \(directory): \(error.localizedDescription)"
                    )
                }
            }
        }
        var configuration = Configuration()
        configuration.journalMode = .wal
        // The session and `ctl` write at once now and then; a writer waits for the other.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // > FULL: … ensures that an operating system crash or power failure will not corrupt the
            // > database … In WAL mode, FULL adds durability across a power loss to the commit.
            // (https://www.sqlite.org/pragma.html#pragma_synchronous) An order follows the commit.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try Self.migrator.migrate(queue)
        } catch {
            throw SessionStoreError(path: path, message: "cannot open the session store: \(error)")
        }
    }

    /// The system's wall clock in milliseconds since 1970 (the default `now`).
    @Sendable public static func wallClockMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1_000).rounded(.down))
    }

    // MARK: Meta

    /// Records who the session is: on a new store the `meta` row; on a store that has one, the
    /// restart time and the model, profile and settings now in force (the first start time stays).
    /// A store belongs to one session: another name is refused.
    @discardableResult
    public func start(
        name: String,
        model: String,
        profile: String,
        configurationJSON: String
    ) throws(SessionStoreError) -> SessionMeta {
        let time = now()
        return try write("start session \(name)") { db in
            if let row = try Row.fetchOne(db, sql: "SELECT name FROM meta WHERE id = 1") {
                let stored: String = row["name"]
                guard stored == name else {
                    throw SessionStoreError(
                        path: self.path,
                        message: "this store belongs to session \(stored), not \(name)"
                    )
                }
                try db.execute(
                    sql:
                        "UPDATE meta SET model = ?, profile = ?, config = ?, resumed_at = ?, schema_version = ? WHERE id = 1",
                    arguments: [model, profile, configurationJSON, time, Self.schemaVersion]
                )
            } else {
                try db.execute(
                    sql: """
                        INSERT INTO meta (id, name, model, profile, config, started_at, resumed_at, schema_version)
                        VALUES (1, ?, ?, ?, ?, ?, NULL, ?)
                        """,
                    arguments: [name, model, profile, configurationJSON, time, Self.schemaVersion]
                )
            }
            guard let meta = try Self.fetchMeta(db) else {
                throw SessionStoreError(
                    path: self.path,
                    message: "start session \(name): the meta row is missing after writing it"
                )
            }
            return meta
        }
    }

    /// The `meta` row, nil before ``start(name:model:profile:configurationJSON:)``.
    public func meta() throws(SessionStoreError) -> SessionMeta? {
        try read("read the session meta") { db in try Self.fetchMeta(db) }
    }

    static func fetchMeta(_ db: Database) throws -> SessionMeta? {
        try Row.fetchOne(db, sql: "SELECT * FROM meta WHERE id = 1").map { row in
            SessionMeta(
                name: row["name"],
                model: row["model"],
                profile: row["profile"],
                configurationJSON: row["config"],
                startedAt: row["started_at"],
                resumedAt: row["resumed_at"],
                schemaVersion: row["schema_version"]
            )
        }
    }

    // MARK: Plumbing

    /// One write transaction; any error becomes a ``SessionStoreError`` saying what was being done.
    func write<T>(_ what: @autoclosure () -> String, _ body: (Database) throws -> T) throws(SessionStoreError) -> T {
        do {
            return try queue.write(body)
        } catch let error as SessionStoreError {
            throw error
        } catch {
            throw SessionStoreError(path: path, message: "\(what()): \(error)")
        }
    }

    /// One read transaction, errors as in ``write(_:_:)``.
    func read<T>(_ what: @autoclosure () -> String, _ body: (Database) throws -> T) throws(SessionStoreError) -> T {
        do {
            return try queue.read(body)
        } catch let error as SessionStoreError {
            throw error
        } catch {
            throw SessionStoreError(path: path, message: "\(what()): \(error)")
        }
    }

    /// JSON for the store's text columns. Non-finite numbers are written as strings (plain JSON has
    /// none, and a NaN feature must not make a commit fail); Doubles round-trip exactly.
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "+inf",
            negativeInfinity: "-inf",
            nan: "nan"
        )
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Reads JSON written by ``encode(_:)``.
    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "+inf",
            negativeInfinity: "-inf",
            nan: "nan"
        )
        return try decoder.decode(type, from: Data(text.utf8))
    }
}
