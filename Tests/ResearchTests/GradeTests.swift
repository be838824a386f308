import Foundation
import Research
import Testing

/// Inputs where every criterion passes; each test moves one of them.
private func passing(
    outOfSampleReturn: Double = 0.02,
    trades: Int = 150,
    efficiency: Grade.Measured<Grade.Efficiency> = .value(Grade.Efficiency(inSampleReturnPerDay: 0.25, outOfSampleReturnPerDay: 0.25)),
    deflatedSharpe: Grade.Measured<Grade.DeflatedSharpe> = .value(Grade.DeflatedSharpe(probability: 0.99, trials: 24)),
    drawdown: Grade.Measured<Double> = .value(0.02),
    drawdownLimit: Double = 0.10
) -> Grade.Inputs {
    Grade.Inputs(
        outOfSampleReturn: outOfSampleReturn, trades: trades, efficiency: efficiency, deflatedSharpe: deflatedSharpe,
        monteCarloDrawdownP95: drawdown, drawdownLimit: drawdownLimit
    )
}

private func score(_ grade: Grade, _ name: String) -> Grade.Score? { grade.criteria.first { $0.name == name }?.score }

@Suite("Grade A–F from documented rules")
struct GradeTests {
    @Test("Every criterion passing gives an A with all ten points and no caps")
    func allPass() {
        let grade = Grade(passing())
        #expect(grade.letter == .a)
        #expect(grade.points == 10 && grade.maximumPoints == 10)
        #expect(grade.caps.isEmpty)
        #expect(grade.summary == "A (10 of 10 points)")
        #expect(grade.criteria.map(\.name) == ["out_of_sample_return", "walk_forward_efficiency", "deflated_sharpe", "monte_carlo_drawdown_p95", "trades"])
        #expect(grade.criteria.allSatisfy { $0.score == .pass })
    }

    @Test("Out-of-sample return: above 0 passes, 0 down to just above −1 % is partial, −1 % fails")
    func returnBoundaries() {
        #expect(score(Grade(passing(outOfSampleReturn: 0.000_001)), "out_of_sample_return") == .pass)
        #expect(score(Grade(passing(outOfSampleReturn: 0)), "out_of_sample_return") == .partial)
        #expect(score(Grade(passing(outOfSampleReturn: (-0.01).nextUp)), "out_of_sample_return") == .partial)
        #expect(score(Grade(passing(outOfSampleReturn: -0.01)), "out_of_sample_return") == .fail)
        #expect(score(Grade(passing(outOfSampleReturn: .nan)), "out_of_sample_return") == .fail)
    }

    @Test("Walk-forward efficiency: 0.50 passes, just below is partial down to 0.25, below 0.25 fails, and a non-positive in-sample return fails as undefined")
    func efficiencyBoundaries() {
        func wfe(_ inDay: Double, _ outDay: Double) -> Grade.Score? {
            score(Grade(passing(efficiency: .value(Grade.Efficiency(inSampleReturnPerDay: inDay, outOfSampleReturnPerDay: outDay)))), "walk_forward_efficiency")
        }
        #expect(wfe(0.25, 0.125) == .pass)  // exactly 0.5
        #expect(wfe(0.25, 0.125.nextDown) == .partial)
        #expect(wfe(0.25, 0.0625) == .partial)  // exactly 0.25
        #expect(wfe(0.25, 0.0625.nextDown) == .fail)
        #expect(wfe(0.25, -0.1) == .fail)
        let undefined = Grade(passing(efficiency: .value(Grade.Efficiency(inSampleReturnPerDay: 0, outOfSampleReturnPerDay: 0.1))))
        let c = undefined.criteria[1]
        #expect(c.score == .fail && c.value == nil && c.reason.contains("in-sample return is not positive"))
    }

    @Test("Deflated Sharpe ratio: 0.95 passes, just below is partial down to 0.50, below 0.50 fails, NaN is missing")
    func deflatedSharpeBoundaries() {
        func dsr(_ p: Double) -> Grade.Score? {
            score(Grade(passing(deflatedSharpe: .value(Grade.DeflatedSharpe(probability: p, trials: 24)))), "deflated_sharpe")
        }
        #expect(dsr(0.95) == .pass)
        #expect(dsr(0.95.nextDown) == .partial)
        #expect(dsr(0.5) == .partial)
        #expect(dsr(0.5.nextDown) == .fail)
        #expect(dsr(.nan) == .missing)
        let one = Grade(passing(deflatedSharpe: .value(Grade.DeflatedSharpe(probability: 0.97, trials: 1))))
        #expect(one.criteria[2].reason.contains("1 trial: the PSR against 0"))
    }

    @Test("Monte Carlo drawdown (95 % band): up to half the kill switch passes, up to the kill switch is partial, beyond fails")
    func drawdownBoundaries() {
        func dd(_ x: Double) -> Grade.Score? { score(Grade(passing(drawdown: .value(x), drawdownLimit: 0.10)), "monte_carlo_drawdown_p95") }
        #expect(dd(0.05) == .pass)
        #expect(dd(0.05.nextUp) == .partial)
        #expect(dd(0.10) == .partial)
        #expect(dd(0.10.nextUp) == .fail)
        // The bands follow the run's own kill switch.
        #expect(score(Grade(passing(drawdown: .value(0.08), drawdownLimit: 0.20)), "monte_carlo_drawdown_p95") == .pass)
    }

    @Test("Trades: below 30 there is no grade (not an F), 30 … 99 is partial, 100 passes")
    func tradeCount() {
        let few = Grade(passing(trades: 29))
        #expect(few.letter == nil)
        #expect(few.summary == "no grade (29 trades < 30)")
        #expect(few.criteria.count == 1 && few.criteria[0].name == "trades")
        #expect(Grade(passing(trades: 0)).summary == "no grade (0 trades < 30)")
        let thirty = Grade(passing(trades: 30))
        #expect(thirty.letter == .a && score(thirty, "trades") == .partial && thirty.points == 9)
        #expect(score(Grade(passing(trades: 99)), "trades") == .partial)
        #expect(score(Grade(passing(trades: 100)), "trades") == .pass)
    }

    @Test("Letters from the share of points: ≥ 90 % A, ≥ 75 % B, ≥ 55 % C, ≥ 35 % D, else F, exactly at each boundary")
    func letterBoundaries() {
        let ten: [Grade.Letter] = [.f, .f, .f, .f, .d, .d, .c, .c, .b, .a, .a]
        #expect((0...10).map { Grade.letter(points: $0, maximum: 10) } == ten)
        let eight: [Grade.Letter] = [.f, .f, .f, .d, .d, .c, .b, .b, .a]
        #expect((0...8).map { Grade.letter(points: $0, maximum: 8) } == eight)
        #expect(Grade.letter(points: 18, maximum: 20) == .a && Grade.letter(points: 15, maximum: 20) == .b)
        #expect(Grade.letter(points: 11, maximum: 20) == .c && Grade.letter(points: 7, maximum: 20) == .d)
        #expect(Grade.letter(points: 6, maximum: 20) == .f)
    }

    @Test("A missing criterion is left out of the points, stated with its reason, and caps the grade at B")
    func missingInputs() {
        let grade = Grade(passing(efficiency: .missing(reason: "no in-sample figure")))
        #expect(grade.points == 8 && grade.maximumPoints == 8)
        #expect(grade.letter == .b)
        let c = grade.criteria[1]
        #expect(c.score == .missing && c.reason == "not measured: no in-sample figure")
        #expect(grade.summary == "B (8 of 8 points, A by points; at most B: not measured: walk_forward_efficiency)")
        let none = Grade(passing(deflatedSharpe: .missing(reason: "12 trades in sample"), drawdown: .missing(reason: "no trades")))
        #expect(none.maximumPoints == 6 && none.letter == .b && none.caps.count == 1)
        #expect(none.caps[0].contains("deflated_sharpe, monte_carlo_drawdown_p95"))
        // A missing criterion does not lift a grade the others hold down.
        let low = Grade(passing(deflatedSharpe: .missing(reason: "x"), drawdown: .value(0.5)))
        #expect(low.points == 6 && low.maximumPoints == 8 && low.letter == .b)
    }

    @Test("An out-of-sample loss caps the grade: not positive at C, −1 % or worse at D, whatever the other points")
    func returnCaps() {
        let flat = Grade(passing(outOfSampleReturn: 0))
        #expect(flat.points == 9 && flat.letter == .c)
        #expect(flat.caps == ["at most C: the out-of-sample return is not positive"])
        let loss = Grade(passing(outOfSampleReturn: -0.04))
        #expect(loss.points == 8 && loss.letter == .d)
        // Caps only lower: a grade already below the cap keeps its letter and gains no cap.
        let bad = Grade(
            passing(
                outOfSampleReturn: -0.04, efficiency: .value(Grade.Efficiency(inSampleReturnPerDay: 1, outOfSampleReturnPerDay: -1)),
                deflatedSharpe: .value(Grade.DeflatedSharpe(probability: 0.1, trials: 5)), drawdown: .value(0.3)
            )
        )
        #expect(bad.points == 2 && bad.letter == .f && bad.caps.isEmpty)
    }

    @Test("The grade is a function of its inputs, and survives its JSON round trip (NaN included)")
    func deterministicAndStored() throws {
        let inputs = passing(outOfSampleReturn: -0.002, efficiency: .value(Grade.Efficiency(inSampleReturnPerDay: 0.001, outOfSampleReturnPerDay: .nan)))
        let a = Grade(inputs, scope: "test")
        let b = Grade(inputs, scope: "test")
        #expect(try a.json() == b.json())
        let back = try Grade.decode(json: a.json())
        #expect(back.letter == a.letter && back.summary == a.summary && back.criteria == a.criteria && back.scope == "test")
        #expect(a.report.first == "grade: \(a.summary)")
        #expect(a.report.count == 2 + a.criteria.count)
    }

    @Test("A walk-forward's inputs: returns added, efficiency of the mean returns a day, DSR with N = 1 (the PSR against 0), bootstrap drawdown of the concatenated trades")
    func walkForwardInputs() throws {
        let first = Grade.WindowFigures(
            inSampleReturn: 0.06, inSampleDays: 30, outOfSampleReturn: 0.007, outOfSampleDays: 7,
            outOfSampleTradePnL: [30, -10, 50], outOfSampleTradeReturns: [0.003, -0.001, 0.005]
        )
        let second = Grade.WindowFigures(
            inSampleReturn: 0.03, inSampleDays: 30, outOfSampleReturn: -0.002, outOfSampleDays: 2,
            outOfSampleTradePnL: [-20, 15], outOfSampleTradeReturns: [-0.002, 0.0015]
        )
        let inputs = Grade.walkForwardInputs([first, second], capital: 10_000, drawdownLimit: 0.1, monteCarloPaths: 500, seed: 3)
        #expect(abs(inputs.outOfSampleReturn - 0.005) < 1e-15)
        #expect(inputs.trades == 5)
        guard case .value(let e) = inputs.efficiency else {
            Issue.record("efficiency missing")
            return
        }
        #expect(abs(e.inSampleReturnPerDay - (0.002 + 0.001) / 2) < 1e-15)
        #expect(abs(e.outOfSampleReturnPerDay - (0.001 - 0.001) / 2) < 1e-15)
        let returns = [0.003, -0.001, 0.005, -0.002, 0.0015]
        let m = try #require(SharpeStatistics.moments(returns))
        let psr = SharpeStatistics.probabilisticSharpe(sharpe: m.sharpe, benchmark: 0, observations: 5, skewness: m.skewness, kurtosis: m.kurtosis)
        #expect(inputs.deflatedSharpe == .value(Grade.DeflatedSharpe(probability: psr, trials: 1)))
        let mc = MonteCarlo.run(tradePnL: [30, -10, 50, -20, 15], capital: 10_000, method: .bootstrap, paths: 500, seed: 3)
        #expect(inputs.monteCarloDrawdownP95 == .value(mc.maxDrawdown.p95))
        // No trades: nothing to draw and no Sharpe ratio; the grade says why and gives none.
        let empty = Grade.WindowFigures(
            inSampleReturn: 0.01, inSampleDays: 30, outOfSampleReturn: 0, outOfSampleDays: 7, outOfSampleTradePnL: [], outOfSampleTradeReturns: []
        )
        let none = Grade.walkForwardInputs([empty], capital: 10_000, drawdownLimit: 0.1)
        #expect(none.monteCarloDrawdownP95 == .missing(reason: "no out-of-sample trades to draw"))
        #expect(Grade(none).summary == "no grade (0 trades < 30)")
    }
}
