public import Foundation

/// Writes a run as a Jupyter notebook (nbformat 4.5): config, metrics table, trades and the equity
/// chart, all embedded, plus a cell that reloads the run's CSVs with pandas.
public enum NotebookExport {
    /// The notebook JSON for the run in `runFolder`.
    public static func notebook(runFolder: URL) throws -> Data {
        let fm = FileManager.default
        for file in ["config.json", "metrics.csv", "trades.csv", "equity.svg"]
        where !fm.fileExists(atPath: runFolder.appendingPathComponent(file).path) {
            throw SweepError("\(runFolder.path): the run is missing \(file)")
        }
        let config = try String(contentsOf: runFolder.appendingPathComponent("config.json"), encoding: .utf8)
        let metrics = try String(contentsOf: runFolder.appendingPathComponent("metrics.csv"), encoding: .utf8)
        let trades = try String(contentsOf: runFolder.appendingPathComponent("trades.csv"), encoding: .utf8)
        let svg = try String(contentsOf: runFolder.appendingPathComponent("equity.svg"), encoding: .utf8)
        let id = runFolder.lastPathComponent

        var metricsTable = "| metric | value |\n|---|---|\n"
        for line in metrics.split(separator: "\n").dropFirst() {
            let kv = line.split(separator: ",", maxSplits: 1)
            if kv.count == 2 { metricsTable += "| \(kv[0]) | \(kv[1]) |\n" }
        }
        let tradeLines = trades.split(separator: "\n")
        var tradesTable = ""
        if let header = tradeLines.first {
            let columns = header.split(separator: ",")
            tradesTable = "| " + columns.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: columns.count) + "\n"
            for line in tradeLines.dropFirst().prefix(200) {
                tradesTable += "| " + line.split(separator: ",", omittingEmptySubsequences: false).joined(separator: " | ") + " |\n"
            }
            if tradeLines.count > 201 { tradesTable += "\n(first 200 of \(tradeLines.count - 1) trades; the cell below loads them all)\n" }
        }
        func lines(_ text: String) -> [String] {
            var out: [String] = text.split(separator: "\n", omittingEmptySubsequences: false).map { String($0) + "\n" }
            if var last = out.popLast() {
                last.removeLast()
                if !last.isEmpty { out.append(last) }
            }
            return out
        }
        func markdown(_ cellID: String, _ text: String) -> [String: Any] {
            ["cell_type": "markdown", "id": cellID, "metadata": [String: Any](), "source": lines(text)]
        }
        func code(_ cellID: String, _ text: String, outputs: [[String: Any]] = []) -> [String: Any] {
            ["cell_type": "code", "id": cellID, "metadata": [String: Any](), "source": lines(text), "outputs": outputs, "execution_count": NSNull()]
        }
        let folder = runFolder.path
        let cells: [[String: Any]] = [
            markdown("title", "# Backtest \(id)\n\nExported by `scalper export-notebook` from `\(folder)`."),
            markdown("config", "## Configuration\n\nEverything needed to rerun it (`config.json`):\n\n```json\n\(config)\n```"),
            markdown("metrics", "## Metrics\n\n\(metricsTable)"),
            code(
                "equity",
                "# Equity curve with drawdown from the peak shaded (equity.svg, embedded below)\nfrom IPython.display import SVG\nSVG(filename=\"\(folder)/equity.svg\")",
                outputs: [["output_type": "display_data", "data": ["image/svg+xml": lines(svg), "text/plain": ["<equity curve>"]], "metadata": [String: Any]()]]
            ),
            markdown("trades", "## Trades\n\n\(tradesTable)"),
            code("load", "import pandas as pd\ntrades = pd.read_csv(\"\(folder)/trades.csv\", parse_dates=[\"timestamp\"])\nmetrics = pd.read_csv(\"\(folder)/metrics.csv\", index_col=\"metric\")\ntrades.describe()"),
        ]
        let notebook: [String: Any] = [
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": [
                "kernelspec": ["display_name": "Python 3", "language": "python", "name": "python3"],
                "language_info": ["name": "python"],
                "cryptoscalper": ["run_id": id],
            ],
            "cells": cells,
        ]
        return try JSONSerialization.data(withJSONObject: notebook, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }
}
