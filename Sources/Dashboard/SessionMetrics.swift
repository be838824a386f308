import Prometheus
public import Session
import Synchronization
import Trading

/// A session's Prometheus metrics (`/metrics`), in its own registry (no process-wide bootstrap:
/// a test process runs several sessions). Counters follow the session's own totals: each update
/// adds what they grew by since the last.
public final class SessionMetrics: Sendable {
    /// The registry `/metrics` renders.
    private let registry = PrometheusCollectorRegistry()

    private let frames: Counter
    private let malformed: Counter
    private let reconnects: Counter
    private let rejected: Counter
    private let decisions: Counter
    private let signals: Counter
    private let missedBars: Counter
    private let candidates: Gauge
    private let openPositions: Gauge
    private let equity: Gauge
    private let drawdown: Gauge
    private let pnlToday: Gauge
    private let modelAge: Gauge
    private let liveECE: Gauge
    private let killSwitch: Gauge
    private let paused: Gauge
    private let requestWeight: Gauge
    private let latency: DurationHistogram
    private let last = SessionTotals.Box()

    /// Names every metric (its HELP line says what it counts).
    public init() {
        frames = registry.makeCounter(descriptor: Self.name("feed_frames", "total", "Text frames received from the market data stream."))
        malformed = registry.makeCounter(descriptor: Self.name("feed_malformed_frames", "total", "Frames that could not be read, skipped."))
        reconnects = registry.makeCounter(descriptor: Self.name("feed_reconnects", "total", "Market data connections opened again after a drop."))
        rejected = registry.makeCounter(descriptor: Self.name("feed_rejected_requests", "total", "Error replies from the exchange to stream requests."))
        decisions = registry.makeCounter(descriptor: Self.name("decisions", "total", "Minutes decided."))
        signals = registry.makeCounter(descriptor: Self.name("signals", "total", "Signals the model gave (before risk)."))
        missedBars = registry.makeCounter(descriptor: Self.name("missed_bars", "total", "Bars whose minute was decided without them."))
        candidates = registry.makeGauge(descriptor: Self.name("candidates", "", "Pairs the model scores this minute."))
        openPositions = registry.makeGauge(descriptor: Self.name("open_positions", "", "Open positions."))
        equity = registry.makeGauge(descriptor: Self.name("equity", "usdt", "Equity at the latest marks, USDT."))
        drawdown = registry.makeGauge(descriptor: Self.name("drawdown", "ratio", "Drawdown from the equity peak (the kill switch trips at risk.max_drawdown_pct)."))
        pnlToday = registry.makeGauge(descriptor: Self.name("pnl_today", "usdt", "P&L since the start of the UTC day, USDT."))
        modelAge = registry.makeGauge(descriptor: Self.name("model_age", "days", "Days from the end of the model's training window to the last decided minute."))
        liveECE = registry.makeGauge(descriptor: Self.name("model_live_ece", "", "Expected calibration error of the session's realised predictions (last 1,440)."))
        killSwitch = registry.makeGauge(descriptor: Self.name("kill_switch", "", "1 while the kill switch is on."))
        paused = registry.makeGauge(descriptor: Self.name("paused", "", "1 while entries are paused by the user."))
        requestWeight = registry.makeGauge(
            descriptor: Self.name("request_weight_used", "", "Request weight the exchange last reported used this minute (X-MBX-USED-WEIGHT-1M).")
        )
        latency = registry.makeDurationHistogram(
            descriptor: Self.name("decision_latency", "seconds", "The arrival of the bar that completes a minute to the engine's commands."),
            buckets: [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 250_000].map { Duration.microseconds($0) }
        )
    }

    /// Brings every metric to the session's figures now; `events` adds the fills, trades and
    /// decision latencies of the last commit.
    public func update(_ s: SessionSnapshot, events: SessionEvents) {
        let now = SessionTotals(s)
        let before = last.swap(now)
        frames.increment(by: Int64(max(0, now.frames - before.frames)))
        malformed.increment(by: Int64(max(0, now.malformed - before.malformed)))
        reconnects.increment(by: Int64(max(0, now.reconnects - before.reconnects)))
        rejected.increment(by: Int64(max(0, now.rejected - before.rejected)))
        decisions.increment(by: Int64(max(0, now.minutes - before.minutes)))
        signals.increment(by: Int64(max(0, now.signals - before.signals)))
        missedBars.increment(by: Int64(max(0, now.missedBars - before.missedBars)))
        for fill in events.fills {
            registry.makeCounter(descriptor: Self.name("fills", "total", "Fills, by side."), labels: [("side", fill.side?.rawValue ?? "UNKNOWN")])
                .increment()
        }
        for (outcome, count) in events.orderOutcomes where count > 0 {
            registry.makeCounter(
                descriptor: Self.name("orders", "total", "Orders ended, by final status (FILLED, CANCELED, REJECTED, EXPIRED)."),
                labels: [("outcome", outcome)]
            ).increment(by: Int64(count))
        }
        for trade in events.trades {
            registry.makeCounter(
                descriptor: Self.name("trades", "total", "Closed trades, by why they closed."), labels: [("exit_reason", trade.exitReason.rawValue)]
            ).increment()
        }
        for (reason, count) in s.risk.refusals {
            let grew = count - (before.refusals[reason] ?? 0)
            if grew > 0 {
                registry.makeCounter(
                    descriptor: Self.name("refusals", "total", "Signals or entries refused by risk, by reason."), labels: [("reason", reason)]
                ).increment(by: Int64(grew))
            }
        }
        for us in events.decisionLatenciesUs { latency.record(.nanoseconds(Int64(us * 1_000))) }
        candidates.set(Double(s.pairs.filter(\.candidate).count))
        openPositions.set(Double(s.status.positions.count))
        equity.set(s.status.equity)
        drawdown.set(s.risk.drawdown)
        pnlToday.set(s.risk.pnlToday)
        if let age = s.model.ageDays { modelAge.set(age) }
        if let ece = s.model.liveECE, ece.isFinite { liveECE.set(ece) }
        killSwitch.set(s.status.killSwitch ? 1.0 : 0.0)
        paused.set(s.status.paused ? 1.0 : 0.0)
        if let weight = s.feed.requestWeight { requestWeight.set(Double(weight)) }
    }

    /// `scalper_<metric>_<unit>` with its HELP text.
    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "scalper", metricName: metric, unitName: unit, helpText: help)
    }

    /// The metrics in Prometheus' text format.
    public func render() -> String {
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The session totals the counters follow.
struct SessionTotals: Sendable {
    var frames = 0
    var malformed = 0
    var reconnects = 0
    var rejected = 0
    var minutes = 0
    var signals = 0
    var missedBars = 0
    var refusals: [String: Int] = [:]

    init() {}

    init(_ s: SessionSnapshot) {
        frames = s.feed.frames
        malformed = s.feed.malformed
        reconnects = s.feed.reconnects
        rejected = s.feed.rejectedRequests
        minutes = s.status.minutes
        signals = s.signals
        missedBars = s.feed.missedBars
        refusals = s.risk.refusals
    }

    /// The last totals seen, swapped under a lock.
    final class Box: Sendable {
        private let value = Mutex(SessionTotals())
        func swap(_ new: SessionTotals) -> SessionTotals {
            value.withLock { v in
                defer { v = new }
                return v
            }
        }
    }
}
