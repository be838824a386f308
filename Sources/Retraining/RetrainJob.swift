public import Backtest
import Features
public import Foundation
import LinearAlgebra
public import Model
public import Registry
public import ScalperCore
import Trading

/// One `scalper retrain` run as the library takes it.
public struct RetrainRequest {
    /// Each symbol's bars from before the training window (warm-up) to `asOf`, oldest first.
    public var series: [(symbol: String, klines: [Kline])]
    /// The bars' interval.
    public var interval: KlineInterval
    /// The `model:` section (the challenger's settings).
    public var configuration: ModelConfiguration
    /// The `retrain:` section.
    public var settings: RetrainSettings
    /// Capital, signals, risk and execution of the holdout backtests.
    public var backtest: BacktestSettings
    /// Bars the trading path warms its features up over (`trading.warmup_bars`).
    public var tradingWarmupBars: Int
    /// Exchange filters per symbol (missing: derived from the bars, as a backtest does).
    public var filters: [String: SymbolFilters]
    /// End of the holdout, exclusive (ms, on the bar grid).
    public var asOf: Int64
    /// The registry the challenger is written to and judged in.
    public var registry: ModelRegistry
    /// The run's id (its report folder under `<registry folder>/retrain-runs/`).
    public var runID: String
    /// The challenger bundle's name.
    public var challengerName: String
    /// The commit the binary was built from.
    public var gitCommit: String
    /// The feature computation (``FeatureSource/batch``; tests pass a leaky one).
    public var features: FeatureSource = .batch
    /// Train the challenger on shuffled labels (tests: a worthless challenger must be rejected).
    public var shuffleLabelsSeed: UInt64?

    /// A request with the batch features and real labels.
    public init(
        series: [(symbol: String, klines: [Kline])],
        interval: KlineInterval,
        configuration: ModelConfiguration,
        settings: RetrainSettings,
        backtest: BacktestSettings,
        tradingWarmupBars: Int,
        filters: [String: SymbolFilters],
        asOf: Int64,
        registry: ModelRegistry,
        runID: String,
        challengerName: String,
        gitCommit: String
    ) {
        self.series = series
        self.interval = interval
        self.configuration = configuration
        self.settings = settings
        self.backtest = backtest
        self.tradingWarmupBars = tradingWarmupBars
        self.filters = filters
        self.asOf = asOf
        self.registry = registry
        self.runID = runID
        self.challengerName = challengerName
        self.gitCommit = gitCommit
    }
}

/// How a run ended.
public enum RetrainStatus: String, Codable, Sendable {
    /// The challenger is the champion now.
    case promoted
    /// The challenger was judged and the champion stays.
    case kept
    /// There is no champion, and the challenger failed the first-champion check.
    case rejected
    /// A leakage guard blocked the run: nothing is promoted, and the pipeline needs a look.
    case blocked
}

/// What a run decided, with its evidence and report.
public struct RetrainOutcome: Sendable {
    /// The ending.
    public var status: RetrainStatus
    /// One line: the decision and the figures behind it.
    public var verdict: String
    /// The challenger's name (nil: none was trained).
    public var challenger: String?
    /// The champion it was judged against (nil: none).
    public var champion: String?
    /// Everything the decision rests on.
    public var evidence: RetrainEvidence
    /// The run's report.md.
    public var report: URL
}

/// Why a run could not be carried out (as opposed to a verdict).
public struct RetrainError: Error, CustomStringConvertible, Sendable {
    /// The message.
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The retraining use-case: split, guard, train, calibrate, judge against the champion, decide,
/// record, report. `scalper retrain` and the tests run this; nothing here reads the wall clock
/// except for stage timings.
public enum RetrainJob {
    /// Runs a full retrain (see README, "Retraining").
    public static func run(_ request: RetrainRequest, log: (String) -> Void = { _ in }) throws -> RetrainOutcome {
        let clock = ContinuousClock()
        let started = clock.now
        var stage = clock.now
        func lap(_ name: String, _ evidence: inout RetrainEvidence) {
            evidence.timings[name] = Trainer.seconds(clock.now - stage)
            stage = clock.now
        }
        let settings = request.settings
        let configuration = request.configuration
        let windows = RetrainWindows(
            asOf: request.asOf,
            settings: settings,
            intervalMs: request.interval.milliseconds,
            labelHorizon: configuration.labelHorizonBars(interval: request.interval)
        )
        var evidence = RetrainEvidence(runID: request.runID, mode: "retrain", asOf: UTC.isoString(request.asOf))
        evidence.windows = describe(windows)

        // 1. Data: rows of every symbol, then the four splits by time.
        let warmupMs = Int64(configuration.warmupBars + 10) * request.interval.milliseconds
        let series = request.series.map { entry in
            (symbol: entry.symbol, klines: entry.klines.filter { $0.openTime >= windows.trainStart - warmupMs && $0.openTime < windows.asOf })
        }
        let (rows, gaps) = try DatasetBuilder.rows(from: series, interval: request.interval, configuration: configuration, features: request.features)
        let parts = split(rows, windows: windows)
        for (name, part) in parts.named {
            evidence.rows[name] = part.count
            evidence.positiveRates[name] = part.positiveRate
            let present = Set(part.symbolIndex).sorted().map { rows.symbols[$0] }
            evidence.symbols[name] = present
            for symbol in rows.symbols where !present.contains(symbol) {
                let line = "\(symbol): no bars in the \(name.replacingOccurrences(of: "_", with: "-")) window \(evidence.windows[name]?.joined(separator: " … ") ?? ""); left out of it"
                evidence.leftOut.append(line)
                log(line)
            }
        }
        for (name, part) in parts.named where part.count < 50 {
            throw RetrainError("not enough data: the \(name.replacingOccurrences(of: "_", with: "-")) window has \(part.count) rows (need at least 50); windows \(describeLine(windows))")
        }
        for (name, part) in parts.named {
            let positives = part.labels.reduce(0, +)
            if positives == 0 || positives == Double(part.count) {
                throw RetrainError("every label in the \(name) window is \(positives == 0 ? 0 : 1) (\(part.count) rows): nothing to learn or judge")
            }
        }
        lap("data_s", &evidence)

        // 2. The truncation check, before any training: a leaking feature makes every later figure a lie.
        let truncation = try LeakageGuards.truncationCheck(
            series: series,
            interval: request.interval,
            source: request.features,
            label: configuration.labelSpec(interval: request.interval),
            cutsPerSymbol: settings.truncationCuts,
            seed: UInt64(truncatingIfNeeded: request.asOf)
        )
        evidence.guards.truncation = truncation
        evidence.rules.append(
            RuleCheck(
                rule: "truncation",
                passed: truncation.passed,
                detail: truncation.firstDifference ?? "\(truncation.cuts) cut points, \(truncation.valuesCompared) feature values unchanged with the later bars removed or perturbed",
                blocking: true
            )
        )
        lap("truncation_s", &evidence)
        let championEntry = try request.registry.champion()
        if !truncation.passed {
            evidence.timings["total_s"] = Trainer.seconds(clock.now - started)
            let verdict = "BLOCKED: the truncation check failed (\(truncation.firstDifference ?? "")); nothing trained, \(championEntry.map { "champion \($0.name) stays" } ?? "no champion")"
            let report = try writeReport(request: request, evidence: evidence, verdict: verdict, svgs: [:])
            return RetrainOutcome(status: .blocked, verdict: verdict, challenger: nil, champion: championEntry?.name, evidence: evidence, report: report)
        }

        // 3. The challenger: fitted on train, stopped early on its tail, calibrated on the calibration days.
        let summaries = parts.named.map { name, part in
            SplitSummary(
                name: name == "early_stop" ? "validation" : (name == "holdout" ? "test" : name),
                rows: part.count,
                positives: Int(part.labels.reduce(0, +)),
                positiveRate: part.positiveRate,
                from: UTC.isoString(part.openTimes.min() ?? 0),
                to: UTC.isoString(part.openTimes.max() ?? 0)
            )
        }
        let dataset = PooledDataset(
            train: parts.train,
            validation: parts.earlyStop,
            test: parts.holdout,
            splits: summaries,
            dataHash: DatasetBuilder.hash([parts.train, parts.earlyStop, parts.calibration]),
            gapCount: gaps
        )
        var trainingRequest = TrainingRequest(
            series: [],
            interval: request.interval,
            configuration: configuration,
            windowFrom: windows.trainStart,
            windowTo: windows.calibrationEnd,
            name: request.challengerName,
            modelsDirectory: request.registry.folder,
            gitCommit: request.gitCommit
        )
        trainingRequest.series = series.map { ($0.symbol, []) }
        let outcome = try TrainingPipeline.train(
            dataset,
            calibrationRows: parts.calibration,
            request: trainingRequest,
            shuffleLabelsSeed: request.shuffleLabelsSeed
        )
        try request.registry.register(bundle: outcome.bundle, origin: .retrain, parent: championEntry?.name)
        log("challenger \(request.challengerName): \(outcome.model.bestIteration + 1) rounds, holdout AUC \(fmt(outcome.model.testCalibrated.auc))")
        lap("train_s", &evidence)

        // 4. The other guards: the canary and the train–holdout gap.
        let canary = try Trainer.canary(dataset, configuration: configuration, seed: 0x5EED ^ UInt64(truncatingIfNeeded: request.asOf))
        evidence.guards.canaryAUC = canary.auc
        evidence.guards.canaryRounds = canary.rounds
        // Chance's spread grows as the holdout shrinks: the allowance is the configured one or four
        // standard errors of an AUC under no signal (Hanley–McNeil), whichever is wider.
        let positives = Double(canary.positives)
        let negatives = Double(parts.holdout.count - canary.positives)
        let nullSE = positives > 0 && negatives > 0 ? ((positives + negatives + 1) / (12 * positives * negatives)).squareRoot() : .infinity
        let allowance = max(settings.canaryTolerance, 4 * nullSE)
        evidence.rules.append(
            RuleCheck(
                rule: "canary",
                passed: abs(canary.auc - 0.5) <= allowance,
                detail: "a canary trained on shuffled labels (random, keyed by row) scores AUC \(fmt(canary.auc)) against the holdout's (allowed 0.5 ± \(fmt(allowance)))",
                blocking: true
            )
        )
        lap("canary_s", &evidence)
        let holdoutAUC = outcome.model.testRaw.auc
        let gap = outcome.model.trainAUC - holdoutAUC
        evidence.guards.trainAUC = outcome.model.trainAUC
        evidence.guards.aucGap = gap
        evidence.rules.append(
            RuleCheck(
                rule: "auc_gap",
                passed: gap <= settings.maxAUCGap,
                detail: "training AUC \(fmt(outcome.model.trainAUC)) − holdout AUC \(fmt(holdoutAUC)) = \(fmt(gap)) (limit \(fmt(settings.maxAUCGap)))",
                blocking: true
            )
        )
        if holdoutAUC > settings.suspiciousAUC {
            evidence.warnings.append("holdout AUC \(fmt(holdoutAUC)) is above \(fmt(settings.suspiciousAUC)), the seed's red flag: check for leakage (the guards passed)")
        }

        // 5. Judge: the challenger (from its bundle, as a session would load it) and the champion on the holdout.
        let challenger = try ModelBundle.load(outcome.bundle.path)
        try challenger.setThreads(configuration.effectiveThreads)
        let holdout = parts.holdout
        let challengerRawCal = try challenger.rawProbabilities(parts.calibration.features)
        let challengerRaw = try challenger.rawProbabilities(holdout.features)
        let challengerP = challenger.calibration.apply(challengerRaw)
        evidence.calibrationChosen = outcome.model.calibrationChoice.method
        let calOrder = parts.calibration.openTimes.indices.sorted { parts.calibration.openTimes[$0] < parts.calibration.openTimes[$1] }
        for method in configuration.calibrationCandidates {
            let map = Trainer.calibration(method, scores: challengerRawCal, labels: parts.calibration.labels, timeOrder: calOrder)
            let p = map.apply(challengerRaw)
            evidence.calibration.append(
                CalibrationCandidate(
                    method: method,
                    selectionECE: outcome.model.calibrationChoice.heldOutECE[method] ?? .nan,
                    holdoutECE: Metrics.ece(p, holdout.labels),
                    holdoutLogLoss: Metrics.logLoss(p, holdout.labels)
                )
            )
        }
        var challengerJudgement = judgement(name: request.challengerName, raw: challengerRaw, calibrated: challengerP, labels: holdout.labels)
        var championJudgement: ModelJudgement?
        var champion: Predictor?
        var championP: [Double] = []
        if let entry = championEntry {
            do {
                let loaded = try ModelBundle.load(entry.path)
                try loaded.setThreads(configuration.effectiveThreads)
                let m = loaded.metadata
                let asked = configuration.labelSpec(interval: request.interval)
                if m.labelSpec != asked {
                    evidence.warnings.append(
                        "the champion \(entry.name) predicts another label (\(m.labelSpec.summary)) than model: asks for (\(asked.summary)); the two cannot be compared on one holdout"
                    )
                } else {
                    let raw = try loaded.rawProbabilities(holdout.features)
                    championP = loaded.calibration.apply(raw)
                    championJudgement = judgement(name: entry.name, raw: raw, calibrated: championP, labels: holdout.labels)
                    champion = loaded
                    if m.seenThrough + windows.purgeMs > windows.holdoutStart {
                        evidence.warnings.append("the champion's training window reaches \(m.windowTo), into the holdout: its figures are in-sample there (the comparison favours it)")
                    }
                }
            } catch {
                evidence.warnings.append("the champion \(entry.name) cannot be loaded (\(error)); the challenger is judged as if there were none")
            }
        }
        lap("evaluate_s", &evidence)

        // 6. Replay backtests of the holdout, as `scalper backtest` runs them.
        let holdoutSymbols = Set(evidence.symbols["holdout"] ?? [])
        let tradingSeries = series.filter { holdoutSymbols.contains($0.symbol) }
        challengerJudgement.backtest = try backtest(challenger, series: tradingSeries, request: request, from: windows.holdoutStart)
        if let champion, championJudgement != nil {
            championJudgement?.backtest = try backtest(champion, series: tradingSeries, request: request, from: windows.holdoutStart)
        }
        evidence.challenger = challengerJudgement
        evidence.champion = championJudgement
        lap("backtest_s", &evidence)

        // 7. Drift: each feature's training distribution against the holdout's.
        let psi = Drift.psi(reference: parts.train.features, recent: holdout.features)
        evidence.drift = zip(FeatureSpec.names, psi).map { FeatureDrift(feature: $0, psi: $1) }
            .filter { $0.psi.isFinite }.sorted { $0.psi > $1.psi }.prefix(10).map { $0 }
        let drifted = evidence.drift.filter { $0.psi > settings.psiWarning }
        if !drifted.isEmpty {
            evidence.warnings.append(
                "feature drift (PSI above \(fmt(settings.psiWarning, 2)), training window → holdout): " + drifted.map { "\($0.feature) \(fmt($0.psi, 2))" }.joined(separator: ", ")
            )
        }
        lap("drift_s", &evidence)

        // 8. Decide.
        let blocked = evidence.rules.filter { $0.blocking && !$0.passed }
        var promoteReplacing: String?
        var status: RetrainStatus
        var verdict: String
        if !blocked.isEmpty {
            status = .blocked
            verdict = "BLOCKED \(request.challengerName): " + blocked.map(\.detail).joined(separator: "; ")
        } else if let championJudgement, let championEntry {
            let margin = championJudgement.logLoss - challengerJudgement.logLoss
            evidence.rules.append(
                RuleCheck(
                    rule: "log_loss_margin",
                    passed: margin >= settings.minLogLossImprovement,
                    detail: "holdout log-loss \(fmt(championJudgement.logLoss, 5)) → \(fmt(challengerJudgement.logLoss, 5)) (improvement \(fmt(margin, 5)); needed \(fmt(settings.minLogLossImprovement, 5)))",
                    blocking: false
                )
            )
            let lag = max(configuration.labelHorizonBars(interval: request.interval), settings.dmLagBars)
            let dm = dieboldMariano(challenger: challengerP, champion: championP, holdout: holdout, lag: lag)
            evidence.dieboldMariano = dm
            evidence.rules.append(
                RuleCheck(
                    rule: "diebold_mariano",
                    passed: (dm?.pValue ?? 1) < settings.maxPValue,
                    detail: dm.map { "DM statistic \(fmt($0.statistic, 3)) over \($0.count) bar times, Newey–West lag \($0.lag): p = \(fmt($0.pValue, 4)) (needed < \(settings.maxPValue))" }
                        ?? "no test possible (the losses do not differ)",
                    blocking: false
                )
            )
            let tolerance = request.backtest.capital * settings.pnlTolerancePct / 100
            let challengerPnL = challengerJudgement.backtest?.netPnL ?? 0
            let championPnL = championJudgement.backtest?.netPnL ?? 0
            evidence.rules.append(
                RuleCheck(
                    rule: "backtest_pnl",
                    passed: challengerPnL >= championPnL - tolerance,
                    detail: "holdout replay net P&L \(fmt(challengerPnL, 2)) vs the champion's \(fmt(championPnL, 2)) (tolerance \(fmt(tolerance, 2)))",
                    blocking: false
                )
            )
            let failed = evidence.rules.filter { !$0.passed }
            if failed.isEmpty {
                status = .promoted
                promoteReplacing = championEntry.name
                verdict = "PROMOTED \(request.challengerName) over \(championEntry.name): log-loss \(fmt(championJudgement.logLoss, 5)) → \(fmt(challengerJudgement.logLoss, 5)), DM p = \(fmt(dm?.pValue ?? .nan, 4)), holdout P&L \(fmt(challengerPnL, 2)) vs \(fmt(championPnL, 2))"
            } else {
                status = .kept
                verdict = "KEPT \(championEntry.name); \(request.challengerName) rejected: " + failed.map(\.detail).joined(separator: "; ")
            }
        } else {
            let auc = challengerJudgement.auc
            let comparable = championEntry == nil || !evidence.warnings.contains { $0.contains("cannot be compared") }
            evidence.rules.append(
                RuleCheck(
                    rule: "min_auc",
                    passed: auc >= settings.minAUC && comparable,
                    detail: comparable
                        ? "no champion to compare with: holdout AUC \(fmt(auc)) (needed ≥ \(fmt(settings.minAUC)))"
                        : "the champion predicts another label: promote by hand (scalper models promote) if the new label is meant",
                    blocking: false
                )
            )
            if auc >= settings.minAUC && comparable {
                status = .promoted
                // Over the registered champion when its bundle could not be loaded (the warning says so).
                promoteReplacing = championEntry?.name
                verdict = "PROMOTED \(request.challengerName) (first champion): holdout AUC \(fmt(auc)) ≥ \(fmt(settings.minAUC)), log-loss \(fmt(challengerJudgement.logLoss, 5)), holdout P&L \(fmt(challengerJudgement.backtest?.netPnL ?? 0, 2))"
            } else {
                status = championEntry == nil ? .rejected : .kept
                verdict = "REJECTED \(request.challengerName): " + (evidence.rules.last?.detail ?? "")
            }
        }
        evidence.timings["total_s"] = Trainer.seconds(clock.now - started)
        let report = try writeReport(
            request: request,
            evidence: evidence,
            verdict: verdict,
            svgs: [
                "reliability.svg": ModelReport.reliabilitySVG(
                    raw: championP.isEmpty ? [] : Metrics.reliability(championP, holdout.labels),
                    calibrated: Metrics.reliability(challengerP, holdout.labels),
                    names: (championEntry.map { "champion \($0.name)" } ?? "no champion", "challenger \(request.challengerName)")
                ),
                "importance.svg": (try? String(contentsOf: outcome.bundle.appendingPathComponent("importance.svg"), encoding: .utf8)) ?? "",
            ]
        )
        let json = evidence.json()
        switch status {
        case .promoted:
            // Only over the champion it was judged against: a manual promote or rollback meanwhile wins.
            if try !request.registry.promote(request.challengerName, replacing: promoteReplacing, reason: verdict, evidence: json) {
                status = .kept
                verdict = "KEPT \(try request.registry.champion()?.name ?? "no champion"): the champion changed while \(request.challengerName) was judged; not promoted"
            }
        case .kept, .blocked, .rejected:
            try request.registry.reject(request.challengerName, reason: verdict, evidence: json)
        }
        return RetrainOutcome(status: status, verdict: verdict, challenger: request.challengerName, champion: championEntry?.name, evidence: evidence, report: report)
    }

    /// Refits the champion's calibration on the newest calibration days and deploys it (a new
    /// bundle, the same boosters) only if it beats the current calibration on the holdout days
    /// after them by the promotion rule's log-loss margin and Diebold–Mariano test.
    public static func recalibrate(_ request: RetrainRequest, log: (String) -> Void = { _ in }) throws -> RetrainOutcome {
        let clock = ContinuousClock()
        let started = clock.now
        let settings = request.settings
        guard let entry = try request.registry.champion() else {
            throw RetrainError("--calibration-only needs a champion; there is none yet (run scalper retrain without it first)")
        }
        let champion = try ModelBundle.load(entry.path)
        try champion.setThreads(request.configuration.effectiveThreads)
        var configuration = champion.metadata.configuration
        configuration.threads = request.configuration.threads
        configuration.calibrationCandidates = request.configuration.calibrationCandidates
        let windows = RetrainWindows(
            asOf: request.asOf,
            settings: settings,
            intervalMs: request.interval.milliseconds,
            labelHorizon: configuration.labelHorizonBars(interval: request.interval)
        )
        let seen = champion.metadata.seenThrough
        guard windows.calibrationStart >= seen + windows.purgeMs else {
            throw RetrainError(
                "--calibration-only: the calibration days (from \(UTC.minuteString(windows.calibrationStart))) overlap what the champion \(entry.name) was trained or calibrated on (through \(UTC.minuteString(seen))): its scores there are in-sample; choose a later --as-of"
            )
        }
        var evidence = RetrainEvidence(runID: request.runID, mode: "calibration-only", asOf: UTC.isoString(request.asOf))
        evidence.windows = describe(windows).filter { $0.key == "calibration" || $0.key == "holdout" }
        let warmupMs = Int64(configuration.warmupBars + 10) * request.interval.milliseconds
        let series = request.series.map { entry in
            (symbol: entry.symbol, klines: entry.klines.filter { $0.openTime >= windows.calibrationStart - warmupMs && $0.openTime < windows.asOf })
        }
        let (rows, _) = try DatasetBuilder.rows(from: series, interval: request.interval, configuration: configuration, features: request.features)
        let parts = split(rows, windows: windows)
        for (name, part) in [("calibration", parts.calibration), ("holdout", parts.holdout)] {
            evidence.rows[name] = part.count
            evidence.positiveRates[name] = part.positiveRate
            let present = Set(part.symbolIndex).sorted().map { rows.symbols[$0] }
            evidence.symbols[name] = present
            for symbol in rows.symbols where !present.contains(symbol) {
                let line = "\(symbol): no bars in the \(name) window \(evidence.windows[name]?.joined(separator: " … ") ?? ""); left out of it"
                evidence.leftOut.append(line)
                log(line)
            }
            let positives = part.labels.reduce(0, +)
            guard part.count >= 50, positives > 0, positives < Double(part.count) else {
                throw RetrainError("not enough data: the \(name) window has \(part.count) rows, \(Int(positives)) positive; windows \(describeLine(windows))")
            }
        }
        let calRaw = try champion.rawProbabilities(parts.calibration.features)
        let (fresh, choice) = Trainer.chooseCalibration(
            scores: calRaw,
            labels: parts.calibration.labels,
            times: parts.calibration.openTimes,
            candidates: configuration.calibrationCandidates
        )
        let holdoutRaw = try champion.rawProbabilities(parts.holdout.features)
        let currentP = champion.calibration.apply(holdoutRaw)
        let freshP = fresh.apply(holdoutRaw)
        let order = parts.calibration.openTimes.indices.sorted { parts.calibration.openTimes[$0] < parts.calibration.openTimes[$1] }
        for method in configuration.calibrationCandidates {
            let p = Trainer.calibration(method, scores: calRaw, labels: parts.calibration.labels, timeOrder: order).apply(holdoutRaw)
            evidence.calibration.append(
                CalibrationCandidate(
                    method: method,
                    selectionECE: choice.heldOutECE[method] ?? .nan,
                    holdoutECE: Metrics.ece(p, parts.holdout.labels),
                    holdoutLogLoss: Metrics.logLoss(p, parts.holdout.labels)
                )
            )
        }
        evidence.calibrationChosen = choice.method
        let name = request.challengerName
        let current = judgement(name: entry.name, raw: holdoutRaw, calibrated: currentP, labels: parts.holdout.labels)
        let candidate = judgement(name: name, raw: holdoutRaw, calibrated: freshP, labels: parts.holdout.labels)
        evidence.champion = current
        evidence.challenger = candidate
        let margin = current.logLoss - candidate.logLoss
        evidence.rules.append(
            RuleCheck(
                rule: "log_loss_margin",
                passed: margin >= settings.minLogLossImprovement,
                detail: "holdout log-loss \(fmt(current.logLoss, 5)) (current calibration) → \(fmt(candidate.logLoss, 5)) (\(choice.method) refitted; improvement \(fmt(margin, 5)), needed \(fmt(settings.minLogLossImprovement, 5)))",
                blocking: false
            )
        )
        let dm = dieboldMariano(challenger: freshP, champion: currentP, holdout: parts.holdout, lag: max(configuration.labelHorizonBars(interval: request.interval), settings.dmLagBars))
        evidence.dieboldMariano = dm
        evidence.rules.append(
            RuleCheck(
                rule: "diebold_mariano",
                passed: (dm?.pValue ?? 1) < settings.maxPValue,
                detail: dm.map { "DM statistic \(fmt($0.statistic, 3)), lag \($0.lag): p = \(fmt($0.pValue, 4)) (needed < \(settings.maxPValue))" } ?? "no test possible",
                blocking: false
            )
        )
        let passed = evidence.rules.allSatisfy(\.passed)
        var metadata = champion.metadata
        metadata.name = name
        metadata.calibration = choice
        // A new calibration moves the probabilities: the signal threshold is chosen again, on the
        // same calibration days (never the holdout).
        let threshold = Trainer.chooseSignalThreshold(
            probabilities: fresh.apply(calRaw),
            labels: parts.calibration.labels,
            barriers: configuration.label == LabelKind.tripleBarrier.rawValue ? configuration.tripleBarrier : nil,
            minimumSignals: configuration.thresholdMinSignals,
            fallback: configuration.threshold
        )
        metadata.signalThreshold = threshold.threshold
        metadata.signalThresholdRule = threshold.rule
        metadata.testRaw = Metrics.classification(holdoutRaw, parts.holdout.labels, threshold: configuration.threshold)
        metadata.testCalibrated = Metrics.classification(freshP, parts.holdout.labels, threshold: configuration.threshold)
        metadata.splits = metadata.splits.filter { $0.name == "train" || $0.name == "validation" } + [
            SplitSummary(
                name: "calibration", rows: parts.calibration.count, positives: Int(parts.calibration.labels.reduce(0, +)),
                positiveRate: parts.calibration.positiveRate, from: UTC.isoString(windows.calibrationStart), to: UTC.isoString(windows.calibrationEnd)
            ),
            SplitSummary(
                name: "test", rows: parts.holdout.count, positives: Int(parts.holdout.labels.reduce(0, +)),
                positiveRate: parts.holdout.positiveRate, from: UTC.isoString(windows.holdoutStart), to: UTC.isoString(windows.asOf)
            ),
        ]
        metadata.createdAt = UTC.isoString(UTC.now())
        metadata.gitCommit = request.gitCommit
        let bundle = try ModelBundle.writeRecalibrated(
            from: URL(fileURLWithPath: entry.path),
            calibration: fresh,
            metadata: metadata,
            report: "# \(name)\n\nThe boosters of \(entry.name), recalibrated (\(choice.method)) on \(evidence.windows["calibration"]?.joined(separator: " … ") ?? "").\nSee the retrain run \(request.runID).\n",
            svgs: ["reliability.svg": ModelReport.reliabilitySVG(raw: Metrics.reliability(currentP, parts.holdout.labels), calibrated: Metrics.reliability(freshP, parts.holdout.labels), names: ("current calibration", "refitted"))],
            to: request.registry.folder
        )
        try request.registry.register(bundle: bundle, origin: .retrain, parent: entry.name)
        let verdict =
            passed
            ? "PROMOTED \(name) (\(entry.name) recalibrated, \(choice.method)): holdout log-loss \(fmt(current.logLoss, 5)) → \(fmt(candidate.logLoss, 5)), ECE \(fmt(current.ece)) → \(fmt(candidate.ece)), DM p = \(fmt(dm?.pValue ?? .nan, 4))"
            : "KEPT \(entry.name)'s calibration; \(name) rejected: " + evidence.rules.filter { !$0.passed }.map(\.detail).joined(separator: "; ")
        evidence.timings["total_s"] = Trainer.seconds(clock.now - started)
        let report = try writeReport(
            request: request,
            evidence: evidence,
            verdict: verdict,
            svgs: [
                "reliability.svg": ModelReport.reliabilitySVG(
                    raw: Metrics.reliability(currentP, parts.holdout.labels),
                    calibrated: Metrics.reliability(freshP, parts.holdout.labels),
                    names: ("current calibration", "refitted (\(choice.method))")
                )
            ]
        )
        var status: RetrainStatus = passed ? .promoted : .kept
        var finalVerdict = verdict
        if passed {
            if try !request.registry.promote(name, replacing: entry.name, reason: verdict, evidence: evidence.json()) {
                status = .kept
                finalVerdict = "KEPT \(try request.registry.champion()?.name ?? "no champion"): the champion changed while \(name) was judged; not promoted"
            }
        } else {
            try request.registry.reject(name, reason: verdict, evidence: evidence.json())
        }
        return RetrainOutcome(status: status, verdict: finalVerdict, challenger: name, champion: entry.name, evidence: evidence, report: report)
    }

    // MARK: Parts


    struct Parts {
        var train: LabeledRows
        var earlyStop: LabeledRows
        var calibration: LabeledRows
        var holdout: LabeledRows
        var named: [(String, LabeledRows)] {
            [("train", train), ("early_stop", earlyStop), ("calibration", calibration), ("holdout", holdout)]
        }
    }

    /// Rows by window: a row belongs to a window when its bar opens in it; rows in the purges belong to none.
    static func split(_ rows: LabeledRows, windows w: RetrainWindows) -> Parts {
        var index: [[Int]] = [[], [], [], []]
        for (i, t) in rows.openTimes.enumerated() {
            if t >= w.trainStart && t < w.earlyStopStart {
                index[0].append(i)
            } else if t >= w.earlyStopStart + w.purgeMs && t < w.trainEnd {
                index[1].append(i)
            } else if t >= w.calibrationStart && t < w.calibrationEnd {
                index[2].append(i)
            } else if t >= w.holdoutStart && t < w.asOf {
                index[3].append(i)
            }
        }
        return Parts(train: rows.subset(index[0]), earlyStop: rows.subset(index[1]), calibration: rows.subset(index[2]), holdout: rows.subset(index[3]))
    }

    static func describe(_ w: RetrainWindows) -> [String: [String]] {
        [
            "train": [UTC.isoString(w.trainStart), UTC.isoString(w.earlyStopStart)],
            "early_stop": [UTC.isoString(w.earlyStopStart + w.purgeMs), UTC.isoString(w.trainEnd)],
            "calibration": [UTC.isoString(w.calibrationStart), UTC.isoString(w.calibrationEnd)],
            "holdout": [UTC.isoString(w.holdoutStart), UTC.isoString(w.asOf)],
        ]
    }

    static func describeLine(_ w: RetrainWindows) -> String {
        "train \(UTC.minuteString(w.trainStart)) … \(UTC.minuteString(w.trainEnd)), calibration \(UTC.minuteString(w.calibrationStart)) … \(UTC.minuteString(w.calibrationEnd)), holdout \(UTC.minuteString(w.holdoutStart)) … \(UTC.minuteString(w.asOf))"
    }

    static func judgement(name: String, raw: [Double], calibrated: [Double], labels: [Double]) -> ModelJudgement {
        ModelJudgement(
            name: name,
            auc: Metrics.auc(calibrated, labels),
            aucRaw: Metrics.auc(raw, labels),
            ece: Metrics.ece(calibrated, labels),
            logLoss: Metrics.logLoss(calibrated, labels),
            brier: Metrics.brier(calibrated, labels),
            meanProbability: calibrated.isEmpty ? .nan : calibrated.reduce(0, +) / Double(calibrated.count),
            backtest: nil
        )
    }

    /// The Diebold–Mariano test on per-row log-loss, averaged over the symbols of each bar time
    /// first (rows of one time are not independent draws), lag ≥ the label horizon.
    static func dieboldMariano(challenger: [Double], champion: [Double], holdout: LabeledRows, lag: Int) -> DMEvidence? {
        let a = DieboldMariano.logLosses(challenger, labels: holdout.labels)
        let b = DieboldMariano.logLosses(champion, labels: holdout.labels)
        var byTime: [Int64: (Double, Double, Int)] = [:]
        for (i, t) in holdout.openTimes.enumerated() {
            let (x, y, n) = byTime[t] ?? (0, 0, 0)
            byTime[t] = (x + a[i], y + b[i], n + 1)
        }
        let times = byTime.keys.sorted()
        let series = times.map { byTime[$0]! }
        guard
            let dm = DieboldMariano.compare(
                challenger: series.map { $0.0 / Double($0.2) },
                champion: series.map { $0.1 / Double($0.2) },
                lag: lag
            )
        else { return nil }
        return DMEvidence(count: dm.count, meanDifference: dm.meanDifference, statistic: dm.statistic, pValue: dm.pValue, lag: dm.lag)
    }

    static func backtest(_ predictor: Predictor, series: [(symbol: String, klines: [Kline])], request: RetrainRequest, from: Int64) throws -> BacktestSummary {
        // `signals.min_probability: model`: each model replays at its own validation-chosen threshold.
        var settings = request.backtest
        settings.signals = settings.signals.resolved(for: predictor.metadata)
        var prepared = try BacktestEngine.prepare(
            series: series,
            predictor: predictor,
            interval: request.interval,
            minimumProbability: settings.signals.minProbability,
            tradableFrom: from,
            warmupBars: request.tradingWarmupBars
        )
        for (symbol, filters) in request.filters { prepared.filters[symbol] = filters }
        let result = BacktestEngine.replay(prepared, settings: settings)
        let m = result.metrics
        return BacktestSummary(trades: m.trades, netPnL: m.totalPnL, winRate: m.winRate, maxDrawdown: m.maxDrawdown, fees: m.feesPaid)
    }

    static func writeReport(request: RetrainRequest, evidence: RetrainEvidence, verdict: String, svgs: [String: String]) throws -> URL {
        let folder = request.registry.folder.appendingPathComponent("retrain-runs").appendingPathComponent(request.runID)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data(RetrainReport.markdown(evidence: evidence, verdict: verdict).utf8).write(to: folder.appendingPathComponent("report.md"), options: .atomic)
            try Data(evidence.json().utf8).write(to: folder.appendingPathComponent("evidence.json"), options: .atomic)
            for (name, svg) in svgs where !svg.isEmpty {
                try Data(svg.utf8).write(to: folder.appendingPathComponent(name), options: .atomic)
            }
        } catch {
            throw RetrainError("\(folder.path): cannot write the run's report: \(error)")
        }
        return folder.appendingPathComponent("report.md")
    }
}

func fmt(_ x: Double, _ digits: Int = 4) -> String {
    x.isFinite ? String(format: "%.\(digits)f", x) : "\(x)"
}
