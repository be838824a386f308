import Dispatch
import Foundation
import Trading

/// One swept parameter: a settings key and the values it takes.
public struct SweepParameter: Sendable, Equatable {
    /// `section.key` in the YAML names (`signals.min_probability`, `execution.slippage_bps`, …).
    public var key: String
    /// Values, in order.
    public var values: [Double]

    /// A parameter with its values, as given.
    public init(key: String, values: [Double]) {
        self.key = key
        self.values = values
    }

    /// Parses `name=start:stop:step` (inclusive stop) or `name=a,b,c`; a bare key is looked up in
    /// the signals, risk and execution sections.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw SweepError("'\(text)' is not name=start:stop:step or name=a,b,c") }
        key = try Self.resolve(parts[0])
        if parts[1].contains(":") {
            let r = parts[1].split(separator: ":").compactMap { Double($0) }
            guard r.count == 3, r[2] > 0, r[1] >= r[0] else { throw SweepError("'\(parts[1])' is not start:stop:step with step > 0") }
            let n = Int(((r[1] - r[0]) / r[2] + 1e-9).rounded(.down))
            // Rounded to 10 decimals so 0.55 + 3 × 0.05 reads 0.7, not 0.7000000000000001.
            values = (0...n).map { ((r[0] + Double($0) * r[2]) * 1e10).rounded() / 1e10 }
        } else {
            values = try parts[1].split(separator: ",").map {
                guard let v = Double($0) else { throw SweepError("'\($0)' is not a number") }
                return v
            }
        }
        guard !values.isEmpty, values.count <= 100 else { throw SweepError("\(key): between 1 and 100 values") }
    }

    static func resolve(_ name: String) throws -> String {
        let defaults = try JSONSerialization.jsonObject(with: JSONEncoder().encode(BacktestSettings())) as? [String: Any] ?? [:]
        if name.contains(".") {
            let p = name.split(separator: ".").map(String.init)
            guard p.count == 2, (defaults[p[0]] as? [String: Any])?[p[1]] != nil || (p[0] == "backtest" && p[1] == "capital") else {
                throw SweepError("unknown setting '\(name)'")
            }
            return name
        }
        for section in ["signals", "risk", "execution"] where (defaults[section] as? [String: Any])?[name] != nil {
            return "\(section).\(name)"
        }
        throw SweepError("unknown setting '\(name)' (try signals.…, risk.… or execution.…)")
    }
}

/// A sweep argument or setting that is wrong.
public struct SweepError: Error, CustomStringConvertible, Sendable {
    /// The message.
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Backtests every combination of swept parameters over one prepared set of predictions.
public enum Sweep {
    /// `settings` with `key` set to `value`.
    public static func apply(_ settings: BacktestSettings, key: String, value: Double) throws -> BacktestSettings {
        let p = key.split(separator: ".").map(String.init)
        if p == ["backtest", "capital"] {
            guard value > 0 else { throw SweepError("\(key) = \(Sweep.format(value)): backtest.capital must be > 0") }
            var s = settings
            s.capital = value
            return s
        }
        guard var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(settings)) as? [String: Any],
            var section = object[p[0]] as? [String: Any]
        else { throw SweepError("cannot set \(key)") }
        if section[p[1]] is Bool { section[p[1]] = value != 0 } else { section[p[1]] = value }
        object[p[0]] = section
        let decoded: BacktestSettings
        do {
            decoded = try JSONDecoder().decode(BacktestSettings.self, from: JSONSerialization.data(withJSONObject: object))
        } catch {
            throw SweepError("\(key) = \(value) is not a valid value for that setting")
        }
        // The ranges the config loader checks: max_trades_per_hour=0 would block every entry.
        var problems: [(section: String, problem: SettingProblem)] = []
        for p in decoded.signals.problems { problems.append(("signals", p)) }
        for p in decoded.risk.problems { problems.append(("risk", p)) }
        for p in decoded.execution.problems { problems.append(("execution", p)) }
        let named = problems.first { "\($0.section).\($0.problem.key)" == key } ?? problems.first
        if let named {
            throw SweepError("\(key) = \(Sweep.format(value)): \(named.section).\(named.problem)")
        }
        return decoded
    }

    /// Every combination of the parameters' values (the first parameter varies slowest).
    public static func combinations(_ parameters: [SweepParameter]) -> [[Double]] {
        var out: [[Double]] = [[]]
        for p in parameters { out = out.flatMap { prefix in p.values.map { prefix + [$0] } } }
        return out
    }

    /// Runs every combination on all cores; results come back in combination order.
    ///
    /// Each core takes the next combination when it is done with one, after asking `shouldStop`:
    /// once that says yes, no combination starts, so a stop waits for at most one combination per
    /// core, and only the combinations that ran are returned. `finished` hears of each result as
    /// it comes (on the worker's thread, in completion order).
    public static func run(
        _ prepared: PreparedBacktest,
        base: BacktestSettings,
        parameters: [SweepParameter],
        shouldStop: @Sendable () -> Bool = { false },
        finished: @Sendable (_ index: Int, _ result: BacktestResult) -> Void = { _, _ in }
    ) throws -> [(values: [Double], settings: BacktestSettings, result: BacktestResult)] {
        let combos = combinations(parameters)
        let settings = try combos.map { values in
            try zip(parameters, values).reduce(base) { try apply($0, key: $1.0.key, value: $1.1) }
        }
        let results = ClaimedSlots<BacktestResult>(count: combos.count)
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, combos.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while !shouldStop(), let i = results.claim() {
                let result = BacktestEngine.replay(prepared, settings: settings[i])
                results.set(i, result)
                finished(i, result)
            }
        }
        return (0..<combos.count).compactMap { i in results.get(i).map { (combos[i], settings[i], $0) } }
    }

    /// A heatmap of `metric` over two parameters (the first two given), as SVG.
    public static func heatmapSVG(
        xName: String,
        xValues: [Double],
        yName: String,
        yValues: [Double],
        value: (Double, Double) -> Double?,
        metric: String
    ) -> String {
        let cell = 56.0
        let left = 90.0
        let top = 40.0
        let w = left + cell * Double(xValues.count) + 20
        let h = top + cell * Double(yValues.count) + 50
        let all = xValues.flatMap { x in yValues.compactMap { value(x, $0) } }.filter(\.isFinite)
        let lo = all.min() ?? 0
        let hi = all.max() ?? 1
        func color(_ v: Double) -> String {
            let t = hi > lo ? (v - lo) / (hi - lo) : 0.5
            let r = Int(255 * (1 - t) + 30 * t)
            let g = Int(80 * (1 - t) + 160 * t)
            let b = Int(80 * (1 - t) + 90 * t)
            return "rgb(\(r),\(g),\(b))"
        }
        var svg = #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(Int(w))" height="\#(Int(h))" font-family="sans-serif" font-size="11">"#
        svg += #"<rect width="100%" height="100%" fill="white"/>"#
        svg += #"<text x="10" y="18">\#(metric) by \#(xName) (x) and \#(yName) (y)</text>"#
        for (i, x) in xValues.enumerated() {
            svg += #"<text x="\#(left + cell * Double(i) + cell / 2)" y="\#(h - 30)" text-anchor="middle">\#(trim(x))</text>"#
            for (j, y) in yValues.enumerated() {
                let px = left + cell * Double(i)
                let py = top + cell * Double(j)
                if let v = value(x, y), v.isFinite {
                    svg += #"<rect x="\#(px)" y="\#(py)" width="\#(cell - 2)" height="\#(cell - 2)" fill="\#(color(v))"/>"#
                    svg += #"<text x="\#(px + cell / 2)" y="\#(py + cell / 2 + 4)" text-anchor="middle" fill="white">\#(String(format: "%.3g", v))</text>"#
                } else {
                    svg += #"<rect x="\#(px)" y="\#(py)" width="\#(cell - 2)" height="\#(cell - 2)" fill="lightgray"/>"#
                }
            }
        }
        for (j, y) in yValues.enumerated() {
            svg += #"<text x="\#(left - 6)" y="\#(top + cell * Double(j) + cell / 2 + 4)" text-anchor="end">\#(trim(y))</text>"#
        }
        svg += #"<text x="\#(left)" y="\#(h - 10)">\#(xName)</text>"#
        return svg + "</svg>\n"
    }

    static func trim(_ v: Double) -> String { String(format: "%g", v) }

    /// A parameter value as short text (`0.65`, `3`).
    public static func format(_ v: Double) -> String { String(format: "%g", v) }
}

/// Per-index result slots written by concurrent workers, and the next index to claim: how a sweep
/// (and `scalper cluster`) hands out work to its cores one item at a time.
public final class ClaimedSlots<Value: Sendable>: @unchecked Sendable {
    // @unchecked: every access to the slots and the counter holds the lock.
    private var slots: [Value?]
    private var next = 0
    private let lock = NSLock()

    /// `count` empty slots.
    public init(count: Int) { slots = Array(repeating: nil, count: count) }

    /// The next index nobody has taken, or nil when all are taken.
    public func claim() -> Int? {
        lock.withLock {
            guard next < slots.count else { return nil }
            next += 1
            return next - 1
        }
    }

    /// Stores the value of index `i`.
    public func set(_ i: Int, _ value: Value) { lock.withLock { slots[i] = value } }

    /// The value of index `i`, nil when it did not run.
    public func get(_ i: Int) -> Value? { lock.withLock { slots[i] } }

    /// Every stored value, in index order.
    public func all() -> [Value] { lock.withLock { slots.compactMap { $0 } } }
}
