import Foundation

/// What the model says about one symbol at one bar's close, as the signal generator sees it.
public struct Prediction: Codable, Equatable, Sendable {
    /// The symbol.
    public var symbol: String
    /// Close time of the bar the prediction is for (ms).
    public var time: Int64
    /// The bar's close.
    public var price: Double
    /// Calibrated probability of the up-move.
    public var probabilityUp: Double
    /// 0…1 confidence.
    public var confidence: Double
    /// Predicted forward move, percent.
    public var predictedMovePct: Double

    /// Creates a prediction.
    public init(symbol: String, time: Int64, price: Double, probabilityUp: Double, confidence: Double, predictedMovePct: Double) {
        self.symbol = symbol
        self.time = time
        self.price = price
        self.probabilityUp = probabilityUp
        self.confidence = confidence
        self.predictedMovePct = predictedMovePct
    }
}

/// A proposed long entry with its exits, size and reason.
public struct Signal: Codable, Equatable, Sendable {
    /// The symbol.
    public var symbol: String
    /// When the signal was made (ms).
    public var time: Int64
    /// Reference entry price (the close the signal saw; the fill comes later).
    public var entryPrice: Double
    /// Stop-loss price.
    public var stopLoss: Double
    /// Take-profit price.
    public var takeProfit: Double
    /// Suggested position size as a share of capital: the risk formula
    /// min(max_position_pct, max_loss_per_trade_pct / stop distance) before account limits.
    public var suggestedCapitalFraction: Double
    /// Composite score used to rank signals (higher first).
    public var score: Double
    /// Why, in words.
    public var reason: String
    /// The calibrated probability behind it.
    public var probability: Double
    /// The confidence behind it.
    public var confidence: Double
}

/// Turns predictions into ranked signals.
public struct SignalGenerator: Sendable {
    /// The thresholds and exit distances.
    public var configuration: SignalConfiguration
    /// The sizing rules the suggested size follows.
    public var risk: RiskConfiguration

    /// Creates a generator.
    public init(configuration: SignalConfiguration, risk: RiskConfiguration = RiskConfiguration()) {
        self.configuration = configuration
        self.risk = risk
    }

    /// Signals for `predictions`, best first, skipping symbols in `excluded` (already open or pending).
    ///
    /// Composite score = (p − min_probability) · confidence · max(predicted move, 0.01 %), so a signal
    /// ranks higher the surer, the more agreed-on and the larger the expected move is.
    public func signals(for predictions: [Prediction], excluding excluded: Set<String>) -> [Signal] {
        let c = configuration
        var out: [Signal] = []
        for p in predictions where !excluded.contains(p.symbol) {
            guard p.probabilityUp >= c.minProbability, p.confidence >= c.minConfidence,
                p.predictedMovePct >= c.minPredictedMovePct, p.price > 0
            else { continue }
            let score = (p.probabilityUp - c.minProbability + 1e-6) * p.confidence * max(p.predictedMovePct, 0.01)
            let reason = Self.reason(probability: p.probabilityUp, minimum: c.minProbability, confidence: p.confidence, move: p.predictedMovePct)
            out.append(
                Signal(
                    symbol: p.symbol,
                    time: p.time,
                    entryPrice: p.price,
                    stopLoss: p.price * (1 - c.stopLossPct),
                    takeProfit: p.price * (1 + c.takeProfitPct),
                    suggestedCapitalFraction: min(risk.maxPositionPct, risk.maxLossPerTradePct / c.stopLossPct),
                    score: score,
                    reason: reason,
                    probability: p.probabilityUp,
                    confidence: p.confidence
                )
            )
        }
        out.sort { $0.score != $1.score ? $0.score > $1.score : $0.symbol < $1.symbol }
        return Array(out.prefix(c.maxSignalsPerBar))
    }

    /// A signal's words: `String(format: "p=%.3f ≥ %.2f, confidence %.2f, predicted move %.3f%%", …)`,
    /// built from C's `vsnprintf` (what Foundation's formatter calls for each `%f`) without
    /// Foundation's format-string parsing, which cost a backtest ~12 µs a signal.
    static func reason(probability: Double, minimum: Double, confidence: Double, move: Double) -> String {
        "p=\(fixed(probability, 3)) ≥ \(fixed(minimum, 2)), confidence \(fixed(confidence, 2)), predicted move \(fixed(move, 3))%"
    }

    /// `x` with `digits` decimals, as `String(format: "%.<digits>f", x)` writes it.
    static func fixed(_ x: Double, _ digits: Int32) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 48) { buffer -> String in
            let written = withVaList([digits, x]) { vsnprintf(buffer.baseAddress, buffer.count, "%.*f", $0) }
            guard written >= 0, Int(written) < buffer.count else { return String(format: "%.*f", digits, x) }
            // vsnprintf wrote `written` bytes and a terminating NUL inside `buffer`.
            return String(cString: buffer.baseAddress!)
        }
    }
}
