import ArgumentParser
import Backtest
import Foundation
import MarketData
import Model
import Research
import ScalperCore
import Trading

/// `scalper cluster`: optimise the signal and exit parameters per symbol-month, then ask whether
/// the chosen parameters form groups, and whether those groups follow the symbol or the period.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Per symbol-month parameter optimisation (train / validate / out of sample) and k-means clustering of the chosen parameters.",
        discussion: """
            A unit is one symbol over one calendar month. Each unit is split by time: the first --split share trains a model through the training pipeline (its last 15 % is the early-stopping and calibration tail), the next share replays every --grid combination (features and predictions computed once) and chooses the one with the best total return among those with at least --min-trades trades, and the last share replays that choice once, out of sample. The label horizon is purged between the parts. WFE = out-of-sample return a day over validation return a day (none when the validation return is not positive). Units run in parallel, one per core.

            The chosen parameter vectors of the units kept (enough bars, a chosen combination) are standardised (z-scores per parameter; a parameter every unit chose alike counts for nothing) and clustered by k-means (k-means++, --restarts restarts, --seed). k is the k in 2…min(--k-max, units − 1) with the highest mean silhouette, or 1 when that silhouette is below 0.25 ("no substantial structure", Kaufman & Rousseeuw). Whether clusters follow the symbol or the period: the adjusted Rand index of the cluster labels against the symbols and against the months, each with a permutation p-value (9,999 shuffles).

            The default grid is \(ClusterCommand.defaultGrid.joined(separator: " ")); each --grid replaces one key's values or adds a key (YAML names, as in `scalper sweep --param`). Writes report.md, units.csv, grid.csv (every unit's every combination on validation), clusters.json and each unit's model bundle (models/) to --out.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Units SYMBOL:YYYY-MM, comma-separated (e.g. FILUSDT:2023-08,NEARUSDT:2023-08).")
    var units: String?

    @Option(help: "Symbols, comma-separated: every symbol-month of them the store holds (limited to --months when given).")
    var symbols: String?

    @Option(help: "Months YYYY-MM, comma-separated (with --symbols).")
    var months: String?

    @Option(help: "A grid parameter: name=a,b,c or name=start:stop:step (repeatable); replaces that key's default values or adds a key.")
    var grid: [String] = []

    @Option(help: "Percent of each unit that trains / validates (chooses the parameters) / is out of sample.")
    var split = "60/20/20"

    @Option(help: "Fewest validation trades a combination needs to be chosen; a unit where none has them is left out of the clustering.")
    var minTrades = 10

    @Option(help: "Fewest bars a unit needs (20160 = 14 days of 1m bars); fewer, and it is left out.")
    var minBars = 20_160

    @Option(help: "Largest number of clusters tried.")
    var kMax = 6

    @Option(help: "k-means restarts per k (the lowest inertia wins).")
    var restarts = 10

    @Option(help: "Seed of the k-means++ seeding and the permutation tests.")
    var seed: UInt64 = 1

    @Option(help: "Output folder for report.md, units.csv, grid.csv, clusters.json and models/ (default: cluster-<UTC time> in the workspace).")
    var out: String?

    @Flag(help: "Print one JSON object (units and clustering) instead of the tables.")
    var json = false

    /// The grid used where --grid does not name a key.
    static let defaultGrid = [
        "signals.min_probability=0.45,0.55,0.65,0.75",
        "signals.take_profit_pct=0.003,0.005,0.008",
        "signals.stop_loss_pct=0.002,0.004",
        "execution.timeout_seconds=180,600",
    ]

    /// Permutations of each ARI's test.
    static let permutations = 9_999

    func validate() throws {
        switch (units, symbols) {
        case (nil, nil): throw ValidationError("give --units SYMBOL:YYYY-MM,… or --symbols (with --months)")
        case (.some, .some): throw ValidationError("give either --units or --symbols, not both")
        case (.some, nil):
            if months != nil { throw ValidationError("--months goes with --symbols; --units names each month itself") }
            _ = try parsedUnits()
        case (nil, .some(let text)):
            if symbolList(text).isEmpty { throw ValidationError("--symbols is empty") }
            _ = try parsedMonths()
        }
        _ = try parsedGrid()
        _ = try parsedSplit()
        if kMax < 2 { throw ValidationError("--k-max must be at least 2") }
        if restarts < 1 { throw ValidationError("--restarts must be at least 1") }
        if minTrades < 1 { throw ValidationError("--min-trades must be at least 1") }
        if minBars < 1 { throw ValidationError("--min-bars must be at least 1") }
    }

    /// `--units` as units, refusing a malformed or repeated one.
    func parsedUnits() throws -> [ClusterUnit] {
        let items = (units ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !items.isEmpty else { throw ValidationError("--units is empty") }
        var out: [ClusterUnit] = []
        for item in items {
            let parts = item.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, let unit = ClusterUnit(symbol: parts[0].uppercased(), month: parts[1]) else {
                throw ValidationError("--units: '\(item)' is not SYMBOL:YYYY-MM (e.g. FILUSDT:2023-08)")
            }
            guard !out.contains(unit) else { throw ValidationError("--units: \(unit.symbol):\(unit.month) is given twice") }
            out.append(unit)
        }
        return out
    }

    /// `--months` (nil when not given), refusing a malformed one.
    func parsedMonths() throws -> [String]? {
        guard let months else { return nil }
        let items = months.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !items.isEmpty else { throw ValidationError("--months is empty") }
        for item in items where ClusterUnit(symbol: "X", month: item) == nil {
            throw ValidationError("--months: '\(item)' is not YYYY-MM (e.g. 2023-08)")
        }
        return items
    }

    /// The grid: the defaults with each --grid key replaced or added, in the defaults' order then
    /// the added keys'.
    func parsedGrid() throws -> [SweepParameter] {
        var parameters = try Self.defaultGrid.map { try SweepParameter(parsing: $0) }
        for text in grid {
            let p: SweepParameter
            do {
                p = try SweepParameter(parsing: text)
            } catch {
                throw ValidationError("--grid: \(error)")
            }
            guard p.key != "backtest.capital" else { throw ValidationError("--grid: backtest.capital is not a trading parameter") }
            if let i = parameters.firstIndex(where: { $0.key == p.key }) { parameters[i] = p } else { parameters.append(p) }
        }
        return parameters
    }

    /// `--split a/b/c` as (train, validation) percent; the three must be positive and sum to 100.
    func parsedSplit() throws -> (train: Int, validation: Int) {
        let parts = split.split(separator: "/").map { Int($0) }
        guard parts.count == 3, let a = parts[0], let b = parts[1], let c = parts[2], a > 0, b > 0, c > 0, a + b + c == 100 else {
            throw ValidationError("--split '\(split)' is not three positive percentages that sum to 100, e.g. 60/20/20")
        }
        return (a, b)
    }

    func run() async throws {
        let settings = try global.loadConfiguration()
        let interval = KlineInterval.oneMinute
        let parameters = try parsedGrid()
        let (trainPercent, validationPercent) = try parsedSplit()
        var base = BacktestSettings()
        base.capital = settings.backtest.capital
        base.signals = settings.signals
        base.risk = settings.risk
        base.execution = settings.execution
        let combinations: [(values: [Double], settings: BacktestSettings)]
        do {
            combinations = try Sweep.combinations(parameters).map { values in
                let settings = try zip(parameters, values).reduce(base) { try Sweep.apply($0, key: $1.0.key, value: $1.1) }
                return (values: values, settings: settings)
            }
        } catch {
            throw ValidationError("--grid: \(error)")
        }
        let store = try MarketStore(path: global.storePath(settings))
        let chosenUnits = try resolveUnits(store, interval: interval)

        let folder = URL(fileURLWithPath: global.workspace.resolve(out ?? "cluster-\(Self.stamp())"))
        for name in ["report.md", "units.csv", "grid.csv", "clusters.json", "models"]
        where FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) {
            throw ValidationError("--out \(folder.path) already holds \(name) of an earlier run; give another folder")
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)

        // Bars and filters are read here, on one thread; the workers only compute.
        var jobs: [(unit: ClusterUnit, klines: [Kline], filters: SymbolFilters?)] = []
        for unit in chosenUnits {
            let klines = try store.klines(symbol: unit.symbol, interval: interval, from: unit.from, to: unit.to)
            let filters: SymbolFilters? = try klines.isEmpty ? nil : store.symbolFilters(symbol: unit.symbol)
            jobs.append((unit: unit, klines: klines, filters: filters))
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let workers = max(1, min(cores, jobs.count))
        var model = settings.model
        // One unit per core: each trains with its share of the cores unless the config fixes threads.
        if model.threads == 0 { model.threads = max(1, cores / workers) }
        let plan = UnitPlan(
            trainPercent: trainPercent,
            validationPercent: validationPercent,
            grid: parameters,
            combinations: combinations,
            minimumTrades: minTrades,
            minimumBars: minBars,
            model: model,
            warmupBars: settings.trading.warmupBars,
            modelsDirectory: folder.appendingPathComponent("models"),
            gitCommit: gitCommit(),
            interval: interval
        )
        note(
            "cluster: \(counted(jobs.count, "unit")), \(counted(combinations.count, "combination")) each, \(counted(workers, "unit")) at a time; output \(folder.path)"
        )
        let clock = ContinuousClock()
        let started = clock.now
        let counter = FinishedCounter(total: jobs.count)
        let outcomes = UnitOptimiser.run(jobs, plan: plan, workers: workers) { o in
            let n = counter.increment()
            let what: String
            if let excluded = o.excluded {
                what = "left out: \(excluded)"
            } else {
                what = String(
                    format: "trained %.1f s, %d combinations %.1f s; validation %+.2f %% (%d trades), out of sample %+.2f %% (%d trades)",
                    o.trainSeconds, o.combinationsTried, o.gridSeconds, (o.validation?.totalReturn ?? .nan) * 100,
                    o.validation?.trades ?? 0, (o.outOfSample?.totalReturn ?? .nan) * 100, o.outOfSample?.trades ?? 0
                )
            }
            note("[\(n)/\(counter.total)] \(o.unit.name): \(what)")
        }
        let seconds = Trainer.seconds(clock.now - started)
        note(String(format: "optimised %d units in %.1f s", outcomes.count, seconds))

        let report = ClusterReport(
            outcomes: outcomes, parameters: parameters.map(\.key), kMax: kMax, restarts: restarts, seed: seed,
            permutations: Self.permutations, minimumTrades: minTrades, split: split, seconds: seconds
        )
        try report.write(
            to: folder, combinations: combinations.map(\.values), commandLine: CommandLine.arguments.dropFirst().joined(separator: " ")
        )
        if json {
            print(try report.jsonText(pretty: false))
        } else {
            print(report.text())
            print("wrote \(folder.appendingPathComponent("report.md").path), units.csv, grid.csv, clusters.json")
        }
    }

    /// The units asked for: --units as given (an unstored one is listed and left out), else every
    /// stored month of --symbols (within --months when given).
    private func resolveUnits(_ store: MarketStore, interval: KlineInterval) throws -> [ClusterUnit] {
        if units != nil { return try parsedUnits() }
        let list = symbolList(symbols ?? "")
        let summaries = try store.series().filter { $0.interval == interval }
        var out: [ClusterUnit] = []
        var missing: [String] = []
        for symbol in list {
            guard let summary = summaries.first(where: { $0.symbol == symbol }) else {
                throw ValidationError("--symbols: the store has no \(interval) bars of \(symbol)")
            }
            var candidates: [ClusterUnit] = []
            if let wanted = try parsedMonths() {
                candidates = wanted.compactMap { ClusterUnit(symbol: symbol, month: $0) }
            } else {
                var t = UTC.startOfMonth(summary.firstOpenTime)
                while t <= summary.lastOpenTime {
                    let c = UTC.components(t)
                    if let unit = ClusterUnit(symbol: symbol, month: String(format: "%04d-%02d", c.year, c.month)) {
                        candidates.append(unit)
                    }
                    t = UTC.startOfNextMonth(t)
                }
            }
            for unit in candidates {
                if try store.count(symbol: symbol, interval: interval, from: unit.from, to: unit.to) > 0 {
                    out.append(unit)
                } else {
                    missing.append("\(unit.symbol):\(unit.month)")
                }
            }
        }
        if !missing.isEmpty { note("not stored, skipped: \(missing.joined(separator: ", "))") }
        guard !out.isEmpty else { throw ValidationError("--symbols/--months: the store holds none of these symbol-months") }
        return out
    }

    /// `20261203T164500Z`.
    static func stamp() -> String {
        UTC.isoString(UTC.now()).replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
    }
}

/// Units finished so far, for the progress lines.
private final class FinishedCounter: @unchecked Sendable {
    // @unchecked: `done` is used under `lock`.
    let total: Int
    private var done = 0
    private let lock = NSLock()

    init(total: Int) { self.total = total }

    func increment() -> Int {
        lock.withLock {
            done += 1
            return done
        }
    }
}

/// The units' table, the clustering and its reading, as text, Markdown, CSV and JSON.
struct ClusterReport {
    var outcomes: [UnitOutcome]
    /// Grid keys, in order.
    var parameters: [String]
    var kMax: Int
    var restarts: Int
    var seed: UInt64
    var permutations: Int
    var minimumTrades: Int
    var split: String
    /// Wall seconds of the per-unit optimisation.
    var seconds: Double
    /// The units clustered (in input order).
    let kept: [UnitOutcome]
    /// The clustering, nil with fewer than two units kept.
    let clustering: Clustering?

    /// What the clustering found.
    struct Clustering {
        var choice: Silhouette.Choice
        /// Each kept unit's cluster (1-based in print; 0-based here), in `kept` order.
        var labels: [Int]
        /// Each cluster's centroid in the parameters' own units (the mean of its members' values).
        var centroids: [[Double]]
        var standardization: Standardization
        var symbol: PartitionAgreement.Agreement
        var period: PartitionAgreement.Agreement
        var reading: String
    }

    init(
        outcomes: [UnitOutcome],
        parameters: [String],
        kMax: Int,
        restarts: Int,
        seed: UInt64,
        permutations: Int,
        minimumTrades: Int,
        split: String,
        seconds: Double
    ) {
        self.outcomes = outcomes
        self.parameters = parameters
        self.kMax = kMax
        self.restarts = restarts
        self.seed = seed
        self.permutations = permutations
        self.minimumTrades = minimumTrades
        self.split = split
        self.seconds = seconds
        let kept = outcomes.filter { $0.excluded == nil }
        self.kept = kept
        guard kept.count >= 2 else {
            clustering = nil
            return
        }
        let values = kept.map(\.chosen)
        let standardization = Standardization(fitting: values)
        let z = standardization.apply(rows: values)
        let choice = Silhouette.chooseClusterCount(z, kMax: kMax, restarts: restarts, seed: seed)
        let labels = choice.clustering.labels
        let centroids = (0..<choice.k).map { c in
            let members = values.indices.filter { labels[$0] == c }
            return parameters.indices.map { j in members.map { values[$0][j] }.reduce(0, +) / Double(members.count) }
        }
        let symbol = PartitionAgreement.test(labels, against: kept.map(\.unit.symbol), permutations: permutations, seed: seed)
        let period = PartitionAgreement.test(labels, against: kept.map(\.unit.month), permutations: permutations, seed: seed)
        clustering = Clustering(
            choice: choice, labels: labels, centroids: centroids, standardization: standardization, symbol: symbol, period: period,
            reading: PartitionAgreement.reading(clusters: choice.k, symbol: symbol, period: period)
        )
    }

    /// Short names of the parameters (`min_probability`).
    var shortNames: [String] { parameters.map { String($0.split(separator: ".").last ?? "") } }

    /// Each unit's cluster (1-based), nil for a unit left out.
    func cluster(of outcome: UnitOutcome) -> Int? {
        guard let clustering, let i = kept.firstIndex(where: { $0.unit == outcome.unit }) else { return nil }
        return clustering.labels[i] + 1
    }

    private static func percent(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "–" }
        return String(format: "%+.2f%%", x * 100)
    }

    private static func ratio(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "–" }
        return String(format: "%.2f", x)
    }

    private func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }

    /// The terminal report.
    func text() -> String {
        var lines: [String] = []
        let names = shortNames
        let widths = names.map { max($0.count, 6) + 2 }
        var header = pad("unit", 18)
        for (n, w) in zip(names, widths) { header += pad(n, w) }
        header += "val trades  val return  OOS trades  OOS return  WFE     cluster"
        lines.append("units: \(outcomes.count) (split \(split) train/validation/out of sample; chosen: best validation return with ≥ \(minimumTrades) trades)")
        lines.append(header)
        for o in outcomes where o.excluded == nil {
            var row = pad(o.unit.name, 18)
            for (v, w) in zip(o.chosen, widths) { row += pad(Sweep.format(v), w) }
            row += pad(String(o.validation?.trades ?? 0), 12) + pad(Self.percent(o.validation?.totalReturn), 12)
            row += pad(String(o.outOfSample?.trades ?? 0), 12) + pad(Self.percent(o.outOfSample?.totalReturn), 12)
            row += pad(Self.ratio(o.efficiency), 8) + (cluster(of: o).map(String.init) ?? "–")
            lines.append(row)
        }
        let excluded = outcomes.filter { $0.excluded != nil }
        if !excluded.isEmpty {
            lines.append("left out of the clustering:")
            for o in excluded { lines.append("  \(o.unit.name) (\(o.bars) bars): \(o.excluded ?? "")") }
        }
        let efficiencies = kept.compactMap(\.efficiency)
        if !kept.isEmpty {
            let median = efficiencies.isEmpty ? Double.nan : efficiencies.sorted()[efficiencies.count / 2]
            let positive = kept.filter { ($0.outOfSample?.totalReturn ?? 0) > 0 }.count
            lines.append(
                "WFE defined for \(efficiencies.count) of \(kept.count) units (positive validation return), median \(Self.ratio(median)); \(positive) of \(kept.count) units profitable out of sample"
            )
        }
        lines.append("")
        lines.append(contentsOf: clusteringLines())
        return lines.joined(separator: "\n")
    }

    /// The clustering section (plain text, also used in the Markdown report).
    func clusteringLines() -> [String] {
        guard let c = clustering else {
            return ["clustering: not done — \(kept.count) unit\(kept.count == 1 ? "" : "s") kept, at least 2 are needed"]
        }
        var lines: [String] = []
        lines.append(
            "clustering: \(kept.count) units on \(parameters.count) parameters (z-scores), k-means++ with \(restarts) restarts, seed \(seed)"
        )
        let constant = parameters.indices.filter { c.standardization.deviations[$0] == 0 }.map { shortNames[$0] }
        if !constant.isEmpty { lines.append("  the same for every unit (no weight): \(constant.joined(separator: ", "))") }
        let distinct = KMeans.distinctCount(kept.map(\.chosen))
        if distinct < kept.count {
            // Grid choices repeat: units that chose the very same point are at distance 0, which
            // lifts every silhouette of a partition that keeps them together.
            lines.append(
                "  \(kept.count) units chose \(distinct) distinct grid points; identical choices sit at distance 0, so silhouettes of partitions that keep them together run high by construction"
            )
        }
        if c.choice.scores.isEmpty {
            lines.append("  silhouettes: none tried")
        } else {
            lines.append("  mean silhouette by k: " + c.choice.scores.map { String(format: "k=%d %.3f", $0.k, $0.silhouette) }.joined(separator: ", "))
        }
        lines.append("  k = \(c.choice.k): \(c.choice.reason)")
        for (i, centroid) in c.centroids.enumerated() {
            let members = kept.indices.filter { c.labels[$0] == i }.map { kept[$0].unit.name }
            let centre = zip(shortNames, centroid).map { "\($0)=\(String(format: "%.4g", $1))" }.joined(separator: " ")
            lines.append("  cluster \(i + 1) (\(members.count) units): centroid \(centre)")
            lines.append("    members: \(members.joined(separator: ", "))")
        }
        lines.append(
            String(
                format: "  follows the symbol? ARI %.3f (p = %.4f); the period? ARI %.3f (p = %.4f) — permutation p over %d shuffles",
                c.symbol.ari, c.symbol.pValue, c.period.ari, c.period.pValue, permutations
            )
        )
        lines.append("  reading: \(c.reading)")
        return lines
    }

    /// The units as CSV: one row per unit, kept or not.
    func csv() -> String {
        var text = "symbol,month,bars,status,reason," + parameters.joined(separator: ",")
        text += ",validation_from,validation_to,validation_trades,validation_return,validation_return_per_day,validation_auc"
        text += ",oos_from,oos_to,oos_trades,oos_return,oos_return_per_day,oos_max_drawdown,wfe,cluster,bundle\n"
        func v(_ x: Double?) -> String { x.map { $0.isFinite ? "\($0)" : "" } ?? "" }
        for o in outcomes {
            let reason = (o.excluded ?? "").replacingOccurrences(of: "\"", with: "\"\"")
            var row = "\(o.unit.symbol),\(o.unit.month),\(o.bars),\(o.excluded == nil ? "kept" : "left out"),\"\(reason)\","
            row += (o.chosen.isEmpty ? [String](repeating: "", count: parameters.count) : o.chosen.map(Sweep.format)).joined(separator: ",")
            let hasSplit = o.validationStart > 0
            row += "," + (hasSplit ? UTC.isoString(o.validationStart) : "") + "," + (hasSplit ? UTC.isoString(o.validationEnd) : "")
            row += ",\(o.validation.map { String($0.trades) } ?? ""),\(v(o.validation?.totalReturn)),\(o.validation == nil ? "" : v(o.validationPerDay)),\(v(hasSplit ? o.validationAUC : nil))"
            row += "," + (hasSplit ? UTC.isoString(o.outOfSampleStart) : "") + "," + (hasSplit ? UTC.isoString(o.end) : "")
            row += ",\(o.outOfSample.map { String($0.trades) } ?? ""),\(v(o.outOfSample?.totalReturn)),\(o.outOfSample == nil ? "" : v(o.outOfSamplePerDay)),\(v(o.outOfSample?.maxDrawdown))"
            row += ",\(v(o.efficiency)),\(cluster(of: o).map(String.init) ?? ""),\(o.bundle)\n"
            text += row
        }
        return text
    }

    /// A figure for JSON: null where it is not a number.
    private static func number(_ x: Double?) -> Any { x.flatMap { $0.isFinite ? $0 : nil } ?? NSNull() }

    /// The clustering (and the left-out units) as a JSON object.
    func clustersObject() -> [String: Any] {
        let leftOut: [[String: String]] = outcomes.filter { $0.excluded != nil }.map {
            ["symbol": $0.unit.symbol, "month": $0.unit.month, "reason": $0.excluded ?? ""]
        }
        var object: [String: Any] = ["parameters": parameters, "units_kept": kept.count, "seed": seed, "restarts": restarts, "k_max": kMax]
        object["left_out"] = leftOut
        guard let c = clustering else {
            object["k"] = NSNull()
            object["reason"] = "\(kept.count) units kept; at least 2 are needed"
            return object
        }
        object["k"] = c.choice.k
        object["distinct_vectors"] = KMeans.distinctCount(kept.map(\.chosen))
        object["reason"] = c.choice.reason
        object["silhouette_cutoff"] = c.choice.cutoff
        object["silhouettes"] = c.choice.scores.map { ["k": $0.k, "silhouette": Self.number($0.silhouette)] }
        object["clusters"] = c.centroids.indices.map { i -> [String: Any] in
            let members = kept.indices.filter { c.labels[$0] == i }
            return [
                "cluster": i + 1,
                "size": members.count,
                "members": members.map { ["symbol": kept[$0].unit.symbol, "month": kept[$0].unit.month] },
                "centroid": Dictionary(uniqueKeysWithValues: zip(parameters, c.centroids[i].map { Self.number($0) })),
            ]
        }
        object["standardization"] = [
            "means": Dictionary(uniqueKeysWithValues: zip(parameters, c.standardization.means.map { Self.number($0) })),
            "deviations": Dictionary(uniqueKeysWithValues: zip(parameters, c.standardization.deviations.map { Self.number($0) })),
        ]
        object["ari_symbol"] = Self.number(c.symbol.ari)
        object["ari_symbol_p"] = Self.number(c.symbol.pValue)
        object["ari_month"] = Self.number(c.period.ari)
        object["ari_month_p"] = Self.number(c.period.pValue)
        object["permutations"] = permutations
        object["reading"] = c.reading
        return object
    }

    /// One unit as a JSON object.
    private func unitObject(_ o: UnitOutcome) -> [String: Any] {
        var u: [String: Any] = [
            "symbol": o.unit.symbol, "month": o.unit.month, "bars": o.bars, "kept": o.excluded == nil,
            "reason": o.excluded.map { $0 as Any } ?? NSNull(), "cluster": cluster(of: o).map { $0 as Any } ?? NSNull(),
            "wfe": Self.number(o.efficiency),
        ]
        if !o.chosen.isEmpty { u["chosen"] = Dictionary(uniqueKeysWithValues: zip(parameters, o.chosen)) }
        if let m = o.validation {
            u["validation"] = [
                "from": UTC.isoString(o.validationStart), "to": UTC.isoString(o.validationEnd), "trades": m.trades,
                "total_return": Self.number(m.totalReturn), "return_per_day": Self.number(o.validationPerDay), "auc": Self.number(o.validationAUC),
                "combinations": o.combinationsTried, "eligible": o.combinationsEligible,
            ]
        }
        if let m = o.outOfSample {
            u["out_of_sample"] = [
                "from": UTC.isoString(o.outOfSampleStart), "to": UTC.isoString(o.end), "trades": m.trades,
                "total_return": Self.number(m.totalReturn), "return_per_day": Self.number(o.outOfSamplePerDay),
                "max_drawdown": Self.number(m.maxDrawdown), "sharpe": Self.number(m.sharpe),
            ]
        }
        return u
    }

    /// Units and clustering in one JSON text (what --json prints).
    func jsonText(pretty: Bool) throws -> String {
        let object: [String: Any] = ["units": outcomes.map(unitObject), "clustering": clustersObject(), "seconds": seconds]
        var options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        if pretty { options.insert(.prettyPrinted) }
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: options), as: UTF8.self)
    }

    /// Every unit's every combination on validation: how clear each choice was.
    func gridCSV(combinations: [[Double]]) -> String {
        var text = "symbol,month," + parameters.joined(separator: ",") + ",validation_trades,validation_return,eligible,chosen\n"
        for o in outcomes {
            for (i, r) in o.gridResults.enumerated() where i < combinations.count {
                text += "\(o.unit.symbol),\(o.unit.month)," + combinations[i].map(Sweep.format).joined(separator: ",")
                text += ",\(r.trades),\(r.totalReturn.isFinite ? "\(r.totalReturn)" : ""),\(r.trades >= minimumTrades),\(o.chosenIndex == i)\n"
            }
        }
        return text
    }

    /// report.md, units.csv, grid.csv and clusters.json in `folder`.
    func write(to folder: URL, combinations: [[Double]], commandLine: String) throws {
        try Data(csv().utf8).write(to: folder.appendingPathComponent("units.csv"))
        try Data(gridCSV(combinations: combinations).utf8).write(to: folder.appendingPathComponent("grid.csv"))
        let clusters = try JSONSerialization.data(withJSONObject: clustersObject(), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try clusters.write(to: folder.appendingPathComponent("clusters.json"))
        try Data(markdown(commandLine: commandLine).utf8).write(to: folder.appendingPathComponent("report.md"))
    }

    /// The Markdown report.
    func markdown(commandLine: String) -> String {
        var md = "# Per-unit optimisation and parameter clusters\n\n"
        md += "`scalper \(commandLine)`\n\n"
        md += "A unit is one symbol over one calendar month, split \(split) (train / validation / out of sample) by time with the label horizon purged between the parts. "
        md += "The model trains on the first part; every grid combination is replayed on the validation part and the one with the best total return among those with at least \(minimumTrades) trades is chosen; it is replayed once out of sample. "
        md += "WFE = out-of-sample return a day ÷ validation return a day (none when the validation return is not positive). "
        md += String(format: "The %d units took %.1f s.\n\n", outcomes.count, seconds)
        md += "| unit | " + shortNames.joined(separator: " | ") + " | val trades | val return | OOS trades | OOS return | WFE | cluster |\n"
        md += "|---|" + String(repeating: "---|", count: shortNames.count + 6) + "\n"
        for o in outcomes where o.excluded == nil {
            md += "| \(o.unit.name) | " + o.chosen.map(Sweep.format).joined(separator: " | ")
            md += " | \(o.validation?.trades ?? 0) | \(Self.percent(o.validation?.totalReturn)) | \(o.outOfSample?.trades ?? 0)"
            md += " | \(Self.percent(o.outOfSample?.totalReturn)) | \(Self.ratio(o.efficiency)) | \(cluster(of: o).map(String.init) ?? "–") |\n"
        }
        let excluded = outcomes.filter { $0.excluded != nil }
        if !excluded.isEmpty {
            md += "\nLeft out of the clustering:\n\n"
            for o in excluded { md += "- \(o.unit.name) (\(o.bars) bars): \(o.excluded ?? "")\n" }
        }
        md += "\n## Clusters\n\n"
        md += "Chosen parameter vectors standardised per parameter (z-scores), k-means (k-means++ seeding); k is the k in 2…min(\(kMax), units − 1) with the highest mean silhouette, or 1 when that is below 0.25 (Kaufman & Rousseeuw: no substantial structure). "
        md += "Whether the clusters follow the symbol or the period: adjusted Rand index of the cluster labels against the symbols and against the months, with a permutation p-value.\n\n"
        md += "```\n" + clusteringLines().joined(separator: "\n") + "\n```\n"
        return md
    }
}
