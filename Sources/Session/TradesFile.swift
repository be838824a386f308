import Foundation
import Trading

/// A session's `trades.csv`: the backtest's columns (``TradeRecord/csvHeader``) plus the model's
/// name. Written after the store has the trades (the store is the record; the file is a view of it,
/// rebuilt from the store at every start, so a crash between a commit and an append loses nothing).
struct TradesFile {
    let path: String
    let model: String

    init(path: String, model: String) throws {
        self.path = path
        self.model = model
    }

    /// Writes the file anew with `trades` (through a temporary file, renamed over the old one).
    func rewrite(_ trades: [TradeRecord]) throws {
        var text = TradeRecord.csvHeader + ",model\n"
        for t in trades { text += line(t) }
        let temporary = path + ".tmp"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch {
            throw PaperSessionError("\(path): cannot write the trades file: \(error.localizedDescription)")
        }
    }

    /// Appends `trades`.
    func append(_ trades: [TradeRecord]) throws {
        guard let handle = FileHandle(forWritingAtPath: path) else {
            return try rewrite(trades)
        }
        defer { try? handle.close() }
        do {
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(trades.map(line).joined().utf8))
        } catch {
            throw PaperSessionError("\(path): cannot append to the trades file: \(error.localizedDescription)")
        }
    }

    private func line(_ t: TradeRecord) -> String { (t.csvFields + [model]).joined(separator: ",") + "\n" }
}
