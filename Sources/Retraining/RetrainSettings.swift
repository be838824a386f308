import Foundation

/// The `retrain:` section: the windows a retrain uses and the rules that decide a promotion.
public struct RetrainSettings: Codable, Equatable, Sendable {
    /// Training days (their most recent ``earlyStoppingFraction`` stops the boosting early).
    public var trainDays = 45.0
    /// Calibration days after training (the calibrator is fitted here, never on training rows).
    public var calibrationDays = 7.0
    /// Holdout days after calibration: champion and challenger are both judged here; neither saw it.
    public var holdoutDays = 7.0
    /// Share of the training days, at their end, that early stopping watches.
    public var earlyStoppingFraction = 0.15
    /// Bars between splits beyond the label horizon (the purge is max(label horizon, this)).
    public var purgeBars = 0
    /// The challenger's holdout log-loss must be lower than the champion's by at least this.
    public var minLogLossImprovement = 0.0005
    /// The Diebold–Mariano p-value below which the improvement counts as real.
    public var maxPValue = 0.05
    /// Lags of the Newey–West variance in bars (raised to the label horizon when smaller).
    public var dmLagBars = 0
    /// The challenger's holdout backtest net P&L may be at most this % of capital below the champion's.
    public var pnlTolerancePct = 0.5
    /// With no champion, the challenger's holdout AUC must reach this (the seed's check).
    public var minAUC = 0.55
    /// A holdout AUC above this is reported as a red flag (not a block).
    public var suspiciousAUC = 0.80
    /// Training (in-sample) AUC minus holdout AUC above this blocks the challenger.
    public var maxAUCGap = 0.25
    /// The shuffled-label canary's holdout AUC must lie within 0.5 ± this.
    public var canaryTolerance = 0.03
    /// Cut points per symbol of the truncation check.
    public var truncationCuts = 12
    /// Feature PSI (training window vs holdout) above this is reported as drift at WARNING.
    public var psiWarning = 0.25
    /// A session's live ECE (its predictions against realised labels) above this is logged at WARNING.
    public var liveECEWarning = 0.05
    /// Whether drift over a threshold in a session leaves `<models>/retrain.requested`, which a
    /// `scalper retrain --every` loop takes as a reason to run at once.
    public var retrainOnDrift = false
    /// A `--every` loop takes a drift request only this long after its last run started.
    public var driftRequestCooldownHours = 24.0

    enum CodingKeys: String, CodingKey {
        case trainDays = "train_days"
        case calibrationDays = "calibration_days"
        case holdoutDays = "holdout_days"
        case earlyStoppingFraction = "early_stopping_fraction"
        case purgeBars = "purge_bars"
        case minLogLossImprovement = "min_log_loss_improvement"
        case maxPValue = "max_p_value"
        case dmLagBars = "dm_lag_bars"
        case pnlTolerancePct = "pnl_tolerance_pct"
        case minAUC = "min_auc"
        case suspiciousAUC = "suspicious_auc"
        case maxAUCGap = "max_auc_gap"
        case canaryTolerance = "canary_tolerance"
        case truncationCuts = "truncation_cuts"
        case psiWarning = "psi_warning"
        case liveECEWarning = "live_ece_warning"
        case retrainOnDrift = "retrain_on_drift"
        case driftRequestCooldownHours = "drift_request_cooldown_hours"
    }

    /// The defaults.
    public init() {}

    /// Problems with the values, each naming its key under `retrain.` (empty: valid).
    public func problems() -> [String] {
        var out: [String] = []
        func check(_ ok: Bool, _ key: String, _ why: String) { if !ok { out.append("retrain.\(key): \(why)") } }
        check(trainDays >= 1, "train_days", "must be ≥ 1")
        check(calibrationDays >= 0.5, "calibration_days", "must be ≥ 0.5")
        check(holdoutDays >= 0.5, "holdout_days", "must be ≥ 0.5")
        check(earlyStoppingFraction > 0 && earlyStoppingFraction < 0.5, "early_stopping_fraction", "must be in (0, 0.5)")
        check(purgeBars >= 0, "purge_bars", "must be ≥ 0")
        check(minLogLossImprovement >= 0, "min_log_loss_improvement", "must be ≥ 0")
        check(maxPValue > 0 && maxPValue < 1, "max_p_value", "must be in (0, 1)")
        check(dmLagBars >= 0, "dm_lag_bars", "must be ≥ 0")
        check(pnlTolerancePct >= 0, "pnl_tolerance_pct", "must be ≥ 0")
        check(minAUC >= 0.5 && minAUC < 1, "min_auc", "must be in [0.5, 1)")
        check(suspiciousAUC > 0.5 && suspiciousAUC <= 1, "suspicious_auc", "must be in (0.5, 1]")
        check(maxAUCGap > 0, "max_auc_gap", "must be > 0")
        check(canaryTolerance > 0 && canaryTolerance < 0.5, "canary_tolerance", "must be in (0, 0.5)")
        check(truncationCuts >= 1, "truncation_cuts", "must be ≥ 1")
        check(psiWarning > 0, "psi_warning", "must be > 0")
        check(liveECEWarning > 0 && liveECEWarning < 1, "live_ece_warning", "must be in (0, 1)")
        check(driftRequestCooldownHours >= 0, "drift_request_cooldown_hours", "must be ≥ 0")
        return out
    }
}

/// The four windows of one retrain, each separated from the next by a purge of at least the label
/// horizon, ending at `asOf` (exclusive; open times in ms):
///
///     train [trainStart, earlyStopStart) | purge | early stop [.., trainEnd) | purge |
///     calibration [calibrationStart, calibrationEnd) | purge | holdout [holdoutStart, asOf)
public struct RetrainWindows: Codable, Equatable, Sendable {
    /// First training bar.
    public var trainStart: Int64
    /// First bar of the early-stopping tail (its rows start a purge later).
    public var earlyStopStart: Int64
    /// End of training, exclusive.
    public var trainEnd: Int64
    /// First calibration bar.
    public var calibrationStart: Int64
    /// End of calibration, exclusive.
    public var calibrationEnd: Int64
    /// First holdout bar.
    public var holdoutStart: Int64
    /// End of the holdout, exclusive: the job's as-of time.
    public var asOf: Int64
    /// The purge between windows, ms.
    public var purgeMs: Int64

    /// Lays the windows out backwards from `asOf`.
    public init(asOf: Int64, settings: RetrainSettings, intervalMs: Int64, labelHorizon: Int) {
        let day = 86_400_000.0
        let bar = intervalMs
        func span(_ days: Double) -> Int64 { Int64((days * day).rounded()) / bar * bar }
        let purge = Int64(max(labelHorizon, settings.purgeBars)) * bar
        self.asOf = asOf
        purgeMs = purge
        holdoutStart = asOf - span(settings.holdoutDays)
        calibrationEnd = holdoutStart - purge
        calibrationStart = calibrationEnd - span(settings.calibrationDays)
        trainEnd = calibrationStart - purge
        trainStart = trainEnd - span(settings.trainDays)
        earlyStopStart = trainEnd - span(settings.trainDays * settings.earlyStoppingFraction)
    }
}
