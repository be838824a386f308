import Binance
import Foundation
import ScalperCore
import ScalperTestSupport
import Testing

private let aug1: Int64 = 1_690_848_000_000  // 2023-08-01 00:00 UTC
private let url = URL(string: "http://127.0.0.1:1/api/v3/klines?symbol=FILUSDT&interval=1m")!

@Suite("Reading /api/v3/klines answers, and BinanceREST's one-page request")
struct KlinesResponseTests {
    @Test("Binance's layout reads field by field: numbers as text or JSON numbers, microsecond times in ms, no 12th field")
    func readsBinanceLayout() throws {
        let body = #"""
            [[1690848000000,"4.1230","4.1290","4.1200","4.1250","1520.5",1690848059999,"6271.3",42,"700.25","2888.1","0"],
             [1690848060000000,4.125,4.25,4,4.125,10,1690848119999999,41.25,7,5,20.5]]
            """#
        let bars = try KlinesResponse.parse(Data(body.utf8), url: url)
        #expect(bars.count == 2)
        let first = try #require(bars.first)
        #expect(first.openTime == aug1 && first.closeTime == aug1 + 59_999)
        #expect([first.open, first.high, first.low, first.close] == [4.123, 4.129, 4.12, 4.125])
        #expect([first.volume, first.quoteVolume, first.tradeCount] == [1_520.5, 6_271.3, 42])
        #expect([first.takerBuyBaseVolume, first.takerBuyQuoteVolume, first.ignore] == [700.25, 2_888.1, 0])
        let second = try #require(bars.last)
        #expect(second.openTime == aug1 + 60_000 && second.closeTime == aug1 + 119_999)
        #expect([second.open, second.high, second.low, second.quoteVolume, second.takerBuyQuoteVolume] == [4.125, 4.25, 4, 41.25, 20.5])
        #expect(second.ignore == 0)
    }

    @Test(
        "A malformed answer is a DownloadError naming the URL, the kline and the field",
        arguments: [
            (#"{"code":-1121,"msg":"Invalid symbol."}"#, "expected a JSON array of klines"),
            ("[[1690848000000,1,2,3]]", "kline 0 is not an array of 12 fields"),
            (
                #"[[1690848000000,"1","1","1","1","1",1690848059999,"1",1,"1","1","0"],[1690848060000,"x","1","1","1","1",1690848119999,"1",1,"1","1","0"]]"#,
                "kline 1 field 1 is not a number: x"
            ),
            (#"[["t","1","1","1","1","1",1690848059999,"1",1,"1","1","0"]]"#, "kline 0 has no integer times"),
        ]
    )
    func malformed(body: String, reason: String) {
        let error = #expect(throws: DownloadError.self) { try KlinesResponse.parse(Data(body.utf8), url: url) }
        #expect(error?.url == url.absoluteString)
        #expect(error?.reason == .malformedResponse(reason))
    }

    @Test("Text that is not JSON is a malformed response, not a crash")
    func notJSON() {
        let error = #expect(throws: DownloadError.self) { try KlinesResponse.parse(Data("<html>".utf8), url: url) }
        guard case .malformedResponse(let why) = error?.reason else {
            Issue.record("expected a malformed response, got \(String(describing: error))")
            return
        }
        #expect(why.hasPrefix("not JSON: "))
    }

    @Test("BinanceREST.klines(_:startTime:limit:) asks for symbol, interval 1m, limit and startTime when given, one request")
    func onePage() async throws {
        let bars = Array(try Fixtures.sampleKlines("FILUSDT-1m-2023-08.zip").prefix(20))
        let server = LocalBinanceServer(series: ["FILUSDT": bars])
        let (fromStart, latest) = try await server.run { base in
            let rest = BinanceREST(baseURL: base)
            return (
                try await rest.klines("FILUSDT", startTime: aug1 + 5 * 60_000, limit: 3),
                try await rest.klines("FILUSDT", startTime: nil, limit: 100)
            )
        }
        #expect(fromStart.map(bits) == bars[5..<8].map(bits))
        #expect(latest.count == 20)
        #expect(
            server.requests.map(\.query) == [
                ["symbol": "FILUSDT", "interval": "1m", "limit": "3", "startTime": String(aug1 + 5 * 60_000)],
                ["symbol": "FILUSDT", "interval": "1m", "limit": "100"],
            ]
        )
    }

    @Test("A failed one-page request is a BinanceError naming the URL as sent and the answer")
    func onePageFailure() async throws {
        let server = LocalBinanceServer(series: [:])
        let (error, base) = try await server.run { base in
            let error = await #expect(throws: BinanceError.self) {
                _ = try await BinanceREST(baseURL: base).klines("NOSUCHUSDT", startTime: 5, limit: 100)
            }
            return (error, base)
        }
        #expect(error?.url == base.absoluteString + "/api/v3/klines?symbol=NOSUCHUSDT&interval=1m&limit=100&startTime=5")
        #expect(error?.message == #"HTTP 400: {"code":-1121,"msg":"Invalid symbol."}"#)
    }
}
