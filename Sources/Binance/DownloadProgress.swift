/// Receives progress from a download; the CLI draws a bar on a terminal and plain lines elsewhere.
public protocol DownloadProgressReporting: Sendable {
    /// A new task with a known number of units (bars or files).
    func begin(_ task: String, totalUnits: Int)
    /// Units done, with a short detail (the file or page).
    func advance(by units: Int, detail: String)
    /// A message worth a line of its own (retry, pause, skip).
    func note(_ message: String)
    /// The task ended.
    func end()
}

/// Discards progress (tests, library use).
public struct SilentProgress: DownloadProgressReporting {
    /// Creates a silent reporter.
    public init() {}
    /// Ignored.
    public func begin(_ task: String, totalUnits: Int) {}
    /// Ignored.
    public func advance(by units: Int, detail: String) {}
    /// Ignored.
    public func note(_ message: String) {}
    /// Ignored.
    public func end() {}
}
