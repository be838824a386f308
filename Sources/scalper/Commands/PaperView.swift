import Foundation
import ScalperCore
import Session
import Trading

/// How `scalper paper` shows a session: one plain line per refresh, or one JSON object.
enum PaperView {
    /// `2025-09-10 04:12  equity 10012.40 (+0.12 %)  trades 3  open BTCUSDT +1.20 60/300 s | p BTCUSDT 0.41 ETHUSDT 0.70*/0.65`.
    static func line(_ s: PaperStatus) -> String {
        let change = (s.equity / s.capital - 1) * 100
        var out = "\(s.time.map { UTC.minuteString($0) } ?? "warming up")  equity \(String(format: "%.2f", s.equity)) (\(String(format: "%+.2f", change)) %)  trades \(s.trades)"
        if s.paused { out += "  PAUSED" }
        if s.killSwitch { out += "  KILL SWITCH" }
        if s.modelExpired { out += "  MODEL EXPIRED" }
        if !s.positions.isEmpty {
            out += "  open " + s.positions.map {
                "\($0.symbol) \(String(format: "%+.2f", $0.unrealisedUSDT)) \(Int($0.secondsInTrade))/\(Int($0.timeoutSeconds)) s"
            }.joined(separator: ", ")
        }
        let candidates = s.candidates.map { c in
            let p = c.probability.map { String(format: "%.2f", $0) + ($0 >= c.threshold ? "*" : "") } ?? "–"
            return "\(c.symbol)\(c.inTrainingSet ? "" : "†") \(p)"
        }
        out += "  | p≥\(String(format: "%.2f", s.candidates.first?.threshold ?? 0)): " + candidates.joined(separator: " ")
        return out
    }

    /// The full-screen view drawn on a terminal at each refresh: the risk state, the candidates with
    /// their calibrated probability against the threshold, the positions with time in trade against
    /// the timeout, and the last log lines (the console's, which the view holds while it draws).
    static func screen(_ s: PaperStatus, log: [String], width: Int) -> String {
        func pad(_ text: String, _ n: Int) -> String { text.count >= n ? text : text + String(repeating: " ", count: n - text.count) }
        func left(_ text: String, _ n: Int) -> String { text.count >= n ? text : String(repeating: " ", count: n - text.count) + text }
        let change = (s.equity / s.capital - 1) * 100
        var lines: [String] = []
        var flags = ""
        if s.paused { flags += "  PAUSED (entries)" }
        if s.killSwitch { flags += "  KILL SWITCH" }
        if s.modelExpired { flags += "  MODEL EXPIRED (no entries)" }
        lines.append("scalper paper · session \(s.session) · \(s.time.map { UTC.minuteString($0) } ?? "warming up")\(flags)")
        lines.append(
            "equity \(String(format: "%.2f", s.equity)) USDT (\(String(format: "%+.2f", change)) %)   cash \(String(format: "%.2f", s.cash))"
                + "   realised \(String(format: "%+.2f", s.realisedUSDT))   trades \(s.trades)   minutes \(s.minutes)"
        )
        var drift = ""
        if let feature = s.driftFeature, let psi = s.driftPSI { drift += "   drift: PSI \(String(format: "%.3f", psi)) (\(feature))" }
        if let ece = s.liveECE { drift += "   live ECE \(String(format: "%.4f", ece)) over \(s.liveRealised ?? 0)" }
        lines.append("model \(s.model ?? "–")\(drift)   feed: \(s.malformedFrames) malformed frames, \(s.reconnects) reconnects")
        lines.append("")
        let threshold = s.candidates.first?.threshold ?? 0
        lines.append("CANDIDATES  (calibrated p against the threshold \(String(format: "%.2f", threshold)); † outside the training set)")
        for c in s.candidates {
            let p = c.probability ?? .nan
            let bar = p.isNaN ? "" : String(repeating: "█", count: max(0, min(20, Int((p * 20).rounded()))))
            let mark = p >= c.threshold ? "  ≥ signal" : ""
            lines.append(
                "  \(pad(c.symbol + (c.inTrainingSet ? "" : "†"), 14)) \(left(p.isNaN ? "–" : String(format: "%.3f", p), 6))  \(pad(bar, 20))\(mark)"
            )
        }
        lines.append("")
        lines.append("POSITIONS  \(s.positions.isEmpty ? "none" : "")")
        if !s.positions.isEmpty {
            lines.append("  symbol         entry        mark   unrealised   in trade / timeout        stop      target")
            for p in s.positions {
                lines.append(
                    "  \(pad(p.symbol, 12)) \(left(String(format: "%.6g", p.entryPrice), 7)) \(left(String(format: "%.6g", p.mark), 11))"
                        + " \(left(String(format: "%+.2f", p.unrealisedUSDT), 12))   \(left("\(Int(p.secondsInTrade))", 6)) / \(pad("\(Int(p.timeoutSeconds)) s", 8))"
                        + " \(left(String(format: "%.6g", p.stopLoss), 10))  \(left(String(format: "%.6g", p.takeProfit), 10))"
                )
            }
        }
        lines.append("")
        lines.append("LOG")
        lines += log.map { "  " + $0 }
        let clipped = lines.map { line in line.count > width ? String(line.prefix(max(1, width - 1))) + "…" : line }
        // Home, then each line with the rest of it cleared, then everything below cleared.
        return "\u{1B}[H" + clipped.map { $0 + "\u{1B}[K" }.joined(separator: "\n") + "\n\u{1B}[J"
    }

    /// One JSON object, keys sorted.
    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// The summary printed when a session ends.
    static func summary(_ s: PaperSummary, folder: String) -> String {
        let st = s.status
        return """
            session \(st.session) ended (\(s.reason)); positions \(s.positionsClosed ? "closed" : "kept")
              window        \(UTC.minuteString(s.from)) … \(s.to.map { UTC.minuteString($0) } ?? "–") (\(st.minutes) minutes)
              equity        \(String(format: "%.2f", st.equity)) USDT from \(String(format: "%.2f", st.capital)) (\(String(format: "%+.2f", (st.equity / st.capital - 1) * 100)) %)
              trades        \(st.trades), realised \(String(format: "%+.2f", st.realisedUSDT)) USDT
              feed          \(st.malformedFrames) malformed frames, \(st.reconnects) reconnects, \(s.missedBars) bars missed at a deadline, \(s.lateBars) late
              decisions     \(s.streamedDecisions) from the stream, bar → commands p50 \(s.decisionP50Us.map { String(format: "%.0f", $0) } ?? "–") µs, p99 \(s.decisionP99Us.map { String(format: "%.0f", $0) } ?? "–") µs; store commit p99 \(s.commitP99Us.map { String(format: "%.0f", $0) } ?? "–") µs
              files         \(folder)/trades.csv, \(folder)/session.sqlite
            """
    }
}

/// `scalper paper report`: a session's trades, and optionally a backtest's beside them.
struct PaperReport: Encodable {
    /// A trade of the session matched with the backtest's (same symbol, same entry minute).
    struct Match: Encodable {
        var symbol: String
        var entryTime: String
        var sessionPnL: Double
        var backtestPnL: Double
        /// Session entry price against the backtest's, basis points (positive: the session paid more).
        var entrySlippageBps: Double
        /// Session exit price against the backtest's, basis points (positive: the session got less).
        var exitSlippageBps: Double
        var sameExitReason: Bool
    }

    struct Comparison: Encodable {
        var backtestTrades: Int
        var backtestPnL: Double
        var matched: [Match]
        var onlyInSession: [String]
        var onlyInBacktest: [String]
        var identical: Bool
    }

    var session: String
    var model: String
    var from: Int64
    var to: Int64
    var trades: [TradeRecord]
    var comparison: Comparison?

    init(session: String, model: String, from: Int64, to: Int64, trades: [TradeRecord]) {
        self.session = session
        self.model = model
        self.from = from
        self.to = to
        self.trades = trades
    }

    enum CodingKeys: String, CodingKey {
        case session, model, from, to, tradeCount = "trades", pnl, fees, winRate = "win_rate", comparison
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(session, forKey: .session)
        try c.encode(model, forKey: .model)
        try c.encode(UTC.isoString(from), forKey: .from)
        try c.encode(UTC.isoString(to), forKey: .to)
        try c.encode(trades.count, forKey: .tradeCount)
        try c.encode(pnl, forKey: .pnl)
        try c.encode(trades.reduce(0) { $0 + $1.fees }, forKey: .fees)
        try c.encode(winRate, forKey: .winRate)
        try c.encodeIfPresent(comparison, forKey: .comparison)
    }

    var pnl: Double { trades.reduce(0) { $0 + $1.pnlUSDT } }
    var winRate: Double { trades.isEmpty ? 0 : Double(trades.filter { $0.pnlUSDT > 0 }.count) / Double(trades.count) }

    mutating func compare(with backtest: [TradeRecord]) {
        func key(_ t: TradeRecord) -> String { "\(t.symbol)@\(UTC.isoString(t.entryTime))" }
        let theirs = Dictionary(backtest.map { (key($0), $0) }, uniquingKeysWith: { a, _ in a })
        let ours = Set(trades.map(key))
        var matched: [Match] = []
        var onlyOurs: [String] = []
        for t in trades {
            guard let b = theirs[key(t)] else {
                onlyOurs.append(key(t))
                continue
            }
            matched.append(
                Match(
                    symbol: t.symbol,
                    entryTime: UTC.isoString(t.entryTime),
                    sessionPnL: t.pnlUSDT,
                    backtestPnL: b.pnlUSDT,
                    entrySlippageBps: (t.entryPrice / b.entryPrice - 1) * 10_000,
                    exitSlippageBps: (1 - t.exitPrice / b.exitPrice) * 10_000,
                    sameExitReason: t.exitReason == b.exitReason
                )
            )
        }
        let onlyTheirs = backtest.map(key).filter { !ours.contains($0) }
        comparison = Comparison(
            backtestTrades: backtest.count,
            backtestPnL: backtest.reduce(0) { $0 + $1.pnlUSDT },
            matched: matched,
            onlyInSession: onlyOurs,
            onlyInBacktest: onlyTheirs,
            identical: trades == backtest
        )
    }

    func json() -> String { PaperView.json(self) }

    func text() -> String {
        var out = """
            session \(session) (model \(model)), \(UTC.minuteString(from)) … \(UTC.minuteString(to))
              trades   \(trades.count), P&L \(String(format: "%+.2f", pnl)) USDT, win rate \(String(format: "%.1f", winRate * 100)) %
            """
        if let c = comparison {
            let slip = c.matched.isEmpty ? 0 : c.matched.reduce(0) { $0 + $1.entrySlippageBps } / Double(c.matched.count)
            out += """

                  backtest \(c.backtestTrades) trades, P&L \(String(format: "%+.2f", c.backtestPnL)) USDT
                  matched  \(c.matched.count) (mean entry slippage \(String(format: "%+.2f", slip)) bps), only in session \(c.onlyInSession.count), only in backtest \(c.onlyInBacktest.count)
                  \(c.identical ? "identical trades" : "trades differ")
                """
            for k in c.onlyInSession { out += "\n  only in session:  \(k)" }
            for k in c.onlyInBacktest { out += "\n  only in backtest: \(k)" }
        }
        return out
    }
}
