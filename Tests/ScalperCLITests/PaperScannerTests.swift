import Foundation
import ScalperCore
import ScalperTestSupport
import Session
import Testing

@Suite("scalper paper without --symbols: the scanner chooses")
struct PaperScannerTests {
    @Test(
        "A scanner session follows the exchange's 30 pairs, scores only each minute's candidates, follows only candidates' and positions' books, and resumes only as a scanner session",
        .timeLimit(.minutes(10))
    )
    func scannerSession() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let minutes = 180
        // FILUSDT and NEARUSDT with 28 pairs derived from them: 30 USDT pairs with 24 h volume.
        let (exchange, port) = try await w.exchange(extra: ["--pairs", "30"])
        defer { exchange.kill() }
        var arguments = w.paperArguments(session: "scan", port: port, minutes: minutes, exits: "tick")
        let at = try #require(arguments.firstIndex(of: "--symbols"))
        arguments.removeSubrange(at...(at + 1))
        let result = try await ScalperProcess.run(arguments + ["--log-level", "debug"])
        #expect(result.status == 0, "\(result.stderr.suffix(3_000))")
        let summary = try #require(PaperWorkspace.summary(result))
        let status = try #require(summary["status"] as? [String: Any])
        #expect(status["minutes"] as? Int == minutes)
        #expect((status["candidates"] as? [[String: Any]])?.count == 10)

        let log = result.stderr.split(separator: "\n").map(String.init)
        #expect(log.contains { $0.contains("| INFO | paper | universe ") && $0.contains("pairs=30") })
        // The candidates in force from each minute on (logged when the set changes).
        var changes: [(minute: String, symbols: Set<String>)] = []
        for line in log where line.contains("| DEBUG | paper | candidates ") {
            let minute = try #require(line.firstMatch(of: /minute=(\d{4}-\d\d-\d\d \d\d:\d\d)/)?.1)
            let symbols = try #require(line.firstMatch(of: /symbols=([A-Z0-9,]+)/)?.1)
            changes.append((String(minute), Set(symbols.split(separator: ",").map(String.init))))
        }
        #expect(changes.count > 10, "the candidates changed \(changes.count) times")
        #expect(changes.allSatisfy { $0.symbols.count == 10 })
        #expect(Set(changes.flatMap(\.symbols)).count > 10)
        func candidates(at minute: String) -> Set<String>? { changes.last { $0.minute <= minute }?.symbols }
        // Every signal is a candidate's, of the minute whose close made it.
        var signals = 0
        for line in log where line.contains("| INFO | paper | signal ") {
            let symbol = try #require(line.firstMatch(of: /symbol=([A-Z0-9]+)/)?.1)
            let time = try #require(line.firstMatch(of: /time=(\d{4}-\d\d-\d\d)T(\d\d:\d\d):00Z/))
            let closed = try #require(UTC.parse("\(time.1)T\(time.2)"))
            let minute = UTC.minuteString(closed - 60_000)
            #expect(candidates(at: minute)?.contains(String(symbol)) == true, "signal of \(symbol) at \(minute)")
            signals += 1
        }
        #expect(signals > 5)
        #expect(try w.tradeRows(session: "scan").count > 5)

        // Books are followed for this minute's candidates and open positions only (10 + 3 at most),
        // never all 30 pairs.
        let store = try SessionStore(path: w.dir.path("home/sessions/scan/session.sqlite"), createIfMissing: false)
        let rows = try store.bookFeatureRows()
        let perMinute = Dictionary(grouping: rows, by: \.openTime)
        #expect(perMinute.count > minutes / 2)
        #expect(perMinute.values.allSatisfy { $0.count <= 13 }, "\(perMinute.values.map(\.count).max() ?? 0) books in one minute")
        #expect(Set(rows.map(\.symbol)).count > 10)

        // Started again with symbols of its own, the session refuses, naming what it follows.
        let mixed = try await ScalperProcess.run(w.paperArguments(session: "scan", port: port, minutes: minutes))
        #expect(mixed.status != 0)
        #expect(mixed.stderr.contains("session scan follows the scanner's 30 pairs, not FILUSDT,NEARUSDT: start it without --symbols"))
    }
}
