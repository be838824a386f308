public import MarketData
public import ScalperCore

/// A stretch of recorded depth the exchange can serve exactly: a snapshot and the diff events
/// that follow it without a sequence gap.
struct BookWindow: Sendable {
    /// Event time of the first diff applied on the snapshot: the book is served from here.
    let start: Int64
    /// Event time of the last diff of the stretch.
    let end: Int64
    /// The diff events, in order (the first one straddles the snapshot).
    let events: [DepthUpdate]
    /// The book after `events[..<k]`, for every k that is a multiple of ``checkpointEvery``.
    let checkpoints: [OrderBook]

    static let checkpointEvery = 128

    /// The book as of sim time `t` (start ≤ t): the snapshot and every event with E ≤ t.
    func book(at t: Int64) -> OrderBook {
        let applied = events.partitionPoint { $0.eventTime <= t }
        var book = checkpoints[applied / Self.checkpointEvery]
        for e in events[(applied / Self.checkpointEvery * Self.checkpointEvery)..<applied] { book.apply(e) }
        return book
    }
}

/// One symbol's recorded market streams as the exchange replays them: books rebuilt from the
/// depth snapshots and diff events (served where a window covers the sim time), the recorded best
/// bid/ask updates and trades, sent as they were.
public final class RecordedBook: Sendable {
    /// Symbol.
    public let symbol: String
    let windows: [BookWindow]
    let bookTickers: [RecordedBookTicker]
    let trades: [Trade]

    /// Builds the windows of `streams`: each snapshot starts one, continued by the diffs that chain
    /// on from it (Binance's own sync rules, ``OrderBook``) up to the first sequence gap.
    public init(_ streams: RecordedStreams) {
        symbol = streams.symbol
        var windows: [BookWindow] = []
        let updates = streams.updates
        for s in streams.snapshots {
            var book = OrderBook()
            book.applySnapshot(s.snapshot)
            var events: [DepthUpdate] = []
            var checkpoints: [OrderBook] = []
            var k = updates.partitionPoint { $0.finalUpdateID <= s.snapshot.lastUpdateID }
            while k < updates.count {
                var next = book
                guard next.apply(updates[k]) == .applied else { break }
                if events.count % BookWindow.checkpointEvery == 0 { checkpoints.append(book) }
                events.append(updates[k])
                book = next
                k += 1
            }
            guard let first = events.first, let last = events.last else { continue }
            // Later snapshots inside a window add nothing; a window past the previous one's end is new.
            if let previous = windows.last, first.eventTime <= previous.end { continue }
            windows.append(BookWindow(start: first.eventTime, end: last.eventTime, events: events, checkpoints: checkpoints))
        }
        self.windows = windows
        bookTickers = streams.bookTickers.sorted { ($0.time, $0.ticker.updateID) < ($1.time, $1.ticker.updateID) }
        trades = streams.trades.sorted { ($0.time, $0.id) < ($1.time, $1.id) }
    }

    /// Whether the recording has a book to serve.
    public var hasBook: Bool { !windows.isEmpty }

    /// First and last instant with a recorded book.
    public var bookSpan: ClosedRange<Int64>? {
        guard let first = windows.first, let last = windows.last else { return nil }
        return first.start...last.end
    }

    /// The window covering sim time `t`, if any.
    func window(at t: Int64) -> BookWindow? {
        let k = windows.partitionPoint { $0.start <= t }
        guard k > 0, windows[k - 1].end >= t else { return nil }
        return windows[k - 1]
    }

    /// The recorded book at `t`, or nil where no window covers it.
    public func book(at t: Int64) -> OrderBook? { window(at: t)?.book(at: t) }

    /// Diff events with event time in (from, to], each within a window.
    func depthEvents(after from: Int64, upTo to: Int64) -> [DepthUpdate] {
        var out: [DepthUpdate] = []
        for w in windows where w.end > from && w.start <= to {
            let a = w.events.partitionPoint { $0.eventTime <= from }
            let b = w.events.partitionPoint { $0.eventTime <= to }
            out += w.events[a..<b]
        }
        return out
    }

    /// Book ticker updates received in (from, to].
    func bookTickers(after from: Int64, upTo to: Int64) -> ArraySlice<RecordedBookTicker> {
        bookTickers[bookTickers.partitionPoint { $0.time <= from }..<bookTickers.partitionPoint { $0.time <= to }]
    }

    /// Trades with trade time in (from, to].
    func trades(after from: Int64, upTo to: Int64) -> ArraySlice<Trade> {
        trades[trades.partitionPoint { $0.time <= from }..<trades.partitionPoint { $0.time <= to }]
    }

    /// The update id the seeded model's book carries at sim second `second` (ms) for this symbol,
    /// outside its windows: counting up one per second into the first window's ids from below,
    /// and on from the last id of the window before. So a client synced on a model book sees a
    /// sequence gap (and fetches a new snapshot) when the recorded book takes over, and again when
    /// it hands back, never ids that go backwards.
    func modelUpdateID(second: Int64) -> Int64 {
        let k = windows.partitionPoint { $0.start <= second }
        if k == 0, let first = windows.first {
            return first.events[0].firstUpdateID - 2 - (first.start - second + 999) / 1_000
        }
        let previous = windows[k - 1]
        return (previous.events.last?.finalUpdateID ?? 0) + 2 + (second - previous.end) / 1_000
    }
}
