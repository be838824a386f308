import Foundation

/// How one model did on the holdout.
public struct ModelJudgement: Codable, Equatable, Sendable {
    /// The bundle.
    public var name: String
    /// Calibrated AUC (the ranking; calibration is monotone, so raw AUC is the same up to ties).
    public var auc: Double
    /// Raw (uncalibrated) AUC.
    public var aucRaw: Double
    /// Calibrated expected calibration error.
    public var ece: Double
    /// Calibrated log-loss: what promotion compares.
    public var logLoss: Double
    /// Calibrated Brier score.
    public var brier: Double
    /// Mean calibrated probability (against the holdout's positive rate).
    public var meanProbability: Double
    /// Its replay backtest of the holdout (nil: not run).
    public var backtest: BacktestSummary?
}

/// A replay backtest of the holdout, in brief.
public struct BacktestSummary: Codable, Equatable, Sendable {
    /// Closed trades.
    public var trades: Int
    /// Net P&L after fees (quote currency).
    public var netPnL: Double
    /// Share of winning trades.
    public var winRate: Double
    /// Largest peak-to-trough fall of equity (fraction).
    public var maxDrawdown: Double
    /// Fees paid.
    public var fees: Double

    enum CodingKeys: String, CodingKey {
        case trades
        case netPnL = "net_pnl"
        case winRate = "win_rate"
        case maxDrawdown = "max_drawdown"
        case fees
    }
}

/// One calibration candidate: chosen on the calibration days' last 40 %, shown on the holdout.
public struct CalibrationCandidate: Codable, Equatable, Sendable {
    /// `isotonic`, `isotonic-recent`, `isotonic-shift` or `none`.
    public var method: String
    /// ECE on the calibration days' last 40 % (fitted on the first 60 %): what chose.
    public var selectionECE: Double
    /// Fitted on all calibration days, ECE on the holdout (reported, never used to choose).
    public var holdoutECE: Double
    /// Fitted on all calibration days, log-loss on the holdout.
    public var holdoutLogLoss: Double
}

/// The Diebold–Mariano comparison as recorded.
public struct DMEvidence: Codable, Equatable, Sendable {
    /// Bar times compared (per-row losses averaged over the symbols of each bar time).
    public var count: Int
    /// Mean loss difference, challenger − champion (negative: the challenger is better).
    public var meanDifference: Double
    /// The statistic.
    public var statistic: Double
    /// One-sided p-value that the challenger's loss is lower.
    public var pValue: Double
    /// Newey–West lags.
    public var lag: Int
}

/// The leakage guards' findings.
public struct GuardEvidence: Codable, Equatable, Sendable {
    /// The truncation check.
    public var truncation: TruncationCheck?
    /// The shuffled-label canary's holdout AUC (nil: not run).
    public var canaryAUC: Double?
    /// Rounds the canary kept.
    public var canaryRounds: Int?
    /// The challenger's in-sample AUC on its training rows.
    public var trainAUC: Double?
    /// Training AUC − holdout AUC.
    public var aucGap: Double?

    /// Nothing checked yet.
    public init() {}
}

/// One rule of the decision.
public struct RuleCheck: Codable, Equatable, Sendable {
    /// Its name (`truncation`, `canary`, `auc_gap`, `min_auc`, `log_loss_margin`, `diebold_mariano`, `backtest_pnl`, …).
    public var rule: String
    /// Whether it held.
    public var passed: Bool
    /// The figures, in words.
    public var detail: String
    /// Whether failing it blocks (a leakage guard) rather than merely keeps the champion.
    public var blocking: Bool
}

/// A feature's population stability index, training window against the holdout.
public struct FeatureDrift: Codable, Equatable, Sendable {
    /// The feature.
    public var feature: String
    /// Its PSI.
    public var psi: Double
}

/// Everything a retrain decided on: written as `evidence.json` in the run's folder and with the
/// registry's decision.
public struct RetrainEvidence: Codable, Equatable, Sendable {
    /// The run.
    public var runID: String
    /// `retrain` or `calibration-only`.
    public var mode: String
    /// The as-of time (end of the holdout, exclusive).
    public var asOf: String
    /// Each window as [from, to) in ISO 8601: train, early_stop, calibration, holdout.
    public var windows: [String: [String]]
    /// Symbols used per split.
    public var symbols: [String: [String]]
    /// Symbols left out of a split, with why.
    public var leftOut: [String]
    /// Rows per split.
    public var rows: [String: Int]
    /// Positive rate per split.
    public var positiveRates: [String: Double]
    /// The challenger on the holdout.
    public var challenger: ModelJudgement?
    /// The champion on the holdout (nil: none).
    public var champion: ModelJudgement?
    /// Calibration candidates.
    public var calibration: [CalibrationCandidate]
    /// The calibration the challenger carries.
    public var calibrationChosen: String?
    /// The Diebold–Mariano test (nil: no champion, or no test possible).
    public var dieboldMariano: DMEvidence?
    /// The leakage guards.
    public var guards: GuardEvidence
    /// The most drifted features (largest PSI first).
    public var drift: [FeatureDrift]
    /// The rules, in the order checked.
    public var rules: [RuleCheck]
    /// Warnings (not blocks).
    public var warnings: [String]
    /// Seconds per stage, and `total_s`.
    public var timings: [String: Double]

    /// An empty record for a run.
    public init(runID: String, mode: String, asOf: String) {
        self.runID = runID
        self.mode = mode
        self.asOf = asOf
        windows = [:]
        symbols = [:]
        leftOut = []
        rows = [:]
        positiveRates = [:]
        calibration = []
        guards = GuardEvidence()
        drift = []
        rules = []
        warnings = []
        timings = [:]
    }

    /// The record as JSON (snake_case keys, sorted; non-finite numbers as strings).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }
}
