import Foundation
import Scanner
import ScalperTestSupport
import Testing

/// The scanner reference of `shared/reference/scanner`: 83,748 combined-stream miniTicker frames for
/// 150 pairs over 600 s, and the reference's final state per pair.
private var sharedReference: (frames: URL, check: URL) {
    let folder = Fixtures.shared.appendingPathComponent("reference/scanner")
    return (folder.appendingPathComponent("miniticker-150x600.jsonl.gz"), folder.appendingPathComponent("miniticker-150x600.check.json"))
}

/// The bundled cut of that reference: every frame of 20 of the 150 pairs (11,240 frames), and the
/// reference's check file for them (`Tests/Fixtures/README.md`). Pairs are scored independently, so
/// the cut's final state is the whole reference's for those pairs.
private var bundledReference: (frames: URL, check: URL) {
    let folder = Fixtures.bundled.appendingPathComponent("scanner")
    return (folder.appendingPathComponent("miniticker-20of150x600.jsonl.gz"), folder.appendingPathComponent("miniticker-20of150x600.check.json"))
}

private func readFrames(_ url: URL) throws -> [[UInt8]] {
    try Recording.gunzip(url).split(separator: 10).map { Array($0) }
}

private func readCheck(_ url: URL) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any], "\(url.path) is not a JSON object")
}

/// Replays `framesURL` and compares the final state of every pair with the reference's `checkURL`.
private func replayMatchesReference(frames framesURL: URL, check checkURL: URL) throws {
    let frames = try readFrames(framesURL)
    let check = try readCheck(checkURL)
    #expect(frames.count == check["messages"] as? Int)
    var state = ScannerState()
    var fast = 0
    for frame in frames {
        let ticker = try frame.withUnsafeBufferPointer { try MiniTickerParser.parse($0) }
        let (canonical, general) = try frame.withUnsafeBufferPointer { (MiniTickerParser.parseCanonical($0), try MiniTickerParser.parseGeneral($0)) }
        if canonical != nil { fast += 1 }
        #expect(ticker == general && (canonical == nil || canonical == general))
        state.apply(ticker)
    }
    // Binance's layout is the fast path's: nearly every frame is read by it (a rounding tie or
    // more than 19 significant digits hands a value over).
    #expect(fast > frames.count * 99 / 100, "fast path read \(fast) of \(frames.count)")
    let perPair = try #require(check["per_pair"] as? [String: [String: Any]])
    let pairs = try #require(check["pairs"] as? Int)
    #expect(state.count == pairs && perPair.count == pairs)
    func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-12 * max(1, abs(b)) }
    for (symbol, expected) in perPair {
        let s = try #require(state.snapshot(symbol))
        #expect(s.price == expected["price"] as? Double)
        #expect(close(s.change1m, expected["change_1m"] as? Double ?? .nan), "\(symbol)")
        #expect(close(s.change5m, expected["change_5m"] as? Double ?? .nan), "\(symbol)")
        #expect(close(s.score, expected["score"] as? Double ?? .nan), "\(symbol)")
        #expect(s.ticks1m == expected["hist1_len"] as? Int && s.ticks5m == expected["hist5_len"] as? Int)
    }
    let sum = state.scores.reduce(0, +)
    #expect(abs(sum - (check["sum_score"] as? Double ?? .nan)) < 1e-9)
    // The matrix product scores every pair the same as the per-message scores.
    let all = state.rescoreAll()
    #expect(zip(all, state.scores).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($1)) })
    let top = state.topOpportunities(10)
    #expect(top.count == 10 && zip(top, top.dropFirst()).allSatisfy { $0.score >= $1.score })
}

@Suite("The scanner hot path")
struct ScannerTests {
    @Test("Replaying the bundled 20 pairs of the reference reproduces the reference's final state for each")
    func matchesBundledReference() throws {
        try replayMatchesReference(frames: bundledReference.frames, check: bundledReference.check)
    }

    @Test(
        "Replaying all 150 pairs of the reference reproduces the reference's final state for every pair",
        .enabled(if: Fixtures.hasShared, "needs ../shared/reference/scanner")
    )
    func matchesSharedReference() throws {
        try replayMatchesReference(frames: sharedReference.frames, check: sharedReference.check)
    }

    @Test(
        "The bundled reference is the shared one's frames and final state for its 20 pairs",
        .enabled(if: Fixtures.hasShared, "needs ../shared/reference/scanner")
    )
    func bundledIsCutFromShared() throws {
        let bundledCheck = try readCheck(bundledReference.check)
        let sharedCheck = try readCheck(sharedReference.check)
        let bundledPairs = try #require(bundledCheck["per_pair"] as? [String: [String: Any]])
        let sharedPairs = try #require(sharedCheck["per_pair"] as? [String: [String: Any]])
        #expect(bundledPairs.count == 20)
        for (symbol, state) in bundledPairs {
            let json = { (o: [String: Any]) in try JSONSerialization.data(withJSONObject: o, options: .sortedKeys) }
            #expect(try sharedPairs[symbol].map(json) == json(state), "\(symbol)")
        }
        let symbols = Set(bundledPairs.keys)
        let kept = try readFrames(sharedReference.frames).filter { frame in
            let ticker = try frame.withUnsafeBufferPointer { try MiniTickerParser.parseGeneral($0) }
            return symbols.contains(ticker.symbol)
        }
        #expect(try readFrames(bundledReference.frames) == kept)
    }

    @Test("A million mutated real frames: no crash, every one accepted or rejected")
    func fuzz() throws {
        let frames = try readFrames(bundledReference.frames)
        var rng = SplitMix64(seed: 42)
        var accepted = 0
        var rejected = 0
        var disagreements = 0
        var state = ScannerState()
        let mutations: [(inout [UInt8], inout SplitMix64) -> Void] = [
            { f, r in f.removeLast(Int.random(in: 1...f.count, using: &r)) },  // truncated
            { f, r in f[Int.random(in: 0..<f.count, using: &r)] = UInt8.random(in: 0...255, using: &r) },  // a flipped byte
            { f, _ in f = Array(String(decoding: f, as: UTF8.self).replacingOccurrences(of: "\"c\":\"", with: "\"c\":\"NaN").utf8) },
            { f, _ in f = Array(String(decoding: f, as: UTF8.self).replacingOccurrences(of: "\"E\":", with: "\"E\":\"").utf8) },
            { f, _ in f = Array(String(decoding: f, as: UTF8.self).replacingOccurrences(of: "\"q\":\"", with: "\"q\":\"1e999999").utf8) },
            { f, _ in f = Array(String(decoding: f, as: UTF8.self).replacingOccurrences(of: "\"E\":1", with: "\"E\":99999999999999999999991").utf8) },
            { f, _ in f = Array(String(decoding: f, as: UTF8.self).replacingOccurrences(of: "\"data\":{", with: "\"data\":[").utf8) },
            { f, r in f.insert(contentsOf: Array("{\"x\":[[[[".utf8), at: Int.random(in: 0..<f.count, using: &r)) },
            { f, _ in f = Array(repeating: 0x7B, count: 200) },  // deep nesting
            { _, _ in },  // unchanged
            // Mutations that keep Binance's layout, so the fast path must decide them itself:
            { f, r in  // a digit changed to another digit
                let digits = f.indices.filter { f[$0] >= 0x30 && f[$0] <= 0x39 }
                if let k = digits.randomElement(using: &r) { f[k] = UInt8.random(in: 0x30...0x39, using: &r) }
            },
            { f, r in  // a quote volume with too many digits for one word (up to 30)
                let extra = (0..<Int.random(in: 1...12, using: &r)).map { _ in UInt8.random(in: 0x30...0x39, using: &r) }
                f.insert(contentsOf: extra, at: f.count - 3)
            },
            { f, r in  // a value with its dot removed or doubled
                let dots = f.indices.filter { f[$0] == 0x2E }
                if let k = dots.randomElement(using: &r) { if Bool.random(using: &r) { f.remove(at: k) } else { f.insert(0x2E, at: k) } }
            },
        ]
        for n in 0..<1_000_000 {
            var frame = frames[n % frames.count]
            mutations[Int.random(in: 0..<mutations.count, using: &rng)](&frame, &rng)
            let (outcome, general): (MiniTicker?, MiniTicker?) = frame.withUnsafeBufferPointer { buffer in
                (try? MiniTickerParser.parse(buffer), try? MiniTickerParser.parseGeneral(buffer))
            }
            // The canonical-layout fast path changes speed only: same verdict, same values.
            if outcome != general {
                disagreements += 1
                if disagreements <= 3 { Issue.record("fast path and general reader disagree on \(String(decoding: frame, as: UTF8.self))") }
            }
            if let t = outcome {
                #expect(t.close.isFinite && t.close > 0 && t.quoteVolume.isFinite)
                state.apply(t)
                accepted += 1
            } else {
                rejected += 1
            }
        }
        #expect(accepted + rejected == 1_000_000)
        #expect(disagreements == 0)
        #expect(accepted > 100_000 && rejected > 500_000)
        #expect(state.scores.allSatisfy { $0.isFinite })
    }

    @Test("Malformed frames are rejected with the field at fault")
    func errors() {
        func reason(_ text: String) -> String? {
            do {
                _ = try MiniTickerParser.parse(text)
                return nil
            } catch {
                return error.reason
            }
        }
        let good = #"{"stream":"btcusdt@miniTicker","data":{"e":"24hrMiniTicker","E":1,"s":"BTCUSDT","c":"1.5","o":"1","h":"2","l":"1","v":"10","q":"15"}}"#
        #expect(reason(good) == nil)
        #expect(reason(good.replacingOccurrences(of: #""c":"1.5""#, with: #""c":1.5"#))?.contains("expected a string") == true)
        #expect(reason(good.replacingOccurrences(of: #","q":"15""#, with: ""))?.contains("field 'q' missing") == true)
        #expect(reason(good.replacingOccurrences(of: #""c":"1.5""#, with: #""c":"inf""#))?.contains("field 'c'") == true)
        #expect(reason(good.replacingOccurrences(of: #""c":"1.5""#, with: #""c":"-1""#))?.contains("positive price") == true)
        #expect(reason(String(good.dropLast(3))) != nil)
        let raw = #"{"e":"24hrMiniTicker","E":1,"s":"ETHUSDT","c":"2","o":"1","h":"2","l":"1","v":"10","q":"15"}"#
        #expect((try? MiniTickerParser.parse(raw))?.symbol == "ETHUSDT")
    }
}

@Suite("Decimal strings parse exactly")
struct DecimalParsingTests {
    @Test(
        "Each decimal equals Swift's correctly rounded parse of the same text",
        arguments: [
            "67321.45000000", "0.00002512", "830000000.12345678", "4000000000000.00000000", "0.10000000", "1", "0",
            "12345678901234567890.5", "0.000000000000000000000001234", "99999999999999999999", "7.1", "0.30000000000000004",
            // Exactly halfway between two doubles (the extended-precision path must hand these over),
            // and just either side of it.
            "9007199254740993", "9007199254740993.0", "9007199254740993.00000000001", "9007199254740992.99999999999",
            "1900000000.123456789012345", "1900000000.000000000000000", "5.", "0.5",
        ]
    )
    func exact(text: String) throws {
        let frame = #"{"stream":"x@miniTicker","data":{"e":"24hrMiniTicker","E":1,"s":"XUSDT","c":"1","o":"1","h":"1","l":"1","v":"\#(text)","q":"1"}}"#
        let parsed = try MiniTickerParser.parse(frame)
        #expect(parsed.baseVolume == Double(text), "\(text)")
    }
}

@Suite("Decimal strings parse exactly, at random")
struct DecimalPropertyTests {
    @Test("200,000 random decimals of 1 to 30 digits equal Swift's correctly rounded parse")
    func random() throws {
        var rng = SplitMix64(seed: 7)
        var mismatches: [String] = []
        for _ in 0..<200_000 {
            let whole = Int.random(in: 1...12, using: &rng)
            let fraction = Int.random(in: 0...18, using: &rng)
            var text = String(Int.random(in: 1...9, using: &rng))
            for _ in 1..<whole { text.append(String(Int.random(in: 0...9, using: &rng))) }
            if fraction > 0 || Bool.random(using: &rng) { text.append(".") }
            for _ in 0..<fraction { text.append(String(Int.random(in: 0...9, using: &rng))) }
            let frame = #"{"stream":"x@miniTicker","data":{"e":"24hrMiniTicker","E":1,"s":"XUSDT","c":"1","o":"1","h":"1","l":"1","v":"1","q":"\#(text)"}}"#
            let parsed = try MiniTickerParser.parse(frame)
            if parsed.quoteVolume != Double(text) { mismatches.append(text) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }
}
