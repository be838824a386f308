import Foundation
import Testing
import XGBoost

@Suite("XGBoost C library wrapper")
struct XGBoostLibraryTests {
    /// The oldest XGBoost the wrapper is written against: Debian 12's 1.7 (the C prediction and
    /// JSON-model calls it uses are there since 1.7; later majors keep them).
    static let oldestSupported = (major: 1, minor: 7)

    @Test("The linked library reports a version of 1.7 or later, the one it writes into the models it saves")
    func version() throws {
        let text = XGBoostLibrary.version
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).compactMap { Int($0) }
        try #require(parts.count == 3 && parts.allSatisfy { $0 >= 0 }, "'\(text)' is not major.minor.patch")
        let (major, minor) = (parts[0], parts[1])
        #expect(
            major > Self.oldestSupported.major || (major == Self.oldestSupported.major && minor >= Self.oldestSupported.minor),
            "XGBoost \(text) is older than \(Self.oldestSupported.major).\(Self.oldestSupported.minor)"
        )
        // A model saved by the library carries the library's own version ([major, minor, patch]):
        // the number the wrapper reports must be that one.
        let matrix = try DMatrix(rowMajor: [0, 1, 2, 3, 4, 5, 6, 7], rowCount: 8, columnCount: 1)
        try matrix.setLabels([0, 0, 0, 0, 1, 1, 1, 1])
        let booster = try Booster(cache: [matrix], parameters: [("objective", "binary:logistic"), ("nthread", "1")])
        try booster.update(iteration: 0, train: matrix)
        let model = try #require(try JSONSerialization.jsonObject(with: Data(booster.serialized(format: "json"))) as? [String: Any])
        let saved = try #require(model["version"] as? [Int], "the saved model has no version: \(model.keys.sorted())")
        #expect(saved == parts)
    }

    @Test("Build information is JSON returned through the status-checked call")
    func buildInfo() throws {
        let info = try XGBoostLibrary.buildInfo()
        let object = try JSONSerialization.jsonObject(with: Data(info.utf8))
        #expect(object is [String: Any])
    }
}
