/// Who the session is: the `meta` row, written by ``SessionStore/start(name:model:profile:configurationJSON:)``.
public struct SessionMeta: Codable, Equatable, Sendable {
    /// The session's name (its folder under `sessions/` and the prefix of its client order ids).
    public var name: String
    /// The model it trades with (a folder, a registry name or `champion`).
    public var model: String
    /// The settings profile it runs (`paper`, `live`, …).
    public var profile: String
    /// The settings in force at the last start, as JSON.
    public var configurationJSON: String
    /// Wall-clock time of the first start (ms).
    public var startedAt: Int64
    /// Wall-clock time of the last restart (ms), nil before any.
    public var resumedAt: Int64?
    /// The store's schema version (``SessionStore/schemaVersion`` when last opened by this code).
    public var schemaVersion: Int

    /// Creates one.
    public init(
        name: String,
        model: String,
        profile: String,
        configurationJSON: String,
        startedAt: Int64,
        resumedAt: Int64?,
        schemaVersion: Int
    ) {
        self.name = name
        self.model = model
        self.profile = profile
        self.configurationJSON = configurationJSON
        self.startedAt = startedAt
        self.resumedAt = resumedAt
        self.schemaVersion = schemaVersion
    }
}
