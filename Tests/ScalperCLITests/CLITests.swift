import Features
import Foundation
import MarketData
import ScalperCore
import ScalperTestSupport
import Testing

@Suite("The scalper command line, run as a user runs it")
struct CLITests {
    let dir: TemporaryDirectory
    var store: String { dir.path("market.sqlite") }

    init() throws { dir = try TemporaryDirectory() }

    @Test("--help lists every command with a one-line description")
    func help() async throws {
        let r = try await ScalperProcess.run(["--help"])
        #expect(r.status == 0)
        for command in ["data", "download", "features", "info", "bench"] {
            #expect(r.stdout.contains("  \(command) "), "missing \(command) in:\n\(r.stdout)")
        }
        let data = try await ScalperProcess.run(["data", "--help"])
        for sub in ["import", "list", "export"] { #expect(data.stdout.contains("  \(sub) ")) }
    }

    @Test("Import the sample, list it as JSON, and export a day as CSV")
    func importListExport() async throws {
        defer { dir.remove() }
        let imported = try await ScalperProcess.run(["data", "import", "--store", store, "datasets/sample"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("imported 5 of 5 files: 175680 kline rows, 175680 new"))
        // The recorded BTCUSDT streams, and the five 1m bars built from their trades.
        #expect(imported.stdout.contains("recording of BTCUSDT"))
        #expect(imported.stdout.contains("3451 depth events (0 sequence gaps), 28040 book tickers, 9757 trades"))
        #expect(imported.stdout.contains("stored: 41249 new rows; 1m bars built from the trades of wholly covered minutes: 5 new"))
        let again = try await ScalperProcess.run(["data", "import", "--store", store, "datasets/sample"])
        #expect(again.stdout.contains("0 new, 175680 already stored"))
        #expect(again.stdout.contains("stored: 0 new rows, 41249 already stored"))

        let list = try await ScalperProcess.run(["data", "list", "--store", store, "--json"])
        #expect(list.status == 0)
        let series = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(series.map { $0["symbol"] as? String } == ["BTCUSDT", "FILUSDT", "NEARUSDT"])
        #expect(series.map { $0["rows"] as? Int } == [5, 87_840, 87_840])
        #expect(series.allSatisfy { ($0["gaps"] as? [Any])?.isEmpty == true })

        let out = dir.path("fil.csv")
        let export = try await ScalperProcess.run([
            "data", "export", "--store", store, "--symbol", "FILUSDT", "--from", "2023-09-30", "--to", "2023-10-01", "--out", out,
        ])
        #expect(export.status == 0, "\(export.stderr)")
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1 + 1_440)
        #expect(lines[1].hasPrefix("1696032000000,"))
        // The export is itself importable and identical to what is stored.
        let copy = try MarketStore(path: dir.path("copy.sqlite"))
        let renamed = dir.url.appendingPathComponent("FILUSDT-1m-2023-09-30.csv")
        try FileManager.default.moveItem(atPath: out, toPath: renamed.path)
        #expect(try KlineImporter(store: copy).importFile(renamed).inserted == 1_440)
        let original = try MarketStore(path: store).klines(symbol: "FILUSDT", interval: .oneMinute, from: 1_696_032_000_000, to: 1_696_118_400_000)
        let roundTrip = try copy.klines(symbol: "FILUSDT", interval: .oneMinute, from: 1_696_032_000_000, to: 1_696_118_400_000)
        #expect(zip(original, roundTrip).allSatisfy { $0.isSameBar(as: $1) })
    }

    @Test("Bad input: one clear error with file and line, a failing exit, and the store untouched")
    func badInput() async throws {
        defer { dir.remove() }
        _ = try await ScalperProcess.run(["data", "import", "--store", store, "datasets/sample/FILUSDT-1m-2023-08.zip"])
        let bad = dir.path("FILUSDT-1m-2023-10.csv")
        try """
            1696118400000,4.0,4.1,3.9,4.0,100,1696118459999,400,10,50,200,0
            1696118460000,4.0,4.1,3.9,4.0,100,1696118519999,400,10,50,200

            """.write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try await ScalperProcess.run(["data", "import", "--store", store, bad])
        #expect(r.status != 0)
        #expect(r.stderr.contains("\(bad):2: expected 12 fields, found 11"))
        #expect(try MarketStore(path: store).totalCount() == 44_640)

        let unknown = try await ScalperProcess.run([
            "data", "export", "--store", store, "--symbol", "DOGEUSDT", "--from", "2023-08-01", "--to", "2023-08-02",
        ])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("unknown symbol DOGEUSDT at 1m: the store has FILUSDT"))

        let missing = try await ScalperProcess.run(["data", "import", "--store", store, dir.path("nope.csv")])
        #expect(missing.status != 0 && missing.stderr.contains("nope.csv: cannot read file: no such file or folder"))
    }

    @Test("A download killed mid-way resumes where it stopped and fetches nothing twice")
    func resumeAfterKill() async throws {
        defer { dir.remove() }
        let aug1: Int64 = 1_690_848_000_000
        let bars = Array(try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").prefix(2_500))
        var faults = LocalBinanceServer.Faults()
        faults.hangAtKlinesRequest = 3
        let server = LocalBinanceServer(series: ["FILUSDT": bars], faults: faults)
        let store = self.store
        try await server.run { base in
            let arguments = [
                "download", "--store", store, "--source", "rest", "--base-url", base.absoluteString,
                "--symbols", "FILUSDT", "--from", "2023-08-01", "--to", "2023-08-02T17:40",
            ]
            let first = try ScalperProcess.start(arguments)
            var waited = 0
            while server.requests.count < 3 && waited < 1_500 {
                try await Task.sleep(for: .milliseconds(20))
                waited += 1
            }
            #expect(server.requests.count == 3)
            first.kill()
            let killed = try await first.wait()
            #expect(killed.status == SIGKILL)
            #expect(try MarketStore(path: store).count(symbol: "FILUSDT", interval: .oneMinute) == 2_000)

            server.setFaults(LocalBinanceServer.Faults())
            let second = try await ScalperProcess.run(arguments)
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stdout.contains("FILUSDT 1m: 500 new bars in 1 requests"))
        }
        let starts = server.requests.compactMap { $0.query["startTime"].flatMap { Int64($0) } }
        #expect(starts == [aug1, aug1 + 60_000_000, aug1 + 120_000_000, aug1 + 120_000_000])
        let stored = try MarketStore(path: store).klines(symbol: "FILUSDT", interval: .oneMinute, from: aug1, to: aug1 + 2_500 * 60_000)
        #expect(stored.count == 2_500 && zip(stored, bars).allSatisfy { $0.isSameBar(as: $1) })
    }

    @Test("A Vision download from a local futures mirror imports verified zips for two symbols")
    func visionDownload() async throws {
        defer { dir.remove() }
        let mirror = dir.url.appendingPathComponent("mirror")
        try Fixtures.makeVisionMirror(at: mirror, market: "data/futures/um")
        let server = LocalBinanceServer(series: [:], visionRoot: mirror)
        let store = self.store
        let cache = dir.path("cache")
        try await server.run { base in
            let ok = try await ScalperProcess.run([
                "download", "--store", store, "--source", "vision", "--market", "futures-um", "--base-url", base.absoluteString,
                "--symbols", "FILUSDT,NEARUSDT", "--from", "2023-09-01", "--to", "2023-10-01",
            ], environment: ["SCALPER_CONFIG": try overlay(cacheDir: cache)])
            #expect(ok.status == 0, "\(ok.stderr)")
            #expect(ok.stdout.contains("FILUSDT 1m: 43200 new bars in 2 requests"))
            #expect(ok.stdout.contains("NEARUSDT 1m: 43200 new bars in 2 requests"))
        }
    }

    private func overlay(cacheDir: String) throws -> String {
        let path = dir.path("overlay.yaml")
        try "download:\n  cache_dir: \(cacheDir)\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

@Suite("scalper features")
struct FeaturesCLITests {
    @Test("Features of the golden input file match the TA-Lib golden, written as %.17g with nan")
    func goldenThroughCLI() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let out = dir.path("features.csv")
        let input = try GoldenFeatures.writeCSV(into: dir.url)
        let r = try await ScalperProcess.run(["features", "--klines", input.path, "--out", out])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("wrote 5000 rows × 42 features"))
        let golden = try GoldenFeatures.load()
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        let header = lines[0].split(separator: ",").map(String.init)
        #expect(Array(header[11..<53]) == FeatureSpec.names && header.last == "label")
        var mismatches = 0
        for (row, line) in lines.dropFirst().enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            for (j, name) in FeatureSpec.names.enumerated() {
                let text = fields[11 + j]
                let value = text == "nan" ? Double.nan : Double(text) ?? -.infinity
                if !GoldenFeatures.matches(value, golden.columns[name]?[row] ?? .infinity) { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
        #expect(lines[1].hasPrefix("1729900800000,3.4390000000000001,"))
    }

    @Test("Features from the store over a window, and clear errors for bad requests")
    func fromStore() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = dir.path("m.sqlite")
        _ = try await ScalperProcess.run(["data", "import", "--store", store, "datasets/sample/NEARUSDT-1m-2023-09.zip"])
        let out = dir.path("near.csv")
        let ok = try await ScalperProcess.run([
            "features", "--store", store, "--symbol", "NEARUSDT", "--from", "2023-09-01", "--to", "2023-09-02", "--out", out,
        ])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").count == 1 + 1_440)
        let unknown = try await ScalperProcess.run([
            "features", "--store", store, "--symbol", "BTCUSDT", "--from", "2023-09-01", "--to", "2023-09-02", "--out", out,
        ])
        #expect(unknown.status != 0 && unknown.stderr.contains("unknown symbol BTCUSDT at 1m: the store has NEARUSDT"))
        let both = try await ScalperProcess.run(["features", "--klines", "x.csv", "--symbol", "A", "--out", out])
        #expect(both.status != 0 && both.stderr.contains("either --symbol or --klines"))
    }
}

@Suite("scalper train and evaluate")
struct TrainCLITests {
    @Test("Train on the sample prints the JSON keys, writes a complete bundle; evaluate reads it back")
    func trainAndEvaluate() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = dir.path("m.sqlite")
        let models = dir.path("models")
        _ = try await ScalperProcess.run(["data", "import", "--store", store, "datasets/sample"])
        let overlay = dir.path("quick.yaml")
        try "model:\n  max_rounds: 40\n  early_stopping_rounds: 10\n".write(toFile: overlay, atomically: true, encoding: .utf8)
        let train = try await ScalperProcess.run([
            "train", "--store", store, "--config", overlay, "--symbols", "FILUSDT,NEARUSDT", "--from", "2023-08-01",
            "--to", "2023-09-16", "--name", "cli", "--models-dir", models, "--json",
        ])
        #expect(train.status == 0, "\(train.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(train.stdout.utf8)) as? [String: Any])
        for key in [
            "auc", "logloss", "brier", "ece_raw", "ece_calibrated", "precision_at_threshold", "threshold", "n_train", "n_val",
            "n_test", "positive_rate", "best_iteration", "model_path",
        ] {
            #expect(object[key] != nil, "missing \(key)")
        }
        #expect((object["auc"] as? Double ?? 0) > 0.6)
        for file in ["model.json", "move.json", "calibration.json", "metadata.json", "report.md", "reliability.svg", "importance.svg"] {
            #expect(FileManager.default.fileExists(atPath: "\(models)/cli/\(file)"), "missing \(file)")
        }
        let report = try String(contentsOfFile: "\(models)/cli/report.md", encoding: .utf8)
        #expect(report.contains("## Test metrics") && report.contains("| ECE (10 bins) |"))

        let evaluate = try await ScalperProcess.run([
            "evaluate", "--store", store, "--model", "\(models)/cli", "--symbols", "FILUSDT", "--from", "2023-09-16",
            "--to", "2023-10-01", "--json",
        ])
        #expect(evaluate.status == 0, "\(evaluate.stderr)")
        let e = try #require(try JSONSerialization.jsonObject(with: Data(evaluate.stdout.utf8)) as? [String: Any])
        #expect(e["n_test"] as? Int == 15 * 1_440 - 50 - 3)
        #expect(e["overlaps_training"] as? Double == 0)

        let again = try await ScalperProcess.run([
            "train", "--store", store, "--config", overlay, "--symbols", "FILUSDT", "--from", "2023-08-01", "--to", "2023-08-20",
            "--name", "cli", "--models-dir", models,
        ])
        #expect(again.status != 0 && again.stderr.contains("already exists"))
        let empty = try await ScalperProcess.run([
            "train", "--store", store, "--symbols", "FILUSDT", "--from", "2024-01-01", "--to", "2024-02-01", "--models-dir", models,
        ])
        #expect(empty.status != 0 && empty.stderr.contains("FILUSDT 1m has no bars from 2024-01-01 00:00"))
        let missing = try await ScalperProcess.run([
            "evaluate", "--store", store, "--model", "\(models)/none", "--symbols", "FILUSDT", "--from", "2023-09-16", "--to", "2023-10-01",
        ])
        #expect(missing.status != 0 && missing.stderr.contains("no model bundle here"))
    }
}

@Suite("scalper backtest and runs")
struct BacktestCLITests {
    @Test("Backtest a model trained on the sample: JSON metrics, a run folder whose trades sum to the reported P&L, runs list/show/compare")
    func backtestAndRuns() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = dir.path("m.sqlite")
        let models = dir.path("models")
        let runs = dir.path("runs")
        _ = try await ScalperProcess.run(["data", "import", "--store", store, "datasets/sample"])
        let overlay = dir.path("quick.yaml")
        try "model:\n  max_rounds: 40\n  early_stopping_rounds: 10\nsignals:\n  min_probability: 0.3\n  min_confidence: 0.0\n"
            .write(toFile: overlay, atomically: true, encoding: .utf8)
        let train = try await ScalperProcess.run([
            "train", "--store", store, "--config", overlay, "--symbols", "FILUSDT,NEARUSDT", "--from", "2023-08-01",
            "--to", "2023-09-01", "--name", "bt", "--models-dir", models,
        ])
        #expect(train.status == 0, "\(train.stderr)")
        var ids: [String] = []
        for symbols in ["FILUSDT", "FILUSDT,NEARUSDT"] {
            let r = try await ScalperProcess.run([
                "backtest", "--store", store, "--config", overlay, "--model", "\(models)/bt", "--symbols", symbols,
                "--from", "2023-09-01", "--to", "2023-09-15", "--runs-dir", runs, "--json",
            ])
            #expect(r.status == 0, "\(r.stderr)")
            let m = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            let id = try #require(m["run_id"] as? String)
            ids.append(id)
            let trades = try #require(m["trades"] as? Int)
            #expect(trades > 0)
            // Total P&L recomputed from trades.csv equals the reported figure to the cent.
            let csv = try String(contentsOfFile: "\(runs)/\(id)/trades.csv", encoding: .utf8).split(separator: "\n")
            #expect(
                csv.first == "timestamp,symbol,side,entry_price,exit_price,quantity,pnl_usdt,pnl_pct,duration_sec,exit_reason,fees,probability,confidence"
            )
            #expect(csv.count == trades + 1)
            let sum = csv.dropFirst().reduce(0.0) { $0 + (Double($1.split(separator: ",")[6]) ?? .nan) }
            let reported = try #require(m["total_pnl_usdt"] as? Double)
            #expect(abs(sum - reported) < 0.005)
            let final = try #require(m["final_equity"] as? Double)
            #expect(abs((10_000 + reported) - final) < 0.005)
            for file in ["config.json", "metrics.csv", "summary.txt", "equity.svg", "report.html"] {
                #expect(FileManager.default.fileExists(atPath: "\(runs)/\(id)/\(file)"))
            }
        }
        // The log reaches standard error in the seed's format, at the level asked for.
        let debug = try await ScalperProcess.run([
            "backtest", "--store", store, "--config", overlay, "--model", "\(models)/bt", "--symbols", "FILUSDT",
            "--from", "2023-09-01", "--to", "2023-09-03", "--runs-dir", runs, "--log-level", "debug",
        ])
        #expect(debug.status == 0, "\(debug.stderr)")
        let lines = debug.stderr.split(separator: "\n").filter { $0.contains(" | DEBUG | backtest | signal ") }
        #expect(!lines.isEmpty, "\(debug.stderr.prefix(2_000))")
        #expect(lines.allSatisfy { $0.range(of: #"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| DEBUG \| backtest \| signal "#, options: .regularExpression) != nil })
        let quiet = try await ScalperProcess.run([
            "backtest", "--store", store, "--config", overlay, "--model", "\(models)/bt", "--symbols", "FILUSDT",
            "--from", "2023-09-01", "--to", "2023-09-03", "--runs-dir", runs,
        ])
        #expect(!quiet.stderr.contains("| DEBUG |"))
        let list = try await ScalperProcess.run(["runs", "list", "--runs-dir", runs])
        #expect(list.status == 0 && ids.allSatisfy { list.stdout.contains($0) })
        let show = try await ScalperProcess.run(["runs", "show", "--runs-dir", runs, ids[0]])
        #expect(show.stdout.contains("signals.min_probability") && show.stdout.contains("total_pnl_usdt"))
        let compare = try await ScalperProcess.run(["runs", "compare", "--runs-dir", runs, ids[0], ids[1]])
        #expect(compare.status == 0 && compare.stdout.contains("note: different data"))

        let empty = try await ScalperProcess.run([
            "backtest", "--store", store, "--model", "\(models)/bt", "--symbols", "FILUSDT", "--from", "2023-10-01",
            "--to", "2023-10-31", "--runs-dir", runs, "--json",
        ])
        #expect(empty.status != 0 && empty.stderr.contains("FILUSDT 1m has no bars from 2023-10-01 00:00"))
    }
}
