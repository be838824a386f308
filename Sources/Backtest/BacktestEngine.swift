import Features
import Logging
import Foundation
import LinearAlgebra
public import Model
public import ScalperCore
public import Trading

/// Everything a backtest needs besides the data and the model.
public struct BacktestSettings: Codable, Equatable, Sendable {
    /// Starting capital in quote currency.
    public var capital = 10_000.0
    /// Signal thresholds.
    public var signals = SignalConfiguration()
    /// Risk rules.
    public var risk = RiskConfiguration()
    /// Execution rules.
    public var execution = ExecutionConfiguration()

    /// The defaults.
    public init() {}
}

/// What a backtest produced.
public struct BacktestResult: Sendable {
    /// Closed trades in order.
    public var trades: [TradeRecord]
    /// Equity after each bar close: (time ms, equity).
    public var equityCurve: [BacktestEquityPoint]
    /// Summary figures.
    public var metrics: BacktestMetrics
    /// Bars replayed (all symbols).
    public var barsReplayed: Int
    /// Seconds spent (features, predictions, replay).
    public var timings: [String: Double]
    /// Buy and hold at the equity curve's times: the capital split equally among the symbols at
    /// their first open, marked at each close (the metrics' buy-and-hold return is its last point).
    public var buyAndHold: [BacktestEquityPoint] = []
}

/// One point of the equity curve.
public struct BacktestEquityPoint: Codable, Equatable, Sendable {
    /// Bar close time (ms).
    public var time: Int64
    /// Equity at that close.
    public var equity: Double
}

/// Bars and the model's predictions for them, ready to replay under any settings.
public struct PreparedBacktest: Sendable {
    /// Bars per symbol that are replayed (from the window's start; the warm-up history before it is not).
    public var series: [(symbol: String, klines: [Kline])]
    /// Predictions aligned to the replayed bars (nil before the first tradable bar and in warm-up).
    public var predictions: [[Prediction?]]
    /// Every scored replayed bar's calibrated probability, above the threshold or not (nil where
    /// ``predictions`` is nil for warm-up): the model's reliability over the window.
    public var probabilities: [[Double?]] = []
    /// Seconds spent on features and predictions.
    public var timings: [String: Double]
    /// Symbols whose first tradable bar moved past the window's start for lack of warm-up history,
    /// in words (empty when every symbol had its full warm-up).
    public var warmupNotes: [String] = []
    /// Each symbol's filters (the store's lookup: exchangeInfo, else the derivation over its whole
    /// stored series, as the local exchange serves them); a symbol missing here derives them from
    /// the bars replayed.
    public var filters: [String: SymbolFilters] = [:]
}

/// Replays history through the same ``TradingEngine`` paper trading uses, on the simulated venue
/// under the bar rule.
///
/// Warm-up on trading paths (as a session does it): the feature kernel starts `warmupBars` bars
/// before the first bar that may trade; the history before the window's start is read for that and
/// never traded. Where fewer bars precede the start, the first tradable bar moves forward by what
/// is missing and ``PreparedBacktest/warmupNotes`` says so. Features are causal, so predictions for
/// every row are made in one batch up front; the replay then walks the window minute by minute
/// across symbols: a signal at a bar's close enters at the next bar's open, stops and targets rest
/// and trigger inside bars (stop first when both lie in one), timeouts fill at the next open.
/// Positions left at the end are sold at the last close (reason MANUAL).
public enum BacktestEngine {
    /// Runs a backtest of `predictor` over `series` (warm-up history, then the window from `tradableFrom`).
    public static func run(
        series: [(symbol: String, klines: [Kline])],
        predictor: Predictor,
        settings: BacktestSettings,
        interval: KlineInterval = .oneMinute,
        tradableFrom: Int64 = .min,
        warmupBars: Int = 0
    ) throws -> BacktestResult {
        let prepared = try prepare(
            series: series,
            predictor: predictor,
            interval: interval,
            minimumProbability: settings.signals.minProbability,
            tradableFrom: tradableFrom,
            warmupBars: warmupBars
        )
        return replay(prepared, settings: settings)
    }

    /// Features and predictions for every bar: the part of a backtest that does not depend on the
    /// trading settings, so a sweep does it once.
    ///
    /// Rows whose calibrated probability is below `minimumProbability` cannot become signals, so
    /// they get no prediction (their confidence and move are never needed); a sweep passes the
    /// lowest `min_probability` it tries.
    ///
    /// `series` holds each symbol's warm-up history followed by the window, which starts at
    /// `tradableFrom`; only bars from there on are replayed, and a bar predicts only when at least
    /// `warmupBars` bars of its series precede it.
    public static func prepare(
        series: [(symbol: String, klines: [Kline])],
        predictor: Predictor,
        interval: KlineInterval = .oneMinute,
        minimumProbability: Double = 0,
        tradableFrom: Int64 = .min,
        warmupBars: Int = 0
    ) throws -> PreparedBacktest {
        let clock = ContinuousClock()
        var timings: [String: Double] = [:]
        let warmup = predictor.metadata.configuration.warmupBars
        // Features first, every symbol at once (a pure function of its bars): each symbol's kernel
        // starts exactly `warmupBars` bars before the window (fewer where history is short), as a
        // session's does, so both compute the very same features. The float copy the model reads is
        // made there too, on the same threads.
        let featureStart = clock.now
        let computed = SymbolSlots<Result<FeaturedSeries, FeatureError>>(count: series.count)
        ComputeThreads.perform(iterations: series.count) { s in
            let given = series[s].klines
            let givenStart = given.partitionPoint { $0.openTime < tradableFrom }
            let klines = warmupBars > 0 ? Array(given[max(0, givenStart - warmupBars)...]) : given
            computed.set(
                s,
                Result { () throws(FeatureError) -> FeaturedSeries in
                    let table = try BatchFeatures.compute(klines, interval: interval)
                    let f = table.features
                    // Concrete element-wise Float(Double): the generic `Matrix.converted(to:)` goes
                    // through dynamic casts per element (5% of a bench backtest's profile samples).
                    let rows = Matrix<Float>(rows: f.rows, columns: f.columns, storage: f.storage.map { Float($0) })
                    return FeaturedSeries(klines: klines, rows: rows, isPastWarmup: table.isPastWarmup(warmupBars: warmup))
                }
            )
        }
        let featureSeconds = Trainer.seconds(clock.now - featureStart)
        // Then the model, one symbol after the other on this thread (a `Predictor` is not Sendable).
        let predictStart = clock.now
        // Per symbol: predictions aligned to bars (nil in warm-up).
        var predictions: [[Prediction?]] = []
        var probabilities: [[Double?]] = []
        var replayed: [(symbol: String, klines: [Kline])] = []
        var notes: [String] = []
        for s in series.indices {
            let symbol = series[s].symbol
            let featured = try computed.get(s).get()
            let klines = featured.klines
            let (calibrated, results) = try predictor.scored(featured.rows, whereProbabilityAtLeast: minimumProbability)
            let windowStart = klines.partitionPoint { $0.openTime < tradableFrom }
            let firstTradable = max(windowStart, warmupBars)
            if firstTradable > windowStart, windowStart < klines.count {
                let moved = firstTradable < klines.count ? "trading starts \(UTC.minuteString(klines[firstTradable].openTime))" : "it never trades"
                notes.append(
                    "\(symbol): \(windowStart) bars before \(UTC.minuteString(klines[windowStart].openTime)), \(warmupBars) wanted for warm-up; \(moved)"
                )
            }
            var aligned = [Prediction?](repeating: nil, count: klines.count - windowStart)
            var alignedProbabilities = [Double?](repeating: nil, count: klines.count - windowStart)
            // The training rule (`FeatureTable.isPastWarmup`): the model never saw warm-up rows.
            let isPastWarmup = featured.isPastWarmup
            for i in firstTradable..<max(klines.count, firstTradable) {
                guard isPastWarmup[i] else { continue }
                alignedProbabilities[i - windowStart] = calibrated[i]
                guard let r = results[i] else { continue }
                aligned[i - windowStart] = Prediction(
                    symbol: symbol,
                    time: klines[i].closeTime + 1,
                    price: klines[i].close,
                    probabilityUp: r.probabilityUp,
                    confidence: r.confidence,
                    predictedMovePct: r.predictedMovePct
                )
            }
            predictions.append(aligned)
            probabilities.append(alignedProbabilities)
            replayed.append((symbol, Array(klines[windowStart...])))
        }
        timings["features_s"] = featureSeconds
        timings["predict_s"] = Trainer.seconds(clock.now - predictStart)
        var prepared = PreparedBacktest(series: replayed, predictions: predictions, timings: timings, warmupNotes: notes)
        prepared.probabilities = probabilities
        return prepared
    }

    /// Replays prepared bars and predictions through the ``TradingEngine`` with `settings`, on the
    /// simulated venue under the bar rule (``BarReplay``, the same core a parity-mode session runs).
    ///
    /// Every symbol's filters come from `filters` where given (exchangeInfo kept in the store), else
    /// from the one derivation over its bars, as the local exchange derives them.
    public static func replay(
        _ prepared: PreparedBacktest,
        settings: BacktestSettings,
        filters: [String: SymbolFilters] = [:]
    ) -> BacktestResult {
        let clock = ContinuousClock()
        let start = clock.now
        var timings = prepared.timings
        let series = prepared.series
        let predictions = prepared.predictions
        let firstTime = series.compactMap { $0.klines.first?.openTime }.min() ?? 0
        let engineSettings = EngineSettings(
            capital: settings.capital,
            signals: settings.signals,
            risk: settings.risk,
            execution: settings.execution,
            exits: .bar,
            session: "backtest"
        )
        var core = BarReplay(
            engine: TradingEngine(settings: engineSettings, startTime: firstTime),
            venue: SimulatedVenue(model: FillModel(settings.execution), rule: .bar, quoteBalance: settings.capital)
        )
        for (symbol, klines) in series {
            if let f = filters[symbol] ?? prepared.filters[symbol] ?? SymbolFilters.derived(from: klines) {
                core.setFilters(f, for: symbol)
            }
        }
        let logger = Logger(label: "scalper.backtest")
        var trades: [TradeRecord] = []
        var curve: [BacktestEquityPoint] = []
        curve.reserveCapacity(series.map(\.klines.count).max() ?? 0)
        func collect(_ records: [TradingRecord]) {
            for record in records {
                switch record {
                case .trade(let t):
                    trades.append(t)
                    RecordLog.log(record, to: logger, verbose: false)
                case .equity(let time, let equity): curve.append(BacktestEquityPoint(time: time, equity: equity))
                default: RecordLog.log(record, to: logger, verbose: false)
                }
            }
        }
        // Merge the series by bar time: one minute, every symbol's bar of it, decided once. The
        // minute's bars, predictions and records live in buffers reused from minute to minute.
        let symbols = series.map(\.symbol)
        let klines = series.map(\.klines)
        var cursor = [Int](repeating: 0, count: series.count)
        var replayed = 0
        var lastClose: Int64 = firstTime
        var bars: [SymbolBar] = []
        var due: [Prediction] = []
        var records: [TradingRecord] = []
        bars.reserveCapacity(series.count)
        due.reserveCapacity(series.count)
        while true {
            var next = Int64.max
            for s in klines.indices where cursor[s] < klines[s].count {
                next = min(next, klines[s][cursor[s]].openTime)
            }
            if next == .max { break }
            bars.removeAll(keepingCapacity: true)
            if !due.isEmpty { due.removeAll(keepingCapacity: true) }
            for s in klines.indices where cursor[s] < klines[s].count && klines[s][cursor[s]].openTime == next {
                bars.append(SymbolBar(symbol: symbols[s], bar: klines[s][cursor[s]]))
                if let p = predictions[s][cursor[s]] { due.append(p) }
                cursor[s] += 1
            }
            replayed += bars.count
            records.removeAll(keepingCapacity: true)
            core.step(MinuteClose(openTime: next, bars: bars, predictions: due), into: &records)
            collect(records)
            lastClose = next + 60_000
        }
        collect(core.finish(time: lastClose))
        timings["replay_s"] = Trainer.seconds(clock.now - start)

        let engine = core.engine
        let metrics = BacktestMetrics.compute(
            trades: trades,
            equityCurve: curve,
            startingCapital: settings.capital,
            finalEquity: engine.equity,
            feesPaid: engine.feesPaid,
            exposureMilliseconds: engine.exposureMilliseconds,
            series: series,
            signals: engine.signalCount,
            refusals: engine.risk.refusals
        )
        var result = BacktestResult(trades: trades, equityCurve: curve, metrics: metrics, barsReplayed: replayed, timings: timings)
        result.buyAndHold = Self.buyAndHold(series: series, at: curve.map(\.time), capital: settings.capital)
        return result
    }
}

extension BacktestEngine {
    /// Buy and hold of `series` at `times` (bar closes, ascending): `capital` split equally among
    /// the symbols with bars, each bought at its first open and marked at its latest close at or
    /// before each time.
    static func buyAndHold(series: [(symbol: String, klines: [Kline])], at times: [Int64], capital: Double) -> [BacktestEquityPoint] {
        let held = series.filter { !$0.klines.isEmpty }
        guard !held.isEmpty else { return [] }
        let share = capital / Double(held.count)
        var cursor = [Int](repeating: -1, count: held.count)
        return times.map { t in
            var equity = 0.0
            for (s, entry) in held.enumerated() {
                let k = entry.klines
                while cursor[s] + 1 < k.count && k[cursor[s] + 1].openTime + 60_000 <= t { cursor[s] += 1 }
                let price = cursor[s] >= 0 ? k[cursor[s]].close : k[0].open
                equity += share * price / k[0].open
            }
            return BacktestEquityPoint(time: t, equity: equity)
        }
    }

    /// The reliability of a forward-high label (the highest high of the next `horizon` bars
    /// reaches close × (1 + `threshold`)): ``reliability(_:label:bins:)`` with that label.
    public static func reliability(_ data: PreparedBacktest, horizon: Int, threshold: Double, bins: Int = 10) -> [ReliabilityBin] {
        reliability(data, label: LabelSpec(horizon: horizon, threshold: threshold), bins: bins)
    }
}

/// One bin of a reliability diagram.
public struct ReliabilityBin: Codable, Sendable, Equatable {
    /// Probability range.
    public var lower: Double
    /// Upper end.
    public var upper: Double
    /// Predictions in the bin.
    public var count: Int
    /// Their mean (nil: empty bin).
    public var meanPredicted: Double?
    /// Their realised positive rate (nil: empty bin).
    public var realisedRate: Double?
}

/// One symbol's bars from its kernel's start, with the feature rows the model reads.
private struct FeaturedSeries: Sendable {
    /// The bars the kernel ran over (warm-up history, then the window).
    var klines: [Kline]
    /// Their features as the model's floats.
    var rows: Matrix<Float>
    /// Rows past the model's warm-up rule.
    var isPastWarmup: [Bool]
}

/// Per-symbol result slots written by concurrent iterations (each index exactly once).
private final class SymbolSlots<Value: Sendable>: @unchecked Sendable {
    // @unchecked: every index is written by one iteration of concurrentPerform and read only
    // after it returns; the lock guards the array's storage against concurrent writes anyway.
    private var slots: [Value?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: Value) { lock.withLock { slots[i] = value } }
    // Non-nil: every slot was filled before `get` is called.
    func get(_ i: Int) -> Value { lock.withLock { slots[i]! } }
}
