import Features
import ScalperCore
import Foundation
import ScalperTestSupport
import Testing

/// One recording and what its raw text holds, counted by the script in `Tests/Fixtures/README.md`
/// (Python's json module, not the parser under test).
struct RecordedCase: Sendable, CustomTestStringConvertible {
    /// Relative to the package root (bundled) or to `shared/datasets/binance`.
    var path: String
    var isShared: Bool
    var lines: Int
    var depthUpdates: Int
    var snapshots: Int
    var trades: Int
    var bookTickers: Int
    /// Depth events older than the snapshot (final update id ≤ its lastUpdateId on spot, < on futures).
    var stale: Int
    /// Depth events after the snapshot in the file that are not stale: applied one by one as they come.
    var appliedDirectly: Int

    var url: URL { isShared ? Recording.sharedURL(path) : Recording.bundledURL(path) }
    var testDescription: String { isShared ? "shared/…/\(path)" : path }

    static let bundled = [
        RecordedCase(
            path: Recording.bundled[0], isShared: false, lines: 41_249, depthUpdates: 3_451, snapshots: 1, trades: 9_757,
            bookTickers: 28_040, stale: 2, appliedDirectly: 3_448
        ),
        RecordedCase(
            path: Recording.bundled[1], isShared: false, lines: 6_796, depthUpdates: 597, snapshots: 1, trades: 1_119,
            bookTickers: 5_079, stale: 2, appliedDirectly: 595
        ),
        RecordedCase(
            path: Recording.bundled[2], isShared: false, lines: 15_088, depthUpdates: 3_929, snapshots: 0, trades: 3_144,
            bookTickers: 8_015, stale: 0, appliedDirectly: 0
        ),
        RecordedCase(
            path: Recording.bundled[3], isShared: false, lines: 11_078, depthUpdates: 861, snapshots: 1, trades: 1_811,
            bookTickers: 8_405, stale: 4, appliedDirectly: 855
        ),
        RecordedCase(
            path: Recording.bundled[4], isShared: false, lines: 9_761, depthUpdates: 865, snapshots: 1, trades: 1_482,
            bookTickers: 7_413, stale: 5, appliedDirectly: 858
        ),
    ]

    static let shared = [
        RecordedCase(
            path: Recording.shared[0], isShared: true, lines: 41_249, depthUpdates: 3_451, snapshots: 1, trades: 9_757,
            bookTickers: 28_040, stale: 2, appliedDirectly: 3_448
        ),
        RecordedCase(
            path: Recording.shared[1], isShared: true, lines: 33_618, depthUpdates: 3_434, snapshots: 1, trades: 6_106,
            bookTickers: 24_077, stale: 2, appliedDirectly: 3_432
        ),
        RecordedCase(
            path: Recording.shared[2], isShared: true, lines: 15_088, depthUpdates: 3_929, snapshots: 0, trades: 3_144,
            bookTickers: 8_015, stale: 0, appliedDirectly: 0
        ),
        RecordedCase(
            path: Recording.shared[3], isShared: true, lines: 93_954, depthUpdates: 6_551, snapshots: 1, trades: 21_313,
            bookTickers: 66_089, stale: 4, appliedDirectly: 6_545
        ),
        RecordedCase(
            path: Recording.shared[4], isShared: true, lines: 74_655, depthUpdates: 6_586, snapshots: 1, trades: 14_076,
            bookTickers: 53_992, stale: 5, appliedDirectly: 6_579
        ),
    ]
}

/// Parses every message of a recording and checks the count of each kind against its raw text.
private func parseEverything(_ recording: RecordedCase) throws {
    let messages = try Recording.messages(recording.url)
    #expect(messages.count == recording.lines)
    var kinds: [String: Int] = [:]
    for data in messages {
        switch try MarketMessageParser.parse(data) {
        case .depthUpdate: kinds["depth", default: 0] += 1
        case .depthSnapshot: kinds["snapshot", default: 0] += 1
        case .trade: kinds["trade", default: 0] += 1
        case .bookTicker: kinds["bookTicker", default: 0] += 1
        case .other: kinds["other", default: 0] += 1
        }
    }
    // Every line is one of the four recorded kinds: none may fall through to `.other`.
    let expected = [
        "depth": recording.depthUpdates, "snapshot": recording.snapshots, "trade": recording.trades, "bookTicker": recording.bookTickers,
    ].filter { $0.value > 0 }
    #expect(kinds == expected)
}

/// Rebuilds the book through a recording with a snapshot: no gap, never crossed, every depth event
/// either stale (older than the snapshot) or applied, in the numbers its raw text gives.
private func rebuild(_ recording: RecordedCase) throws {
    try #require(recording.snapshots > 0, "\(recording.path) has no snapshot to rebuild from")
    var book = OrderBook()
    var outcomes: [String: Int] = [:]
    var depthEvents = 0
    var lastTrade: Double?
    var featureRows = 0
    var appliedDirectly = 0
    for data in try Recording.messages(recording.url) {
        switch try MarketMessageParser.parse(data) {
        case .depthSnapshot(_, let snapshot):
            for outcome in book.applySnapshot(snapshot) { outcomes["\(outcome)", default: 0] += 1 }
            outcomes["buffered", default: 0] = 0  // buffered events were just resolved above
        case .depthUpdate(_, let event):
            depthEvents += 1
            let outcome = book.apply(event)
            if outcome != .buffered { outcomes["\(outcome)", default: 0] += 1 } else { outcomes["buffered", default: 0] += 1 }
            #expect(!book.isCrossed, "crossed after update \(event.finalUpdateID)")
            if outcome == .applied {
                appliedDirectly += 1
                let f = book.features(lastTradePrice: lastTrade)
                #expect(f.spreadPct > 0 && f.spreadPct < 1)
                #expect(abs(f.imbalance10) <= 1)
                #expect(f.bidDepth10 > 0 && f.askDepth10 > 0)
                #expect(f.buyPressure >= 0 && f.buyPressure + f.sellPressure <= 1 + 1e-12)
                featureRows += 1
            }
        case .trade(_, let trade):
            lastTrade = trade.price
        default:
            break
        }
    }
    let applied = outcomes["applied"] ?? 0
    let stale = outcomes["stale"] ?? 0
    #expect(book.statistics.gaps == 0)
    #expect(book.isSynced)
    #expect(depthEvents == recording.depthUpdates)
    #expect(stale == recording.stale && applied == recording.depthUpdates - recording.stale, "\(outcomes)")
    #expect(appliedDirectly == recording.appliedDirectly && featureRows == appliedDirectly)
}

@Suite("Order book kept from real Binance recordings")
struct OrderBookTests {
    @Test("Every message of every bundled recording parses, each kind in the number its raw text holds", arguments: RecordedCase.bundled)
    func parseBundled(recording: RecordedCase) throws {
        try parseEverything(recording)
    }

    @Test(
        "Every message of every whole shared recording parses, each kind in the number its raw text holds",
        .enabled(if: Fixtures.hasShared, "needs ../shared/datasets/binance/*/ws-stream"),
        arguments: RecordedCase.shared
    )
    func parseShared(recording: RecordedCase) throws {
        try parseEverything(recording)
    }

    @Test(
        "The book rebuilds through each bundled recording with a snapshot, never crossed, every update accounted for",
        arguments: RecordedCase.bundled.filter { $0.snapshots > 0 }
    )
    func rebuildBundled(recording: RecordedCase) throws {
        try rebuild(recording)
    }

    @Test(
        "The book rebuilds through each whole shared recording with a snapshot, never crossed, every update accounted for",
        .enabled(if: Fixtures.hasShared, "needs ../shared/datasets/binance/*/ws-stream"),
        arguments: RecordedCase.shared.filter { $0.snapshots > 0 }
    )
    func rebuildShared(recording: RecordedCase) throws {
        try rebuild(recording)
    }

    @Test("Without a snapshot nothing is applied: updates are buffered, then dropped with a reason")
    func noSnapshot() throws {
        var book = OrderBook(bufferLimit: 1_000)
        var buffered = 0
        var dropped = 0
        for data in try Recording.messages(Recording.bundledURL("Tests/Fixtures/ws-stream/spot/btcusdt_20230405.dat.gz")) {
            guard case .depthUpdate(_, let event) = try MarketMessageParser.parse(data) else { continue }
            switch book.apply(event) {
            case .buffered: buffered += 1
            case .awaitingSnapshot: dropped += 1
            default: Issue.record("unexpected outcome without a snapshot")
            }
        }
        #expect(buffered == 1_000 && dropped == 3_929 - 1_000)
        #expect(book.features(lastTradePrice: nil).values.allSatisfy { $0.isNaN })
    }

    @Test("Stale events are dropped, a sequence gap stops the book, a new snapshot resumes it")
    func sequencing() {
        var book = OrderBook()
        func update(_ first: Int64, _ last: Int64, bid: Double) -> DepthUpdate {
            DepthUpdate(eventTime: 0, firstUpdateID: first, finalUpdateID: last, bids: [PriceLevel(price: bid, quantity: 1)], asks: [])
        }
        #expect(book.apply(update(95, 99, bid: 9)) == .buffered)
        #expect(book.apply(update(100, 104, bid: 10)) == .buffered)
        let replay = book.applySnapshot(
            DepthSnapshot(lastUpdateID: 101, bids: [PriceLevel(price: 8, quantity: 2)], asks: [PriceLevel(price: 12, quantity: 1)])
        )
        #expect(replay == [.stale, .applied])
        #expect(book.bestBid == PriceLevel(price: 10, quantity: 1))
        #expect(book.apply(update(105, 106, bid: 11)) == .applied)
        #expect(book.apply(update(103, 106, bid: 11)) == .stale)
        #expect(book.apply(update(108, 109, bid: 11)) == .gap(expected: 107, found: 108))
        #expect(!book.isSynced)
        #expect(book.apply(update(110, 111, bid: 11)) == .awaitingSnapshot)
        book.applySnapshot(DepthSnapshot(lastUpdateID: 120, bids: [PriceLevel(price: 9, quantity: 1)], asks: [PriceLevel(price: 12, quantity: 1)]))
        #expect(book.apply(update(121, 125, bid: 9.5)) == .applied)
        #expect(book.bids.map(\.price) == [9.5, 9])
        let removal = DepthUpdate(eventTime: 0, firstUpdateID: 126, finalUpdateID: 126, bids: [PriceLevel(price: 9.5, quantity: 0)], asks: [])
        #expect(book.apply(removal) == .applied && book.bids.map(\.price) == [9])
    }

    @Test("Book features follow their definitions on a small book")
    func features() {
        var book = OrderBook()
        book.replace(
            withPartial: DepthSnapshot(
                lastUpdateID: 1,
                bids: [PriceLevel(price: 99.95, quantity: 2), PriceLevel(price: 99.0, quantity: 4)],
                asks: [PriceLevel(price: 100.05, quantity: 1), PriceLevel(price: 101.0, quantity: 3)]
            )
        )
        let f = book.features(lastTradePrice: 100.1)
        let bidDepth = 99.95 * 2 + 99.0 * 4
        let askDepth = 100.05 + 101.0 * 3
        #expect(abs(f.spreadPct - 0.1 / 100 * 100) < 1e-12)
        #expect(f.imbalance10 == (6.0 - 4.0) / 10.0)
        #expect(f.bidDepth10 == bidDepth && f.askDepth10 == askDepth)
        #expect(abs(f.buyPressure - 99.95 * 2 / (bidDepth + askDepth)) < 1e-15)
        #expect(abs(f.sellPressure - 100.05 / (bidDepth + askDepth)) < 1e-15)
        #expect(abs(f.midVsLastPct - (100 - 100.1) / 100 * 100) < 1e-12)
    }
}

@Suite("Bundled recordings are cut from the shared ones")
struct BundledRecordingTests {
    @Test(
        "Each bundled recording is the first lines of the shared one, cut at a line boundary",
        .enabled(if: Fixtures.hasShared, "needs ../shared/datasets/binance/*/ws-stream"),
        arguments: zip(Recording.bundled, Recording.shared)
    )
    func prefixOfShared(bundled: String, shared: String) throws {
        let cut = try Recording.gunzip(Recording.bundledURL(bundled))
        let whole = try Recording.gunzip(Recording.sharedURL(shared))
        #expect(cut.last == 10, "the cut ends inside a line")
        #expect(whole.starts(with: cut))
        #expect(cut.count == whole.count || bundled.contains("-first"), "a bundled copy named as whole is not whole")
    }
}
