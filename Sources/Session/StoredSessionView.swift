import Foundation
import Trading

/// What the dashboard shows of a session that is not running, from its store alone: the last
/// committed state, every equity point and trade it recorded, and the fills the exchange reported
/// (a simulated session's fills are not stored: its trades are).
public enum StoredSessionView {
    /// The snapshot and the whole history of the session in `store`.
    public static func read(_ store: SessionStore, name: String) throws -> (SessionSnapshot, SessionEvents) {
        let recovery = try store.recover(as: PaperState.self)
        guard let state = recovery.state else {
            throw PaperSessionError("session \(name) has committed nothing yet: there is nothing to show")
        }
        var events = SessionEvents()
        var realised = 0.0
        for stored in try store.records() {
            switch stored.record {
            case .equity(let time, let equity): events.equity.append(.init(time: time, equity: equity))
            case .trade(let t):
                events.trades.append(t)
                realised += t.pnlUSDT
            default: break
            }
        }
        let orders = Dictionary(try store.orders().map { ($0.clientOrderID, $0.request) }, uniquingKeysWith: { a, _ in a })
        events.fills = try store.fills().map { f in
            ExecutedFill(
                update: OrderUpdate(clientOrderID: f.clientOrderID, symbol: f.symbol, status: .filled, fill: f.fill, time: f.fill.time),
                fill: f.fill, request: orders[f.clientOrderID]
            )
        }
        let e = state.core.engine
        let now = e.lastMinute.map { $0 + 60_000 } ?? state.tradableFrom
        let positions = PaperStatus.Position.open(in: e, at: now)
        let status = PaperStatus(
            session: name, time: e.lastMinute.map { $0 + 60_000 }, equity: e.equity, capital: e.settings.capital, cash: e.cash,
            trades: events.trades.count, realisedUSDT: realised, minutes: state.minutesDecided, paused: e.paused,
            killSwitch: e.risk.isKillSwitchActive, modelExpired: false, model: state.model, driftFeature: nil, driftPSI: nil,
            liveECE: nil, liveRealised: nil,
            candidates: state.symbols.map {
                PaperStatus.Candidate(symbol: $0, probability: nil, threshold: e.settings.signals.minProbability, inTrainingSet: true)
            },
            positions: positions, malformedFrames: 0, reconnects: 0
        )
        var snapshot = SessionSnapshot(
            status: status,
            venue: state.core.isVenue ? "exchange" : "simulated",
            risk: .init(e, now: now),
            pairs: state.symbols.map {
                SessionSnapshot.Pair(
                    symbol: $0, score: nil, change1m: nil, change5m: nil, volatilityPct: nil, refusal: nil, alerts: [], candidate: true, probability: nil
                )
            },
            feed: .init(
                frames: 0, closedBars: 0, malformed: 0, connections: 0, reconnects: 0, rejectedRequests: 0, trades: 0, books: 0,
                missedBars: state.missedBars, lateBars: state.lateBars, lagMs: nil, requestWeight: nil
            ),
            model: .init(
                name: state.model ?? "unknown", trainedThrough: nil, ageDays: nil, maxAgeDays: 0, expired: false, liveECE: nil,
                liveRealised: 0, reliability: [], driftFeature: nil, driftPSI: nil
            ),
            latency: .init(decisions: 0, p50Us: nil, p99Us: nil, lastUs: nil),
            signals: e.signalCount,
            fills: events.fills.count
        )
        snapshot.running = false
        return (snapshot, events)
    }
}

extension PaperCore {
    /// Whether orders go to an exchange.
    var isVenue: Bool {
        if case .venue = self { true } else { false }
    }
}
