import Crypto
public import Foundation
import ZIPFoundation

/// Reads the bytes of a kline file: a CSV as is, or the one CSV inside a Binance Vision `.zip`.
public enum KlineFileReader {
    /// The CSV bytes of `url` and the SHA-256 (hex) of the file as stored on disk.
    ///
    /// - Throws: ``ImportError`` naming the file when it cannot be read, the archive is truncated or
    ///   corrupt, fails its CRC, or does not hold exactly one CSV.
    public static func read(_ url: URL) throws(ImportError) -> (csv: [UInt8], sha256: String) {
        let path = url.path
        let raw: Data
        do {
            raw = try Data(contentsOf: url)
        } catch {
            throw ImportError(file: path, reason: .unreadable(error.localizedDescription))
        }
        let digest = SHA256.hash(data: raw).map { String(format: "%02x", $0) }.joined()
        guard url.pathExtension.lowercased() == "zip" else { return ([UInt8](raw), digest) }
        return (try csvInside(zip: raw, path: path), digest)
    }

    /// The single CSV inside a zip archive held in memory.
    public static func csvInside(zip raw: Data, path: String) throws(ImportError) -> [UInt8] {
        let archive: Archive
        do {
            archive = try Archive(data: raw, accessMode: .read)
        } catch {
            throw ImportError(file: path, reason: .badArchive("cannot open (truncated or not a zip): \(error)"))
        }
        let entries = archive.filter { $0.type == .file && !$0.path.hasPrefix("__MACOSX") }
        guard entries.count == 1, let entry = entries.first else {
            throw ImportError(
                file: path,
                reason: .badArchive("expected exactly one CSV inside, found \(entries.count) files")
            )
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(entry.uncompressedSize))
        do {
            let crc = try archive.extract(entry) { chunk in bytes.append(contentsOf: chunk) }
            guard crc == entry.checksum else {
                throw ImportError(file: path, reason: .badArchive("CRC mismatch in \(entry.path)"))
            }
        } catch let error as ImportError {
            throw error
        } catch {
            throw ImportError(file: path, reason: .badArchive("cannot extract \(entry.path): \(error)"))
        }
        guard bytes.count == Int(entry.uncompressedSize) else {
            throw ImportError(
                file: path,
                reason: .badArchive("\(entry.path) is truncated (\(bytes.count) of \(entry.uncompressedSize) bytes)")
            )
        }
        return bytes
    }
}
