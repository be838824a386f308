public import Foundation
import MarketData
public import ScalperCore

/// Paths and loaders for the real data the tests use.
public enum Fixtures {
    /// The package root (three levels above this file).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `datasets/sample` of this repository.
    public static var sample: URL { packageRoot.appendingPathComponent("datasets/sample") }

    /// `../shared` beside the repository (present on developer machines and in CI).
    public static var shared: URL { packageRoot.deletingLastPathComponent().appendingPathComponent("shared") }

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
