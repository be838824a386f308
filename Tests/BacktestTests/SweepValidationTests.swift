import Backtest
import Testing
import Trading

@Suite("Sweep combinations are checked as the config is")
struct SweepValidationTests {
    @Test(
        "A swept value the config would refuse is refused, naming the key and why",
        arguments: [
            ("risk.max_trades_per_hour", 0.0, "risk.max_trades_per_hour = 0: risk.max_trades_per_hour: must be ≥ 1 (0 would block every entry)"),
            ("signals.stop_loss_pct", 0.0, "signals.stop_loss_pct = 0: signals.stop_loss_pct: must be in (0, 1)"),
            ("execution.taker_fee", 0.5, "execution.taker_fee = 0.5: execution.taker_fee: must be in [0, 0.1)"),
            ("backtest.capital", -1.0, "backtest.capital = -1: backtest.capital must be > 0"),
        ]
    )
    func refused(key: String, value: Double, message: String) {
        let error = #expect(throws: SweepError.self) { _ = try Sweep.apply(BacktestSettings(), key: key, value: value) }
        #expect(error?.description == message)
    }

    @Test("Valid values still apply")
    func accepted() throws {
        #expect(try Sweep.apply(BacktestSettings(), key: "risk.max_trades_per_hour", value: 4).risk.maxTradesPerHour == 4)
    }
}
