/// An error from a session store, naming the database file.
public struct SessionStoreError: Error, Sendable, CustomStringConvertible {
    /// The database path (or the session name, for a name that cannot make a path).
    public var path: String
    /// What went wrong, and for refused transitions what to do instead.
    public var message: String

    /// Creates an error.
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// `path: message`.
    public var description: String { "\(path): \(message)" }
}
