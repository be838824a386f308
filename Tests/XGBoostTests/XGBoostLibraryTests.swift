import Foundation
import Testing
import XGBoost

@Suite("XGBoost C library wrapper")
struct XGBoostLibraryTests {
    @Test("The linked library reports the Debian 1.7 version")
    func version() {
        let parts = XGBoostLibrary.version.split(separator: ".").compactMap { Int($0) }
        #expect(parts.count == 3)
        #expect(parts.first == 1 && (parts.dropFirst().first ?? 0) >= 7)
    }

    @Test("Build information is JSON returned through the status-checked call")
    func buildInfo() throws {
        let info = try XGBoostLibrary.buildInfo()
        let object = try JSONSerialization.jsonObject(with: Data(info.utf8))
        #expect(object is [String: Any])
    }
}
