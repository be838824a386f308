import ArgumentParser
import Foundation
import Logging
import Scanner
import ScalperCore

/// `scalper scan`: the multi-pair scanner.
struct ScanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Scan ~150 USDT pairs over one WebSocket connection and rank the best candidates.",
        discussion: """
            The universe comes from exchangeInfo and ticker/24hr (USDT quote, trading, spot, no stablecoins, a volume floor, top 150 by volume). Candidates get kline_1m and depth20 streams while they stay in the top N. Dropped or silent connections reconnect with backoff and jitter, re-subscribe, and backfill missed bars over REST. Run `scalper exchange` for a local market with no internet.
            """
    )

    @Option(help: "WebSocket base URL (the local exchange by default).")
    var wsURL = "ws://127.0.0.1:8765"

    @Option(help: "REST base URL.")
    var restURL = "http://127.0.0.1:8765"

    @Option(help: "Candidates to follow and show.")
    var top = 10

    @Option(help: "Stop after this many seconds (default: run until interrupted).")
    var duration: Double?

    @Option(help: "Pairs in the universe at most.")
    var universe = 150

    @Flag(help: "One JSON line per refresh instead of a table.")
    var json = false

    func run() async throws {
        guard let rest = URL(string: restURL) else { throw ValidationError("--rest-url is not a URL") }
        var settings = ScannerServiceSettings(restURL: rest, webSocketURL: wsURL)
        settings.candidates = top
        settings.universeSize = universe
        var logger = Logger(label: "scalper.scanner")
        logger.logLevel = .warning
        let service = ScannerService(settings: settings, logger: logger)
        let isTerminal = isatty(STDOUT_FILENO) == 1 && !json
        let asJSON = json
        do {
            try await service.run(duration: duration) { report in
                if asJSON {
                    print(ScanOutput.json(report))
                } else {
                    print(ScanOutput.table(report, clear: isTerminal))
                }
            }
        } catch let error as ScannerServiceError {
            throw fail("\(error)")
        }
        let stats = await service.currentStatistics
        let gaps = await service.missingBarsWhileFollowed
        let latencies = await service.detectionLatencies.sorted()
        func q(_ p: Double) -> String { latencies.isEmpty ? "–" : String(format: "%.2f", latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) }
        let summary = "scan: \(stats.messages) frames, \(stats.malformed) malformed, \(stats.reconnects) reconnects, \(stats.subscribes) subscribe and \(stats.unsubscribes) unsubscribe requests, \(stats.klinesStreamed) closed bars streamed, \(stats.klinesBackfilled) backfilled, \(gaps) bars missing while followed; detection latency p50 \(q(0.5)) ms p99 \(q(0.99)) ms; peak RSS \(String(format: "%.1f", peakResidentMegabytes())) MB"
        FileHandle.standardError.write(Data((summary + "\n").utf8))
    }
}

enum ScanOutput {
    static func table(_ r: ScannerReport, clear: Bool) -> String {
        func f(_ x: Double, _ d: Int = 3) -> String { x.isFinite ? String(format: "%.\(d)f", x) : "–" }
        var lines: [String] = []
        if clear { lines.append("\u{1B}[2J\u{1B}[H") }
        lines.append("\(UTC.minuteString(r.time))  \(r.pairs) pairs  \(r.statistics.messages) frames  \(r.statistics.reconnects) reconnects")
        lines.append("symbol         price          1m %     5m %   spread %  vol ×    score  alerts")
        for p in r.top {
            lines.append(
                p.symbol.padding(toLength: 14, withPad: " ", startingAt: 0) + " "
                    + f(p.price, 6).padding(toLength: 14, withPad: " ", startingAt: 0)
                    + f(p.change1m).padding(toLength: 9, withPad: " ", startingAt: 0)
                    + f(p.change5m).padding(toLength: 9, withPad: " ", startingAt: 0)
                    + f(p.spreadPct, 4).padding(toLength: 9, withPad: " ", startingAt: 0)
                    + f(p.volumeRatio, 2).padding(toLength: 7, withPad: " ", startingAt: 0)
                    + f(p.score).padding(toLength: 9, withPad: " ", startingAt: 0)
                    + p.alerts.map(\.rawValue).joined(separator: ",")
            )
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ r: ScannerReport) -> String {
        func v(_ x: Double) -> Any { x.isFinite ? x : NSNull() }
        let top: [[String: Any]] = r.top.map {
            [
                "symbol": $0.symbol, "price": v($0.price), "change_1m": v($0.change1m), "change_5m": v($0.change5m),
                "spread_pct": v($0.spreadPct), "volume_ratio": v($0.volumeRatio), "score": v($0.score),
                "alerts": $0.alerts.map(\.rawValue),
            ]
        }
        let object: [String: Any] = [
            "time": r.time, "pairs": r.pairs, "top": top, "frames": r.statistics.messages, "malformed": r.statistics.malformed,
            "reconnects": r.statistics.reconnects, "klines_streamed": r.statistics.klinesStreamed,
            "klines_backfilled": r.statistics.klinesBackfilled,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
