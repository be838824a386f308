import Foundation
import Trading

/// A session's `trades.csv`: the backtest's columns (``TradeRecord/csvHeader``) plus the name of
/// the model that opened each trade. Written after the store has the trades (the store is the
/// record; the file is a view of it, rebuilt from the store at every start, so a crash between a
/// commit and an append loses nothing).
struct TradesFile {
    let path: String

    init(path: String) throws {
        self.path = path
    }

    /// Writes the file anew with `trades` and the model of each (through a temporary file, renamed over the old one).
    func rewrite(_ trades: [(TradeRecord, String)]) throws {
        var text = TradeRecord.csvHeader + ",model\n"
        for (t, model) in trades { text += line(t, model) }
        let temporary = path + ".tmp"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch {
            throw PaperSessionError("\(path): cannot write the trades file: \(error.localizedDescription)")
        }
    }

    /// Starts the file of a new session: its header alone. A file already there belongs to an
    /// earlier session of this name whose store is gone; it is kept beside, renamed
    /// `trades.before-<ms>.csv` (the path is returned), never overwritten.
    @discardableResult
    func start(now: Int64) throws -> String? {
        var kept: String?
        if FileManager.default.fileExists(atPath: path) {
            let folder = (path as NSString).deletingLastPathComponent
            let aside = folder + "/trades.before-\(now).csv"
            do {
                try FileManager.default.moveItem(atPath: path, toPath: aside)
            } catch {
                throw PaperSessionError("\(path): cannot keep the earlier trades file aside: \(error.localizedDescription)")
            }
            kept = aside
        }
        try rewrite([])
        return kept
    }

    /// Appends `trades`, each with the model that opened it.
    func append(_ trades: [(TradeRecord, String)]) throws {
        guard let handle = FileHandle(forWritingAtPath: path) else {
            return try rewrite(trades)
        }
        defer { try? handle.close() }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(trades.map { line($0.0, $0.1) }.joined().utf8))
        } catch {
            throw PaperSessionError("\(path): cannot append to the trades file: \(error.localizedDescription)")
        }
    }

    private func line(_ t: TradeRecord, _ model: String) -> String { (t.csvFields + [model]).joined(separator: ",") + "\n" }
}
