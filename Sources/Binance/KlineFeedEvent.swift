public import ScalperCore

/// What a ``KlineFeed`` delivers, in the order it learned it.
public enum KlineFeedEvent: Sendable, Equatable {
    /// A closed 1 m bar, exactly as the exchange sent it: once per symbol and open time, and in
    /// open-time order per symbol.
    case closedBar(symbol: String, Kline)
    /// A trade print of a followed symbol (with ``KlineFeedSettings/tradeStreams``), event time `T`, id `t`.
    case trade(symbol: String, price: Double, time: Int64, id: Int64)
    /// The top 20 levels of a followed symbol's book (with ``KlineFeedSettings/bookStreams``).
    case book(symbol: String, DepthSnapshot)
    /// The lock-step exchange's mark: every frame due through this sim time (ms) on every
    /// connection of the feed has been delivered above it. Act on it, then call
    /// ``KlineFeed/done(through:)``.
    case lockStepMark(Int64)
    /// A connection came back after a drop; its symbols may have missed closed bars meanwhile.
    case reconnected(KlineFeedGap)
    /// The exchange answered a request with an error (the reply as sent), e.g. LOCKSTEP.DONE of a
    /// client it dropped.
    case requestRejected(String)
}

/// What a dropped connection may have lost, for a REST backfill.
///
/// In lock-step mode nothing is lost: the exchange sends a client that registers again every
/// frame after the time it was last done through, and the feed drops the repeats. Against Binance,
/// fetch each symbol's bars after ``lastClosedOpenTimes`` (or, for a symbol with none, the
/// warm-up's last) over REST, then call ``KlineFeed/markDelivered(symbol:through:)`` so the stream
/// does not deliver them again.
public struct KlineFeedGap: Sendable, Equatable {
    /// Which of the feed's connections dropped (0 for the first 1,024 streams, …).
    public var connection: Int
    /// The symbols whose streams that connection carries.
    public var symbols: [String]
    /// Per symbol, the open time of the last closed bar delivered before the drop; a symbol
    /// without one had none delivered yet.
    public var lastClosedOpenTimes: [String: Int64]

    /// Creates a gap.
    public init(connection: Int, symbols: [String], lastClosedOpenTimes: [String: Int64]) {
        self.connection = connection
        self.symbols = symbols
        self.lastClosedOpenTimes = lastClosedOpenTimes
    }
}

/// Counters a ``KlineFeed`` keeps.
public struct KlineFeedStatistics: Sendable, Equatable {
    /// Text frames received.
    public var messages = 0
    /// Closed bars delivered.
    public var closedBars = 0
    /// Frames of bars still in progress (`x: false`), read and not delivered.
    public var barsInProgress = 0
    /// Closed bars not after the symbol's last one delivered (repeats after a re-register), skipped.
    public var repeatedBars = 0
    /// Frames that could not be read, or not of a followed symbol's 1 m klines, counted and skipped.
    public var malformed = 0
    /// Connections opened, the first ones included.
    public var connections = 0
    /// Connections opened again after a drop.
    public var reconnects = 0
    /// Error replies from the exchange.
    public var rejectedRequests = 0
    /// Trade prints delivered.
    public var trades = 0
    /// Book frames delivered.
    public var books = 0
    /// SUBSCRIBE and UNSUBSCRIBE requests sent as the detail symbols changed.
    public var subscriptionRequests = 0

    /// All zero.
    public init() {}
}
