import Features
import ScalperCore
import Foundation
import ScalperTestSupport
import Testing

@Suite("Order book kept from real Binance recordings")
struct OrderBookTests {
    @Test("Every message of every recording parses", arguments: Recording.files)
    func parseEverything(file: String) throws {
        let messages = try Recording.messages(file)
        #expect(messages.count > 10_000)
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
        #expect((kinds["depth"] ?? 0) > 3_000 && (kinds["trade"] ?? 0) > 3_000 && (kinds["bookTicker"] ?? 0) > 8_000)
        #expect(kinds["other"] == nil || file.contains("20230405") == false)
    }

    @Test(
        "The book rebuilds through the whole recording, never crossed, every update accounted for",
        arguments: Recording.files.filter { !$0.contains("20230405") }
    )
    func rebuild(file: String) throws {
        var book = OrderBook()
        var outcomes: [String: Int] = [:]
        var depthEvents = 0
        var lastTrade: Double?
        var featureRows = 0
        var appliedDirectly = 0
        for data in try Recording.messages(file) {
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
        #expect(applied + stale == depthEvents, "\(outcomes)")
        #expect(applied > 3_000)
        #expect(featureRows == appliedDirectly && appliedDirectly <= applied)
    }

    @Test("Without a snapshot nothing is applied: updates are buffered, then dropped with a reason")
    func noSnapshot() throws {
        var book = OrderBook(bufferLimit: 1_000)
        var buffered = 0
        var dropped = 0
        for data in try Recording.messages("spot/ws-stream/btcusdt_20230405.dat.gz") {
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
