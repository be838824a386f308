import Foundation
import MarketData
import ScalperCore
import ScalperTestSupport
import Testing

/// The bundled real recording of Binance spot BTCUSDT streams.
private var recordingURL: URL { Fixtures.sample.appendingPathComponent("ws-stream/btcusdt_20240808.gz") }

@Suite("Recorded WebSocket streams: read, stored, rebuilt")
struct RecordingTests {
    @Test("The real recording reads whole: every line counted by kind, times in ms, the book chains without a gap")
    func readsRealRecording() throws {
        let r = try StreamRecording.read(recordingURL)
        #expect(r.lines == 41_249 && r.ignored == 0)
        #expect(r.streams.map(\.symbol) == ["BTCUSDT"])
        let s = try #require(r.streams.first)
        #expect(s.snapshots.count == 1 && s.updates.count == 3_451 && s.bookTickers.count == 28_040 && s.trades.count == 9_757)
        // 2024-08-08 23:54:13.937 … 23:59:59.999 UTC, from nanosecond receive times.
        #expect(r.span == 1_723_161_253_937...1_723_161_599_999)
        #expect(s.sequenceGaps == 0)
        #expect(s.snapshots[0].snapshot.lastUpdateID == 50_093_239_218)
        // Rebuilding the book through every event from the snapshot never crosses it.
        var book = OrderBook()
        book.applySnapshot(s.snapshots[0].snapshot)
        for e in s.updates {
            book.apply(e)
            #expect(!book.isCrossed)
        }
        #expect(book.isSynced && book.statistics.gaps == 0 && book.statistics.applied > 3_000)
    }

    @Test("Stored and read back unchanged; importing it again adds nothing; bars come from whole minutes of trades")
    func storeRoundTrip() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try MarketStore(path: dir.path("m.sqlite"))
        let r = try StreamRecording.read(recordingURL)
        let first = try store.insert(recording: r)
        #expect(first.snapshots == 1 && first.depthUpdates == 3_451 && first.bookTickers == 28_040 && first.trades == 9_757)
        #expect(first.alreadyPresent == 0 && first.bars.inserted == 5)
        let again = try store.insert(recording: r)
        #expect(again.snapshots + again.depthUpdates + again.bookTickers + again.trades == 0)
        #expect(again.alreadyPresent == 41_249 && again.bars.inserted == 0 && again.bars.alreadyPresent == 5)
        #expect(try store.recordedStreams(symbol: "BTCUSDT") == r.streams[0])
        #expect(try store.recordings().map(\.symbol) == ["BTCUSDT"])
        // The bars: 23:55 … 23:59, each the aggregate of that minute's recorded trades.
        let bars = try store.klines(symbol: "BTCUSDT", interval: .oneMinute, from: .min, to: .max)
        #expect(bars.map(\.openTime) == (0..<5).map { 1_723_161_300_000 + Int64($0) * 60_000 })
        let trades = r.streams[0].trades
        for bar in bars {
            let inside = trades.filter { $0.time >= bar.openTime && $0.time <= bar.closeTime }
            #expect(Int(bar.tradeCount) == inside.count)
            #expect(bar.open == inside.first?.price && bar.close == inside.last?.price)
            #expect(bar.high == inside.map(\.price).max() && bar.low == inside.map(\.price).min())
            #expect(abs(bar.volume - inside.reduce(0) { $0 + $1.quantity }) < 1e-9)
        }
    }

    @Test("Minute bars: only wholly covered minutes; a minute without trades is flat at the last price")
    func minuteBars() {
        var s = RecordedStreams(symbol: "XUSDT")
        let m: Int64 = 60_000
        s.trades = [
            Trade(id: 1, time: 10, price: 5, quantity: 1, buyerIsMaker: false),  // minute 0: not wholly covered
            Trade(id: 2, time: m + 1, price: 10, quantity: 2, buyerIsMaker: false),
            Trade(id: 3, time: m + 2, price: 12, quantity: 1, buyerIsMaker: true),
            Trade(id: 4, time: 2 * m - 1, price: 9, quantity: 1, buyerIsMaker: false),
            // minute 2: no trade
            Trade(id: 5, time: 3 * m + 5, price: 11, quantity: 3, buyerIsMaker: true),
        ]
        let bars = s.minuteBars(covered: 5...(4 * m - 2))  // minute 3 ends a millisecond after the cover
        #expect(bars.count == 2)
        #expect(bars[0].openTime == m && bars[0].open == 10 && bars[0].high == 12 && bars[0].low == 9 && bars[0].close == 9)
        #expect(bars[0].volume == 4 && bars[0].quoteVolume == 20 + 12 + 9 && bars[0].tradeCount == 3)
        #expect(bars[0].takerBuyBaseVolume == 3 && bars[0].takerBuyQuoteVolume == 29)
        #expect(bars[1].openTime == 2 * m && bars[1].open == 9 && bars[1].close == 9 && bars[1].volume == 0 && bars[1].tradeCount == 0)
    }

    @Test("A bad line is named by file and line, a truncated gzip is refused, and importing either leaves the store as it was")
    func badInput() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let text = try Gzip.decompress(Data(contentsOf: recordingURL), name: "sample")
        var lines = text.split(separator: 10, omittingEmptySubsequences: false).map { Data($0) }
        lines[99] = Data(#"1723161254936059768 {"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT","p":"NaN"}}"#.utf8)
        let broken = Data(lines.joined(separator: [10]))
        #expect {
            try StreamRecording.parse(broken, source: "rec.txt")
        } throws: { error in
            "\(error)".hasPrefix("rec.txt:100: ") && "\(error)".contains("trade")
        }
        var backwards = lines
        backwards[99] = Data(("1000000000000000000 " + #"{"stream":"btcusdt@trade","data":{}}"#).utf8)
        #expect {
            try StreamRecording.parse(Data(backwards.joined(separator: [10])), source: "b")
        } throws: { error in
            error is ImportError && "\(error)".contains("b:100: receive time goes backwards")
        }

        let gz = try Data(contentsOf: recordingURL)
        let truncated = URL(fileURLWithPath: dir.path("cut.gz"))
        try gz.prefix(gz.count / 2).write(to: truncated)
        #expect {
            try StreamRecording.read(truncated)
        } throws: { error in
            "\(error)".contains("cut.gz") && "\(error)".contains("gzip")
        }
        // A flipped byte inside the compressed data is caught (zlib's data check or the CRC-32).
        var flipped = gz
        flipped[flipped.startIndex + gz.count / 3] ^= 0x5A
        #expect(throws: ImportError.self) { try Gzip.decompress(flipped, name: "flipped.gz") }
        // Two members one after the other (`cat a.gz b.gz`) read as one file.
        #expect(try Gzip.decompress(gz + gz, name: "twice.gz") == text + text)
        // A failed file stores nothing: `data import`'s read-then-insert is attempted on a store that
        // already holds the first 2,000 lines of the recording, and leaves it exactly as it was,
        // though each failed file has thousands of rows the store lacks.
        let store = try MarketStore(path: dir.path("m.sqlite"))
        let firstLines = text.split(separator: 10, omittingEmptySubsequences: false).prefix(2_000).map { Data($0) }
        let head = try StreamRecording.parse(Data(firstLines.joined(separator: [10])), source: "head")
        let stored = try store.insert(recording: head)
        #expect(stored.depthUpdates > 0 && stored.trades > 0 && stored.bookTickers > 0 && stored.snapshots == 1)
        let before = (try store.recordings(), try store.recordedStreams(symbol: "BTCUSDT"), try store.totalCount())
        let brokenFile = URL(fileURLWithPath: dir.path("broken.txt"))
        try broken.write(to: brokenFile)
        for failed in [truncated, brokenFile] {
            #expect(throws: ImportError.self, "\(failed.lastPathComponent)") {
                try store.insert(recording: StreamRecording.read(failed))
            }
            #expect(try store.recordings() == before.0 && store.totalCount() == before.2)
            #expect(try store.recordedStreams(symbol: "BTCUSDT") == before.1)
        }
    }
}
