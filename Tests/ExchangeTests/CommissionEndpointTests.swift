import Binance
import Exchange
import Foundation
import MarketData
import Testing
import Trading

/// `GET /api/v3/account/commission` (rest-api.md, Query Commission Rates: weight 20, SIGNED).
@Suite("The exchange's commission rates endpoint")
struct CommissionEndpointTests {
    static let apiKey = "commissionTestKey0123456789"
    static let secret = "commissionTestSecret0123456789"

    @Test(
        "GET /api/v3/account/commission answers the fill model's maker and taker fees in Binance's shape, at weight 20"
    )
    func commissionRates() async throws {
        let now = sampleDay(2)
        var settings = ExchangeSettings()
        settings.accounts = ExchangeAccounts([
            .init(apiKey: Self.apiKey, verifier: .hmac(secret: Self.secret), free: ["USDT": 100])
        ])
        // Maker and taker fees that differ, so each is seen in its place.
        settings.trading.fillModel = FillModel(takerFee: 0.001, makerFee: 0.00075, slippageBps: 2)
        let key = SigningKey.hmac(secret: Self.secret)
        try await withExchange(market: try sampleMarket(), settings: settings, clock: ManualClock(start: now)) {
            _,
            port in
            func get(_ parameters: [(String, String)], apiKey: String? = Self.apiKey) async throws -> HTTPResponse {
                let query = SignedRequest.signedQuery(parameters + [("timestamp", String(now))], key: key)
                let url = URL(string: "http://127.0.0.1:\(port)/api/v3/account/commission?\(query)")!
                return try await URLSessionFetcher(timeoutSeconds: 10)
                    .get(url, headers: apiKey.map { ["X-MBX-APIKEY": $0] } ?? [:])
            }
            let ok = try await get([("symbol", "FILUSDT")])
            let body = String(decoding: ok.body, as: UTF8.self)
            #expect(ok.status == 200, "\(body)")
            // Binance's keys in its order; no special or tax commission and no BNB discount here.
            let zero = #"{"maker":"0.00000000","taker":"0.00000000","buyer":"0.00000000","seller":"0.00000000"}"#
            #expect(
                body
                    == #"{"symbol":"FILUSDT","standardCommission":{"maker":"0.00075000","taker":"0.00100000","buyer":"0.00000000","seller":"0.00000000"},"specialCommission":\#(zero),"taxCommission":\#(zero),"discount":{"enabledForAccount":false,"enabledForSymbol":false,"discountAsset":"BNB","discount":"0.00000000"}}"#
            )
            #expect(ok.headers["x-mbx-used-weight-1m"] == "20")

            // Refusals, each with Binance's code, each still weighing 20.
            let cases: [(parameters: [(String, String)], apiKey: String?, status: Int, code: Int, message: String)] = [
                ([("symbol", "NOSUCHUSDT")], Self.apiKey, 400, -1121, "Invalid symbol."),
                (
                    [], Self.apiKey, 400, -1102,
                    "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
                ),
                ([("symbol", "FILUSDT")], nil, 401, -2014, "API-key format invalid."),
            ]
            for (k, refused) in cases.enumerated() {
                let r = try await get(refused.parameters, apiKey: refused.apiKey)
                let object = try JSONSerialization.jsonObject(with: r.body) as? [String: Any]
                #expect(
                    r.status == refused.status && object?["code"] as? Int == refused.code
                        && object?["msg"] as? String == refused.message,
                    "\(refused.message): \(r.status) \(String(decoding: r.body, as: UTF8.self))"
                )
                #expect(r.headers["x-mbx-used-weight-1m"] == String(20 * (k + 2)))
            }
        }
    }
}
