import ArgumentParser
import Features
import Foundation
import LinearAlgebra
import MarketData
import ScalperCore

/// `scalper features`: the 42 features (and the label) of a series, as CSV.
struct FeaturesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Compute the 42 features and the label for a stored series or a kline file, as CSV.",
        discussion: """
            Columns: the kline inputs, the 42 features in spec order (shared/FEATURES.md v1), then label (H = 3 bars, θ = 0.002). Numbers are %.17g; missing values are nan. A gap in the bars restarts every indicator's warm-up; the number of gaps is reported.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Symbol to read from the store.")
    var symbol: String?

    @Option(help: "First day or instant, UTC (with --symbol).")
    var from: String?

    @Option(help: "End, exclusive, UTC (with --symbol).")
    var to: String?

    @Option(help: "A kline file (.csv or Vision .zip) to read instead of the store.")
    var klines: String?

    @Option(help: "Kline interval.")
    var interval: String = "1m"

    @Option(help: "Output CSV file.")
    var out: String

    func validate() throws {
        if KlineInterval(interval) == nil { throw ValidationError("unknown interval '\(interval)'") }
        switch (symbol, klines) {
        case (nil, nil): throw ValidationError("give --symbol with --from/--to, or --klines FILE")
        case (.some, .some): throw ValidationError("give either --symbol or --klines, not both")
        case (.some, nil):
            guard let from, let to else { throw ValidationError("--symbol needs --from and --to") }
            _ = try parseWindow(from: from, to: to)
        case (nil, .some): break
        }
    }

    func run() async throws {
        // Validated above.
        let interval = KlineInterval(interval)!
        let bars: [Kline]
        if let path = klines {
            do {
                let (csv, _) = try KlineFileReader.read(URL(fileURLWithPath: path))
                let parsed = try KlineCSVParser.parse(csv, source: path, interval: interval)
                bars = try KlineValidator.validate(parsed, source: path, interval: interval, nowMilliseconds: UTC.now()).klines
            } catch {
                throw fail("\(error)")
            }
        } else {
            let configuration = try global.loadConfiguration()
            let store = try MarketStore(path: global.storePath(configuration))
            // Validated above.
            let symbol = symbol!.uppercased()
            let (start, end) = try parseWindow(from: from!, to: to!)
            do {
                bars = try store.requireKlines(symbol: symbol, interval: interval, from: start, to: end)
            } catch let error as SeriesLookupError {
                throw fail("\(error)")
            }
        }
        let table: FeatureTable
        do {
            table = try BatchFeatures.compute(bars, interval: interval, label: .default)
        } catch {
            throw fail("\(error)")
        }
        try FeatureCSV.write(table, klines: bars, to: out)
        note("wrote \(bars.count) rows × \(FeatureSpec.count) features to \(out); \(table.gapCount) gaps (warm-up restarted after each)")
    }
}

/// Writes a feature table as CSV: inputs, features, label; `%.17g`, NaN as `nan`.
enum FeatureCSV {
    static let inputColumns = [
        "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
        "taker_buy_base", "taker_buy_quote",
    ]

    static func write(_ table: FeatureTable, klines: [Kline], to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else { throw fail("cannot write \(path)") }
        defer { try? handle.close() }
        func g(_ v: Double) -> String { v.isNaN ? "nan" : String(format: "%.17g", v) }
        var text = (inputColumns + FeatureSpec.names + ["label"]).joined(separator: ",") + "\n"
        for (i, k) in klines.enumerated() {
            var fields: [String] = [
                String(k.openTime), g(k.open), g(k.high), g(k.low), g(k.close), g(k.volume), String(k.closeTime),
                g(k.quoteVolume), k.tradeCount.isNaN ? "nan" : String(Int64(k.tradeCount)), g(k.takerBuyBaseVolume),
                g(k.takerBuyQuoteVolume),
            ]
            for value in table.features.row(i) { fields.append(g(value)) }
            let label = table.labels?[i] ?? .nan
            fields.append(label.isNaN ? "nan" : String(Int(label)))
            text += fields.joined(separator: ",") + "\n"
            if text.utf8.count > 1 << 20 {
                handle.write(Data(text.utf8))
                text.removeAll(keepingCapacity: true)
            }
        }
        handle.write(Data(text.utf8))
    }
}
