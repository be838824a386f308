public import ScalperCore

/// Decides each minute once (LIVE-DESIGN §5): a minute is handed to the engine when every followed
/// symbol's bar for it has closed — a symbol that has already delivered a later bar has none for it
/// (a gap) — or, when a deadline is set, once event time passes the minute's close plus the deadline
/// (the symbols still missing are skipped and named). Minutes are decided in order, never twice; a
/// bar for a minute already decided is reported late and dropped. Sizing, ranking and limits then
/// see every symbol of a minute together, as the backtest does. A deterministic value (`Codable`).
public struct MinuteAssembler: Codable, Sendable {
    /// A minute ready for the engine.
    public struct Decided: Equatable, Sendable {
        /// Open time of the minute.
        public var openTime: Int64
        /// The bars of the minute, by symbol name.
        public var bars: [SymbolBar]
        /// Followed symbols without a bar: skipped at the deadline (gaps proven by a later bar are not listed).
        public var missing: [String]
    }

    /// How long after a minute's close to wait for late bars (ms); nil waits for every bar (parity mode).
    public let deadline: Int64?
    /// The symbols whose bars a minute waits for.
    public private(set) var followed: Set<String> = []
    /// The last minute decided.
    public private(set) var lastDecided: Int64?
    /// Closed bars not yet decided, by minute.
    private var pending: [Int64: [String: Kline]] = [:]
    /// The latest bar open time seen per symbol.
    private var latest: [String: Int64] = [:]

    /// An assembler with the given deadline (nil: wait for every bar).
    public init(deadline: Int64?) {
        self.deadline = deadline
    }

    /// Changes the followed symbols (the scanner's candidates); minutes now complete are returned.
    public mutating func follow(_ symbols: Set<String>) -> [Decided] {
        followed = symbols
        return drain(now: nil)
    }

    /// A closed bar. Returns the minutes it completes, in order; `late` when its minute was already decided.
    public mutating func barClosed(symbol: String, bar: Kline) -> (decided: [Decided], late: Bool) {
        if let last = lastDecided, bar.openTime <= last { return ([], true) }
        pending[bar.openTime, default: [:]][symbol] = bar
        latest[symbol] = max(latest[symbol] ?? .min, bar.openTime)
        return (drain(now: nil), false)
    }

    /// Event time moved to `now` (ms): minutes past their deadline are decided with what they have.
    public mutating func timer(now: Int64) -> [Decided] { drain(now: now) }

    private mutating func drain(now: Int64?) -> [Decided] {
        var out: [Decided] = []
        while let minute = pending.keys.min() {
            let bars = pending[minute] ?? [:]
            let waiting = followed.filter { bars[$0] == nil && (latest[$0] ?? .min) <= minute }
            if !waiting.isEmpty {
                guard let deadline, let now, now >= minute + 60_000 + deadline else { break }
            }
            pending[minute] = nil
            lastDecided = minute
            let ordered = bars.keys.sorted().compactMap { s in bars[s].map { SymbolBar(symbol: s, bar: $0) } }
            out.append(Decided(openTime: minute, bars: ordered, missing: waiting.sorted()))
        }
        return out
    }
}
