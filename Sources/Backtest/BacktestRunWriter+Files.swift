public import Foundation
import Trading

/// A run folder's files in memory, for a store that keeps them itself (a worker recording into the
/// shared database writes no local folder).
extension BacktestRunWriter {
    /// The files ``write(_:config:to:)`` writes, byte for byte: `config.json`, `trades.csv`,
    /// `metrics.csv`, `summary.txt` and `equity.svg` (`report.html` is Dashboard's).
    public static func files(_ result: BacktestResult, config: BacktestRunConfig) throws -> [String: [UInt8]] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return [
            "config.json": Array(try encoder.encode(config)),
            "trades.csv": Array(tradesCSV(result.trades).utf8),
            "metrics.csv": Array(metricsCSV(result.metrics).utf8),
            "summary.txt": Array(summary(result, config: config).utf8),
            "equity.svg": Array(EquityChart.svg(result.equityCurve).utf8),
        ]
    }

    /// Writes `files` as the new folder `folder` all at once: into a hidden sibling first, then
    /// moved into place, so a failure (or a crash) leaves no half-written run folder behind.
    public static func writeFolder(_ files: [String: [UInt8]], to folder: URL) throws {
        let fm = FileManager.default
        let temporary = folder.deletingLastPathComponent().appendingPathComponent(".\(folder.lastPathComponent).partial-\(UUID().uuidString)")
        do {
            try fm.createDirectory(at: temporary, withIntermediateDirectories: true)
            for (name, bytes) in files { try Data(bytes).write(to: temporary.appendingPathComponent(name)) }
            try fm.moveItem(at: temporary, to: folder)
        } catch {
            try? fm.removeItem(at: temporary)
            throw error
        }
    }

    /// Whether `name` can name a file of a run's folder: one path component, not hidden.
    public static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && !name.contains("/") && !name.contains("\0")
    }

    /// Every plain file directly in `folder` (hidden files and subfolders left out), name → bytes.
    public static func files(inFolder folder: URL) throws -> [String: [UInt8]] {
        let fm = FileManager.default
        var out: [String: [UInt8]] = [:]
        for name in try fm.contentsOfDirectory(atPath: folder.path) where !name.hasPrefix(".") {
            let url = folder.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            out[name] = Array(try Data(contentsOf: url))
        }
        return out
    }
}
