/// A fixed-length Binance kline interval such as `1m` or `4h`.
///
/// Binance's `1M` (calendar month) has no fixed length and is not supported.
public struct KlineInterval: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// The Binance spelling (`1m`, `15m`, `1h`, `1d`, …).
    public let name: String
    /// The length of one bar in milliseconds.
    public let milliseconds: Int64

    /// Every interval Binance publishes with a fixed length.
    public static let all: [KlineInterval] = [
        ("1s", 1_000), ("1m", 60_000), ("3m", 180_000), ("5m", 300_000), ("15m", 900_000),
        ("30m", 1_800_000), ("1h", 3_600_000), ("2h", 7_200_000), ("4h", 14_400_000),
        ("6h", 21_600_000), ("8h", 28_800_000), ("12h", 43_200_000), ("1d", 86_400_000),
        ("3d", 259_200_000), ("1w", 604_800_000),
    ].map { KlineInterval(uncheckedName: $0.0, milliseconds: $0.1) }

    /// One minute, the interval the feature specification is written for.
    public static let oneMinute = KlineInterval(uncheckedName: "1m", milliseconds: 60_000)

    private init(uncheckedName name: String, milliseconds: Int64) {
        self.name = name
        self.milliseconds = milliseconds
    }

    /// Parses a Binance interval name; `nil` if Binance has no such fixed interval.
    public init?(_ name: String) {
        guard let match = KlineInterval.all.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// The interval whose length is `milliseconds`, if Binance has one.
    public init?(milliseconds: Int64) {
        guard let match = KlineInterval.all.first(where: { $0.milliseconds == milliseconds }) else { return nil }
        self = match
    }

    /// The Binance spelling.
    public var description: String { name }

    /// Orders by length.
    public static func < (lhs: KlineInterval, rhs: KlineInterval) -> Bool { lhs.milliseconds < rhs.milliseconds }

    /// Decodes from the Binance spelling.
    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let value = KlineInterval(name) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "unknown kline interval '\(name)'")
            )
        }
        self = value
    }

    /// Encodes as the Binance spelling.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}
