import Exchange
import Foundation
import HummingbirdWSClient
import MarketData
import ScalperTestSupport
import Testing

/// The local exchange reads parameters, counts weight and limits messages the way Binance does.
@Suite("The exchange's request rules")
struct RequestRulesTests {
    private func get(_ port: Int, _ path: String) async throws -> (status: Int, code: Int?, msg: String, headers: [String: String]) {
        let r = try await URLSessionFetcher(timeoutSeconds: 10).get(URL(string: "http://127.0.0.1:\(port)\(path)")!, headers: [:])
        let object = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any]
        return (r.status, object?["code"] as? Int, object?["msg"] as? String ?? "", r.headers)
    }

    @Test("Bad parameters get Binance's codes: -1100 illegal characters, -1101 duplicates, -1102 missing or out of range, -1104 unread, -1105 empty, -1121 unknown symbol")
    func parameters() async throws {
        let market = try sampleMarket()
        let clock = ManualClock(start: sampleDay(2))
        try await withExchange(market: market, clock: clock) { _, port in
            let k = "/api/v3/klines?symbol=FILUSDT&interval=1m"
            let cases: [(String, Int, String)] = [
                (k + "&limit=-5", -1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'."),
                (k + "&limit=abc", -1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'."),
                (k + "&limit=100000", -1102, "'limit' contains unexpected value. Cannot be greater than 1000."),
                (k + "&limit=0", -1102, "'limit' contains unexpected value. Cannot be less than 1."),
                (k + "&startTime=99999999999999999999", -1100, "Illegal characters found in parameter 'startTime'; legal range is '^[0-9]{1,20}$'."),
                (k + "&limit=", -1105, "Parameter 'limit' was empty."),
                (k + "&limit=5&limit=6", -1101, "Duplicate values for a parameter detected."),
                (k + "&foo=1", -1104, "Not all sent parameters were read; read '2' parameter(s) but was sent '3'."),
                ("/api/v3/klines?symbol=FILUSDT", -1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed."),
                ("/api/v3/klines?interval=1m", -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."),
                ("/api/v3/klines?symbol=NOPE&interval=1m", -1121, "Invalid symbol."),
                ("/api/v3/klines?symbol=FILUSDT&interval=7m", -1120, "Invalid interval."),
                ("/api/v3/exchangeInfo?symbol=NOPE", -1121, "Invalid symbol."),
                ("/api/v3/exchangeInfo?symbols=%5B%22FILUSDT%22,%22NOPE%22%5D", -1121, "Invalid symbol."),
                ("/api/v3/depth?symbol=FILUSDT&limit=5001", -1102, "'limit' contains unexpected value. Cannot be greater than 5000."),
                ("/api/v3/ticker/24hr?symbol=NOPE", -1121, "Invalid symbol."),
                ("/api/v3/ping?x=1", -1104, "Not all sent parameters were read; read '0' parameter(s) but was sent '1'."),
            ]
            for (path, code, message) in cases {
                let r = try await get(port, path)
                #expect(r.status == 400, "\(path)")
                #expect(r.code == code, "\(path): \(r.code.map(String.init) ?? "nil") \(r.msg)")
                #expect(r.msg == message, "\(path)")
            }
            // Good requests still answer, a symbol list included.
            #expect(try await get(port, k + "&limit=5").status == 200)
            let one = try await URLSessionFetcher().get(URL(string: "http://127.0.0.1:\(port)/api/v3/exchangeInfo?symbols=%5B%22NEARUSDT%22%5D")!, headers: [:])
            let info = try #require(try JSONSerialization.jsonObject(with: one.body) as? [String: Any])
            #expect((info["symbols"] as? [[String: Any]])?.compactMap { $0["symbol"] as? String } == ["NEARUSDT"])
        }
    }

    @Test("Weight counts per minute of the exchange's clock, refused requests too; past the limit, 429 with Retry-After and -1003")
    func weightWindow() async throws {
        let market = try sampleMarket()
        let start = sampleDay(2) + 15_000  // 15 s into a minute
        let clock = ManualClock(start: start)
        var settings = ExchangeSettings()
        settings.weightLimitPerMinute = 10
        try await withExchange(market: market, settings: settings, clock: clock) { server, port in
            let k = "/api/v3/klines?symbol=FILUSDT&interval=1m&limit=5"
            #expect(try await get(port, k).headers["x-mbx-used-weight-1m"] == "2")
            #expect(try await get(port, k + "&limit=abc").headers["x-mbx-used-weight-1m"] == "4")  // refused, still counted
            #expect(try await get(port, "/api/v3/ping").headers["x-mbx-used-weight-1m"] == "5")
            #expect(try await get(port, k).headers["x-mbx-used-weight-1m"] == "7")
            #expect(try await get(port, k).headers["x-mbx-used-weight-1m"] == "9")
            let over = try await get(port, k)
            #expect(over.status == 429)
            #expect(over.code == -1003)
            #expect(over.msg.hasPrefix("Too much request weight used; current limit is 10 request weight per 1 MINUTE."))
            #expect(over.headers["retry-after"] == "45")
            // The next minute starts from zero.
            try await step(server, clock, to: start + 45_000)
            let fresh = try await get(port, k)
            #expect(fresh.status == 200)
            #expect(fresh.headers["x-mbx-used-weight-1m"] == "2")
        }
    }

    @Test("SUBSCRIBE with params that are not a list is refused; more than 5 messages in a second close the connection")
    func webSocketControl() async throws {
        let market = try sampleMarket()
        let clock = ManualClock(start: sampleDay(2))
        _ = try await withExchange(market: market, clock: clock) { _, port in
            try await connectWebSocket(url: "ws://127.0.0.1:\(port)/ws", configuration: .init(maxFrameSize: 1 << 20), logger: quietLogger) {
                inbound,
                outbound,
                _ in
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                try await outbound.write(.text(#"{"method":"SUBSCRIBE","params":"filusdt@kline_1m","id":1}"#))
                guard case .text(let reply) = try await messages.next() else { Issue.record("no reply"); return }
                #expect(reply == #"{"error":{"code":2,"msg":"Invalid request: params must be a list of stream names"},"id":1}"#)
                for id in 2...5 {
                    try await outbound.write(.text(#"{"method":"LIST_SUBSCRIPTIONS","id":\#(id)}"#))
                    guard case .text(let r) = try await messages.next() else { Issue.record("no reply to \(id)"); return }
                    #expect(r == #"{"result":[],"id":\#(id)}"#)
                }
                // The sixth message within the same second.
                try await outbound.write(.text(#"{"method":"LIST_SUBSCRIPTIONS","id":6}"#))
                var after: [String] = []
                while let m = try await messages.next() { if case .text(let t) = m { after.append(t) } }
                #expect(after.isEmpty, "\(after)")
            }
        }
    }
}
