import Features
import Foundation
import ScalperCore
import ScalperTestSupport
import Session
import Testing

@Suite("scalper paper: the live book's features")
struct PaperBookTests {
    @Test(
        "The book features a session records at each bar equal those rebuilt from the recording the exchange replays, at the same update id and last trade",
        .timeLimit(.minutes(10))
    )
    func liveBookEqualsRecording() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        // The bundled spot BTCUSDT recording (2024-08-08 23:54:15 … 2024-08-09 00:00:01), served by the
        // exchange as recorded; one-second steps so each depth20 frame is the book of its second.
        let (exchange, port) = try await w.exchange(symbols: "BTCUSDT", from: "2024-08-08T23:55", step: "1")
        defer { exchange.kill() }
        let result = try await ScalperProcess.run(w.paperArguments(session: "book", port: port, minutes: 4, symbols: "BTCUSDT"))
        #expect(result.status == 0, "\(result.stderr.suffix(2_000))")
        let store = try SessionStore(path: w.dir.path("home/sessions/book/session.sqlite"), createIfMissing: false)
        let rows = try store.bookFeatureRows()
        #expect(rows.map(\.openTime) == (0..<4).map { Int64(1_723_161_300_000) + Int64($0) * 60_000 })

        // Rebuild the book from the recording: its REST snapshot, then every diff in order; keep the
        // book as it stood at each update id the session recorded, and every trade's price.
        let wanted = Set(rows.map(\.updateID))
        var book = OrderBook()
        var at: [Int64: OrderBook] = [:]
        var prices: [Int64: Double] = [:]
        for message in try Recording.messages(Recording.bundledURL("datasets/sample/ws-stream/btcusdt_20240808.gz")) {
            switch try MarketMessageParser.parse(message) {
            case .depthSnapshot(_, let snapshot): _ = book.applySnapshot(snapshot)
            case .depthUpdate(_, let update): book.apply(update)
            case .trade(_, let trade): prices[trade.id] = trade.price
            default: break
            }
            if wanted.contains(book.lastUpdateID), book.isSynced, at[book.lastUpdateID] == nil { at[book.lastUpdateID] = book }
        }
        for row in rows {
            let rebuilt = try #require(at[row.updateID], "update id \(row.updateID) is not in the recording")
            let last = try #require(row.lastTradeID.flatMap { prices[$0] }, "trade \(String(describing: row.lastTradeID)) is not in the recording")
            let expected = rebuilt.features(lastTradePrice: last).values
            #expect(row.values.count == 8)
            for (i, (a, b)) in zip(row.values, expected).enumerated() {
                #expect(a == b || (a.isNaN && b.isNaN), "bar \(UTC.minuteString(row.openTime)) \(FeatureSpec.names[FeatureSpec.orderBookRange][24 + i])")
            }
        }
        // The store holds five bars of BTCUSDT, far fewer than the 1,000 of warm-up: the session says
        // so and never trades, yet records the book at every bar it scores.
        #expect(result.stderr.contains("short warm-up"))
    }
}
