import ArgumentParser
import Features
import Foundation
import LinearAlgebra
import MarketData
import Model
import ScalperCore
import Scanner

/// `scalper bench`: speed figures, one `bench <name> <value> <unit>` line each (build with -c release).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure speed (features); prints `bench <name> <value> <unit>` lines. Use a release build.",
        discussion: "`make bench` runs this beside the Python reference and prints ratios."
    )

    @Option(help: "Folder of kline files (FILUSDT/1m and NEARUSDT/1m under it).")
    var data = "../shared/datasets/binance/futures-um/klines"

    @Option(help: "Timed repetitions (batch features: fastest and median reported; streaming: half as many).")
    var repeats = 7

    @Option(help: "A model bundle to time predictions with (predict.* figures).")
    var model: String?

    @Option(help: "Prediction calls per latency figure.")
    var calls = 5_000

    @Option(help: "Run only this part: features, predict, scanner, exchange or dashboard.")
    var only: String?

    @Option(help: "A running session's dashboard (dashboard.* figures: how fast its fills reach the screen in headless Chromium).")
    var dashboardURL: String?

    @Option(help: "Seconds to watch the dashboard.")
    var dashboardSeconds = 60.0

    @Option(help: "A market store with FILUSDT 1m bars: the local exchange's order API figures (exchange.*).")
    var store: String?

    @Option(help: "Scanner input: gzip JSONL of combined-stream miniTicker frames.")
    var scannerFrames = "../shared/reference/scanner/miniticker-150x600.jsonl.gz"

    func run() async throws {
        if only == "scanner" { return try benchScanner() }
        if only == "exchange" { return try await benchExchange() }
        if only == "dashboard" { return try await benchDashboard() }
        if let only, only != "features" && only != "predict" {
            throw fail("--only \(only): expected features, predict, scanner, exchange or dashboard")
        }
        let fil = try load(symbol: "FILUSDT")
        if only == "predict" {
            guard let model else { throw fail("--only predict needs --model") }
            return try benchPredict(model: model, bars: fil)
        }
        let near = try load(symbol: "NEARUSDT")

        // Batch: all 42 features + label over one symbol's full history (every FILUSDT 1m bar), the
        // fastest of `repeats` timed calls after one warm-up, as the reference's figure in `make bench`
        // (scripts/ref_features_bench.py) is the fastest of its calls: on a shared machine the
        // fastest call is the one least disturbed by other work, for both sides alike.
        _ = try BatchFeatures.compute(fil, label: .default)  // warm-up
        var times: [Double] = []
        for _ in 0..<max(1, repeats) {
            let start = ContinuousClock.now
            let table = try BatchFeatures.compute(fil, label: .default)
            times.append(seconds(since: start))
            if table.features.rows != fil.count || table.labels?.count != fil.count { throw fail("row count mismatch") }
        }
        let fastest = times.min() ?? .nan
        let all = times.map { String(format: "%.4f", $0) }.joined(separator: " ")
        let summary = "\(String(format: "%.4f", fastest)) s fastest, \(String(format: "%.4f", median(times))) s median"
        note("features: \(fil.count) bars (42 features + label): \(summary) of \(times.count) after 1 warm-up (all: \(all) s)")
        print("bench features.batch_rows_per_s \(Int(Double(fil.count) / fastest)) rows/s")
        print("bench features.batch_rows_per_s_median \(Int(Double(fil.count) / median(times))) rows/s")
        print("bench features.rows \(fil.count) rows")

        // Streaming: 150 symbols, each a rescaled copy of a real series, updated bar by bar in turn.
        let pairs = 150
        let bars = 20_000
        let series: [[Kline]] = (0..<pairs).map { p in
            let base = p % 2 == 0 ? fil : near
            let offset = (p * 997) % (base.count - bars)
            let scale = 1 + Double(p) / 100
            return base[offset..<(offset + bars)].enumerated().map { i, k in
                var copy = k
                copy.openTime = Int64(i) * 60_000
                copy.closeTime = copy.openTime + 59_999
                copy.open *= scale
                copy.high *= scale
                copy.low *= scale
                copy.close *= scale
                return copy
            }
        }
        var streamTimes: [Double] = []
        var checksum = 0.0
        for _ in 0..<max(1, repeats / 2) {
            var states = [StreamingFeatures](repeating: StreamingFeatures(), count: pairs)
            let start = ContinuousClock.now
            for i in 0..<bars {
                for p in 0..<pairs {
                    let row = try states[p].update(series[p][i])
                    checksum += row[0].isNaN ? 0 : 1
                }
            }
            streamTimes.append(seconds(since: start) / Double(bars * pairs) * 1e6)
        }
        note("streaming: \(pairs) symbols × \(bars) bars, checksum \(Int(checksum))")
        print("bench features.stream_us_per_bar \(String(format: "%.3f", median(streamTimes))) us")

        if only == "features" { return }
        if let model { try benchPredict(model: model, bars: fil) }
        try benchScanner()
        if store != nil { try await benchExchange() }
    }

    /// The scanner hot path: parse a frame, update the pair, rescore it; throughput and per-message latency.
    private func benchScanner() throws {
        let data: Data
        do {
            data = try Gzip.decompress(Data(contentsOf: URL(fileURLWithPath: scannerFrames)), name: scannerFrames)
        } catch {
            throw fail("cannot read \(scannerFrames): \(error)")
        }
        // One contiguous buffer and the frame boundaries, as a socket read would deliver them.
        let bytes = [UInt8](data)
        var bounds: [Range<Int>] = []
        var start = 0
        for (i, b) in bytes.enumerated() where b == 10 {
            if i > start { bounds.append(start..<i) }
            start = i + 1
        }
        var throughput: [Double] = []
        var sink = 0.0
        try bytes.withUnsafeBufferPointer { buffer in
            for _ in 0..<max(3, repeats) {
                var state = ScannerState()
                let t0 = ContinuousClock.now
                for r in bounds {
                    sink += try state.apply(frame: UnsafeBufferPointer(rebasing: buffer[r]))
                }
                throughput.append(Double(bounds.count) / seconds(since: t0))
            }
            var state = ScannerState()
            var latencies: [Double] = []
            latencies.reserveCapacity(bounds.count)
            for r in bounds {
                let t0 = ContinuousClock.now
                sink += try state.apply(frame: UnsafeBufferPointer(rebasing: buffer[r]))
                latencies.append(seconds(since: t0) * 1e6)
            }
            latencies.sort()
            note("scanner: \(bounds.count) frames, \(state.count) pairs, checksum \(String(format: "%.6f", state.scores.reduce(0, +)))")
            print("bench scanner.msgs_per_s \(Int(median(throughput))) msgs/s")
            print("bench scanner.p99_us_per_msg \(String(format: "%.2f", latencies[latencies.count * 99 / 100])) us")
        }
        if sink.isNaN { note("") }
    }

    /// Latency of calibrated predictions on real feature rows, one thread, as a live request would run.
    private func benchPredict(model: String, bars: [Kline]) throws {
        let predictor = try ModelBundle.load(model)
        let table = try BatchFeatures.compute(Array(bars.suffix(20_000)))
        let rows = table.features.rows(100..<table.features.rows).converted(to: Float.self)
        var rng = SystemRandomNumberGenerator()
        func sample(_ count: Int) -> Matrix<Float> {
            let start = Int.random(in: 0..<(rows.rows - count), using: &rng)
            return rows.rows(start..<(start + count))
        }
        func latencies(_ count: Int, _ body: (Matrix<Float>) throws -> Void) rethrows -> [Double] {
            var out: [Double] = []
            out.reserveCapacity(calls)
            for i in 0..<(calls + 100) {
                let input = sample(count)
                let start = ContinuousClock.now
                try body(input)
                if i >= 100 { out.append(seconds(since: start) * 1e6) }  // first 100 calls warm up
            }
            return out.sorted()
        }
        var sink = 0.0
        let single = try latencies(1) { sink += try predictor.probability(Array($0.storage)) }
        let batch10 = try latencies(10) { sink += try predictor.probabilities($0)[0] }
        let batch150 = try latencies(150) { sink += try predictor.probabilities($0)[0] }
        let full = try latencies(1) { sink += try predictor.predict($0)[0].confidence }
        func p(_ sorted: [Double], _ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        note("predict (calibrated, 1 thread): 1 row p50 \(f(p(single, 0.5))) p99 \(f(p(single, 0.99))) us; 10 rows p50 \(f(p(batch10, 0.5))) us; 150 rows p50 \(f(p(batch150, 0.5))) p99 \(f(p(batch150, 0.99))) us; full result (confidence + move) 1 row p50 \(f(p(full, 0.5))) us; checksum \(Int(sink))")
        print("bench predict.single_p50_us \(f(p(single, 0.5))) us")
        print("bench predict.single_p99_us \(f(p(single, 0.99))) us")
        print("bench predict.batch10_p50_us \(f(p(batch10, 0.5))) us")
        print("bench predict.batch150_p50_us \(f(p(batch150, 0.5))) us")
        print("bench predict.batch150_p99_us \(f(p(batch150, 0.99))) us")
        print("bench predict.full_single_p50_us \(f(p(full, 0.5))) us")
    }

    private func f(_ x: Double) -> String { String(format: "%.1f", x) }

    private func load(symbol: String) throws -> [Kline] {
        let folder = "\(data)/\(symbol)/1m"
        let files = try KlineImporter.collectFiles([folder])
        var out: [Kline] = []
        for file in files {
            let (csv, _) = try KlineFileReader.read(file)
            out += try KlineCSVParser.parse(csv, source: file.path, interval: .oneMinute).klines
        }
        out.sort { $0.openTime < $1.openTime }
        if out.count < 30_000 { throw fail("\(folder): too few bars for the benchmark (\(out.count))") }
        return out
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    private func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
