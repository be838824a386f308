import GRDB
public import Trading

extension SessionStore {
    /// Asks the running session for `control` (`scalper paper ctl`). Safe from another process
    /// with its own connection to the store: WAL lets it write while the session reads and writes.
    @discardableResult
    public func requestControl(_ control: UserControl) throws(SessionStoreError) -> ControlRequest {
        let time = now()
        return try write("request \(control.rawValue)") { db in
            try db.execute(
                sql: "INSERT INTO controls (control, requested_at) VALUES (?, ?)",
                arguments: [control.rawValue, time]
            )
            return ControlRequest(
                id: ControlRequestID(rawValue: db.lastInsertedRowID),
                control: control,
                requestedAt: time
            )
        }
    }

    /// Controls requested and not yet applied, oldest first.
    public func pendingControls() throws(SessionStoreError) -> [ControlRequest] {
        try read("read the pending controls") { db in try Self.fetchControls(db, pendingOnly: true) }
    }

    /// Every control ever requested, oldest first.
    public func controls() throws(SessionStoreError) -> [ControlRequest] {
        try read("read the controls") { db in try Self.fetchControls(db, pendingOnly: false) }
    }

    /// Marks a request applied without an engine commit (a control the session answers itself, or
    /// refuses). One the engine acts on is marked by committing its ``SessionEvent/control(_:time:request:)``
    /// event, in the same transaction as the state it produced. A request applied already is refused.
    public func markApplied(_ id: ControlRequestID) throws(SessionStoreError) {
        let time = now()
        try write("mark control \(id) applied") { db in try markApplied(id, sequence: nil, time: time, in: db) }
    }

    func markApplied(_ id: ControlRequestID, sequence: Int64?, time: Int64, in db: Database) throws {
        try db.execute(
            sql: "UPDATE controls SET applied_at = ?, applied_sequence = ? WHERE id = ? AND applied_at IS NULL",
            arguments: [time, sequence, id.rawValue]
        )
        guard db.changesCount == 1 else {
            let applied = try Int64.fetchOne(
                db,
                sql: "SELECT applied_at FROM controls WHERE id = ?",
                arguments: [id.rawValue]
            )
            let why = applied.map { "it was applied at \($0) already" } ?? "no such request"
            throw SessionStoreError(path: path, message: "mark control \(id) applied: \(why)")
        }
    }

    static func fetchControls(_ db: Database, pendingOnly: Bool) throws -> [ControlRequest] {
        let rows = try Row.fetchAll(
            db,
            sql: "SELECT * FROM controls \(pendingOnly ? "WHERE applied_at IS NULL" : "") ORDER BY id"
        )
        return try rows.map { row in
            let text: String = row["control"]
            guard let control = UserControl(rawValue: text) else {
                throw DatabaseError(
                    message: "control \(row["id"] as Int64) is \(text), which this version does not know"
                )
            }
            return ControlRequest(
                id: ControlRequestID(rawValue: row["id"]),
                control: control,
                requestedAt: row["requested_at"],
                appliedAt: row["applied_at"],
                appliedSequence: row["applied_sequence"]
            )
        }
    }
}
