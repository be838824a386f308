/// Why a kline file, or one of its rows, could not be imported.
///
/// `description` reads `file:line: reason`, or `file: reason` when no single line is to blame.
public struct ImportError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What went wrong.
    public enum Reason: Sendable, Equatable, CustomStringConvertible {
        case unreadable(String)
        case badArchive(String)
        case emptyFile
        case wrongFieldCount(expected: Int, found: Int)
        case unknownLayout(fieldCount: Int)
        case missingColumn(String)
        case unparsableField(name: String, value: String)
        case invalidPrice(name: String, value: Double)
        case negativeValue(name: String, value: Double)
        case highBelowLow(high: Double, low: Double)
        case ohlcInconsistent(String)
        case timeGoesBackwards(previous: Int64, current: Int64)
        case conflictingDuplicate(openTime: Int64, firstLine: Int)
        case misalignedTime(openTime: Int64, interval: String)
        case intervalMismatch(String)
        case marketMismatch(String)
        case futureTimestamp(openTime: Int64)
        case unknownSymbol(String)
        case unknownInterval(String)
        case badRecording(String)

        public var description: String {
            switch self {
            case .unreadable(let why): "cannot read file: \(why)"
            case .badArchive(let why): "bad zip archive: \(why)"
            case .emptyFile: "no kline rows in file"
            case .wrongFieldCount(let expected, let found): "expected \(expected) fields, found \(found)"
            case .unknownLayout(let n):
                "cannot tell the column layout of a header-less row with \(n) fields (expected 12 Binance Vision columns or 6 OHLCV columns)"
            case .missingColumn(let name): "header has no '\(name)' column"
            case .unparsableField(let name, let value): "field '\(name)' is not a number: '\(value)'"
            case .invalidPrice(let name, let value): "\(name) must be a positive finite price, found \(value)"
            case .negativeValue(let name, let value): "\(name) must not be negative, found \(value)"
            case .highBelowLow(let high, let low): "high \(high) is below low \(low)"
            case .ohlcInconsistent(let why): why
            case .timeGoesBackwards(let previous, let current):
                "open_time \(current) (\(UTCText.minute(current))) is before the previous row's \(previous) (\(UTCText.minute(previous)))"
            case .conflictingDuplicate(let t, let first):
                "open_time \(t) (\(UTCText.minute(t))) repeats line \(first) with different values"
            case .misalignedTime(let t, let interval): "open_time \(t) is not on the \(interval) grid"
            case .intervalMismatch(let why): why
            case .marketMismatch(let why): why
            case .futureTimestamp(let t): "open_time \(t) (\(UTCText.minute(t))) is in the future"
            case .unknownSymbol(let why): why
            case .unknownInterval(let why): why
            case .badRecording(let why): why
            }
        }
    }

    /// The file (or URL) the data came from.
    public var file: String
    /// The 1-based line, when one line is to blame.
    public var line: Int?
    /// What went wrong.
    public var reason: Reason

    /// Creates an error for `file`, optionally at `line`.
    public init(file: String, line: Int? = nil, reason: Reason) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    /// `file:line: reason`.
    public var description: String {
        if let line { return "\(file):\(line): \(reason)" }
        return "\(file): \(reason)"
    }
}

/// A file that failed with several bad rows: the first few errors and how many there were.
public struct ImportFailure: Error, Sendable, CustomStringConvertible {
    /// The first errors found, in file order (at most ``ImportFailure/shownLimit``).
    public var errors: [ImportError]
    /// How many rows were bad in total.
    public var totalCount: Int

    /// How many errors are kept for display.
    public static let shownLimit = 10

    /// One line per kept error, then a count of the rest.
    public var description: String {
        var lines = errors.map(\.description)
        if totalCount > errors.count { lines.append("… and \(totalCount - errors.count) more bad rows") }
        return lines.joined(separator: "\n")
    }
}
