public import Foundation
import MarketData
public import ScalperCore

/// Paths and loaders for the real data the tests use.
///
/// Everything the test suite needs is inside the repository: `datasets/sample/` and the compressed
/// fixtures of `Tests/Fixtures/` (its README says where each came from and how it was cut). The few
/// tests that need the full data of `../shared` are skipped when it is absent
/// (`.enabled(if: Fixtures.hasShared, …)`) and run whenever it is there.
public enum Fixtures {
    /// The package root (three levels above this file).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `datasets/sample` of this repository.
    public static var sample: URL { packageRoot.appendingPathComponent("datasets/sample") }

    /// `Tests/Fixtures` of this repository: trimmed, compressed copies of real data.
    public static var bundled: URL { packageRoot.appendingPathComponent("Tests/Fixtures") }

    /// `../shared` beside the repository (present on developer machines and in CI), or the folder
    /// named by `SCALPER_SHARED` (`SCALPER_SHARED=/nonexistent` runs the suite as a lone clone would).
    public static var shared: URL {
        if let folder = ProcessInfo.processInfo.environment["SCALPER_SHARED"], !folder.isEmpty {
            return URL(fileURLWithPath: folder, isDirectory: true)
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared")
    }

    /// Whether ``shared`` is there; tests that need it are skipped otherwise.
    public static var hasShared: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: shared.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// A sample zip, e.g. `FILUSDT-1m-2023-08.zip`.
    public static func sampleZip(_ name: String) -> URL { sample.appendingPathComponent(name) }

    /// The bars of one sample zip.
    public static func sampleKlines(_ name: String) throws -> [Kline] {
        let (csv, _) = try KlineFileReader.read(sampleZip(name))
        return try KlineCSVParser.parse(csv, source: name, interval: .oneMinute).klines
    }

    /// Lays the sample zips out like Binance Vision under `root` (`data/<market>/monthly/klines/…`).
    public static func makeVisionMirror(at root: URL, market: String = "data/spot") throws {
        let fm = FileManager.default
        for file in try fm.contentsOfDirectory(atPath: sample.path) where file.contains(".zip") {
            let symbol = String(file.prefix { $0 != "-" })
            let folder = root.appendingPathComponent("\(market)/monthly/klines/\(symbol)/1m")
            try fm.createDirectory(at: folder, withIntermediateDirectories: true)
            try fm.copyItem(at: sample.appendingPathComponent(file), to: folder.appendingPathComponent(file))
        }
    }
}
