import Binance
import Foundation
import ScalperTestSupport
import Testing

/// Sessions whose orders go to the local exchange (`--venue exchange`), in lock-step.
extension PaperWorkspace {
    static let apiKey = "venueTestKey0123456789"
    static let secret = "venueTestSecret0123456789abcdef"

    /// An accounts file with 100,000 USDT for the test key.
    func accountsFile() throws -> String {
        let path = dir.path("accounts.json")
        try #"{"accounts":[{"apiKey":"\#(Self.apiKey)","secret":"\#(Self.secret)","balances":{"USDT":"100000"}}]}"#.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The paper overlay with the local profile pointed at `port` and positions kept at the end.
    func venueOverlay(port: Int, name: String) throws -> String {
        let path = dir.path("\(name).yaml")
        let base = try String(contentsOfFile: overlay, encoding: .utf8)
        try (base + """

            binance:
              local_rest_url: http://127.0.0.1:\(port)
              local_ws_url: ws://127.0.0.1:\(port)
              local_ws_api_url: ws://127.0.0.1:\(port)/ws-api/v3
            trading:
              close_on_stop: false
            """).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `scalper paper --venue exchange` arguments for a session against the exchange on `port`.
    func venueArguments(session: String, port: Int, minutes: Int, exits: String = "bar") throws -> [String] {
        [
            "paper", "--home", dir.path("home"), "--config", try venueOverlay(port: port, name: session), "--model", model,
            "--symbols", Self.symbols, "--session", session, "--exits", exits, "--lock-step", "--duration", String(minutes * 60),
            "--venue", "exchange", "--json",
        ]
    }

    /// Whether two sessions' trades.csv rows are the same trades: every field equal, but for money
    /// figures within 1e-6 (the exchange charges commission in whole 1e-8 units of the asset, as
    /// Binance does; the simulated venue does not round it).
    static func sameTrades(_ a: [[String]], _ b: [[String]]) -> Bool {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) {
            guard x.count == y.count else { return false }
            for (u, v) in zip(x, y) where u != v {
                guard let p = Double(u), let q = Double(v), abs(p - q) <= 1e-6 else { return false }
            }
        }
        return true
    }

    static var keyEnvironment: [String: String] { ["BINANCE_API_KEY": apiKey, "BINANCE_API_SECRET": secret] }

    /// Every order of `symbol` the exchange on `port` holds for the test key.
    static func exchangeOrders(port: Int, symbol: String) async throws -> [BinanceOrder] {
        let client = BinanceTradingClient(baseURL: URL(string: "http://127.0.0.1:\(port)")!, apiKey: apiKey, key: .hmac(secret: secret))
        return try await client.allOrders(symbol: symbol, limit: 1_000)
    }
}

// One at a time: each test runs two exchanges and sessions; in parallel they add to the peak load
// of the whole suite on 2 cores without making it finish sooner.
@Suite("scalper paper --venue exchange against the local exchange", .serialized)
struct ExchangeVenueCLITests {
    @Test(
        "Parity: in the exchange's parity mode and lock-step, paper --venue exchange --exits bar gives the trades of paper --venue simulated",
        .timeLimit(.minutes(10))
    )
    func parityWithSimulated() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let minutes = 240
        let (simulatedExchange, simulatedPort) = try await w.exchange()
        let simulated = try await ScalperProcess.run([
            "paper", "--home", w.dir.path("home"), "--config", try w.venueOverlay(port: simulatedPort, name: "simulated"), "--model", w.model,
            "--symbols", PaperWorkspace.symbols, "--session", "simulated", "--exits", "bar", "--lock-step", "--duration", String(minutes * 60),
            "--venue", "simulated", "--json",
        ])
        simulatedExchange.kill()
        #expect(simulated.status == 0, "\(simulated.stderr.suffix(3_000))")

        let (exchange, port) = try await w.exchange(extra: ["--parity", "--accounts", try w.accountsFile()])
        defer { exchange.kill() }
        let venue = try await ScalperProcess.run(try w.venueArguments(session: "venue", port: port, minutes: minutes), environment: PaperWorkspace.keyEnvironment)
        #expect(venue.status == 0, "\(venue.stderr.suffix(3_000))")
        let expected = try w.tradeRows(session: "simulated")
        let got = try w.tradeRows(session: "venue")
        #expect(expected.count >= 5, "too few trades to compare: \(expected.count)")
        #expect(PaperWorkspace.sameTrades(got, expected), "\(got) vs \(expected)")
        // Every order the session made is at the exchange once; no position is left without its list.
        for symbol in PaperWorkspace.symbols.split(separator: ",").map(String.init) {
            let orders = try await PaperWorkspace.exchangeOrders(port: port, symbol: symbol)
            #expect(Set(orders.map(\.clientOrderID)).count == orders.count, "\(symbol): a client id twice")
        }
    }

    @Test(
        "Faults: answers lost after booking (every 3rd placement) and a SIGKILL between sending and the answer: every order is found and adopted, none is sent twice, the trades are those of an undisturbed run",
        .timeLimit(.minutes(12))
    )
    func lostAnswersAndKill() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let minutes = 240
        let accounts = try w.accountsFile()
        let (cleanExchange, cleanPort) = try await w.exchange(extra: ["--parity", "--accounts", accounts])
        let clean = try await ScalperProcess.run(try w.venueArguments(session: "clean", port: cleanPort, minutes: minutes), environment: PaperWorkspace.keyEnvironment)
        cleanExchange.kill()
        #expect(clean.status == 0, "\(clean.stderr.suffix(3_000))")

        let (exchange, port) = try await w.exchange(extra: ["--parity", "--accounts", accounts, "--fault-drop-every", "3"])
        defer { exchange.kill() }
        let arguments = try w.venueArguments(session: "faulty", port: port, minutes: minutes)
        // Killed right after the second placement reached the exchange, before its answer was read.
        var environment = PaperWorkspace.keyEnvironment
        environment["SCALPER_FAULT"] = "order-answered@2"
        let killed = try await ScalperProcess.run(arguments, environment: environment)
        #expect(killed.killedBySignal && killed.status == SIGKILL, "\(killed.stderr.suffix(2_000))")
        let resumed = try await ScalperProcess.run(arguments, environment: PaperWorkspace.keyEnvironment)
        #expect(resumed.status == 0, "\(resumed.stderr.suffix(3_000))")
        #expect(resumed.stderr.contains("reconciled with the exchange"))
        #expect(resumed.stderr.contains("no answer to an order: looking it up"), "no lost answer was met")
        let expected = try w.tradeRows(session: "clean")
        #expect(expected.count >= 5)
        #expect(PaperWorkspace.sameTrades(try w.tradeRows(session: "faulty"), expected))
        var all: [BinanceOrder] = []
        for symbol in PaperWorkspace.symbols.split(separator: ",").map(String.init) {
            all += try await PaperWorkspace.exchangeOrders(port: port, symbol: symbol)
        }
        #expect(Set(all.map(\.clientOrderID)).count == all.count, "a client id was sent twice")
        #expect(all.count == Set(all.map(\.clientOrderID)).count && !all.isEmpty)
    }

    @Test(
        "Exits at the venue on a matching exchange: entries at market, then the OCO list for the base held; every trade ends TP, SL or TIMEOUT and no exit is refused",
        .timeLimit(.minutes(10))
    )
    func venueExitsOnMatchingExchange() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let (exchange, port) = try await w.exchange(extra: ["--accounts", try w.accountsFile()])
        defer { exchange.kill() }
        let run = try await ScalperProcess.run(
            try w.venueArguments(session: "venue-exits", port: port, minutes: 360, exits: "venue"), environment: PaperWorkspace.keyEnvironment
        )
        #expect(run.status == 0, "\(run.stderr.suffix(3_000))")
        let rows = try w.tradeRows(session: "venue-exits")
        #expect(rows.count >= 3, "too few trades: \(rows.count)")
        let reasons = Set(rows.map { $0[9] })
        #expect(reasons.isSubset(of: ["TP", "SL", "TIMEOUT"]), "\(reasons)")
        #expect(!run.stderr.contains("insufficient balance"))
        #expect(!run.stderr.contains("the exchange refused an order"))
        var all: [BinanceOrder] = []
        for symbol in PaperWorkspace.symbols.split(separator: ",").map(String.init) {
            all += try await PaperWorkspace.exchangeOrders(port: port, symbol: symbol)
        }
        #expect(Set(all.map(\.clientOrderID)).count == all.count)
        // Protective lists rested at the exchange: limit-maker and stop-loss legs, sized to what was held.
        #expect(all.contains { $0.type.rawValue == "LIMIT_MAKER" } && all.contains { $0.type.rawValue == "STOP_LOSS" })
    }

    @Test("No key or secret appears in any output, log or file a session writes")
    func secretsNeverWritten() async throws {
        let w = try await PaperWorkspace()
        defer { w.dir.remove() }
        let (exchange, port) = try await w.exchange(extra: ["--parity", "--accounts", try w.accountsFile()])
        defer { exchange.kill() }
        let run = try await ScalperProcess.run(
            try w.venueArguments(session: "secret", port: port, minutes: 60) + ["--log-level", "trace"], environment: PaperWorkspace.keyEnvironment
        )
        #expect(run.status == 0, "\(run.stderr.suffix(3_000))")
        var texts = [run.stdout, run.stderr]
        let home = w.dir.path("home")
        let files = FileManager.default.enumerator(atPath: home)?.compactMap { $0 as? String } ?? []
        #expect(files.contains { $0.hasSuffix("session.sqlite") })
        for file in files {
            if let data = FileManager.default.contents(atPath: home + "/" + file) { texts.append(String(decoding: data, as: UTF8.self)) }
        }
        for text in texts {
            #expect(!text.contains(PaperWorkspace.secret))
            #expect(!text.contains(PaperWorkspace.apiKey))
        }
        // A bad key is refused by name, never echoed.
        var wrong = PaperWorkspace.keyEnvironment
        wrong["BINANCE_API_SECRET"] = "wrongSecretValue42"
        let refused = try await ScalperProcess.run(try w.venueArguments(session: "wrong", port: port, minutes: 1), environment: wrong)
        #expect(refused.status != 0)
        #expect(!refused.stderr.contains("wrongSecretValue42") && !refused.stdout.contains("wrongSecretValue42"))
        // Orders on the live profile only through scalper live, and that only with its confirmation.
        let live = try await ScalperProcess.run(
            ["paper", "--home", home, "--model", w.model, "--profile", "live", "--venue", "exchange"], environment: PaperWorkspace.keyEnvironment
        )
        #expect(live.status != 0 && live.stderr.contains("scalper live"))
        let unconfirmed = try await ScalperProcess.run(["live", "--home", home, "--model", w.model], environment: PaperWorkspace.keyEnvironment)
        #expect(unconfirmed.status != 0 && unconfirmed.stderr.contains("--i-understand-real-money"))
    }
}
