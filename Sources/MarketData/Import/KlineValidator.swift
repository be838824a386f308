public import ScalperCore

/// A stretch of missing bars between two bars that are present.
public struct KlineGap: Equatable, Sendable, Codable {
    /// Open time of the last bar before the gap.
    public var lastBefore: Int64
    /// Open time of the first bar after the gap.
    public var firstAfter: Int64
    /// Number of bars missing in between.
    public var missingBars: Int64

    /// Creates a gap record.
    public init(lastBefore: Int64, firstAfter: Int64, missingBars: Int64) {
        self.lastBefore = lastBefore
        self.firstAfter = firstAfter
        self.missingBars = missingBars
    }

    /// Open time of the first missing bar.
    public func firstMissing(interval: KlineInterval) -> Int64 { lastBefore + interval.milliseconds }
    /// Open time of the last missing bar.
    public func lastMissing(interval: KlineInterval) -> Int64 { firstAfter - interval.milliseconds }
}

/// Bars that passed validation, ready for the store.
public struct ValidatedKlines: Sendable {
    /// Strictly increasing, interval-aligned bars.
    public var klines: [Kline]
    /// Exact duplicate rows that were dropped.
    public var duplicatesDropped: Int
    /// Missing stretches inside the file.
    public var gaps: [KlineGap]
}

/// Checks a parsed file before it may touch the store.
///
/// Rules: open_time strictly increasing on the interval's grid (exact duplicates are dropped and
/// counted, conflicting ones rejected); close_time − open_time + 1 equal to the interval; prices
/// positive and finite; high ≥ max(open, close, low) and low ≤ min(open, close); volumes not
/// negative (NaN allowed: a missing column); no bar opening after `now` plus a tolerance.
public enum KlineValidator {
    /// Validates `parsed`, naming `source` and the line of every problem.
    public static func validate(
        _ parsed: ParsedKlineFile,
        source: String,
        interval: KlineInterval,
        nowMilliseconds: Int64,
        futureToleranceMilliseconds: Int64 = 60_000
    ) throws(ImportFailure) -> ValidatedKlines {
        var errors: [ImportError] = []
        var errorCount = 0
        func fail(_ line: Int, _ reason: ImportError.Reason) {
            errorCount += 1
            if errors.count < ImportFailure.shownLimit { errors.append(ImportError(file: source, line: line, reason: reason)) }
        }
        let step = interval.milliseconds
        // Weekly (and 3-day) bars are not aligned to the epoch; everything up to a day is.
        let checksAlignment = step <= 86_400_000
        var out: [Kline] = []
        out.reserveCapacity(parsed.klines.count)
        var gaps: [KlineGap] = []
        var duplicates = 0
        var previousLine = 0

        for (i, k) in parsed.klines.enumerated() {
            let line = parsed.lines[i]
            var ok = true
            for (name, v) in [("open", k.open), ("high", k.high), ("low", k.low), ("close", k.close)]
            where !(v.isFinite && v > 0) {
                fail(line, .invalidPrice(name: name, value: v))
                ok = false
            }
            if !ok { continue }
            if k.high < k.low {
                fail(line, .highBelowLow(high: k.high, low: k.low))
                continue
            }
            if k.high < max(k.open, k.close) || k.low > min(k.open, k.close) {
                fail(line, .ohlcInconsistent("open \(k.open) / close \(k.close) lie outside low \(k.low) … high \(k.high)"))
                continue
            }
            for (name, v) in [
                ("volume", k.volume), ("quote_volume", k.quoteVolume), ("count", k.tradeCount),
                ("taker_buy_base", k.takerBuyBaseVolume), ("taker_buy_quote", k.takerBuyQuoteVolume),
            ] where v < 0 || v.isInfinite {
                fail(line, .negativeValue(name: name, value: v))
                ok = false
            }
            if !ok { continue }
            if k.openTime > nowMilliseconds + futureToleranceMilliseconds {
                fail(line, .futureTimestamp(openTime: k.openTime))
                continue
            }
            if checksAlignment && k.openTime % step != 0 {
                fail(line, .misalignedTime(openTime: k.openTime, interval: interval.name))
                continue
            }
            if k.closeTime - k.openTime + 1 != step {
                let span = k.closeTime - k.openTime + 1
                let named = KlineInterval(milliseconds: span).map { " (\($0))" } ?? ""
                fail(
                    line,
                    .intervalMismatch(
                        "close_time − open_time spans \(span) ms\(named), but the interval is \(interval) (\(step) ms)"
                    )
                )
                continue
            }
            if let last = out.last {
                if k.openTime == last.openTime {
                    if k.isSameBar(as: last) {
                        duplicates += 1
                    } else {
                        fail(line, .conflictingDuplicate(openTime: k.openTime, firstLine: previousLine))
                    }
                    continue
                }
                if k.openTime < last.openTime {
                    fail(line, .timeGoesBackwards(previous: last.openTime, current: k.openTime))
                    continue
                }
                let diff = k.openTime - last.openTime
                if diff > step {
                    gaps.append(KlineGap(lastBefore: last.openTime, firstAfter: k.openTime, missingBars: diff / step - 1))
                }
            }
            out.append(k)
            previousLine = line
        }
        if errorCount > 0 { throw ImportFailure(errors: errors, totalCount: errorCount) }
        return ValidatedKlines(klines: out, duplicatesDropped: duplicates, gaps: gaps)
    }
}
