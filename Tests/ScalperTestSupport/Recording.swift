public import Foundation

/// A WebSocket recording of `shared/datasets/*/ws-stream/`: gzip text, one message per line as
/// `<local timestamp> <raw JSON>`.
public enum Recording {
    /// The recordings, relative to `shared/datasets/binance`.
    public static let files = [
        "spot/ws-stream/btcusdt_20240808.gz", "spot/ws-stream/ethusdt_20240808.gz",
        "spot/ws-stream/btcusdt_20230405.dat.gz", "futures-um/ws-stream/btcusdt_20240808.gz",
        "futures-um/ws-stream/ethusdt_20240808.gz",
    ]

    /// The JSON part of every line of one recording, in order (decompressed with the system gzip).
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

    /// The decompressed bytes of a gzip file (through the system gzip).
    public static func gunzip(_ url: URL) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc", url.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: url.path])
        }
        return data
    }
}
