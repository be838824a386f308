import Crypto
import Foundation

/// Named files packed into one blob (a JSON object of base-64 contents, keys sorted): how a model
/// bundle travels through the database to workers on other machines, addressed by its SHA-256.
public enum FolderBlob {
    /// Packs `files` of `folder`: the bytes and their SHA-256 (hex).
    /// - Throws: ``JobQueueError`` naming a file that cannot be read.
    public static func pack(folder: String, files: [String]) throws(JobQueueError) -> (sha256: String, bytes: [UInt8]) {
        var object: [String: String] = [:]
        for name in files {
            let path = (folder as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else { throw JobQueueError("cannot read \(path)") }
            object[name] = data.base64EncodedString()
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let bytes: [UInt8]
        do {
            bytes = Array(try encoder.encode(object))
        } catch {
            throw JobQueueError("cannot pack \(folder): \(error)")
        }
        return (hex(SHA256.hash(data: bytes)), bytes)
    }

    /// Makes `folder` hold the files of `bytes` (checked against `sha256`) all at once: they are
    /// written into a fresh sibling folder that is then renamed to `folder`, so another process on
    /// the same machine either sees no `folder` or a complete one. When another process got there
    /// first, its (identical) folder stays and this one is discarded.
    public static func install(_ bytes: [UInt8], sha256: String, at folder: String) throws(JobQueueError) {
        let parent = (folder as NSString).deletingLastPathComponent
        let staging = (parent as NSString).appendingPathComponent(".staging-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw JobQueueError("cannot create \(parent): \(error)")
        }
        defer { try? FileManager.default.removeItem(atPath: staging) }
        try unpack(bytes, sha256: sha256, into: staging)
        if rename(staging, folder) != 0 {
            let code = errno
            // ENOTEMPTY / EEXIST: another process installed the same content first.
            guard code == ENOTEMPTY || code == EEXIST else {
                throw JobQueueError("cannot move \(staging) to \(folder): \(String(cString: strerror(code)))")
            }
        }
    }

    /// Writes the files of `bytes` into `folder` (created) after checking them against `sha256`.
    public static func unpack(_ bytes: [UInt8], sha256: String, into folder: String) throws(JobQueueError) {
        guard hex(SHA256.hash(data: bytes)) == sha256 else { throw JobQueueError("blob \(sha256.prefix(12))… does not match its SHA-256") }
        let object: [String: String]
        do {
            object = try JSONDecoder().decode([String: String].self, from: Data(bytes))
        } catch {
            throw JobQueueError("blob \(sha256.prefix(12))… is not a packed folder: \(error)")
        }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (name, base64) in object {
                guard !name.contains("/"), let data = Data(base64Encoded: base64) else { throw JobQueueError("blob \(sha256.prefix(12))…: bad entry \(name)") }
                try data.write(to: URL(fileURLWithPath: folder).appendingPathComponent(name), options: .atomic)
            }
        } catch let error as JobQueueError {
            throw error
        } catch {
            throw JobQueueError("cannot write \(folder): \(error)")
        }
    }

    static func hex(_ digest: SHA256.Digest) -> String { digest.map { String(format: "%02x", $0) }.joined() }
}
