import Dashboard
import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import HTTPTypes
import Logging
import ScalperTestSupport
import Testing
import Trading

@testable import Session

/// A snapshot with the given totals (everything else at rest).
func snapshot(minutes: Int, signals: Int = 0, frames: Int = 0, fills: Int = 0, equity: Double = 1_000, paused: Bool = false) -> SessionSnapshot {
    SessionSnapshot(
        status: PaperStatus(
            session: "t", time: Int64(minutes) * 60_000, equity: equity, capital: 1_000, cash: equity, trades: 0, realisedUSDT: 0,
            minutes: minutes, paused: paused, killSwitch: false, modelExpired: false, model: "m", driftFeature: nil, driftPSI: nil,
            liveECE: nil, liveRealised: 0, candidates: [], positions: [], malformedFrames: 0, reconnects: 0
        ),
        venue: "simulated",
        risk: .init(
            equityPeak: 1_000, drawdown: 0, maxDrawdown: 0.1, dayStartEquity: 1_000, pnlToday: equity - 1_000, dailyLossLimit: 0.03,
            tradesLastHour: 0, maxTradesPerHour: 10, tradesToday: 0, maxTradesPerDay: 60, refusals: [:]
        ),
        pairs: [],
        feed: .init(
            frames: frames, closedBars: 0, malformed: 0, connections: 1, reconnects: 0, rejectedRequests: 0, trades: 0, books: 0,
            missedBars: 0, lateBars: 0, lagMs: nil, requestWeight: 120
        ),
        model: .init(
            name: "m", trainedThrough: nil, ageDays: nil, maxAgeDays: 0, expired: false, liveECE: nil, liveRealised: 0, reliability: [],
            driftFeature: nil, driftPSI: nil
        ),
        latency: .init(decisions: 0, p50Us: nil, p99Us: nil, lastUs: nil),
        signals: signals,
        fills: fills
    )
}

func fill(_ i: Int, side: Side) -> ExecutedFill {
    let request = OrderRequest(
        clientOrderID: "o\(i)", symbol: "FILUSDT", side: side, type: .market, quantity: 1, referencePrice: 100, decisionTime: Int64(i) * 60_000,
        leg: side == .buy ? .entry : .exit
    )
    let f = OrderFill(tradeID: Int64(i), price: side == .buy ? 100.1 : 99.9, quantity: 1, commission: 0.001, commissionAsset: .base, time: Int64(i) * 60_000 + 60_000)
    return ExecutedFill(update: OrderUpdate(clientOrderID: "o\(i)", symbol: "FILUSDT", status: .filled, fill: f, time: f.time), fill: f, request: request)
}

@Suite("The dashboard's hub and metrics")
struct DashboardHubTests {
    @Test("Each browser gets every equity point, trade and fill once, from its own cursor; nothing new gives nothing")
    func cursors() throws {
        let hub = DashboardHub()
        #expect(hub.update(after: .init()) == nil)
        var events = SessionEvents()
        events.equity = [.init(time: 60_000, equity: 1_000)]
        events.fills = [fill(1, side: .buy)]
        hub.sessionUpdated(snapshot(minutes: 1, fills: 1), events: events)
        let (first, cursor) = try #require(hub.update(after: .init()))
        #expect(first.equity.count == 1 && first.fills.count == 1 && first.trades.isEmpty)
        #expect(hub.update(after: cursor) == nil)
        events.equity = [.init(time: 120_000, equity: 1_001), .init(time: 180_000, equity: 1_002)]
        events.fills = [fill(2, side: .sell)]
        hub.sessionUpdated(snapshot(minutes: 3, fills: 2, equity: 1_002), events: events)
        let (second, next) = try #require(hub.update(after: cursor))
        #expect(second.equity.map(\.time) == [120_000, 180_000] && second.fills.map(\.fill.clientOrderID) == ["o2"])
        #expect(second.snapshot.status.minutes == 3)
        // Slippage: a buy at 100.1 against 100 cost 10 bps; a sell at 99.9 cost 10 bps too.
        #expect(abs((first.fills[0].slippageBps ?? 0) - 10) < 1e-9 && abs((second.fills[0].slippageBps ?? 0) - 10) < 1e-9)
        #expect(first.fills[0].delayMs == 60_000)
        // A browser opened now gets the whole history at once.
        let (late, lateCursor) = try #require(hub.update(after: .init()))
        #expect(late.equity.count == 3 && late.fills.count == 2 && lateCursor == next)
    }

    @Test("Past the points kept, the oldest are dropped and cursors stay right")
    func trimming() throws {
        let hub = DashboardHub()
        let (_, start) = { () -> (Int, DashboardHub.Cursor) in
            hub.sessionUpdated(snapshot(minutes: 0), events: SessionEvents())
            return (0, hub.update(after: .init())!.1)
        }()
        let total = DashboardHub.keptEquityPoints + DashboardHub.keptEquityPoints / 10 + 5
        var events = SessionEvents()
        events.equity = (0..<total).map { .init(time: Int64($0) * 60_000, equity: Double($0)) }
        hub.sessionUpdated(snapshot(minutes: total), events: events)
        let (update, cursor) = try #require(hub.update(after: start))
        #expect(update.equity.count == DashboardHub.keptEquityPoints)
        #expect(update.equity.last?.equity == Double(total - 1) && cursor.equity == total)
        events.equity = [.init(time: Int64(total) * 60_000, equity: -1)]
        hub.sessionUpdated(snapshot(minutes: total + 1), events: events)
        #expect(try #require(hub.update(after: cursor)).0.equity.map(\.equity) == [-1])
    }

    @Test("Counters follow the session's totals by their growth; fills by side, trades by exit reason")
    func metrics() {
        let hub = DashboardHub()
        var events = SessionEvents()
        events.fills = [fill(1, side: .buy), fill(2, side: .sell), fill(3, side: .buy)]
        events.decisionLatenciesUs = [120, 480]
        events.orderOutcomes = ["FILLED": 3, "EXPIRED": 1]
        hub.sessionUpdated(snapshot(minutes: 5, signals: 2, frames: 40, fills: 3, equity: 1_010), events: events)
        hub.sessionUpdated(snapshot(minutes: 7, signals: 3, frames: 55, fills: 3, equity: 1_005), events: SessionEvents())
        let text = hub.metrics.render()
        for line in [
            "scalper_decisions_total 7", "scalper_signals_total 3", "scalper_feed_frames_total 55", #"scalper_fills_total{side="BUY"} 2"#,
            #"scalper_fills_total{side="SELL"} 1"#, "scalper_equity_usdt 1005.0", "scalper_decision_latency_seconds_count 2",
        ] {
            #expect(text.split(separator: "\n").contains { $0 == line }, "\(line) not in\n\(text)")
        }
    }
}

@Suite("The dashboard's controls")
struct DashboardControlTests {
    private final class Requests: @unchecked Sendable {
        let lock = NSLock()
        var controls: [UserControl] = []
        func add(_ c: UserControl) {
            lock.lock()
            controls.append(c)
            lock.unlock()
        }
        var all: [UserControl] {
            lock.lock()
            defer { lock.unlock() }
            return controls
        }
    }

    private func post(_ port: Int, _ control: String, token: String?) async throws -> Int {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/control/\(control)")!)
        request.httpMethod = "POST"
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? -1
    }

    private func serving<R: Sendable>(token: String?, _ requests: Requests, _ body: @Sendable (Int) async throws -> R) async throws -> R {
        let server = DashboardServer(hub: DashboardHub(), token: token) { control in
            requests.add(control)
            return Int64(requests.all.count)
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        return try await withThrowingTaskGroup(of: R?.self) { group in
            group.addTask {
                try await server.run(host: "127.0.0.1", port: 0, logger: Logger(label: "test")) { continuation.yield($0) }
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let result = try await body(port)
            group.cancelAll()
            return result
        }
    }

    @Test("Without the token a control is refused (401) and nothing is asked of the session; with it, it is (202)")
    func token() async throws {
        let requests = Requests()
        let codes = try await serving(token: "s3cret-token", requests) { port in
            let refused = [
                try await post(port, "pause", token: nil), try await post(port, "close-all", token: "wrong"),
                try await post(port, "reset-kill-switch", token: "s3cret-token-but-longer"),
            ]
            let askedBefore = requests.all.count
            return (refused, askedBefore, try await post(port, "pause", token: "s3cret-token"), try await post(port, "explode", token: "s3cret-token"))
        }
        #expect(codes.0 == [401, 401, 401] && codes.1 == 0)
        #expect(codes.2 == 202 && codes.3 == 404)
        #expect(requests.all == [.pause])
    }

    @Test("With no token configured the dashboard is read-only: every control is refused (403)")
    func readOnly() async throws {
        let requests = Requests()
        let codes = try await serving(token: nil, requests) { port in
            [try await post(port, "pause", token: nil), try await post(port, "pause", token: "")]
        }
        #expect(codes == [403, 403])
        #expect(requests.all.isEmpty)
    }
}
