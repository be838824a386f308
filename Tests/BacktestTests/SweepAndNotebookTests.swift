import Backtest
import Foundation
import Testing
import Trading

@Suite("Sweeps and notebook export")
struct SweepAndNotebookTests {
    @Test("Parameter ranges parse inclusively and bare keys resolve to their section")
    func parameters() throws {
        let p = try SweepParameter(parsing: "min_probability=0.55:0.80:0.05")
        #expect(p.key == "signals.min_probability")
        #expect(p.values == [0.55, 0.6, 0.65, 0.7, 0.75, 0.8])
        let q = try SweepParameter(parsing: "execution.slippage_bps=0,2,5")
        #expect(q.values == [0, 2, 5])
        #expect(throws: SweepError.self) { _ = try SweepParameter(parsing: "no_such_knob=1:2:1") }
        #expect(throws: SweepError.self) { _ = try SweepParameter(parsing: "min_probability=0.8:0.5:0.1") }
        #expect(Sweep.combinations([p, q]).count == 18)
        let s = try Sweep.apply(BacktestSettings(), key: "risk.max_open_positions", value: 5)
        #expect(s.risk.maxOpenPositions == 5 && s.signals == SignalConfiguration())
        #expect(throws: SweepError.self) { _ = try Sweep.apply(BacktestSettings(), key: "risk.max_open_positions", value: 2.5) }
    }

    @Test("An exported notebook has the nbformat 4.5 structure with config, metrics, trades and the chart")
    func notebook() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try #"{"id": "x"}"#.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try "metric,value\ntrades,1\n".write(to: dir.appendingPathComponent("metrics.csv"), atomically: true, encoding: .utf8)
        try "timestamp,symbol\n2023-01-01T00:00:00Z,FILUSDT\n".write(to: dir.appendingPathComponent("trades.csv"), atomically: true, encoding: .utf8)
        try "<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>\n".write(to: dir.appendingPathComponent("equity.svg"), atomically: true, encoding: .utf8)
        let data = try NotebookExport.notebook(runFolder: dir)
        let nb = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(nb["nbformat"] as? Int == 4 && nb["nbformat_minor"] as? Int == 5)
        #expect(nb["metadata"] is [String: Any])
        let cells = try #require(nb["cells"] as? [[String: Any]])
        var ids = Set<String>()
        for cell in cells {
            let id = try #require(cell["id"] as? String)
            #expect(id.range(of: "^[a-zA-Z0-9_-]{1,64}$", options: .regularExpression) != nil)
            #expect(ids.insert(id).inserted)
            #expect(cell["metadata"] is [String: Any] && cell["source"] is [String])
            let type = cell["cell_type"] as? String
            #expect(type == "markdown" || type == "code")
            if type == "code" { #expect(cell["outputs"] is [Any] && cell.keys.contains("execution_count")) }
        }
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("image/svg+xml") && text.contains("| trades | 1 |") && text.contains("FILUSDT"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("trades.csv"))
        #expect(throws: (any Error).self) { _ = try NotebookExport.notebook(runFolder: dir) }
    }
}
