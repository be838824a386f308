import Foundation
import ScalperCore
import Testing
import Trading

private let t0 = Int64(1_690_848_000_000)

private func bar(_ i: Int, _ price: Double = 100) -> Kline {
    let t = t0 + Int64(i) * 60_000
    return Kline(
        openTime: t, open: price, high: price, low: price, close: price, volume: 1, closeTime: t + 59_999, quoteVolume: price,
        tradeCount: 1, takerBuyBaseVolume: 0, takerBuyQuoteVolume: 0
    )
}

@Suite("Minutes are decided once, with every followed symbol's bar")
struct MinuteAssemblerTests {
    @Test("A minute waits for every followed symbol, then comes out once with all its bars")
    func waitsForAll() {
        var m = MinuteAssembler(deadline: nil)
        _ = m.follow(["AUSDT", "BUSDT"])
        #expect(m.barClosed(symbol: "AUSDT", bar: bar(0)).decided.isEmpty)
        let done = m.barClosed(symbol: "BUSDT", bar: bar(0)).decided
        #expect(done.map(\.openTime) == [t0] && done[0].bars.map(\.symbol) == ["AUSDT", "BUSDT"] && done[0].missing.isEmpty)
        #expect(m.barClosed(symbol: "BUSDT", bar: bar(0)).late)
    }

    @Test("Minutes come out in order: a later minute complete first waits for the earlier one")
    func inOrder() {
        var m = MinuteAssembler(deadline: nil)
        _ = m.follow(["AUSDT", "BUSDT"])
        _ = m.barClosed(symbol: "AUSDT", bar: bar(0))
        _ = m.barClosed(symbol: "AUSDT", bar: bar(1))
        // B's minute-1 bar proves nothing about minute 0 until… it does: a later bar means B has no bar at 0.
        let done = m.barClosed(symbol: "BUSDT", bar: bar(1)).decided
        #expect(done.map(\.openTime) == [t0, t0 + 60_000])
        #expect(done[0].bars.map(\.symbol) == ["AUSDT"] && done[0].missing.isEmpty)
        #expect(done[1].bars.map(\.symbol) == ["AUSDT", "BUSDT"])
    }

    @Test("With a deadline, a minute still missing a symbol is decided once event time passes close + deadline, naming it")
    func deadline() {
        var m = MinuteAssembler(deadline: 2_000)
        _ = m.follow(["AUSDT", "BUSDT"])
        _ = m.barClosed(symbol: "AUSDT", bar: bar(0))
        #expect(m.timer(now: t0 + 61_999).isEmpty)
        let done = m.timer(now: t0 + 62_000)
        #expect(done.count == 1 && done[0].missing == ["BUSDT"] && done[0].bars.map(\.symbol) == ["AUSDT"])
        let late = m.barClosed(symbol: "BUSDT", bar: bar(0))
        #expect(late.late && late.decided.isEmpty)
        // Without a deadline (parity mode) the timer never decides.
        var p = MinuteAssembler(deadline: nil)
        _ = p.follow(["AUSDT", "BUSDT"])
        _ = p.barClosed(symbol: "AUSDT", bar: bar(0))
        #expect(p.timer(now: t0 + 3_600_000).isEmpty)
    }

    @Test("Following fewer symbols releases a minute that waited only for them; the state survives encoding")
    func followAndCodable() throws {
        var m = MinuteAssembler(deadline: nil)
        _ = m.follow(["AUSDT", "BUSDT", "CUSDT"])
        _ = m.barClosed(symbol: "AUSDT", bar: bar(0))
        _ = m.barClosed(symbol: "BUSDT", bar: bar(0))
        var copy = try JSONDecoder().decode(MinuteAssembler.self, from: JSONEncoder().encode(m))
        let released = copy.follow(["AUSDT", "BUSDT"])
        #expect(released.map(\.openTime) == [t0] && released[0].bars.count == 2)
        #expect(m.follow(["AUSDT", "BUSDT"]) == released)
    }
}
