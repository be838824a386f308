import Binance
import Exchange
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MarketData
import ScalperTestSupport
import Testing

/// Signed endpoints of the local exchange check keys, signatures and timestamps as Binance does.
@Suite("The exchange's signed requests")
struct SignedRequestTests {
    static let apiKey = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
    static let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    static let edKey = "edKeyForTests0123456789"

    private func get(_ port: Int, _ query: String, key: String?) async throws -> (status: Int, code: Int?, msg: String, body: [String: Any]) {
        let url = URL(string: "http://127.0.0.1:\(port)/api/v3/account?\(query)")!
        let r = try await URLSessionFetcher(timeoutSeconds: 10).get(url, headers: key.map { ["X-MBX-APIKEY": $0] } ?? [:])
        let object = (try? JSONSerialization.jsonObject(with: r.body) as? [String: Any]) ?? [:]
        return (r.status, object["code"] as? Int, object["msg"] as? String ?? "", object)
    }

    @Test("GET /api/v3/account: a good HMAC or Ed25519 signature gets the balances; every broken part gets Binance's code")
    func account() async throws {
        let market = try sampleMarket()
        let now = sampleDay(2)
        let clock = ManualClock(start: now)
        let pem = """
            -----BEGIN PRIVATE KEY-----
            MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g
            -----END PRIVATE KEY-----
            """
        var settings = ExchangeSettings()
        settings.accounts = ExchangeAccounts([
            .init(apiKey: Self.apiKey, verifier: .hmac(secret: Self.secret), free: ["USDT": Decimal(string: "1000.5")!, "BNB": 0]),
            .init(
                apiKey: Self.edKey,
                verifier: try .ed25519(publicKeyHex: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
                free: ["FIL": 3]
            ),
        ])
        let hmac = SigningKey.hmac(secret: Self.secret)
        try await withExchange(market: market, settings: settings, clock: clock) { _, port in
            let ok = try await get(port, SignedRequest.signedQuery([("timestamp", String(now))], key: hmac), key: Self.apiKey)
            #expect(ok.status == 200, "\(ok.msg)")
            let balances = ok.body["balances"] as? [[String: Any]] ?? []
            #expect(balances.first { $0["asset"] as? String == "USDT" }?["free"] as? String == "1000.50000000")
            #expect(balances.first { $0["asset"] as? String == "BNB" }?["free"] as? String == "0.00000000")
            let omitted = try await get(
                port, SignedRequest.signedQuery([("omitZeroBalances", "true"), ("timestamp", String(now))], key: hmac), key: Self.apiKey
            )
            #expect((omitted.body["balances"] as? [[String: Any]])?.count == 1)

            let ed = try SigningKey.ed25519(pem: pem)
            let edOK = try await get(port, SignedRequest.signedQuery([("recvWindow", "5000"), ("timestamp", String(now))], key: ed), key: Self.edKey)
            #expect(edOK.status == 200, "\(edOK.msg)")
            #expect((edOK.body["balances"] as? [[String: Any]])?.first?["asset"] as? String == "FIL")

            let cases: [(String, String?, Int, Int, String)] = [
                (SignedRequest.signedQuery([("timestamp", String(now))], key: hmac), nil, 401, -2014, "API-key format invalid."),
                (SignedRequest.signedQuery([("timestamp", String(now))], key: hmac), "nobody", 401, -2015, "Invalid API-key, IP, or permissions for action."),
                (SignedRequest.signedQuery([("timestamp", String(now))], key: .hmac(secret: "wrong")), Self.apiKey, 400, -1022, "Signature for this request is not valid."),
                (SignedRequest.signedQuery([("timestamp", String(now - 5_001))], key: hmac), Self.apiKey, 400, -1021, "Timestamp for this request is outside of the recvWindow."),
                (SignedRequest.signedQuery([("timestamp", String(now + 1_000))], key: hmac), Self.apiKey, 400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."),
                (
                    SignedRequest.signedQuery([("recvWindow", "60001"), ("timestamp", String(now))], key: hmac), Self.apiKey, 400, -1102,
                    "'recvWindow' contains unexpected value. Cannot be greater than 60000."
                ),
                ("timestamp=\(now)", Self.apiKey, 400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."),
                (SignedRequest.signedQuery([("recvWindow", "5000")], key: hmac), Self.apiKey, 400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."),
            ]
            for (query, key, status, code, message) in cases {
                let r = try await get(port, query, key: key)
                #expect(r.status == status && r.code == code && r.msg == message, "\(query) \(key ?? "no key"): \(r.status) \(r.code ?? 0) \(r.msg)")
            }
            // A wider recvWindow admits an older timestamp; microsecond timestamps are read as such.
            let wide = try await get(port, SignedRequest.signedQuery([("recvWindow", "60000"), ("timestamp", String(now - 59_000))], key: hmac), key: Self.apiKey)
            #expect(wide.status == 200)
            let micro = try await get(port, SignedRequest.signedQuery([("timestamp", String(now * 1_000))], key: hmac), key: Self.apiKey)
            #expect(micro.status == 200, "\(micro.msg)")
        }
    }

    @Test("An accounts file is read with its keys and balances; a bad entry is named")
    func accountsFile() throws {
        let dir = try TemporaryDirectory(prefix: "scalper-accounts")
        defer { dir.remove() }
        let good = dir.path("accounts.json")
        try #"{"accounts":[{"apiKey":"k1","secret":"s1","balances":{"USDT":"250.25","FIL":10}}]}"#.write(toFile: good, atomically: true, encoding: .utf8)
        let accounts = try ExchangeAccounts.load(path: good)
        #expect(accounts.account("k1")?.free["USDT"] == Decimal(string: "250.25"))
        #expect(accounts.account("k1")?.free["FIL"] == 10)
        let bad = dir.path("bad.json")
        try #"{"accounts":[{"apiKey":"k1","secret":"s1","balances":{"USDT":"-3"}}]}"#.write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(throws: AccountsError.self) { try ExchangeAccounts.load(path: bad) }
        do {
            _ = try ExchangeAccounts.load(path: bad)
        } catch {
            #expect("\(error)" == "\(bad): accounts[0].balances.USDT: '-3' is not a non-negative amount")
        }
        let keyless = dir.path("keyless.json")
        try #"{"accounts":[{"apiKey":"k1","balances":{}}]}"#.write(toFile: keyless, atomically: true, encoding: .utf8)
        do {
            _ = try ExchangeAccounts.load(path: keyless)
            Issue.record("a keyless account was accepted")
        } catch {
            #expect("\(error)".hasSuffix("accounts[0]: needs \"secret\" (HMAC) or \"ed25519PublicKey\""))
        }
    }

    @Test("POST /api/v3/order/test validates an order as Binance does: enums, each type's mandatory parameters, decimals, PRICE_FILTER, LOT_SIZE, NOTIONAL")
    func orderTest() async throws {
        let market = try sampleMarket()
        let now = sampleDay(2)
        let clock = ManualClock(start: now)
        var settings = ExchangeSettings()
        settings.accounts = ExchangeAccounts([.init(apiKey: Self.apiKey, verifier: .hmac(secret: Self.secret), free: ["USDT": 1_000])])
        let key = SigningKey.hmac(secret: Self.secret)
        try await withExchange(market: market, settings: settings, clock: clock) { _, port in
            // The symbol's filters and price, as a client reads them.
            let infoData = try await URLSessionFetcher().get(URL(string: "http://127.0.0.1:\(port)/api/v3/exchangeInfo?symbol=FILUSDT")!, headers: [:]).body
            let info = try #require(try JSONSerialization.jsonObject(with: infoData) as? [String: Any])
            let filters = try #require(((info["symbols"] as? [[String: Any]])?.first?["filters"] as? [[String: Any]]))
            func value(_ type: String, _ field: String) throws -> String {
                try #require(filters.first { $0["filterType"] as? String == type }?[field] as? String)
            }
            let (tick, step, minNotional) = (try value("PRICE_FILTER", "tickSize"), try value("LOT_SIZE", "stepSize"), try value("NOTIONAL", "minNotional"))
            let tickerData = try await URLSessionFetcher().get(URL(string: "http://127.0.0.1:\(port)/api/v3/ticker/24hr?symbol=FILUSDT")!, headers: [:]).body
            let ticker = try JSONSerialization.jsonObject(with: tickerData) as? [String: Any]
            let lastText = try #require(ticker?["lastPrice"] as? String)
            let last = try #require(Double(lastText))
            func decimals(_ text: String) -> Int { text.split(separator: ".").last.map { $0.reversed().drop { $0 == "0" }.count } ?? 0 }
            let (pd, qd) = (decimals(tick), decimals(step))
            let price = String(format: "%.\(pd)f", (last / Double(tick)!).rounded() * Double(tick)!)
            let units = (2 * Double(minNotional)! / (Double(price)! * Double(step)!)).rounded(.up)
            let quantity = String(format: "%.\(qd)f", units * Double(step)!)

            func post(_ parameters: [(String, String)]) async throws -> (status: Int, code: Int?, msg: String) {
                let body = SignedRequest.signedQuery(parameters + [("timestamp", String(now))], key: key)
                var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/v3/order/test")!)
                request.httpMethod = "POST"
                request.setValue(Self.apiKey, forHTTPHeaderField: "X-MBX-APIKEY")
                request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
                request.httpBody = Data(body.utf8)
                let (data, response) = try await URLSession.shared.data(for: request)
                let object = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
                return ((response as? HTTPURLResponse)?.statusCode ?? 0, object["code"] as? Int, object["msg"] as? String ?? String(decoding: data, as: UTF8.self))
            }
            let limit: [(String, String)] = [("symbol", "FILUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", quantity), ("price", price)]
            let ok = try await post(limit)
            #expect(ok.status == 200 && ok.msg == "{}", "\(ok)")
            #expect(try await post([("symbol", "FILUSDT"), ("side", "SELL"), ("type", "MARKET"), ("quantity", quantity)]).status == 200)

            func with(_ name: String, _ value: String?) -> [(String, String)] {
                var p = limit.filter { $0.0 != name }
                if let value { p.append((name, value)) }
                return p
            }
            let offTick = String(format: "%.\(pd + 1)f", Double(price)! + Double(tick)! / 2)
            let offStep = String(format: "%.\(qd + 1)f", Double(quantity)! + Double(step)! / 2)
            let cases: [([(String, String)], Int, String)] = [
                (with("side", "HOLD"), -1117, "Invalid side."),
                (with("type", "ICEBERG"), -1116, "Invalid orderType."),
                (with("timeInForce", "GTD"), -1115, "Invalid timeInForce."),
                (with("timeInForce", nil), -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed."),
                (with("price", nil), -1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed."),
                (with("price", "1e3"), -1100, "Illegal characters found in parameter 'price'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'."),
                (with("price", offTick), -1013, "Filter failure: PRICE_FILTER"),
                (with("quantity", offStep), -1013, "Filter failure: LOT_SIZE"),
                (with("quantity", step), -1013, "Filter failure: NOTIONAL"),
                (with("symbol", "NOPE"), -1121, "Invalid symbol."),
                ([("symbol", "FILUSDT"), ("side", "BUY"), ("type", "MARKET")], -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"),
                (
                    [("symbol", "FILUSDT"), ("side", "SELL"), ("type", "STOP_LOSS"), ("quantity", quantity)], -1102,
                    "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!"
                ),
                (limit + [("unknownParam", "1")], -1104, "Not all sent parameters were read; read '8' parameter(s) but was sent '9'."),
            ]
            for (parameters, code, message) in cases {
                let r = try await post(parameters)
                #expect(r.status == 400 && r.code == code && r.msg == message, "\(parameters.map { "\($0.0)=\($0.1)" }): \(r)")
            }
        }
    }
}
