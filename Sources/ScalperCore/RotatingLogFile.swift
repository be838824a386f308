import Foundation
import Synchronization

/// A log file that rotates by size: `name.log`, then `name.log.1` … `name.log.<kept>` (oldest
/// dropped). Lines are appended whole; a line never straddles two files.
public final class RotatingLogFile: Sendable {
    /// The current file's path.
    public let path: String
    /// Size (bytes) at which the file is rotated.
    public let maxBytes: Int
    /// Rotated files kept.
    public let kept: Int
    private let state: Mutex<(handle: FileHandle?, size: Int)>

    /// Opens (creating folders as needed) `path` for appending.
    ///
    /// - Throws: an error naming the path when it cannot be created or opened.
    public init(path: String, maxBytes: Int, kept: Int) throws {
        precondition(maxBytes > 0 && kept >= 1, "a rotating log needs a positive size and at least one old file")
        self.path = path
        self.maxBytes = maxBytes
        self.kept = kept
        let handle = try Self.open(path)
        let size = Int((try? handle.seekToEnd()) ?? 0)
        state = Mutex((handle, size))
    }

    /// Appends one line (with its newline), rotating first when it would pass the size.
    public func write(_ line: String) {
        let data = Data(line.utf8)
        state.withLock { s in
            if s.size > 0, s.size + data.count > maxBytes {
                try? s.handle?.close()
                rotate()
                s.handle = try? Self.open(path)
                s.size = 0
            }
            guard let handle = s.handle else { return }
            do {
                try handle.write(contentsOf: data)
                s.size += data.count
            } catch {
                // A full disk must not stop trading: the console still has the line.
            }
        }
    }

    private func rotate() {
        let fm = FileManager.default
        try? fm.removeItem(atPath: "\(path).\(kept)")
        if kept > 1 {
            for i in stride(from: kept - 1, through: 1, by: -1) where fm.fileExists(atPath: "\(path).\(i)") {
                try? fm.moveItem(atPath: "\(path).\(i)", toPath: "\(path).\(i + 1)")
            }
        }
        try? fm.moveItem(atPath: path, toPath: "\(path).1")
    }

    private static func open(_ path: String) throws -> FileHandle {
        let fm = FileManager.default
        let folder = (path as NSString).deletingLastPathComponent
        do {
            if !folder.isEmpty { try fm.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            if !fm.fileExists(atPath: path) { _ = fm.createFile(atPath: path, contents: nil) }
            return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        } catch {
            throw RotatingLogFileError(path: path, message: error.localizedDescription)
        }
    }
}

/// A log file that could not be opened.
public struct RotatingLogFileError: Error, CustomStringConvertible, Sendable {
    /// The path.
    public var path: String
    /// Why.
    public var message: String
    /// `path: message`.
    public var description: String { "\(path): cannot open the log file: \(message)" }
}
