import Foundation

/// The job lock of `scalper retrain`: `flock(2)` on `<models>/retrain.lock`, which the kernel
/// releases when the process ends however it ends, so a killed job never blocks the next one.
/// The holder writes its pid and start time into the file; a later job that finds those lines but
/// gets the lock knows the previous holder died without cleaning up, and names it.
public final class RetrainLock {
    /// What the lock file said when the lock was taken: the previous holder that died holding it.
    public struct Stale: Equatable, Sendable {
        /// Its pid.
        public var pid: Int32
        /// When it took the lock (ISO 8601, as it wrote it).
        public var started: String

        /// A holder's pid and start.
        public init(pid: Int32, started: String) {
            self.pid = pid
            self.started = started
        }
    }

    /// The lock file.
    public let path: String
    /// Non-nil when a previous job died holding the lock (now taken over).
    public let stale: Stale?
    private let descriptor: Int32

    /// Takes the lock or throws ``RetrainLockError/held(path:pid:started:)`` naming the running job.
    public init(path: String, started: String) throws {
        self.path = path
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RetrainLockError.io(path: path, why: String(cString: strerror(errno))) }
        let previous = Self.read(fd)
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let why = errno
            close(fd)
            if why == EWOULDBLOCK {
                throw RetrainLockError.held(path: path, pid: previous?.pid, started: previous?.started)
            }
            throw RetrainLockError.io(path: path, why: String(cString: strerror(why)))
        }
        // Read again under the lock: the holder we waited on may have just cleared it.
        stale = Self.read(fd)
        descriptor = fd
        let line = "pid \(getpid())\nstarted \(started)\n"
        _ = ftruncate(fd, 0)
        _ = line.withCString { pwrite(fd, $0, strlen($0), 0) }
        _ = fsync(fd)
    }

    /// Clears the file and releases the lock (a clean end leaves nothing to call stale).
    public func release() {
        _ = ftruncate(descriptor, 0)
        _ = fsync(descriptor)
        _ = flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    private static func read(_ fd: Int32) -> Stale? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[..<n], as: UTF8.self)
        var pid: Int32?
        var started = "?"
        for line in text.split(separator: "\n") {
            if line.hasPrefix("pid ") { pid = Int32(line.dropFirst(4)) }
            if line.hasPrefix("started ") { started = String(line.dropFirst(8)) }
        }
        return pid.map { Stale(pid: $0, started: started) }
    }
}

/// Why the retrain lock was not taken.
public enum RetrainLockError: Error, CustomStringConvertible, Equatable {
    /// Another job holds it.
    case held(path: String, pid: Int32?, started: String?)
    /// The file could not be opened or locked.
    case io(path: String, why: String)

    public var description: String {
        switch self {
        case .held(let path, let pid, let started):
            let who = pid.map { "pid \($0)" + (started.map { ", started \($0)" } ?? "") } ?? "another process"
            return "\(path): another retrain job holds the lock (\(who)); not starting a second one"
        case .io(let path, let why):
            return "\(path): cannot take the retrain lock: \(why)"
        }
    }
}
