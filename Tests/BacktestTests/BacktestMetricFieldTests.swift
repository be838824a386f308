import Backtest
import Foundation
import ScalperCore
import Testing
import Trading

@Suite("One table of backtest metrics")
struct BacktestMetricFieldTests {
    @Test("One run: every metric has the same name and value in its JSON, metrics.csv and runs database, and no output has other names")
    func sameNameAndValueEverywhere() throws {
        let start: Int64 = 1_690_848_000_000
        let (predictor, _, modelFolder) = try trainedPredictor(start: start)
        defer { try? FileManager.default.removeItem(at: modelFolder) }
        let bars = randomWalk(count: 3_000, start: start + 5_000 * 60_000, seed: 31)
        var settings = BacktestSettings()
        settings.signals.minProbability = 0
        settings.signals.minConfidence = 0
        let result = try BacktestEngine.run(series: [("AUSDT", bars)], predictor: predictor, settings: settings, tradableFrom: bars[0].openTime)
        let m = result.metrics
        try #require(m.trades > 0, "the run must trade for its figures to mean anything")

        let root = FileManager.default.temporaryDirectory.appendingPathComponent("metric-fields-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let config = BacktestRunConfig(
            id: "run", model: modelFolder.path, modelName: "warmup", symbols: ["AUSDT"], from: "", to: "", interval: "1m",
            store: "", settings: settings, createdAt: "2026-01-01T00:00:00Z", gitCommit: "", description: "metric fields"
        )
        let folder = try BacktestRunWriter.write(result, config: config, to: root)
        let database = try RunDatabase(path: root.appendingPathComponent("runs.sqlite").path)
        try database.record(config: config, result: result)
        let stored = try #require(try database.run("run")).metrics

        let csvLines = try String(contentsOf: folder.appendingPathComponent("metrics.csv"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        #expect(csvLines.first == "metric,value")
        let csvRows = csvLines.dropFirst().map { line in
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return (name: cells[0], text: cells.count == 2 ? cells[1] : "<\(cells.count) cells>")
        }
        // Read back with JSONDecoder: the text JSONSerialization writes is exact, but its own reader
        // (swift-corelibs-foundation) can return a number one ulp off.
        let json = try JSONDecoder().decode([String: Double?].self, from: JSONSerialization.data(withJSONObject: m.jsonObject))

        // Every output holds exactly the table's names (the CSV in table order), each once.
        let names = BacktestMetricField.names
        #expect(Set(names).count == names.count)
        #expect(csvRows.map(\.name) == names)
        #expect(Set(json.keys) == Set(names))
        #expect(Set(stored.keys) == Set(names))

        for (field, row) in zip(BacktestMetricField.all, csvRows) {
            let x = field.value(m)
            #expect(row.text == field.csvText(x), "\(field.name)")
            let dbValue = try #require(stored[field.name], "\(field.name) in the database")
            let jsonValue = try #require(json[field.name], "\(field.name) in JSON")
            if x.isFinite {
                #expect(jsonValue == x, "\(field.name): JSON \(String(describing: jsonValue)) vs \(x)")
                #expect(dbValue == x, "\(field.name): database \(dbValue) vs \(x)")
                // metrics.csv rounds to 8 decimals; counts are exact.
                let csvValue = try #require(Double(row.text), "\(field.name): CSV '\(row.text)'")
                #expect(abs(csvValue - x) <= (field.unit == .count ? 0 : 0.5e-8), "\(field.name): CSV \(csvValue) vs \(x)")
            } else {
                #expect(jsonValue == nil, "\(field.name): not finite, JSON null")
                #expect(dbValue.isNaN, "\(field.name): not finite, database NULL")
                #expect(["nan", "inf", "-inf"].contains(row.text), "\(field.name): CSV '\(row.text)'")
            }
        }

        // The per-reason fields read the counts the engine keyed by raw value: exits add up to the trades.
        let exitTotal = ExitReason.allCases.map { BacktestMetricField.exits($0).value(m) }.reduce(0, +)
        #expect(exitTotal == Double(m.trades))
        #expect(BacktestMetricField.trades.value(m) == Double(m.trades) && BacktestMetricField.finalEquity.value(m) == m.finalEquity)
    }

    @Test("A metric name outside the table (what sweep --metric checks) is refused with every valid name listed")
    func unknownNameIsRefused() throws {
        #expect(try BacktestMetricField.named("sharpe").name == "sharpe")
        #expect(try BacktestMetricField.named("exits_tp").unit == .count)
        let error = try #require(throws: UnknownBacktestMetric.self) { _ = try BacktestMetricField.named("pnl") }
        #expect(error.name == "pnl")
        let message = error.description
        let prefix = "unknown backtest metric 'pnl'; valid names: "
        #expect(message.hasPrefix(prefix))
        #expect(message.dropFirst(prefix.count).components(separatedBy: ", ") == BacktestMetricField.names)
    }
}
