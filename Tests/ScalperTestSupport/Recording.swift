public import Foundation
import MarketData

/// A WebSocket recording as in `shared/datasets/*/ws-stream/`: gzip text, one message per line as
/// `<local timestamp> <raw JSON>`.
public enum Recording {
    /// The recordings inside the repository, relative to the package root: the spot BTCUSDT sample
    /// (whole), the 2023 spot BTCUSDT recording (whole, it has no snapshot) and the first 45–60 s of
    /// the three large 2024-08-08 recordings (`Tests/Fixtures/README.md`).
    public static let bundled = [
        "datasets/sample/ws-stream/btcusdt_20240808.gz",
        "Tests/Fixtures/ws-stream/spot/ethusdt_20240808-first60s.gz",
        "Tests/Fixtures/ws-stream/spot/btcusdt_20230405.dat.gz",
        "Tests/Fixtures/ws-stream/futures-um/btcusdt_20240808-first45s.gz",
        "Tests/Fixtures/ws-stream/futures-um/ethusdt_20240808-first45s.gz",
    ]

    /// The whole recordings of `../shared`, relative to `shared/datasets/binance`.
    public static let shared = [
        "spot/ws-stream/btcusdt_20240808.gz", "spot/ws-stream/ethusdt_20240808.gz",
        "spot/ws-stream/btcusdt_20230405.dat.gz", "futures-um/ws-stream/btcusdt_20240808.gz",
        "futures-um/ws-stream/ethusdt_20240808.gz",
    ]

    /// The file of a bundled recording.
    public static func bundledURL(_ relativePath: String) -> URL { Fixtures.packageRoot.appendingPathComponent(relativePath) }

    /// The file of a recording of `../shared`.
    public static func sharedURL(_ relativePath: String) -> URL {
        Fixtures.shared.appendingPathComponent("datasets/binance").appendingPathComponent(relativePath)
    }

    /// The JSON part of every line of one recording, in order (decompressed by MarketData's gzip reader).
    public static func messages(_ url: URL) throws -> [Data] {
        let data = try gunzip(url)
        var out: [Data] = []
        var start = data.startIndex
        while start < data.endIndex {
            let end = data[start...].firstIndex(of: 10) ?? data.endIndex
            if let space = data[start..<end].firstIndex(of: 32) { out.append(data[(space + 1)..<end]) }
            start = end + 1
        }
        return out
    }

    /// The decompressed bytes of a gzip file (through MarketData's reader, the one imports use).
    public static func gunzip(_ url: URL) throws -> Data {
        try Gzip.decompress(Data(contentsOf: url), name: url.path)
    }
}
