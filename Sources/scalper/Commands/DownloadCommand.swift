import ArgumentParser
import Foundation
import MarketData
import ScalperCore

/// `scalper download`: fetch klines from Binance Vision or the REST API into the store.
struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download klines (Binance Vision zips or REST /api/v3/klines), and with --exchange-info the symbols' filters, into the store.",
        discussion: """
            Only what the store lacks is fetched, so re-running after an interruption continues where it stopped. Vision zips are verified against their .CHECKSUM; REST pages respect X-MBX-USED-WEIGHT-1M and retry 429/418/5xx with backoff.

            The bars are stored for the market they come from: --market for Vision, spot for REST (/api/v3/klines is Binance's spot API). A symbol and interval the store holds for the other market is refused before anything is fetched.

            --exchange-info also fetches <REST base>/api/v3/exchangeInfo (spot; the local exchange serves one too) and stores every listed symbol's tick, step and minimum notional as the exact text Binance sent; a symbol's filters are replaced only by a newer document (by its serverTime). The REST base is --base-url when the bars come over REST or no bars are asked for, else download.rest_base_url. It is a flag, not part of every REST download: Vision downloads need it as much (Vision serves no exchangeInfo), one request (weight 20) covers every symbol, and filters change rarely. With --exchange-info and no --from/--to, no bars are fetched, and --symbols only names the symbols whose filters to print. Symbols without stored filters get filters derived from their whole 1m series (see `scalper data list`).
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Comma-separated symbols, e.g. BTCUSDT,ETHUSDT.")
    var symbols: String?

    @Option(help: "Kline interval.")
    var interval: String = "1m"

    @Option(help: "First day or instant, UTC (YYYY-MM-DD[THH:MM]).")
    var from: String?

    @Option(help: "End, exclusive, UTC (YYYY-MM-DD[THH:MM]).")
    var to: String?

    @Option(help: "vision or rest (default: download.source of the config).")
    var source: String?

    @Option(help: "Base URL of the source (default: the config's vision_base_url or rest_base_url).")
    var baseURL: String?

    @Option(help: "Market to fetch and store the bars for: spot or futures-um (default: download.market of the config). REST fetches spot only.")
    var market: String?

    @Flag(help: "Also fetch <REST base>/api/v3/exchangeInfo and store every symbol's spot filters (tick, step, minimum notional).")
    var exchangeInfo = false

    /// Whether bars are asked for (--from and --to; with --exchange-info, --symbols alone only
    /// names the symbols whose filters to print).
    private var downloadsBars: Bool { !exchangeInfo || from != nil || to != nil }

    func validate() throws {
        if KlineInterval(interval) == nil { throw ValidationError("unknown interval '\(interval)'") }
        if let source, !["vision", "rest"].contains(source) { throw ValidationError("--source must be vision or rest") }
        if let market, BinanceMarket(rawValue: market) == nil {
            throw ValidationError("--market must be spot or futures-um")
        }
        if let baseURL, URL(string: baseURL)?.scheme == nil { throw ValidationError("--base-url '\(baseURL)' is not a URL") }
        guard downloadsBars else { return }
        guard symbols != nil, let from, let to else {
            throw ValidationError("give --symbols, --from and --to (or --exchange-info alone to fetch filters only)")
        }
        _ = try parseWindow(from: from, to: to)
    }

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let settings = configuration.download
        // Validated above.
        let interval = KlineInterval(interval)!
        let list = (symbols ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).uppercased() }
            .filter { !$0.isEmpty }
        if downloadsBars && list.isEmpty { throw ValidationError("--symbols is empty") }
        let source = self.source ?? settings.source
        // download.market is checked when the configuration loads, --market in validate().
        let market = BinanceMarket(rawValue: self.market ?? settings.market)!
        if downloadsBars && source == "rest" && market != RESTKlineDownloader.market {
            throw fail(
                "--source rest fetches \(RESTKlineDownloader.market) klines (/api/v3/klines), not \(market); use --source vision for \(market), or --market \(RESTKlineDownloader.market)"
            )
        }
        let store = try MarketStore(path: global.storePath(configuration))
        let progress = TerminalProgress()
        let client = RetryingClient(
            fetcher: URLSessionFetcher(timeoutSeconds: settings.requestTimeoutSeconds),
            policy: RetryPolicy(
                maxRetries: settings.maxRetries,
                initialBackoffSeconds: settings.backoffInitialSeconds,
                maxBackoffSeconds: settings.backoffMaxSeconds
            ),
            progress: progress
        )
        let importOptions = ImportOptions(
            futureToleranceMilliseconds: Int64(configuration.import.futureToleranceSeconds * 1000)
        )
        var failed = false
        if exchangeInfo {
            // Validated in validate() or by the configuration.
            let base = URL(string: (source == "rest" || !downloadsBars ? baseURL : nil) ?? settings.restBaseURL)!
            do {
                let r = try await ExchangeInfoDownloader(store: store, client: client, baseURL: base).download()
                print(
                    "exchangeInfo \(r.source) of \(UTC.isoString(r.serverTime)): filters of \(counted(r.symbols.count, "\(r.market) symbol")), \(exchangeInfoOutcome(r.stored))"
                )
                if !r.skipped.isEmpty { print("  skipped \(r.skipped.count): \(r.skipped.prefix(5).map(\.description).joined(separator: "; "))") }
                let listed = Set(r.symbols)
                for symbol in list {
                    guard listed.contains(symbol) else {
                        print("  \(symbol) is not in exchangeInfo")
                        continue
                    }
                    print("  \(symbol): \(try store.sourcedSymbolFilters(symbol: symbol, market: r.market))")
                }
            } catch {
                failed = true
                note("error: \(error)")
            }
        }
        guard downloadsBars, let from, let to else {
            if failed { throw ExitCode.failure }
            return
        }
        let (start, end) = try parseWindow(from: from, to: to)
        for symbol in list {
            do {
                let report: DownloadReport
                if source == "rest" {
                    // Validated in validate() or by the configuration.
                    let base = URL(string: baseURL ?? settings.restBaseURL)!
                    report = try await RESTKlineDownloader(
                        store: store,
                        client: client,
                        options: .init(
                            baseURL: base,
                            pageLimit: settings.pageLimit,
                            weightLimitPerMinute: settings.weightLimitPerMinute,
                            weightHeadroom: settings.weightHeadroom
                        )
                    ).download(symbol: symbol, interval: interval, from: start, to: end)
                } else {
                    let base = URL(string: baseURL ?? settings.visionBaseURL)!
                    report = try await VisionDownloader(
                        store: store,
                        client: client,
                        baseURL: base,
                        market: market,
                        cacheDirectory: URL(fileURLWithPath: settings.cacheDir).appendingPathComponent("vision"),
                        importOptions: importOptions
                    ).download(symbol: symbol, interval: interval, from: start, to: end)
                }
                var line = "\(symbol) \(interval): \(report.inserted) new bars in \(report.requests) requests"
                if report.settledUnknownMarket {
                    line += "; the series was stored before the store recorded markets and is \(market) from now on"
                }
                let missing = report.unavailable.reduce(Int64(0)) { $0 + ($1.upperBound - $1.lowerBound) / interval.milliseconds }
                if missing > 0 { line += "; \(missing) bars not available from the source" }
                print(line)
                for range in report.unavailable.prefix(20) {
                    print(
                        "  unavailable: \(UTC.minuteString(range.lowerBound)) … \(UTC.minuteString(range.upperBound - interval.milliseconds))"
                    )
                }
            } catch {
                failed = true
                note("error: \(error)")
            }
        }
        if failed { throw ExitCode.failure }
    }
}

/// Progress on standard error: a redrawn bar on a terminal, plain lines otherwise.
final class TerminalProgress: DownloadProgressReporting, @unchecked Sendable {
    // @unchecked: every access to the mutable state goes through `lock`.
    private let lock = NSLock()
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var task = ""
    private var total = 0
    private var done = 0
    private var lastPlain = -1

    func begin(_ task: String, totalUnits: Int) {
        lock.withLock {
            self.task = task
            total = max(1, totalUnits)
            done = 0
            lastPlain = -1
            draw(detail: "")
        }
    }

    func advance(by units: Int, detail: String) {
        lock.withLock {
            done = min(total, done + units)
            draw(detail: detail)
        }
    }

    func note(_ message: String) {
        lock.withLock {
            if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
            FileHandle.standardError.write(Data("\(message)\n".utf8))
        }
    }

    func end() {
        lock.withLock {
            if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
        }
    }

    private func draw(detail: String) {
        let fraction = Double(done) / Double(total)
        if isTerminal {
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            let text = "\r\u{1B}[2K\(task) [\(bar)] \(Int(fraction * 100))% \(detail)"
            FileHandle.standardError.write(Data(text.utf8))
        } else {
            // Plain output: a line at most every 10 %, plus the end.
            let decile = Int(fraction * 10)
            guard decile != lastPlain || done == total else { return }
            lastPlain = decile
            FileHandle.standardError.write(Data("\(task): \(done)/\(total) \(detail)\n".utf8))
        }
    }
}
