import Foundation
public import PostgresNIO

/// A `postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]` address, checked.
///
/// The runs database and the job queue of a sweep or walk-forward spread over several machines
/// (`--runs-db`, `runs.database_url`). Anything else is refused with the part that is wrong.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    /// Host name or address.
    public var host: String
    /// TCP port (5432 by default).
    public var port: Int
    /// Role to log in as.
    public var username: String
    /// Password, when the URL carries one.
    public var password: String?
    /// Database name (the user name when the URL gives none, as libpq does).
    public var database: String
    /// `disable`, `prefer` (the default) or `require`.
    public var sslMode: String

    /// Whether `text` names a PostgreSQL database (and not a SQLite file).
    public static func isPostgres(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Parses `text`.
    /// - Throws: ``JobQueueError`` naming what is wrong.
    public init(_ text: String) throws(JobQueueError) {
        guard Self.isPostgres(text), let parts = URLComponents(string: text) else {
            throw JobQueueError("'\(text)' is not a postgres://user@host[:port]/database URL")
        }
        guard let host = parts.host, !host.isEmpty else { throw JobQueueError("'\(text)': no host") }
        guard let user = parts.user, !user.isEmpty else { throw JobQueueError("'\(text)': no user (postgres://USER@host/database)") }
        self.host = host
        self.port = parts.port ?? 5432
        self.username = user.removingPercentEncoding ?? user
        self.password = parts.password.map { $0.removingPercentEncoding ?? $0 }
        let path = parts.path.hasPrefix("/") ? String(parts.path.dropFirst()) : parts.path
        self.database = path.isEmpty ? self.username : path
        let mode = parts.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        guard ["disable", "prefer", "require"].contains(mode) else {
            throw JobQueueError("'\(text)': sslmode=\(mode) is not disable, prefer or require")
        }
        self.sslMode = mode
    }

    /// The URL without its password.
    public var description: String { "postgres://\(username)@\(host):\(port)/\(database)" }

    /// The client configuration of this address.
    public var configuration: PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "require": tls = .require(.makeClientConfiguration())
        default: tls = .prefer(.makeClientConfiguration())
        }
        var c = PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
        c.options.maximumConnections = 4
        return c
    }
}

/// A job-queue or shared-database failure, in words that name what to fix.
public struct JobQueueError: Error, CustomStringConvertible, Sendable {
    /// The message.
    public var description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
