public import ScalperCore

extension ReplayMarket {
    /// The replay's trade tape of `symbol` in (from, to] (sim ms): the recorded trades where a
    /// recording of the symbol covers the time, else one model trade per whole sim second at the
    /// replayed price (quantity = a second's share of the day's volume on the lot step, aggressor
    /// side drawn from the seed). The `trade` and `aggTrade` streams, the REST trade endpoints and
    /// the matching engine all read this one tape, so an order that a trade fills is one a client
    /// could see trade.
    ///
    /// Trade ids rise along the whole tape, one per trade: a model trade's id is its second (s
    /// since the epoch), or for a symbol with recorded trades, ids that count up one per second
    /// into the first recorded id from below and on from the last one (see ``tradeTime(ofID:_:)``),
    /// so `fromId` pages through it and `lastId − firstId + 1` counts its trades.
    public func trades(_ symbol: String, after from: Int64, upTo to: Int64) -> [Trade] {
        guard to > from, let pair = pairs[symbol] else { return [] }
        if let recording = recorded[symbol], !recording.trades.isEmpty {
            let first = recording.trades[0].time
            let last = recording.trades[recording.trades.count - 1].time
            // Recorded trades inside the recording's span; model trades outside it.
            var out: [Trade] = []
            if from < first {
                out += modelTrades(pair, after: from, upTo: min(to, first - 1))
            }
            out += recording.trades(after: from, upTo: to)
            if to > last {
                out += modelTrades(pair, after: max(from, last), upTo: to)
            }
            return out
        }
        return modelTrades(pair, after: from, upTo: to)
    }

    /// The tape's trades of `symbol` after `from` and up to `to`, oldest first, read forward in
    /// stretches of time (a second, then doubling up to an hour) until `enough` holds for what was
    /// read, or `to` is reached. A stretch ends between two milliseconds, so trades of one instant
    /// are never split.
    func trades(_ symbol: String, after from: Int64, upTo to: Int64, until enough: ([Trade]) -> Bool) -> [Trade] {
        var out: [Trade] = []
        var cursor = from
        var stretch: Int64 = 1_000
        while cursor < to, !enough(out) {
            let next = min(to, cursor + stretch)
            out += trades(symbol, after: cursor, upTo: next)
            cursor = next
            stretch = min(stretch * 2, 3_600_000)
        }
        return out
    }

    /// The tape's trades of `symbol` up to `to`, oldest first, read backward in stretches of time
    /// until `enough` holds for what was read, or `lookBack` ms before `to` (a week by default).
    func trades(_ symbol: String, upTo to: Int64, lookBack: Int64 = 7 * 86_400_000, until enough: ([Trade]) -> Bool) -> [Trade] {
        var out: [Trade] = []
        var cursor = to
        var stretch: Int64 = 1_000
        let floor = max(to - lookBack, start - 1)
        while cursor > floor, !enough(out) {
            let previous = max(floor, cursor - stretch)
            out = trades(symbol, after: previous, upTo: cursor) + out
            cursor = previous
            stretch = min(stretch * 2, 3_600_000)
        }
        return out
    }

    /// The last trade of `symbol` at or before `time` (looking back at most a day).
    public func lastTrade(_ symbol: String, upTo time: Int64) -> Trade? {
        trades(symbol, upTo: time, lookBack: 86_400_000) { !$0.isEmpty }.last
    }

    /// The first trade of `symbol` after `from` and at or before `to`.
    public func firstTrade(_ symbol: String, after from: Int64, upTo to: Int64) -> Trade? {
        trades(symbol, after: from, upTo: to) { !$0.isEmpty }.first
    }

    /// The sim time from which the tape holds the trade with id `id` or, where no trade has that
    /// id, the first one after it: the inverse of the tape's ids (``trades(_:after:upTo:)``).
    func tradeTime(ofID id: Int64, _ symbol: String) -> Int64 {
        guard let tape = recorded[symbol]?.trades, let first = tape.first, let last = tape.last else {
            return id * 1_000
        }
        if id < first.id {
            // The second s with ⌈(first.time − s) / 1 s⌉ = first.id − id.
            let k = first.id - id
            return ceilingSecond(first.time - k * 1_000)
        }
        if id > last.id {
            // The second s with ⌈(s − last.time) / 1 s⌉ = id − last.id.
            let k = id - last.id
            return floorSecond(last.time + k * 1_000)
        }
        return tape[tape.partitionPoint { $0.id < id }].time
    }

    private func modelTrades(_ pair: ReplayPair, after from: Int64, upTo to: Int64) -> [Trade] {
        guard to > from else { return [] }
        var out: [Trade] = []
        var second = floorSecond(from) + 1_000
        // A tape read far into the past is the caller's mistake; at most a day of model seconds.
        second = max(second, floorSecond(to) - 86_400_000)
        let recordedTape = recorded[pair.symbol]?.trades
        while second <= to {
            if let st = state(pair.symbol, at: second) {
                let quantity = pair.filters.onStep(st.volume24 / 86_400)
                let buyerIsMaker = (mix(seed ^ UInt64(bitPattern: second)) & 1) == 0
                let id: Int64
                if let recordedTape, let first = recordedTape.first, let last = recordedTape.last {
                    // Counting up into the recording's ids, and on from them (see `tradeTime`).
                    id = second < first.time ? first.id - (first.time - second + 999) / 1_000 : last.id + (second - last.time + 999) / 1_000
                } else {
                    id = second / 1_000
                }
                out.append(Trade(id: id, time: second, price: st.price, quantity: quantity, buyerIsMaker: buyerIsMaker))
            }
            second += 1_000
        }
        return out
    }

    /// The whole second at or before `time` (ms).
    private func floorSecond(_ time: Int64) -> Int64 {
        let s = time / 1_000 * 1_000
        return s > time ? s - 1_000 : s
    }

    /// The whole second at or after `time` (ms).
    private func ceilingSecond(_ time: Int64) -> Int64 {
        let s = floorSecond(time)
        return s < time ? s + 1_000 : s
    }
}
