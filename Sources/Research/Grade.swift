import Foundation

/// A grade A–F for a strategy judged out of sample, from five criteria with written thresholds.
///
/// The grade is a deterministic function of ``Grade/Inputs``: the same inputs always give the
/// same letter and the same reasons. Each criterion scores **pass** (2 points), **partial** (1) or
/// **fail** (0); a criterion whose input was not measured is **missing** and scores nothing.
///
/// | criterion | pass (2) | partial (1) | fail (0) | when missing |
/// |---|---|---|---|---|
/// | out-of-sample return | > 0 | −1 % < r ≤ 0 | ≤ −1 % | never: required |
/// | walk-forward efficiency (OOS return a day ÷ in-sample return a day) | ≥ 0.50 | 0.25 ≤ WFE < 0.50 | < 0.25, or in-sample return ≤ 0 (undefined) | left out; caps the grade at B |
/// | deflated Sharpe ratio (probability) | ≥ 0.95 | 0.50 ≤ DSR < 0.95 | < 0.50 | left out; caps the grade at B |
/// | Monte Carlo max drawdown, 95 % band (bootstrap) | ≤ ½ × risk.max_drawdown_pct | ≤ risk.max_drawdown_pct | > risk.max_drawdown_pct | left out; caps the grade at B |
/// | out-of-sample trades | ≥ 100 | 30 – 99 | — | never: required |
///
/// Below 30 out-of-sample trades (``minimumTrades``, the count below which the deflated Sharpe
/// ratio gives no verdict either) there is no grade at all — "no grade (12 trades < 30)" — not an F:
/// too few trades say nothing either way.
///
/// The letter comes from the share of points over the criteria measured (2 each):
///
/// | share of points | grade |
/// |---|---|
/// | ≥ 90 % | A |
/// | ≥ 75 % | B |
/// | ≥ 55 % | C |
/// | ≥ 35 % | D |
/// | < 35 % | F |
///
/// then capped: an A or B needs a positive out-of-sample return (partial caps at C, fail at D), and
/// an A needs every criterion measured (any missing caps at B).
///
/// Why these thresholds: a WFE of 0.5 is the usual bar (Pardo) and the one the walk-forward verdict
/// uses; 0.95 is the DSR's own significance level and 0.5 a better-than-even chance that the Sharpe
/// ratio beats the best of the trials by luck; the drawdown bands are measured against the kill
/// switch the run trades under, so a fail means one path in twenty would have tripped it.
public struct Grade: Codable, Equatable, Sendable {
    /// Out-of-sample trades below which there is no grade.
    public static let minimumTrades = 30
    /// Out-of-sample trades from which the trade count passes.
    public static let ampleTrades = 100
    /// Out-of-sample return at or below which the return fails (fraction: −1 %).
    public static let returnFailAt = -0.01
    /// Walk-forward efficiency from which it passes.
    public static let efficiencyPass = 0.5
    /// Walk-forward efficiency from which it is partial.
    public static let efficiencyPartial = 0.25
    /// Deflated Sharpe ratio from which it passes.
    public static let deflatedSharpePass = 0.95
    /// Deflated Sharpe ratio from which it is partial.
    public static let deflatedSharpePartial = 0.5
    /// The share of the kill switch's drawdown up to which the Monte Carlo drawdown passes.
    public static let drawdownPassShare = 0.5

    /// A letter grade.
    public enum Letter: String, Codable, CaseIterable, Comparable, Sendable {
        case a = "A"
        case b = "B"
        case c = "C"
        case d = "D"
        case f = "F"

        /// A before B: "better than" is "less than".
        public static func < (lhs: Letter, rhs: Letter) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    /// How one criterion scored.
    public enum Score: String, Codable, Sendable {
        case pass
        case partial
        case fail
        case missing

        /// Points towards the grade (missing: none, and not counted in the maximum either).
        public var points: Int {
            switch self {
            case .pass: 2
            case .partial: 1
            case .fail, .missing: 0
            }
        }
    }

    /// One criterion's score and why.
    public struct Criterion: Codable, Equatable, Sendable {
        /// Stable key: `out_of_sample_return`, `walk_forward_efficiency`, `deflated_sharpe`,
        /// `monte_carlo_drawdown_p95`, `trades`.
        public var name: String
        /// The score.
        public var score: Score
        /// The measured value (nil when missing or undefined).
        public var value: Double?
        /// The value against its threshold, or why it is missing.
        public var reason: String
    }

    /// An input that was measured, or why it was not.
    public enum Measured<Value: Codable & Equatable & Sendable>: Codable, Equatable, Sendable {
        case value(Value)
        case missing(reason: String)
    }

    /// Out-of-sample and in-sample return a day, the two sides of the walk-forward efficiency.
    public struct Efficiency: Codable, Equatable, Sendable {
        /// In-sample return a day (fraction).
        public var inSampleReturnPerDay: Double
        /// Out-of-sample return a day (fraction).
        public var outOfSampleReturnPerDay: Double

        /// Both returns a day.
        public init(inSampleReturnPerDay: Double, outOfSampleReturnPerDay: Double) {
            self.inSampleReturnPerDay = inSampleReturnPerDay
            self.outOfSampleReturnPerDay = outOfSampleReturnPerDay
        }

        /// Out of sample over in sample; NaN when the in-sample return is not positive.
        public var ratio: Double { inSampleReturnPerDay > 0 ? outOfSampleReturnPerDay / inSampleReturnPerDay : .nan }
    }

    /// A deflated Sharpe ratio and the trials it was deflated for.
    public struct DeflatedSharpe: Codable, Equatable, Sendable {
        /// The probability that the true Sharpe ratio beats the best of `trials` unskilled ones.
        public var probability: Double
        /// Trials the strategy was chosen from (1: none, the DSR is the PSR against 0).
        public var trials: Int

        /// A DSR over `trials`.
        public init(probability: Double, trials: Int) {
            self.probability = probability
            self.trials = trials
        }
    }

    /// What a grade is computed from.
    public struct Inputs: Codable, Equatable, Sendable {
        /// Return over the out-of-sample span (fraction of the starting capital).
        public var outOfSampleReturn: Double
        /// Closed trades out of sample.
        public var trades: Int
        /// The walk-forward efficiency's two sides.
        public var efficiency: Measured<Efficiency>
        /// The deflated Sharpe ratio of the strategy's per-trade returns.
        public var deflatedSharpe: Measured<DeflatedSharpe>
        /// The 95 % band of the maximum drawdown over Monte Carlo (bootstrap) paths of the
        /// out-of-sample trades (fraction).
        public var monteCarloDrawdownP95: Measured<Double>
        /// The kill switch's drawdown the strategy trades under (`risk.max_drawdown_pct`).
        public var drawdownLimit: Double

        /// Every input.
        public init(
            outOfSampleReturn: Double,
            trades: Int,
            efficiency: Measured<Efficiency>,
            deflatedSharpe: Measured<DeflatedSharpe>,
            monteCarloDrawdownP95: Measured<Double>,
            drawdownLimit: Double
        ) {
            self.outOfSampleReturn = outOfSampleReturn
            self.trades = trades
            self.efficiency = efficiency
            self.deflatedSharpe = deflatedSharpe
            self.monteCarloDrawdownP95 = monteCarloDrawdownP95
            self.drawdownLimit = drawdownLimit
        }
    }

    /// The letter; nil when there is no grade (too few trades).
    public var letter: Letter?
    /// One line: the letter and its points, or why there is none.
    public var summary: String
    /// Points scored over the criteria measured.
    public var points: Int
    /// The most points the measured criteria could give.
    public var maximumPoints: Int
    /// Caps that lowered the letter the points gave, each with its reason.
    public var caps: [String]
    /// Every criterion, in the table's order.
    public var criteria: [Criterion]
    /// What the grade was computed from.
    public var inputs: Inputs
    /// What was judged, in words ("sweep champion out of sample, …", "walk-forward of 8 windows, …").
    public var scope: String?

    /// Grades `inputs` by the rules above; `scope` says what was judged.
    public init(_ inputs: Inputs, scope: String? = nil) {
        self.inputs = inputs
        self.scope = scope
        let trades = inputs.trades
        guard trades >= Self.minimumTrades else {
            letter = nil
            summary = "no grade (\(trades) trades < \(Self.minimumTrades))"
            points = 0
            maximumPoints = 0
            caps = []
            criteria = [
                Criterion(
                    name: "trades", score: .fail, value: Double(trades),
                    reason: "\(trades) out-of-sample trades, fewer than \(Self.minimumTrades): too few to grade"
                )
            ]
            return
        }
        let list = [
            Self.returnCriterion(inputs.outOfSampleReturn),
            Self.efficiencyCriterion(inputs.efficiency),
            Self.deflatedSharpeCriterion(inputs.deflatedSharpe),
            Self.drawdownCriterion(inputs.monteCarloDrawdownP95, limit: inputs.drawdownLimit),
            Self.tradesCriterion(trades),
        ]
        criteria = list
        let measured = list.filter { $0.score != .missing }
        points = measured.map(\.score.points).reduce(0, +)
        maximumPoints = 2 * measured.count
        var grade = Self.letter(points: points, maximum: maximumPoints)
        let fromPoints = grade
        var caps: [String] = []
        func cap(_ at: Letter, _ reason: String) {
            guard grade < at else { return }
            grade = at
            caps.append("at most \(at.rawValue): \(reason)")
        }
        switch list[0].score {
        case .fail: cap(.d, "the out-of-sample return is −1 % or worse")
        case .partial: cap(.c, "the out-of-sample return is not positive")
        case .pass, .missing: break
        }
        let missing = list.filter { $0.score == .missing }.map(\.name)
        if !missing.isEmpty { cap(.b, "not measured: \(missing.joined(separator: ", "))") }
        letter = grade
        self.caps = caps
        summary = "\(grade.rawValue) (\(points) of \(maximumPoints) points"
            + (grade == fromPoints ? "" : ", \(fromPoints.rawValue) by points; " + caps.joined(separator: "; ")) + ")"
    }

    /// The letter a share of points gives (integer arithmetic: no rounding at the boundaries).
    public static func letter(points: Int, maximum: Int) -> Letter {
        guard maximum > 0 else { return .f }
        let percent = points * 100
        if percent >= 90 * maximum { return .a }
        if percent >= 75 * maximum { return .b }
        if percent >= 55 * maximum { return .c }
        if percent >= 35 * maximum { return .d }
        return .f
    }

    private static func pct(_ x: Double) -> String { String(format: "%+.2f %%", x * 100) }

    static func returnCriterion(_ r: Double) -> Criterion {
        let score: Score = r > 0 ? .pass : (r > returnFailAt ? .partial : .fail)
        let rule: String
        switch score {
        case .pass: rule = "> 0: pass"
        case .partial: rule = "≤ 0 but above −1 %: partial"
        case .fail, .missing: rule = r.isFinite ? "−1 % or worse: fail" : "not a number: fail"
        }
        return Criterion(name: "out_of_sample_return", score: score, value: r.isFinite ? r : nil, reason: "\(pct(r)) — \(rule)")
    }

    static func efficiencyCriterion(_ input: Measured<Efficiency>) -> Criterion {
        switch input {
        case .missing(let reason):
            return Criterion(name: "walk_forward_efficiency", score: .missing, value: nil, reason: "not measured: \(reason)")
        case .value(let e):
            let sides = String(format: "out of sample %+.4f %%/day over in sample %+.4f %%/day", e.outOfSampleReturnPerDay * 100, e.inSampleReturnPerDay * 100)
            let ratio = e.ratio
            guard ratio.isFinite else {
                let why = e.inSampleReturnPerDay > 0 ? "the out-of-sample return is not a number" : "the in-sample return is not positive"
                return Criterion(name: "walk_forward_efficiency", score: .fail, value: nil, reason: "undefined (\(sides)) — \(why): fail")
            }
            let score: Score = ratio >= efficiencyPass ? .pass : (ratio >= efficiencyPartial ? .partial : .fail)
            let rule = score == .pass ? "≥ 0.50: pass" : (score == .partial ? "in 0.25 … 0.50: partial" : "below 0.25: fail")
            return Criterion(
                name: "walk_forward_efficiency", score: score, value: ratio, reason: String(format: "%.2f", ratio) + " (\(sides)) — \(rule)"
            )
        }
    }

    static func deflatedSharpeCriterion(_ input: Measured<DeflatedSharpe>) -> Criterion {
        switch input {
        case .missing(let reason):
            return Criterion(name: "deflated_sharpe", score: .missing, value: nil, reason: "not measured: \(reason)")
        case .value(let d):
            guard d.probability.isFinite else {
                return Criterion(
                    name: "deflated_sharpe", score: .missing, value: nil,
                    reason: "not measured: not computable (constant per-trade returns)"
                )
            }
            let p = d.probability
            let score: Score = p >= deflatedSharpePass ? .pass : (p >= deflatedSharpePartial ? .partial : .fail)
            let rule = score == .pass ? "≥ 0.95: pass" : (score == .partial ? "in 0.50 … 0.95: partial" : "below 0.50: fail")
            let over = d.trials > 1 ? "over \(d.trials) trials" : "1 trial: the PSR against 0"
            return Criterion(name: "deflated_sharpe", score: score, value: p, reason: String(format: "%.3f", p) + " (\(over)) — \(rule)")
        }
    }

    static func drawdownCriterion(_ input: Measured<Double>, limit: Double) -> Criterion {
        switch input {
        case .missing(let reason):
            return Criterion(name: "monte_carlo_drawdown_p95", score: .missing, value: nil, reason: "not measured: \(reason)")
        case .value(let dd):
            let half = limit * drawdownPassShare
            let score: Score = dd <= half ? .pass : (dd <= limit ? .partial : .fail)
            let bands = String(format: "half the kill switch %.2f %%, the kill switch %.2f %%", half * 100, limit * 100)
            let rule = score == .pass ? "within half the kill switch: pass" : (score == .partial ? "within the kill switch: partial" : "beyond the kill switch: fail")
            return Criterion(
                name: "monte_carlo_drawdown_p95", score: score, value: dd,
                reason: String(format: "%.2f %%", dd * 100) + " (\(bands)) — \(rule)"
            )
        }
    }

    static func tradesCriterion(_ n: Int) -> Criterion {
        let score: Score = n >= ampleTrades ? .pass : .partial
        let rule = score == .pass ? "≥ \(ampleTrades): pass" : "\(minimumTrades) … \(ampleTrades - 1): partial"
        return Criterion(name: "trades", score: score, value: Double(n), reason: "\(n) — \(rule)")
    }

    /// How a criterion is named in a report.
    public static func label(_ name: String) -> String {
        switch name {
        case "out_of_sample_return": "out-of-sample return"
        case "walk_forward_efficiency": "walk-forward efficiency"
        case "deflated_sharpe": "deflated Sharpe ratio"
        case "monte_carlo_drawdown_p95": "Monte Carlo max DD (95 %)"
        case "trades": "out-of-sample trades"
        default: name
        }
    }

    /// The grade for a terminal: `grade: …` then one indented line per criterion.
    public var report: [String] {
        ["grade: \(summary)"] + (scope.map { ["  judged: \($0)"] } ?? [])
            + criteria.map { c in
                "  " + c.score.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
                    + Self.label(c.name).padding(toLength: 27, withPad: " ", startingAt: 0) + c.reason
            }
    }

    /// The grade as stored with a run: compact, sorted-key JSON of the whole value.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// A grade read back from ``json()``.
    public static func decode(json text: String) throws -> Grade {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(Grade.self, from: Data(text.utf8))
    }
}
