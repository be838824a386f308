public import Foundation
import MarketData

/// A WebSocket recording of `shared/datasets/*/ws-stream/`: gzip text, one message per line as
/// `<local timestamp> <raw JSON>`.
public enum Recording {
    /// The recordings, relative to `shared/datasets/binance`.
    public static let files = [
        "spot/ws-stream/btcusdt_20240808.gz", "spot/ws-stream/ethusdt_20240808.gz",
        "spot/ws-stream/btcusdt_20230405.dat.gz", "futures-um/ws-stream/btcusdt_20240808.gz",
        "futures-um/ws-stream/ethusdt_20240808.gz",
    ]

    /// The JSON part of every line of one recording, in order (decompressed by MarketData's gzip reader).
    public static func messages(_ relativePath: String) throws -> [Data] {
        let url = Fixtures.shared.appendingPathComponent("datasets/binance").appendingPathComponent(relativePath)
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
