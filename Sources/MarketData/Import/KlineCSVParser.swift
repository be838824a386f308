import Foundation
public import ScalperCore

/// The rows of one kline CSV with the line each came from.
public struct ParsedKlineFile: Sendable {
    /// Which layout the file had.
    public enum Layout: Sendable, Equatable {
        /// The 12 Binance Vision columns, with or without a header row.
        case vision
        /// A plain OHLCV file; `present` names the Vision columns it had.
        case ohlcv(present: [String])
    }

    /// The bars, in file order.
    public var klines: [Kline]
    /// The 1-based line number of each bar.
    public var lines: [Int]
    /// The layout that was detected.
    public var layout: Layout
    /// Whether the first line was a header.
    public var hasHeader: Bool
}

/// Parses Binance Vision kline CSVs and plain OHLCV CSVs.
///
/// - Vision files: 12 columns, with a header row (futures) or without (spot); times in milliseconds
///   or, for spot files from 2025 on, microseconds (any time above 10^14 is taken as µs).
/// - Plain OHLCV files: a header row naming at least `open_time` (or `timestamp`/`time`/`date`),
///   `open`, `high`, `low`, `close`; times as integers or ISO-8601 UTC text. Columns the file lacks
///   become NaN. `close_time` is derived from the interval when absent.
public enum KlineCSVParser {
    /// The Vision column order.
    public static let visionColumns = [
        "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
        "taker_buy_base", "taker_buy_quote", "ignore",
    ]

    private static let aliases: [String: String] = [
        "open_time": "open_time", "opentime": "open_time", "timestamp": "open_time", "time": "open_time",
        "date": "open_time", "datetime": "open_time", "open time": "open_time",
        "open": "open", "high": "high", "low": "low", "close": "close", "volume": "volume",
        "close_time": "close_time", "closetime": "close_time",
        "quote_volume": "quote_volume", "quote_asset_volume": "quote_volume",
        "count": "count", "trades": "count", "number_of_trades": "count", "trade_count": "count",
        "taker_buy_volume": "taker_buy_base", "taker_buy_base": "taker_buy_base",
        "taker_buy_base_asset_volume": "taker_buy_base", "taker_buy_base_volume": "taker_buy_base",
        "taker_buy_quote_volume": "taker_buy_quote", "taker_buy_quote": "taker_buy_quote",
        "taker_buy_quote_asset_volume": "taker_buy_quote", "ignore": "ignore",
    ]

    /// Parses `bytes` (the whole file) named `source` in messages.
    ///
    /// - Parameter interval: the bar length, used to derive `close_time` when the file has none.
    /// - Throws: ``ImportFailure`` listing the first bad rows (wrong field count, unparsable numbers).
    public static func parse(
        _ bytes: [UInt8],
        source: String,
        interval: KlineInterval
    ) throws(ImportFailure) -> ParsedKlineFile {
        var errors: [ImportError] = []
        var errorCount = 0
        func fail(_ line: Int, _ reason: ImportError.Reason) {
            errorCount += 1
            if errors.count < ImportFailure.shownLimit { errors.append(ImportError(file: source, line: line, reason: reason)) }
        }

        var klines: [Kline] = []
        var lines: [Int] = []
        klines.reserveCapacity(bytes.count / 90)
        lines.reserveCapacity(bytes.count / 90)

        // Column index of each Vision column in this file (nil: absent).
        var columnIndex: [Int?] = []
        var fieldCount = 0
        var layout: ParsedKlineFile.Layout = .vision
        var hasHeader = false
        var decided = false

        var fields: [Range<Int>] = []
        fields.reserveCapacity(16)
        var lineNumber = 0
        var start = 0
        let n = bytes.count
        // Skip a UTF-8 byte-order mark.
        if n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { start = 3 }

        while start < n {
            var end = start
            while end < n && bytes[end] != 10 { end += 1 }
            lineNumber += 1
            var lineEnd = end
            if lineEnd > start && bytes[lineEnd - 1] == 13 { lineEnd -= 1 }
            defer { start = end + 1 }
            if lineEnd == start { continue }  // blank line

            fields.removeAll(keepingCapacity: true)
            var fieldStart = start
            for i in start..<lineEnd where bytes[i] == 44 {
                fields.append(fieldStart..<i)
                fieldStart = i + 1
            }
            fields.append(fieldStart..<lineEnd)

            if !decided {
                decided = true
                let firstRange = trimmed(fields[0], in: bytes)
                let first: UInt8 = firstRange.isEmpty ? 0 : bytes[firstRange.lowerBound]
                let looksNumeric = (first >= 48 && first <= 57) || first == 45
                if !looksNumeric {
                    hasHeader = true
                    fieldCount = fields.count
                    var map = [Int?](repeating: nil, count: visionColumns.count)
                    for (i, range) in fields.enumerated() {
                        let name = text(trimmed(range, in: bytes), in: bytes).lowercased()
                        if let canonical = aliases[name], let k = visionColumns.firstIndex(of: canonical), map[k] == nil {
                            map[k] = i
                        }
                    }
                    for required in ["open_time", "open", "high", "low", "close"] {
                        // Non-nil index: the name is one of visionColumns.
                        if map[visionColumns.firstIndex(of: required)!] == nil {
                            throw ImportFailure(
                                errors: [ImportError(file: source, line: lineNumber, reason: .missingColumn(required))],
                                totalCount: 1
                            )
                        }
                    }
                    columnIndex = map
                    let present = visionColumns.indices.filter { map[$0] != nil }.map { visionColumns[$0] }
                    layout = present.count >= 11 ? .vision : .ohlcv(present: present)
                    continue
                }
                fieldCount = fields.count
                switch fields.count {
                case 12:
                    columnIndex = Array(0..<12)
                    layout = .vision
                case 6:
                    columnIndex = [0, 1, 2, 3, 4, 5, nil, nil, nil, nil, nil, nil]
                    layout = .ohlcv(present: Array(visionColumns[0..<6]))
                default:
                    throw ImportFailure(
                        errors: [ImportError(file: source, line: lineNumber, reason: .unknownLayout(fieldCount: fields.count))],
                        totalCount: 1
                    )
                }
            }

            guard fields.count == fieldCount else {
                fail(lineNumber, .wrongFieldCount(expected: fieldCount, found: fields.count))
                continue
            }

            var values = [Double](repeating: .nan, count: 12)
            var openTime: Int64 = 0
            var closeTime: Int64?
            var rowOK = true
            for k in 0..<12 {
                guard let idx = columnIndex[k] else { continue }
                let range = trimmed(fields[idx], in: bytes)
                if k == 0 || k == 6 {
                    guard let t = parseTime(range, in: bytes) else {
                        fail(lineNumber, .unparsableField(name: visionColumns[k], value: text(range, in: bytes)))
                        rowOK = false
                        break
                    }
                    if k == 0 { openTime = t } else { closeTime = t }
                    continue
                }
                if range.isEmpty {
                    values[k] = .nan
                    continue
                }
                guard let v = Double(text(range, in: bytes)) else {
                    fail(lineNumber, .unparsableField(name: visionColumns[k], value: text(range, in: bytes)))
                    rowOK = false
                    break
                }
                values[k] = v
            }
            guard rowOK else { continue }
            klines.append(
                Kline(
                    openTime: openTime,
                    open: values[1],
                    high: values[2],
                    low: values[3],
                    close: values[4],
                    volume: values[5],
                    closeTime: closeTime ?? (openTime + interval.milliseconds - 1),
                    quoteVolume: values[7],
                    tradeCount: values[8],
                    takerBuyBaseVolume: values[9],
                    takerBuyQuoteVolume: values[10],
                    ignore: values[11]
                )
            )
            lines.append(lineNumber)
        }
        if errorCount > 0 { throw ImportFailure(errors: errors, totalCount: errorCount) }
        if klines.isEmpty {
            throw ImportFailure(errors: [ImportError(file: source, reason: .emptyFile)], totalCount: 1)
        }
        return ParsedKlineFile(klines: klines, lines: lines, layout: layout, hasHeader: hasHeader)
    }

    private static func trimmed(_ range: Range<Int>, in bytes: [UInt8]) -> Range<Int> {
        var lo = range.lowerBound
        var hi = range.upperBound
        while lo < hi && (bytes[lo] == 32 || bytes[lo] == 9 || bytes[lo] == 34) { lo += 1 }
        while hi > lo && (bytes[hi - 1] == 32 || bytes[hi - 1] == 9 || bytes[hi - 1] == 34) { hi -= 1 }
        return lo..<hi
    }

    private static func text(_ range: Range<Int>, in bytes: [UInt8]) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    /// An integer epoch time (s, ms or µs by magnitude) or ISO-8601 UTC text, as milliseconds.
    private static func parseTime(_ range: Range<Int>, in bytes: [UInt8]) -> Int64? {
        guard !range.isEmpty else { return nil }
        var value: Int64 = 0
        var allDigits = true
        for i in range {
            let c = bytes[i]
            guard c >= 48 && c <= 57 else {
                allDigits = false
                break
            }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(c - 48))
            if o1 || o2 { return nil }
            value = s
        }
        if allDigits {
            if value > 100_000_000_000_000 { return value / 1000 }  // microseconds (spot Vision since 2025)
            if value < 100_000_000_000 { return value * 1000 }  // seconds
            return value
        }
        return UTC.parse(text(range, in: bytes))
    }
}
