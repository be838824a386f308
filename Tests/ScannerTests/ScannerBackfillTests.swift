import Binance
import Foundation
import Logging
@testable import Scanner
import Synchronization
import Testing

/// A REST side whose first `failures` kline requests fail as a loaded machine's timeouts do, then
/// serves one-minute bars from `bars` (open times) by `startTime` and `limit`.
private final class FlakyKlines: HTTPFetching {
    private let state: Mutex<(failuresLeft: Int, requests: Int)>
    let bars: [Int64]

    init(failures: Int, bars: [Int64]) {
        state = Mutex((failures, 0))
        self.bars = bars
    }

    var requests: Int { state.withLock { $0.requests } }

    func get(_ url: URL, headers: [String: String]) async throws -> HTTPResponse {
        let fail = state.withLock { s -> Bool in
            s.requests += 1
            guard s.failuresLeft > 0 else { return false }
            s.failuresLeft -= 1
            return true
        }
        if fail { throw URLError(.timedOut) }
        let query = URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems ?? []
        func value(_ name: String) -> String? { query.first { $0.name == name }?.value }
        let start = value("startTime").flatMap { Int64($0) } ?? .min
        let limit = value("limit").flatMap { Int($0) } ?? 500
        let rows = bars.filter { $0 >= start }.prefix(limit).map { t in
            "[\(t),\"1\",\"1\",\"1\",\"1\",\"1\",\(t + 59_999),\"1\",1,\"0\",\"0\",\"0\"]"
        }
        return HTTPResponse(status: 200, headers: ["content-type": "application/json"], body: Data("[\(rows.joined(separator: ","))]".utf8))
    }
}

@Suite("Scanner backfill")
struct ScannerBackfillTests {
    /// A closed `kline_1m` frame of BTCUSDT opening at `t`.
    private func klineFrame(_ t: Int64) -> String {
        #"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":\#(t + 60_000),"s":"BTCUSDT","k":{"t":\#(t),"T":\#(t + 59_999),"s":"BTCUSDT","i":"1m","o":"1","c":"1","h":"1","l":"1","v":"1","n":1,"x":true,"q":"1","V":"0","Q":"0","B":"0"}}}"#
    }

    @Test(
        "A missed close whose backfill requests fail three times is fetched on the fourth, each failure counted, no bar missing",
        .timeLimit(.minutes(15))
    )
    func holeBackfillRetries() async throws {
        let t0: Int64 = 1_690_848_000_000
        let fetcher = FlakyKlines(failures: 3, bars: (0..<10).map { t0 + Int64($0) * 60_000 })
        var settings = ScannerServiceSettings(restURL: URL(string: "http://127.0.0.1:9")!, webSocketURL: "ws://127.0.0.1:9")
        settings.candidates = 1
        settings.backoffInitialSeconds = 0.01
        settings.backoffMaxSeconds = 0.05
        let service = ScannerService(settings: settings, logger: Logger(label: "test.scanner"), fetcher: fetcher)
        await service.handle(
            #"{"stream":"btcusdt@miniTicker","data":{"e":"24hrMiniTicker","E":1,"s":"BTCUSDT","c":"1.5","o":"1","h":"2","l":"1","v":"10","q":"15"}}"#
        )
        let (added, _, _) = await service.refresh()
        #expect(added == ["BTCUSDT"])
        await service.handle(klineFrame(t0))
        await service.handle(klineFrame(t0 + 60_000))
        // t0 + 120 000 is missed: the next close skips it.
        await service.handle(klineFrame(t0 + 180_000))
        // The retries run as their own task on the shared pool: under the whole suite's load on two
        // cores it can wait minutes for a thread (a fresh clone's run waited over 30 s), so the
        // wait is long; it ends as soon as the bar is held.
        let deadline = ContinuousClock.now + .seconds(600)
        while await service.closedBars["BTCUSDT"]?.contains(t0 + 120_000) != true, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(await service.closedBars["BTCUSDT"]?.contains(t0 + 120_000) == true)
        #expect(await service.missingBarsWhileFollowed == 0)
        #expect(await service.currentStatistics.backfillFailures == 3)
        #expect(fetcher.requests >= 4)
    }
}
