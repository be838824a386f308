public import Foundation
import ScalperCore
public import Trading

/// What identifies a run besides its results: enough to rerun it.
public struct BacktestRunConfig: Codable, Equatable, Sendable {
    /// The run's id (its folder name).
    public var id: String
    /// Model bundle path.
    public var model: String
    /// The model bundle's name.
    public var modelName: String
    /// Symbols replayed.
    public var symbols: [String]
    /// Window start (ISO 8601).
    public var from: String
    /// Window end, exclusive (ISO 8601).
    public var to: String
    /// Bar interval.
    public var interval: String
    /// Market-data store used.
    public var store: String
    /// Every setting of the trading code.
    public var settings: BacktestSettings
    /// When the run was made (ISO 8601).
    public var createdAt: String
    /// Code version.
    public var gitCommit: String
    /// A short description.
    public var description: String

    /// Creates a run configuration.
    public init(
        id: String,
        model: String,
        modelName: String,
        symbols: [String],
        from: String,
        to: String,
        interval: String,
        store: String,
        settings: BacktestSettings,
        createdAt: String,
        gitCommit: String,
        description: String
    ) {
        self.id = id
        self.model = model
        self.modelName = modelName
        self.symbols = symbols
        self.from = from
        self.to = to
        self.interval = interval
        self.store = store
        self.settings = settings
        self.createdAt = createdAt
        self.gitCommit = gitCommit
        self.description = description
    }
}

/// Writes a run folder: `config.json`, `trades.csv`, `metrics.csv`, `summary.txt`, `equity.svg`.
public enum BacktestRunWriter {
    /// A folder name `YYYY-MM-DD_HHMM_<desc>` (desc reduced to letters, digits and dashes), made
    /// unique with a suffix when taken.
    public static func runID(createdAt: Int64, description: String, in root: URL) -> String {
        let c = UTC.components(createdAt)
        let safe = description.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" }.prefix(60)
        let base = String(format: "%04d-%02d-%02d_%02d%02d_", c.year, c.month, c.day, c.hour, c.minute) + String(safe)
        var id = base
        var n = 2
        while FileManager.default.fileExists(atPath: root.appendingPathComponent(id).path) {
            id = "\(base)-\(n)"
            n += 1
        }
        return id
    }

    /// Writes the run into `root/config.id`, through a temporary folder renamed into place.
    @discardableResult
    public static func write(_ result: BacktestResult, config: BacktestRunConfig, to root: URL) throws -> URL {
        let fm = FileManager.default
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        let target = root.appendingPathComponent(config.id)
        let temporary = root.appendingPathComponent(".\(config.id).partial-\(UUID().uuidString)")
        do {
            try fm.createDirectory(at: temporary, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(config).write(to: temporary.appendingPathComponent("config.json"))
            try Data(tradesCSV(result.trades).utf8).write(to: temporary.appendingPathComponent("trades.csv"))
            try Data(metricsCSV(result.metrics).utf8).write(to: temporary.appendingPathComponent("metrics.csv"))
            try Data(summary(result, config: config).utf8).write(to: temporary.appendingPathComponent("summary.txt"))
            try Data(EquityChart.svg(result.equityCurve).utf8).write(to: temporary.appendingPathComponent("equity.svg"))
            try fm.moveItem(at: temporary, to: target)
        } catch {
            try? fm.removeItem(at: temporary)
            throw error
        }
        return target
    }

    /// The seed's trade columns plus the model's probability and confidence at entry; money with 8
    /// decimals so sums are exact to the cent.
    public static func tradesCSV(_ trades: [TradeRecord]) -> String {
        var lines = [TradeRecord.csvHeader]
        for t in trades { lines.append(t.csvFields.joined(separator: ",")) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `metric,value` rows, one per ``BacktestMetricField`` in table order.
    public static func metricsCSV(_ m: BacktestMetrics) -> String {
        let rows = BacktestMetricField.all.map { "\($0.name),\($0.csvText($0.value(m)))" }
        return "metric,value\n" + rows.joined(separator: "\n") + "\n"
    }

    /// A readable summary.
    public static func summary(_ r: BacktestResult, config: BacktestRunConfig) -> String {
        let m = r.metrics
        func pct(_ x: Double) -> String { x.isNaN ? "–" : String(format: "%.2f %%", x * 100) }
        func usd(_ x: Double) -> String { x.isNaN ? "–" : String(format: "%.2f USDT", x) }
        func num(_ x: Double) -> String { x.isNaN ? "–" : (x.isInfinite ? "∞" : String(format: "%.3f", x)) }
        return """
            Backtest \(config.id)
            model \(config.modelName) on \(config.symbols.joined(separator: ", ")) \(config.from) … \(config.to) (\(r.barsReplayed) bars)
            capital \(usd(m.startingCapital)) → \(usd(m.finalEquity))  return \(pct(m.totalReturn))  (buy and hold \(pct(m.buyAndHoldReturn)))

            trades            \(m.trades)   win rate \(pct(m.winRate))   profit factor \(num(m.profitFactor))
            P&L               total \(usd(m.totalPnL))   average \(usd(m.averagePnL))   fees \(usd(m.feesPaid))
            best / worst      \(usd(m.bestTrade)) / \(usd(m.worstTrade))
            max drawdown      \(pct(m.maxDrawdown))
            Sharpe / Sortino  \(num(m.sharpe)) / \(num(m.sortino))   (daily returns, × √365)
            avg duration      \(num(m.averageDurationSeconds)) s   exposure \(pct(m.exposure))
            signals           \(m.signals)   exits \(m.exits.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            refused by risk   \(m.refusals.isEmpty ? "none" : m.refusals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))

            """
    }
}

/// The equity curve as SVG with drawdown shading.
public enum EquityChart {
    /// An SVG line chart of equity with the drawdown from the running peak shaded below it.
    public static func svg(_ curve: [BacktestEquityPoint]) -> String {
        let (w, h, pad) = (720.0, 320.0, 50.0)
        guard let first = curve.first, let last = curve.last, last.time > first.time else {
            return #"<svg xmlns="http://www.w3.org/2000/svg" width="720" height="60"><text x="10" y="30">no equity data</text></svg>"# + "\n"
        }
        let step = max(1, curve.count / 1_500)
        let points = stride(from: 0, to: curve.count, by: step).map { curve[$0] } + [last]
        let lo = points.map(\.equity).min() ?? 0
        let hi = points.map(\.equity).max() ?? 1
        let span = max(hi - lo, 1e-9)
        func x(_ t: Int64) -> Double { pad + Double(t - first.time) / Double(last.time - first.time) * (w - 2 * pad) }
        func y(_ e: Double) -> Double { h - pad - (e - lo) / span * (h - 2 * pad) }
        var peak = -Double.infinity
        var shade: [String] = []
        var line: [String] = []
        for p in points {
            peak = max(peak, p.equity)
            line.append(String(format: "%.1f,%.1f", x(p.time), y(p.equity)))
            shade.append(String(format: "%.1f,%.1f", x(p.time), y(peak)))
        }
        let polygon = shade + line.reversed()
        var svg = #"<svg xmlns="http://www.w3.org/2000/svg" width="720" height="320" font-family="sans-serif" font-size="12">"#
        svg += #"<rect width="100%" height="100%" fill="white"/>"#
        svg += #"<polygon fill="mistyrose" stroke="none" points="\#(polygon.joined(separator: " "))"/>"#
        svg += #"<polyline fill="none" stroke="steelblue" stroke-width="1.5" points="\#(line.joined(separator: " "))"/>"#
        svg += #"<text x="\#(pad)" y="20">equity (USDT), drawdown from peak shaded</text>"#
        svg += #"<text x="4" y="\#(y(hi) + 4)">\#(String(format: "%.0f", hi))</text>"#
        svg += #"<text x="4" y="\#(y(lo) + 4)">\#(String(format: "%.0f", lo))</text>"#
        svg += #"<text x="\#(pad)" y="\#(h - 20)">\#(UTC.minuteString(first.time))</text>"#
        svg += #"<text x="\#(w - pad)" y="\#(h - 20)" text-anchor="end">\#(UTC.minuteString(last.time))</text>"#
        return svg + "</svg>\n"
    }
}
