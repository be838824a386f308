import ArgumentParser
import Features
import Foundation
import LinearAlgebra
import MarketData
import ScalperCore

/// `scalper bench`: speed figures, one `bench <name> <value> <unit>` line each (build with -c release).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure speed (features); prints `bench <name> <value> <unit>` lines. Use a release build.",
        discussion: "`make bench` runs this beside the Python reference and prints ratios."
    )

    @Option(help: "Folder of kline files (FILUSDT/1m and NEARUSDT/1m under it).")
    var data = "../shared/datasets/binance/futures-um/klines"

    @Option(help: "Timed repetitions (the median is reported).")
    var repeats = 5

    func run() async throws {
        let fil = try load(symbol: "FILUSDT")
        let near = try load(symbol: "NEARUSDT")

        // Batch: all 42 features + label over one symbol's full history (308,160 bars of FILUSDT).
        _ = try BatchFeatures.compute(fil, label: .default)  // warm-up
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = ContinuousClock.now
            let table = try BatchFeatures.compute(fil, label: .default)
            times.append(seconds(since: start))
            if table.features.rows != fil.count { throw fail("row count mismatch") }
        }
        let batch = Double(fil.count) / median(times)
        note("features: \(fil.count) bars in \(String(format: "%.3f", median(times))) s (median of \(repeats))")
        print("bench features.batch_rows_per_s \(Int(batch)) rows/s")

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
    }

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
