public import Foundation

/// Runs the built `scalper` binary as a child process, the way a user would.
public struct ScalperProcess: Sendable {
    /// Exit status and captured output of one run.
    public struct Result: Sendable {
        /// The exit status (or the signal number when killed).
        public var status: Int32
        /// Standard output.
        public var stdout: String
        /// Standard error.
        public var stderr: String
        /// Whether a signal ended the process (``status`` is then its number).
        public var killedBySignal: Bool
    }

    /// The binary: next to the test bundle in the build folder.
    public static var binary: URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("scalper")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return Fixtures.packageRoot.appendingPathComponent(".build/debug/scalper")
    }

    let process: Process
    let out: URL
    let err: URL

    /// Starts `scalper arguments…` in `directory` (default: the package root) with `environment` added.
    public static func start(
        _ arguments: [String],
        environment: [String: String] = [:],
        directory: URL = Fixtures.packageRoot
    ) throws -> ScalperProcess {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "SCALPER_STORE")
        env.removeValue(forKey: "SCALPER_CONFIG")
        env.removeValue(forKey: "SCALPER_HOME")
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let tmp = FileManager.default.temporaryDirectory
        let out = tmp.appendingPathComponent("scalper-out-\(UUID().uuidString)")
        let err = tmp.appendingPathComponent("scalper-err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return ScalperProcess(process: process, out: out, err: err)
    }

    /// Runs `scalper arguments…` to the end.
    public static func run(
        _ arguments: [String],
        environment: [String: String] = [:],
        directory: URL = Fixtures.packageRoot
    ) async throws -> Result {
        try await start(arguments, environment: environment, directory: directory).wait()
    }

    /// Standard output so far (the process may still be running).
    public var outputSoFar: String { (try? String(contentsOf: out, encoding: .utf8)) ?? "" }

    /// Standard error so far.
    public var errorSoFar: String { (try? String(contentsOf: err, encoding: .utf8)) ?? "" }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// Whether the process is still running.
    public var isRunning: Bool { process.isRunning }

    /// Sends `signal` (SIGINT, SIGTERM, …).
    public func send(_ signal: Int32) {
        Foundation.kill(process.processIdentifier, signal)
    }

    /// Waits (polling, up to `seconds`) until standard output has a line starting with `prefix`; returns it.
    /// The default wait is long: in a full parallel test run on 2 cores, a child started beside a
    /// dozen others took over a minute to print its first line.
    public func waitForLine(startingWith prefix: String, seconds: Double = 300) async throws -> String {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1_000))
        while ContinuousClock.now < deadline {
            if let line = outputSoFar.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) { return String(line) }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let err = (try? String(contentsOf: self.err, encoding: .utf8)) ?? ""
        throw ScalperProcessError(message: "no line starting with '\(prefix)' within \(seconds) s; stderr: \(err.suffix(2_000))")
    }

    /// Sends SIGKILL, as a crash or `kill -9` would.
    public func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
    }

    /// Waits for the process to end, polling so no cooperative thread is blocked.
    public func wait() async throws -> Result {
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        return Result(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "",
            killedBySignal: process.terminationReason == .uncaughtSignal
        )
    }
}

/// A child process did not do what a test waited for.
public struct ScalperProcessError: Error, CustomStringConvertible {
    /// What did not happen.
    public var message: String
    /// Creates one.
    public init(message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}
