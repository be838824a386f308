public import Foundation
public import ScalperCore

/// The TA-Lib golden feature file of `shared/reference` (see its README), bundled in `Tests/Fixtures/golden/`.
public struct GoldenFeatures: Sendable {
    /// The input bars.
    public var klines: [Kline]
    /// Column name → values (features and `label`), NaN where the file has an empty field.
    public var columns: [String: [Double]]

    /// The bundled copy of the golden file: `Tests/Fixtures/golden/…-features.csv.gz`, byte for byte
    /// `shared/reference/…-features.csv` compressed (`Tests/Fixtures/README.md`).
    public static var bundledPath: URL {
        Fixtures.bundled.appendingPathComponent("golden/FILUSDT-1m-20241026T0000-20241029T1119-features.csv.gz")
    }

    /// The golden file of `../shared` (a plain CSV; absent where `../shared` is).
    public static var path: URL {
        Fixtures.shared.appendingPathComponent("reference/FILUSDT-1m-20241026T0000-20241029T1119-features.csv")
    }

    /// The golden CSV text, from the bundled copy.
    public static func csvData() throws -> Data {
        try Recording.gunzip(bundledPath)
    }

    /// Writes the golden CSV, uncompressed, into `folder` (for a command that reads a plain CSV) and returns its file.
    public static func writeCSV(into folder: URL) throws -> URL {
        let file = folder.appendingPathComponent("FILUSDT-1m-20241026T0000-20241029T1119-features.csv")
        try csvData().write(to: file)
        return file
    }

    /// Loads and parses the bundled golden file.
    public static func load() throws -> GoldenFeatures {
        let text = String(decoding: try csvData(), as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        let header = lines.removeFirst().split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var values = [[Double]](repeating: [], count: header.count)
        for line in lines {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            for (i, field) in fields.enumerated() { values[i].append(field.isEmpty ? .nan : Double(field) ?? .nan) }
        }
        var columns: [String: [Double]] = [:]
        for (i, name) in header.enumerated() { columns[name] = values[i] }
        let n = lines.count
        func col(_ name: String) -> [Double] { columns[name] ?? [Double](repeating: .nan, count: n) }
        let (ot, o, h, l, c, v, ct, qv, cnt, tb, tq) = (
            col("open_time"), col("open"), col("high"), col("low"), col("close"), col("volume"), col("close_time"),
            col("quote_volume"), col("count"), col("taker_buy_base"), col("taker_buy_quote")
        )
        let klines = (0..<n).map { i in
            Kline(
                openTime: Int64(ot[i]),
                open: o[i],
                high: h[i],
                low: l[i],
                close: c[i],
                volume: v[i],
                closeTime: Int64(ct[i]),
                quoteVolume: qv[i],
                tradeCount: cnt[i],
                takerBuyBaseVolume: tb[i],
                takerBuyQuoteVolume: tq[i]
            )
        }
        return GoldenFeatures(klines: klines, columns: columns)
    }

    /// The reference tolerance: `|a − g| ≤ max(1e-9, 1e-6·|g|)`, NaN only matching NaN.
    public static func matches(_ a: Double, _ g: Double) -> Bool {
        if a.isNaN || g.isNaN { return a.isNaN && g.isNaN }
        return abs(a - g) <= max(1e-9, 1e-6 * abs(g))
    }
}
