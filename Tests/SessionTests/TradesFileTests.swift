import Foundation
import ScalperTestSupport
@testable import Session
import Testing

@Suite("A session's trades file")
struct TradesFileTests {
    @Test("A new session's file starts as the header alone; a file an earlier session of the name left is kept aside, not overwritten")
    func startKeepsAnEarlierFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("trades.csv")
        let file = try TradesFile(path: path)
        #expect(try file.start(now: 1_000) == nil)
        let header = try String(contentsOfFile: path, encoding: .utf8)
        #expect(header.hasSuffix(",model\n") && header.split(separator: "\n").count == 1)
        let earlier = header + "an earlier session's trade line\n"
        try Data(earlier.utf8).write(to: URL(fileURLWithPath: path))
        let kept = try #require(try file.start(now: 2_000))
        #expect(kept == dir.path("trades.before-2000.csv"))
        #expect(try String(contentsOfFile: kept, encoding: .utf8) == earlier)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == header)
    }
}
