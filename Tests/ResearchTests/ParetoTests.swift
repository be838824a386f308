import Foundation
import Research
import Testing

@Suite("Pareto front of return against drawdown")
struct ParetoTests {
    @Test("The front holds exactly the undominated combinations, shallowest first; the champion is the best return within the cap, none when nothing fits; NaN is left out")
    func frontAndChampion() {
        //              0     1     2     3     4     5      6
        let returns = [0.05, 0.08, 0.02, 0.08, 0.12, -0.01, .nan]
        let drawdowns = [0.02, 0.05, 0.01, 0.04, 0.09, 0.00, 0.01]
        let front = Pareto.front(returns: returns, drawdowns: drawdowns)
        #expect(front == [5, 2, 0, 3, 4])
        // Undominated by brute force: no other point at least as good on both, better on one.
        for i in returns.indices where returns[i].isFinite {
            let dominated = returns.indices.contains { j in
                j != i && returns[j].isFinite && returns[j] >= returns[i] && drawdowns[j] <= drawdowns[i]
                    && (returns[j] > returns[i] || drawdowns[j] < drawdowns[i])
            }
            #expect(front.contains(i) == !dominated, "combination \(i)")
        }
        #expect(Pareto.champion(returns: returns, drawdowns: drawdowns, maxDrawdown: 0.05) == 3)
        #expect(Pareto.champion(returns: returns, drawdowns: drawdowns, maxDrawdown: 0.10) == 4)
        #expect(Pareto.champion(returns: returns, drawdowns: drawdowns, maxDrawdown: 0.015) == 2)
        #expect(Pareto.champion(returns: [0.1], drawdowns: [0.2], maxDrawdown: 0.1) == nil)
        let svg = Pareto.svg(returns: returns, drawdowns: drawdowns, front: front, champion: 3, maxDrawdown: 0.05, title: "t")
        #expect(svg.hasPrefix("<svg") && svg.contains("polyline") && svg.contains("cap 5.00 %"))
    }
}
