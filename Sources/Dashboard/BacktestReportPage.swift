public import Backtest
public import Foundation
import Trading

/// A backtest run folder's `report.html`: the dashboard's charts and tables in one file that
/// holds its data (no server, no network): the metrics, equity beside buy and hold with the
/// drawdown panel and the trades marked, the model's reliability over the window with each
/// bin's count, and the trades table.
public enum BacktestReportPage {
    /// Equity points kept in the page (every k-th point and the last; the drawdown panel is
    /// computed from them).
    public static let maxPoints = 20_000

    private struct Data: Encodable {
        var id: String
        var model: String
        var symbols: [String]
        var from: String
        var to: String
        var metrics: [[String]]
        var equity: [BacktestEquityPoint]
        var buyAndHold: [BacktestEquityPoint]
        var trades: [TradeRecord]
        var reliability: [ReliabilityBin]
    }

    /// The page's text.
    public static func html(
        _ result: BacktestResult,
        config: BacktestRunConfig,
        reliability: [ReliabilityBin],
        webDirectory: URL? = nil
    ) throws -> String {
        let web = webDirectory ?? Bundle.module.resourceURL!.appendingPathComponent("Web")
        let template = try String(contentsOf: web.appendingPathComponent("report.html"), encoding: .utf8)
        let style = try String(contentsOf: web.appendingPathComponent("dashboard.css"), encoding: .utf8)
        let script = try String(contentsOf: web.appendingPathComponent("dashboard.js"), encoding: .utf8)
        let metrics = BacktestMetricField.all.map { [$0.name, $0.csvText($0.value(result.metrics))] }
        let data = Data(
            id: config.id, model: config.modelName, symbols: config.symbols, from: config.from, to: config.to, metrics: metrics,
            equity: thin(result.equityCurve), buyAndHold: thin(result.buyAndHold), trades: result.trades, reliability: reliability
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]  // the same run writes the same file
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        // `</` never appears inside the script element.
        let json = String(decoding: try encoder.encode(data), as: UTF8.self).replacingOccurrences(of: "</", with: "<\\/")
        return template.replacingOccurrences(of: "/*STYLE*/", with: style)
            .replacingOccurrences(of: "/*DATA*/", with: json)
            .replacingOccurrences(of: "/*SCRIPT*/", with: script)
    }

    /// Writes `report.html` into the run's folder.
    public static func write(_ result: BacktestResult, config: BacktestRunConfig, reliability: [ReliabilityBin], to folder: URL) throws {
        try Foundation.Data(html(result, config: config, reliability: reliability).utf8)
            .write(to: folder.appendingPathComponent("report.html"), options: .atomic)
    }

    private static func thin(_ points: [BacktestEquityPoint]) -> [BacktestEquityPoint] {
        guard points.count > maxPoints else { return points }
        let step = (points.count + maxPoints - 1) / maxPoints
        var out = stride(from: 0, to: points.count, by: step).map { points[$0] }
        if let last = points.last, out.last != last { out.append(last) }
        return out
    }
}
