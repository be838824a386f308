import Foundation
import ScalperCore
import ScalperTestSupport
import Testing
import Trading

private let t0 = Int64(1_690_934_100_000)  // 2023-08-01 23:55 UTC: the replays below cross a UTC midnight

/// The bar rule's minute exactly as `BarReplay.step` did it before its fast paths (every open and
/// every close told to the venue, fresh arrays everywhere), on a separate engine and venue: the
/// oracle the optimised step must match record for record and state for state.
private struct ReferenceReplay {
    var engine: TradingEngine
    var venue: SimulatedVenue

    mutating func step(_ minute: MinuteClose) -> [TradingRecord] {
        var records: [TradingRecord] = []
        var opened = venue.waiting.isEmpty ? [] : venue.minuteOpened(openTime: minute.openTime, symbols: Set(minute.bars.map(\.symbol)))
        for b in minute.bars { opened += venue.barOpened(symbol: b.symbol, bar: b.bar) }
        feed(opened, into: &records)
        var traded: [OrderUpdate] = []
        for b in minute.bars { traded += venue.barTraded(symbol: b.symbol, bar: b.bar) }
        feed(traded, into: &records)
        execute(engine.minuteClosed(minute), into: &records)
        return records
    }

    mutating func finish(time: Int64) -> [TradingRecord] {
        var records: [TradingRecord] = []
        execute(engine.control(.closeAll, time: time), into: &records)
        feed(venue.flush(time: time), into: &records)
        return records
    }

    private mutating func feed(_ updates: [OrderUpdate], into records: inout [TradingRecord]) {
        for u in updates { execute(engine.orderUpdated(u), into: &records) }
    }

    private mutating func execute(_ commands: [TradingCommand], into records: inout [TradingRecord]) {
        var queue = commands
        var i = 0
        while i < queue.count {
            let answers: [OrderUpdate]
            let cancelTime = engine.lastMinute.map { $0 + 60_000 } ?? 0
            switch queue[i] {
            case .submit(let order): answers = venue.submit(order, time: order.decisionTime)
            case .submitList(let list): answers = venue.submitList(list, time: list.stop.decisionTime)
            case .cancel(_, let id): answers = venue.cancel(clientOrderID: id, time: cancelTime)
            case .cancelList(_, let id): answers = venue.cancelList(listClientOrderID: id, time: cancelTime)
            case .record(let r):
                records.append(r)
                answers = []
            }
            for u in answers { queue += engine.orderUpdated(u) }
            i += 1
        }
    }
}

/// The state both sides must agree on, as text that compares dictionaries by content: sorted keys,
/// and the risk manager's refusal counts (keyed by an enum, so encoded as an array of key/value
/// pairs in the dictionary's own order) turned into an object.
private func encoded(_ engine: TradingEngine, _ venue: SimulatedVenue) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    guard var state = try JSONSerialization.jsonObject(with: encoder.encode(engine)) as? [String: Any],
        var risk = state["risk"] as? [String: Any], let pairs = risk["refusals"] as? [Any]
    else { return "the engine's state is not the expected JSON" }
    var refusals: [String: Any] = [:]
    for k in stride(from: 0, to: pairs.count - 1, by: 2) { refusals[pairs[k] as? String ?? "?"] = pairs[k + 1] }
    risk["refusals"] = refusals
    state["risk"] = risk
    let engineText = String(decoding: try JSONSerialization.data(withJSONObject: state, options: [.sortedKeys]), as: UTF8.self)
    return engineText + "\n" + String(decoding: try encoder.encode(venue), as: UTF8.self)
}

/// Where two texts first differ, with some context.
private func firstDifference(_ a: String, _ b: String) -> String {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    let i = (0..<min(x.count, y.count)).first { x[$0] != y[$0] } ?? min(x.count, y.count)
    func around(_ z: [UInt8]) -> String { String(decoding: z[max(0, i - 120)..<min(z.count, i + 60)], as: UTF8.self) }
    return "got …\(around(x))… want …\(around(y))…"
}

@Suite("The bar replay's fast paths change nothing")
struct BarReplayFastPathTests {
    @Test(
        "On random markets with gaps, positions, trailing stops, timeouts and a UTC midnight, the optimised step gives the reference step's records and state every minute",
        arguments: 0..<10
    )
    func sameAsReference(seed: UInt64) throws {
        var rng = SplitMix64(seed: 1_000 + seed)
        var execution = ExecutionConfiguration()
        execution.takerFee = 0.001
        execution.slippageBps = 2
        execution.timeoutSeconds = Double(60 * (1 + Int(rng.next() % 6)))
        execution.trailingStopPct = rng.next() % 2 == 0 ? 0 : 0.003
        var signals = SignalConfiguration()
        signals.takeProfitPct = 0.004
        signals.stopLossPct = 0.003
        var risk = RiskConfiguration()
        risk.maxOpenPositions = 2
        risk.maxPositionPct = 0.4
        risk.maxLossPerTradePct = 1
        let s = EngineSettings(capital: 10_000, signals: signals, risk: risk, execution: execution, exits: .bar, session: "fast-path")
        let model = FillModel(execution)
        var fast = BarReplay(engine: TradingEngine(settings: s, startTime: t0), venue: SimulatedVenue(model: model, rule: .bar, quoteBalance: s.capital))
        var reference = ReferenceReplay(
            engine: TradingEngine(settings: s, startTime: t0),
            venue: SimulatedVenue(model: model, rule: .bar, quoteBalance: s.capital)
        )
        let symbols = ["AUSDT", "BUSDT", "CUSDT"]
        var price = ["AUSDT": 100.0, "BUSDT": 5.0, "CUSDT": 0.5]
        for (symbol, p) in price {
            fast.setFilters(.derived(price: p), for: symbol)
            reference.engine.setFilters(.derived(price: p), for: symbol)
            reference.venue.setFilters(.derived(price: p), for: symbol)
        }
        var records: [TradingRecord] = [.anomaly(message: "already in the buffer", time: 0)]
        var trades = 0
        var quietMinutes = 0
        for i in 0..<500 {
            let openTime = t0 + Int64(i) * 60_000
            var bars: [SymbolBar] = []
            var predictions: [Prediction] = []
            for symbol in symbols where rng.next() % 8 != 0 {  // a gap now and then
                let open = price[symbol]!
                let close = open * (1 + (Double(rng.next() % 2_001) / 1_000 - 1) * 0.005)
                let b = Kline(
                    openTime: openTime, open: open, high: max(open, close) * 1.002, low: min(open, close) * 0.998, close: close,
                    volume: 1_000, closeTime: openTime + 59_999, quoteVolume: 1_000 * close, tradeCount: 10,
                    takerBuyBaseVolume: 500, takerBuyQuoteVolume: 500 * close
                )
                price[symbol] = close
                bars.append(SymbolBar(symbol: symbol, bar: b))
                // Predictions come in bursts, so many minutes have none (the fast path) and some
                // minutes have them while orders wait or positions are open.
                if (i / 40) % 2 == 0, rng.next() % 5 == 0 {
                    predictions.append(
                        Prediction(symbol: symbol, time: b.closeTime + 1, price: close, probabilityUp: 0.9, confidence: 0.9, predictedMovePct: 0.4)
                    )
                }
            }
            let minute = MinuteClose(openTime: openTime, bars: bars, predictions: predictions)
            if fast.venue.waiting.isEmpty && fast.engine.holdings.isEmpty && predictions.isEmpty { quietMinutes += 1 }
            let before = records.count
            fast.step(minute, into: &records)
            let expected = reference.step(minute)
            #expect(Array(records[before...]) == expected, "minute \(i)")
            let (got, want) = (try encoded(fast.engine, fast.venue), try encoded(reference.engine, reference.venue))
            #expect(got == want, "minute \(i): \(firstDifference(got, want))")
            trades += expected.filter { if case .trade = $0 { true } else { false } }.count
        }
        let end = t0 + 500 * 60_000
        #expect(fast.finish(time: end) == reference.finish(time: end))
        #expect(try encoded(fast.engine, fast.venue) == encoded(reference.engine, reference.venue))
        #expect(records.first == .anomaly(message: "already in the buffer", time: 0), "step(_:into:) appends")
        #expect(trades > 10)
        #expect(quietMinutes > 100)
        #expect(fast.engine.risk.day == (t0 + 500 * 60_000) / 86_400_000, "the replay crossed a UTC midnight")
    }

    @Test("A signal's words are exactly Foundation's `%.3f`/`%.2f` formatting, rounding ties included")
    func reasonFormatting() {
        var rng = SplitMix64(seed: 42)
        var values: [Double] = [0, 1, 0.0005, 0.0015, 0.0025, 0.1235, 0.6665, 0.125, 0.375, 0.995, 0.9995, 1e-9, 12.3456789, 0.5, 0.005, 0.015]
        for _ in 0..<2_000 { values.append(Double(rng.next() % 2_000_001) / 1_000_000) }
        for _ in 0..<500 { values.append(Double(rng.next() % 20_001) / 20_000) }  // exact ties at the 4th decimal
        var configuration = SignalConfiguration()
        configuration.minConfidence = 0
        configuration.minPredictedMovePct = -1
        configuration.maxSignalsPerBar = 1
        for (k, v) in values.enumerated() {
            configuration.minProbability = values[(k + 7) % values.count] / 4
            let prediction = Prediction(
                symbol: "TESTUSDT", time: 0, price: 1, probabilityUp: max(v, configuration.minProbability), confidence: v,
                predictedMovePct: values[(k + 3) % values.count] - 0.5
            )
            let signal = SignalGenerator(configuration: configuration).signals(for: [prediction], excluding: [])
            let want = String(
                format: "p=%.3f ≥ %.2f, confidence %.2f, predicted move %.3f%%",
                prediction.probabilityUp, configuration.minProbability, prediction.confidence, prediction.predictedMovePct
            )
            #expect(signal.first?.reason == want)
        }
    }
}
