import Foundation
import ScalperCore
import Scanner
import Testing

/// A 1 m bar at minute `k` closing at `close`, its high and low 0.05 either side, `quoteVolume` traded.
private func bar(_ k: Int, close: Double, quoteVolume: Double = 1_000) -> Kline {
    let open = Int64(k) * 60_000
    return Kline(
        openTime: open, open: close, high: close + 0.05, low: close - 0.05, close: close, volume: quoteVolume / close,
        closeTime: open + 59_999, quoteVolume: quoteVolume, tradeCount: 10, takerBuyBaseVolume: 0, takerBuyQuoteVolume: 0
    )
}

private func population(_ xs: [Double]) -> Double {
    let mean = xs.reduce(0, +) / Double(xs.count)
    return (xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count)).squareRoot()
}

@Suite("The session scanner over closed 1 m bars")
struct BarScannerTests {
    @Test("A rising pair's figures over its hour and its score, worked by hand")
    func figuresByHand() throws {
        var scanner = BarScanner(settings: BarScannerSettings())
        let closes = (0...60).map { 100 + Double($0) * 0.1 }
        for (k, c) in closes.enumerated() { scanner.add(symbol: "UPUSDT", bar: bar(k, close: c)) }
        let ranked = scanner.rank(openTime: 60 * 60_000, symbols: ["UPUSDT"]) { _ in 0.05 }
        let pick = try #require(ranked.first)
        #expect(ranked.count == 1)
        #expect(abs(pick.change1m - (106 / 105.9 - 1) * 100) < 1e-9)
        #expect(abs(pick.change5m - (106 / 105.5 - 1) * 100) < 1e-9)
        #expect(abs(pick.changeWindow - 6) < 1e-9)
        let returns = (1...60).map { log(closes[$0] / closes[$0 - 1]) }
        #expect(abs(pick.volatilityPct - population(returns) * 100) < 1e-12)
        // Bars 1…60: high 106.05, low 100.05; 60 000 USDT an hour is 1.44 M a day.
        let range = (106 - 100.05) / (106.05 - 100.05) - 0.5
        let volume = log10(1 + 1.44)
        let expected = 3 * pick.change1m + 1 * pick.change5m + 0.1 * 6 + 2 * range + 0.25 * volume
        #expect(abs(pick.score - expected) < 1e-9)
        #expect(pick.spreadPct == 0.05)
        // A steady climb barely moves minute to minute: the default floor (0.02 %) refuses it.
        #expect(pick.refusal == "volatility \(String(format: "%.4f", population(returns) * 100)) % < 0.02 %")
        #expect(scanner.candidates(ranked).isEmpty)
    }

    @Test("The volatility floor and the spread ceiling refuse pairs; candidates are the best unrefused, at most N, ties by symbol")
    func filtersAndCandidates() {
        var settings = BarScannerSettings()
        settings.candidates = 2
        settings.minVolatilityPct = 0.01
        settings.maxSpreadPct = 0.1
        var scanner = BarScanner(settings: settings)
        for k in 0...60 {
            // Flat: no volatility. Wobbly twins: identical bars, so equal scores. Fast: the steepest rise.
            scanner.add(symbol: "FLATUSDT", bar: bar(k, close: 50))
            let wobble = 100 + (k % 2 == 0 ? 0 : 0.3)
            scanner.add(symbol: "TWINBUSDT", bar: bar(k, close: wobble))
            scanner.add(symbol: "TWINAUSDT", bar: bar(k, close: wobble))
            scanner.add(symbol: "FASTUSDT", bar: bar(k, close: 100 + Double(k)))
            scanner.add(symbol: "WIDEUSDT", bar: bar(k, close: 100 + Double(k) * 2))
        }
        let spreads = ["WIDEUSDT": 0.5, "FASTUSDT": 0.02]
        let ranked = scanner.rank(
            openTime: 60 * 60_000,
            symbols: ["FLATUSDT", "TWINBUSDT", "TWINAUSDT", "FASTUSDT", "WIDEUSDT"]
        ) { spreads[$0] }
        #expect(ranked.count == 5)
        #expect(ranked.first { $0.symbol == "FLATUSDT" }?.refusal?.hasPrefix("volatility 0.0000 % < 0.01 %") == true)
        #expect(ranked.first { $0.symbol == "WIDEUSDT" }?.refusal == "spread 0.5000 % > 0.1 %")
        // Unknown spread (no book) is not filtered.
        #expect(ranked.first { $0.symbol == "TWINAUSDT" }?.spreadPct == nil)
        #expect(zip(ranked, ranked.dropFirst()).allSatisfy { $0.score >= $1.score })
        let twins = ranked.filter { $0.symbol.hasPrefix("TWIN") }
        #expect(twins.map(\.symbol) == ["TWINAUSDT", "TWINBUSDT"] && twins[0].score == twins[1].score)
        let chosen = scanner.candidates(ranked).map(\.symbol)
        #expect(chosen.count == 2)
        #expect(chosen == ranked.filter { $0.refusal == nil }.prefix(2).map(\.symbol))
        #expect(!chosen.contains("WIDEUSDT") && !chosen.contains("FLATUSDT"))
    }

    @Test("A pair without this minute's bar or a full hour behind it is not ranked; an older or repeated bar is ignored")
    func incompleteHistory() {
        var scanner = BarScanner(settings: BarScannerSettings())
        for k in 0...60 { scanner.add(symbol: "FULLUSDT", bar: bar(k, close: 100 + Double(k % 3))) }
        for k in 1...60 { scanner.add(symbol: "SHORTUSDT", bar: bar(k, close: 100 + Double(k % 3))) }
        for k in 0...59 { scanner.add(symbol: "LATEUSDT", bar: bar(k, close: 100 + Double(k % 3))) }
        let before = scanner.rank(openTime: 60 * 60_000, symbols: ["FULLUSDT", "SHORTUSDT", "LATEUSDT"]) { _ in nil }
        #expect(before.map(\.symbol) == ["FULLUSDT"])
        // A bar at or before the last one changes nothing.
        scanner.add(symbol: "FULLUSDT", bar: bar(60, close: 1_000))
        scanner.add(symbol: "FULLUSDT", bar: bar(10, close: 1_000))
        #expect(scanner.rank(openTime: 60 * 60_000, symbols: ["FULLUSDT"]) { _ in nil } == before)
    }

    @Test("The ranking is a function of the last hour: a scanner fed from a later start (a restarted session) ranks as one fed all day")
    func lastHourOnly() {
        let symbols = ["AUSDT", "BUSDT", "CUSDT"]
        func close(_ s: Int, _ k: Int) -> Double { 100 + sin(Double(k * (s + 1)) / 7) * Double(s + 1) + Double(k % (s + 2)) * 0.1 }
        var allDay = BarScanner(settings: BarScannerSettings())
        var restarted = BarScanner(settings: BarScannerSettings())
        for k in 0..<1_440 {
            for (s, symbol) in symbols.enumerated() {
                let b = bar(k, close: close(s, k), quoteVolume: 500 + Double((k * 37 + s) % 900))
                allDay.add(symbol: symbol, bar: b)
                if k >= 1_000 { restarted.add(symbol: symbol, bar: b) }
            }
            guard k >= 1_100 else { continue }
            let minute = Int64(k) * 60_000
            #expect(allDay.rank(openTime: minute, symbols: symbols) { _ in nil } == restarted.rank(openTime: minute, symbols: symbols) { _ in nil })
        }
    }

    @Test("Alerts by scalper scan's rules over the hour's bars: a volume spike, a 1 m jump, a close at the hour's high; a quiet pair has none")
    func alerts() throws {
        var scanner = BarScanner(settings: BarScannerSettings())
        for k in 0...60 {
            // Quiet: flat, even volume. Spike: the last bar trades 5× the hour's average (its high was at minute 30).
            // Jump: +1 % in the last minute, which is also the hour's high.
            scanner.add(symbol: "QUIETUSDT", bar: bar(k, close: 50 + (k % 2 == 0 ? 0 : 0.01)))
            scanner.add(symbol: "SPIKEUSDT", bar: bar(k, close: 80 + (k == 30 ? 1 : 0), quoteVolume: k == 60 ? 5_300 : 1_000))
            scanner.add(symbol: "JUMPUSDT", bar: bar(k, close: k == 60 ? 101 : 100 - Double(k % 3) * 0.1))
        }
        let ranked = scanner.rank(openTime: 60 * 60_000, symbols: ["QUIETUSDT", "SPIKEUSDT", "JUMPUSDT"]) { _ in nil }
        let alerts = Dictionary(uniqueKeysWithValues: ranked.map { ($0.symbol, $0.alerts) })
        #expect(alerts["QUIETUSDT"] == [])
        // 5,300 against an hour of 59 × 1,000 + 5,300 (1,071.7 a bar): 4.9×, above 3×.
        #expect(alerts["SPIKEUSDT"] == [.volumeSpike])
        #expect(alerts["JUMPUSDT"] == [.momentum, .breakout])
    }
}
