public import Foundation

/// A throwaway PostgreSQL server on 127.0.0.1 for one test: `initdb` into a fresh folder, `postgres`
/// on a free port with trust authentication and no fsync, database `scalper` owned by role `scalper`.
///
/// `initdb` and `postgres` refuse to run as root; as root the server runs as `nobody` (through
/// `setpriv`), which owns the folder. The binaries come from Debian's `postgresql` package
/// (`/usr/lib/postgresql/<version>/bin`, installed by `make setup`) or from `PATH`.
public final class PostgresServer: @unchecked Sendable {
    // @unchecked: `process` is set once in init and only read after.
    /// The folder holding the cluster, its socket and its log.
    public let folder: URL
    /// The TCP port.
    public let port: Int
    private let process: Process
    private let runAs: String?

    /// `postgres://scalper@127.0.0.1:PORT/scalper?sslmode=disable`.
    public var url: String { "postgres://scalper@127.0.0.1:\(port)/scalper?sslmode=disable" }

    /// Starts a server; throws with the server's log when it does not come up within 60 s.
    public static func start() throws -> PostgresServer {
        try PostgresServer()
    }

    private init() throws {
        let bin = try Self.binaries()
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("scalper-pg-\(UUID().uuidString.prefix(8))")
        let data = folder.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        runAs = getuid() == 0 ? "nobody" : nil
        if runAs != nil {
            // nobody must own the cluster folder (and reach it: the temporary folder is world-traversable).
            try Self.run("/bin/chown", ["-R", "nobody:nogroup", folder.path])
        }
        try Self.run(bin + "/initdb", ["-D", data.path, "-U", "scalper", "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync"], as: runAs)
        var lastError = ""
        for _ in 0..<5 {
            let candidate = try Self.freePort()
            let p = Process()
            let log = folder.appendingPathComponent("postgres-\(candidate).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            if runAs != nil { try Self.run("/bin/chown", ["nobody:nogroup", log.path]) }
            let arguments = [
                bin + "/postgres", "-D", data.path, "-p", "\(candidate)", "-k", folder.path, "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=60",
                "-c", "shared_buffers=16MB",
            ]
            if let runAs {
                // setpriv execs postgres itself (no parent in between): signals reach the postmaster.
                p.executableURL = URL(fileURLWithPath: Self.setpriv)
                p.arguments = Self.dropPrivileges(to: runAs) + arguments
            } else {
                p.executableURL = URL(fileURLWithPath: arguments[0])
                p.arguments = Array(arguments.dropFirst())
            }
            let handle = try FileHandle(forWritingTo: log)
            p.standardOutput = handle
            p.standardError = handle
            try p.run()
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline && p.isRunning {
                if (try? Self.run(bin + "/pg_isready", ["-q", "-h", "127.0.0.1", "-p", "\(candidate)", "-U", "scalper"])) != nil { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            if p.isRunning, (try? Self.run(bin + "/pg_isready", ["-q", "-h", "127.0.0.1", "-p", "\(candidate)", "-U", "scalper"])) != nil {
                process = p
                port = candidate
                try Self.run(bin + "/createdb", ["-h", "127.0.0.1", "-p", "\(candidate)", "-U", "scalper", "scalper"])
                return
            }
            if p.isRunning { p.interrupt(); p.waitUntilExit() }
            lastError = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        }
        throw PostgresServerError("postgres did not start on 127.0.0.1 (5 ports tried); last log:\n\(lastError)")
    }

    /// Stops the server at once and removes its folder.
    public func stop() {
        if process.isRunning {
            // SIGQUIT: immediate shutdown (a throwaway cluster needs no checkpoint); SIGKILL after 10 s.
            kill(process.processIdentifier, SIGQUIT)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: folder)
    }

    deinit { stop() }

    /// util-linux's `setpriv`, which runs a program under another user by exec (Debian: /usr/bin).
    static let setpriv = FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") ? "/usr/bin/setpriv" : "/bin/setpriv"

    /// `setpriv` arguments that become `user` (its uid, its group, no supplementary groups).
    static func dropPrivileges(to user: String) -> [String] {
        ["--reuid=\(user)", "--regid=nogroup", "--clear-groups", "--"]
    }

    /// The folder of `initdb`, `postgres`, `pg_isready` and `createdb`.
    static func binaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        if let v = versions.last, FileManager.default.isExecutableFile(atPath: "\(root)/\(v)/bin/postgres") { return "\(root)/\(v)/bin" }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/initdb") {
            return String(dir)
        }
        throw PostgresServerError("no PostgreSQL server binaries (initdb, postgres) under \(root)/<version>/bin or on PATH: run make setup (it installs Debian's postgresql)")
    }

    /// A port the kernel just handed out (free at that moment).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PostgresServerError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw PostgresServerError("bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs a program to its end; throws with its output when it fails.
    @discardableResult
    static func run(_ path: String, _ arguments: [String], as user: String? = nil) throws -> String {
        let p = Process()
        if let user {
            p.executableURL = URL(fileURLWithPath: setpriv)
            p.arguments = dropPrivileges(to: user) + [path] + arguments
        } else {
            p.executableURL = URL(fileURLWithPath: path)
            p.arguments = arguments
        }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw PostgresServerError("\(([path] + arguments).joined(separator: " ")) exited \(p.terminationStatus): \(output)")
        }
        return output
    }
}

/// The test server could not be set up.
public struct PostgresServerError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
