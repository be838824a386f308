public import Foundation
public import Logging
import Synchronization

/// A swift-log handler writing the seed's line format to standard error:
/// `2024-01-15 14:32:05.123 | INFO | risk | signal refused symbol=FILUSDT reason=MAX_OPEN_POSITIONS`.
///
/// The module is the logger's label without its `scalper.` prefix; metadata follows the message as
/// sorted `key=value` pairs. Every handler shares one threshold (``LineLogHandler/processLevel``), so a
/// command can bootstrap logging before it has read its configuration and set the level after.
public struct LineLogHandler: LogHandler {
    private static let threshold = Mutex<Logger.Level>(.info)
    private static let file = Mutex<RotatingLogFile?>(nil)
    private static let console = Mutex<(@Sendable (String) -> Void)?>(nil)

    /// Where ``standardError`` lines go instead while set (a full-screen view that shows the last
    /// lines itself); nil: standard error. The process file still gets every line.
    public static var consoleOverride: (@Sendable (String) -> Void)? {
        get { console.withLock { $0 } }
        set { console.withLock { $0 = newValue } }
    }

    /// A file every handler of the process also writes its lines to (a session's rotating log);
    /// nil: standard error only.
    public static var processFile: RotatingLogFile? {
        get { file.withLock { $0 } }
        set { file.withLock { $0 = newValue } }
    }

    /// The level below which nothing is written, for every handler of the process.
    public static var processLevel: Logger.Level {
        get { threshold.withLock { $0 } }
        set { threshold.withLock { $0 = newValue } }
    }

    private let label: String
    private let sink: @Sendable (String) -> Void

    /// Metadata attached to every message of this handler.
    public var metadata: Logger.Metadata = [:]

    /// The level of this process (reads and sets ``threshold``).
    public var logLevel: Logger.Level {
        get { Self.processLevel }
        set { Self.processLevel = newValue }
    }

    /// A handler for `label` writing each finished line to `sink` (standard error by default).
    public init(label: String, sink: @escaping @Sendable (String) -> Void = LineLogHandler.standardError) {
        self.label = label.hasPrefix("scalper.") ? String(label.dropFirst("scalper.".count)) : label
        self.sink = sink
    }

    /// Writes a line to standard error (or to ``consoleOverride`` while it is set).
    public static let standardError: @Sendable (String) -> Void = { line in
        if let redirect = consoleOverride {
            redirect(line)
        } else {
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// Metadata by key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    // swift-format-ignore: AllPublicDeclarationsHaveDocumentation
    public func log(event: LogEvent) {
        guard event.level >= logLevel else { return }
        var line = Self.format(
            time: Date(),
            level: event.level,
            module: label,
            message: "\(event.message)",
            metadata: metadata.merging(event.metadata ?? [:]) { $1 }
        )
        line.append("\n")
        sink(line)
        Self.processFile?.write(line)
    }

    /// One line, without the newline.
    public static func format(
        time: Date,
        level: Logger.Level,
        module: String,
        message: String,
        metadata: Logger.Metadata
    ) -> String {
        let ms = Int64((time.timeIntervalSince1970 * 1000).rounded(.down))
        let stamp = UTC.logStamp(ms)
        var out = "\(stamp) | \(name(level)) | \(module) | \(message)"
        for key in metadata.keys.sorted() {
            guard let value = metadata[key] else { continue }
            out += " \(key)=\(value)"
        }
        return out
    }

    /// The seed's level names (swift-log's `.warning` is WARNING, `.critical` CRITICAL).
    public static func name(_ level: Logger.Level) -> String {
        switch level {
        case .trace: "TRACE"
        case .debug: "DEBUG"
        case .info: "INFO"
        case .notice: "NOTICE"
        case .warning: "WARNING"
        case .error: "ERROR"
        case .critical: "CRITICAL"
        }
    }

    /// Parses a level name as written in config (`debug`, `INFO`, `warning`…), nil if unknown.
    public static func level(named text: String) -> Logger.Level? {
        switch text.lowercased() {
        case "trace": .trace
        case "debug": .debug
        case "info": .info
        case "notice": .notice
        case "warning", "warn": .warning
        case "error": .error
        case "critical": .critical
        default: nil
        }
    }
}
