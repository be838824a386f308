public import Foundation
public import ScalperCore

/// A depth snapshot with the (local) time it was received, ms.
public struct RecordedSnapshot: Equatable, Sendable {
    /// Receive time, ms.
    public var time: Int64
    /// The snapshot.
    public var snapshot: DepthSnapshot

    /// Creates a recorded snapshot.
    public init(time: Int64, snapshot: DepthSnapshot) {
        self.time = time
        self.snapshot = snapshot
    }
}

/// A best bid/ask update with the (local) time it was received, ms (the spot stream carries none).
public struct RecordedBookTicker: Equatable, Sendable {
    /// Receive time, ms.
    public var time: Int64
    /// The update.
    public var ticker: BookTicker

    /// Creates a recorded book ticker.
    public init(time: Int64, ticker: BookTicker) {
        self.time = time
        self.ticker = ticker
    }
}

/// What was recorded of one symbol's market streams, each list in time order.
public struct RecordedStreams: Equatable, Sendable {
    /// Symbol, e.g. `BTCUSDT`.
    public var symbol: String
    /// REST depth snapshots.
    public var snapshots: [RecordedSnapshot] = []
    /// Diff-depth events, by final update id.
    public var updates: [DepthUpdate] = []
    /// Best bid/ask updates.
    public var bookTickers: [RecordedBookTicker] = []
    /// Trades, by id.
    public var trades: [Trade] = []

    /// An empty record for `symbol`.
    public init(symbol: String) { self.symbol = symbol }

    /// Diff events that do not continue the one before (`U ≠ previous u + 1`, or `pu ≠ previous u`).
    public var sequenceGaps: Int {
        zip(updates, updates.dropFirst()).filter { previous, next in
            if let pu = next.previousFinalUpdateID { return pu != previous.finalUpdateID }
            return next.firstUpdateID != previous.finalUpdateID + 1
        }.count
    }

    /// 1 m klines aggregated from the recorded trades, for the minutes wholly inside `covered`
    /// (the span the recording ran): open, high, low, close, volumes, count and taker-buy volumes
    /// exactly as Binance derives them from the same trades. A covered minute without a trade is a
    /// flat bar at the previous close, as Binance writes it.
    public func minuteBars(covered: ClosedRange<Int64>) -> [Kline] {
        let minute: Int64 = 60_000
        var start = (covered.lowerBound + minute - 1) / minute * minute
        var bars: [Kline] = []
        var k = trades.partitionPoint { $0.time < start }
        var previousClose = k > 0 ? trades[k - 1].price : nil
        while start + minute - 1 <= covered.upperBound {
            let end = trades.partitionPoint { $0.time < start + minute }
            if let bar = Kline.aggregating(trades[k..<end], openTime: start, closeTime: start + minute - 1, previousClose: previousClose) {
                bars.append(bar)
                previousClose = bar.close
            }
            k = end
            start += minute
        }
        return bars
    }
}

/// A recording of Binance market streams: one message per line, `<local receive time> <JSON>`, the
/// JSON being a combined-stream frame (`{"stream":…,"data":…}`) or a REST depth snapshot; the time
/// in ns, µs or ms since the epoch (told apart by size); plain text or gzip.
public struct StreamRecording: Sendable {
    /// Where it was read from.
    public var source: String
    /// Per symbol, sorted by symbol.
    public var streams: [RecordedStreams]
    /// Lines read.
    public var lines: Int
    /// Well-formed messages of kinds not kept (mark prices, klines …).
    public var ignored: Int
    /// First and last receive time, ms: the span the recording covers.
    public var span: ClosedRange<Int64>

    /// The market the recording's diff-depth events come from, or `nil` when it has none: USDⓈ-M
    /// futures events carry `pu` (the previous event's final update id), spot events never do.
    ///
    /// > "pu": 149, // Final update Id in last stream(ie `u` in last stream)
    ///
    /// (https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/Diff-Book-Depth-Streams;
    /// the spot stream's payload has `U` and `u` only.)
    public var marketOfDepthEvents: BinanceMarket? {
        guard let first = streams.lazy.flatMap(\.updates).first else { return nil }
        return first.previousFinalUpdateID == nil ? .spot : .futuresUM
    }

    /// Reads a recording file.
    public static func read(_ url: URL) throws -> StreamRecording {
        let name = url.path
        let raw: Data
        do {
            raw = try Data(contentsOf: url)
        } catch {
            throw ImportError(file: name, reason: .unreadable(error.localizedDescription))
        }
        return try parse(Gzip.isGzip(raw) ? Gzip.decompress(raw, name: name) : raw, source: name)
    }

    /// Parses a recording's text; `source` names it in errors (`file:line: reason`).
    public static func parse(_ data: Data, source: String) throws -> StreamRecording {
        var bySymbol: [String: RecordedStreams] = [:]
        var orphanSnapshots: [(line: Int, RecordedSnapshot)] = []
        var lines = 0
        var ignored = 0
        var unitDivisor: Int64?
        var firstTime: Int64?
        var lastTime: Int64 = .min
        func fail(_ line: Int, _ why: String) -> ImportError { ImportError(file: source, line: line, reason: .badRecording(why)) }
        var lineNumber = 0
        var start = data.startIndex
        while start < data.endIndex {
            let end = data[start...].firstIndex(of: 0x0A) ?? data.endIndex
            defer { start = end + 1 }
            lineNumber += 1
            var line = data[start..<end]
            if line.last == 0x0D { line = line.dropLast() }
            if line.isEmpty { continue }
            lines += 1
            guard let space = line.firstIndex(of: 0x20) else { throw fail(lineNumber, "expected '<receive time> <JSON>'") }
            let stampText = String(decoding: line[line.startIndex..<space], as: UTF8.self)
            guard let stamp = Int64(stampText), stamp > 0 else { throw fail(lineNumber, "receive time '\(stampText.prefix(30))' is not a positive integer") }
            let divisor: Int64 = stamp >= 100_000_000_000_000_000 ? 1_000_000 : stamp >= 100_000_000_000_000 ? 1_000 : 1
            if let unitDivisor, unitDivisor != divisor {
                throw fail(lineNumber, "receive time \(stamp) is in another unit than the first line's")
            }
            guard divisor > 1 || stamp >= 100_000_000_000 else { throw fail(lineNumber, "receive time \(stamp) is not ns, µs or ms since 1970") }
            unitDivisor = divisor
            let time = stamp / divisor
            guard time >= lastTime else {
                throw fail(lineNumber, "receive time goes backwards (\(UTCText.minute(time)) after \(UTCText.minute(lastTime)))")
            }
            lastTime = time
            if firstTime == nil { firstTime = time }
            let message: MarketMessage
            do {
                message = try MarketMessageParser.parse(Data(line[(space + 1)...]))
            } catch {
                throw fail(lineNumber, error.description)
            }
            switch message {
            case .depthUpdate(let symbol, let update):
                bySymbol[symbol, default: RecordedStreams(symbol: symbol)].updates.append(update)
            case .depthSnapshot(let symbol, let snapshot):
                let recorded = RecordedSnapshot(time: time, snapshot: snapshot)
                if let symbol {
                    bySymbol[symbol, default: RecordedStreams(symbol: symbol)].snapshots.append(recorded)
                } else {
                    orphanSnapshots.append((lineNumber, recorded))
                }
            case .trade(let symbol, let trade):
                bySymbol[symbol, default: RecordedStreams(symbol: symbol)].trades.append(trade)
            case .bookTicker(let symbol, let ticker):
                bySymbol[symbol, default: RecordedStreams(symbol: symbol)].bookTickers.append(RecordedBookTicker(time: time, ticker: ticker))
            case .other:
                ignored += 1
            }
        }
        guard let firstTime else { throw ImportError(file: source, reason: .badRecording("no messages in the recording")) }
        // A REST snapshot line names no symbol: it belongs to the recording's only symbol.
        if let (line, _) = orphanSnapshots.first {
            guard bySymbol.count == 1, let symbol = bySymbol.keys.first else {
                throw fail(line, "a depth snapshot without a symbol in a recording of \(bySymbol.count) symbols")
            }
            bySymbol[symbol]?.snapshots += orphanSnapshots.map(\.1)
            bySymbol[symbol]?.snapshots.sort { $0.time < $1.time }
        }
        var streams = bySymbol.values.sorted { $0.symbol < $1.symbol }
        for k in streams.indices {
            streams[k].updates.sort { $0.finalUpdateID < $1.finalUpdateID }
            streams[k].trades.sort { $0.id < $1.id }
        }
        return StreamRecording(source: source, streams: streams, lines: lines, ignored: ignored, span: firstTime...lastTime)
    }
}
