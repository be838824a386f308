import Foundation
import ScalperTestSupport
import Testing

/// `model.label` and `signals.min_probability: model` as the configuration takes them (config
/// commands only: nothing is trained).
@Suite("Label and signal-threshold configuration")
struct LabelConfigurationCLITests {
    let dir: TemporaryDirectory

    init() throws { dir = try TemporaryDirectory() }

    private func write(_ name: String, _ text: String) throws -> String {
        let path = dir.path(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("triple_barrier and min_probability: model are accepted and shown as set")
    func accepted() async throws {
        defer { dir.remove() }
        let file = try write("tb.yaml", "model:\n  label: triple_barrier\nsignals:\n  min_probability: model\n")
        let r = try await ScalperProcess.run(["config", "show", "--config", file])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("  label: \"triple_barrier\""), "\(r.stdout)")
        #expect(r.stdout.contains("  min_probability: \"model\""), "\(r.stdout)")
        // The barriers are the trade's, not a key of the file.
        #expect(!r.stdout.contains("triple_barrier:"), "\(r.stdout)")
    }

    @Test(
        "A target that does not pay the round trip, a trailing stop, an unknown label or threshold word are refused naming the key",
        arguments: [
            (
                "model:\n  label: triple_barrier\nsignals:\n  take_profit_pct: 0.0022\n",
                "signals.take_profit_pct: 0.0022: must be > 2 × execution.taker_fee + execution.slippage_bps = 0.0022"
            ),
            (
                "model:\n  label: triple_barrier\nexecution:\n  taker_fee: 0.002\n",
                "signals.take_profit_pct: 0.004: must be > 2 × execution.taker_fee + execution.slippage_bps = 0.0042"
            ),
            ("model:\n  label: triple_barrier\nexecution:\n  trailing_stop_pct: 0.002\n", "execution.trailing_stop_pct: 0.002: must be 0 with model.label triple_barrier"),
            ("model:\n  label: take_profit\n", "model.label: 'take_profit': must be forward_high or triple_barrier"),
            ("signals:\n  min_probability: best\n", "signals.min_probability"),
        ]
    )
    func refused(yaml: String, expected: String) async throws {
        defer { dir.remove() }
        let file = try write("bad.yaml", yaml)
        let r = try await ScalperProcess.run(["config", "show", "--config", file])
        #expect(r.status != 0)
        #expect(r.stderr.contains(expected), "\(r.stderr)")
        #expect(r.stderr.contains(file), "\(r.stderr)")
    }

    @Test("The same take-profit is fine for the forward-high label, which is not the trade")
    func forwardHighUnchecked() async throws {
        defer { dir.remove() }
        let file = try write("fh.yaml", "signals:\n  take_profit_pct: 0.002\n")
        let r = try await ScalperProcess.run(["config", "show", "--config", file])
        #expect(r.status == 0, "\(r.stderr)")
    }
}
