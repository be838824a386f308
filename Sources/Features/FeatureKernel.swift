import Foundation
import ScalperCore

/// The one definition of the 42 features: a per-symbol state advanced one closed bar at a time.
///
/// Both ways of computing features drive this kernel: ``StreamingFeatures`` for live bars and
/// ``BatchFeatures`` over history, so the two agree by construction. Every indicator keeps ring
/// buffers, running sums or Wilder averages: O(1) time and memory per bar, amortised. The one
/// exception is CCI's mean absolute deviation, which TA-Lib defines around the current mean and
/// therefore takes a pass over its 20-value ring (a fixed 20 operations per bar).
///
/// A gap (a bar that does not follow the previous one by exactly one interval) restarts every
/// indicator, so no window blends prices from both sides of it.
struct FeatureKernel {
    /// Which features a kernel computes: all of them, or one of two halves that a batch run can
    /// give to two threads (each half keeps only the state its features need).
    enum Part: Sendable {
        case all
        /// Momentum and trend: features 1–18.
        case momentumAndTrend
        /// Volatility, order book, volume and price action: features 19–42.
        case rest

        /// Columns this part writes: one contiguous range, so that the two halves of a row share at
        /// most the cache line where they meet.
        var columns: Range<Int> {
            switch self {
            case .all: 0..<FeatureSpec.count
            case .momentumAndTrend: 0..<18
            case .rest: 18..<FeatureSpec.count
            }
        }
    }

    let intervalMilliseconds: Int64
    let part: Part
    private let computesMomentum: Bool
    private let computesRest: Bool
    private(set) var gapCount = 0
    private(set) var lastOpenTime: Int64?

    // Bars seen in the current gap-free segment.
    private var t = 0
    private var prevHigh = 0.0
    private var prevLow = 0.0
    private var prevClose = 0.0
    private var closes = RingBuffer<Slots16>()  // ROC(10), ret_15 and the MACD seed look 15 bars back at most

    private var rsi14 = WilderRSI(period: 14)
    private var rsi7 = WilderRSI(period: 7)
    private var highest14 = WindowExtreme(window: 14, maximum: true)
    private var lowest14 = WindowExtreme(window: 14, maximum: false)
    private var fastK = WindowSum<Slots3>()
    private var slowK = WindowSum<Slots3>()
    private var typical = RingBuffer<Slots20>()
    private var ema5 = SeededEMA(period: 5)
    private var ema10 = SeededEMA(period: 10)
    private var ema20 = SeededEMA(period: 20)
    private var macdFast = SeededEMA(period: 12)
    private var macdSlow = SeededEMA(period: 26)
    private var macdSignal = SeededEMA(period: 9)
    private var adx14 = WilderADX(period: 14)
    private var aroonHigh = WindowExtreme(window: 15, maximum: true)
    private var aroonLow = WindowExtreme(window: 15, maximum: false)
    private var bollinger = WindowMoments<Slots20>()
    private var atr14 = WilderATR(period: 14)
    private var atr50 = WilderATR(period: 50)
    private var logReturns = WindowMoments<Slots20>()
    private var rangeOverClose20 = WindowSum<Slots20>()
    private var volume10 = WindowSum<Slots10>()
    private var obv = 0.0
    private var obvSlope = WindowSlope()
    private var ad = 0.0
    private var adSlope = WindowSlope()
    private var typicalVolume20 = WindowSum<Slots20>()
    /// The last 20 volumes: before this bar's push, the previous 20 (rel_volume_20); after, VWAP's 20.
    private var volume20 = WindowSum<Slots20>()
    private var greenStreak = 0
    private var range20Previous = WindowSum<Slots20>()

    init(intervalMilliseconds: Int64, part: Part = .all) {
        self.intervalMilliseconds = intervalMilliseconds
        self.part = part
        computesMomentum = part != .rest
        computesRest = part != .momentumAndTrend
    }

    /// Restarts every indicator (after a gap).
    mutating func resetIndicators() {
        let (gaps, last) = (gapCount, lastOpenTime)
        self = FeatureKernel(intervalMilliseconds: intervalMilliseconds, part: part)
        gapCount = gaps
        lastOpenTime = last
    }

    /// Checks a bar before any of its values reaches a running sum.
    @inline(__always)
    static func validate(_ bar: Kline) throws(FeatureError) {
        // Plain comparisons (no arrays): this runs once per bar on the hot path.
        @inline(__always)
        func check(_ value: Double, _ name: StaticString) throws(FeatureError) {
            if !(value.isFinite && value > 0) {
                throw FeatureError(openTime: bar.openTime, reason: .invalidValue(field: "\(name)", value: value))
            }
        }
        try check(bar.open, "open")
        try check(bar.high, "high")
        try check(bar.low, "low")
        try check(bar.close, "close")
        if !(bar.volume.isFinite && bar.volume >= 0) {
            throw FeatureError(openTime: bar.openTime, reason: .invalidValue(field: "volume", value: bar.volume))
        }
        if bar.high < bar.low {
            throw FeatureError(openTime: bar.openTime, reason: .invalidValue(field: "high (below low)", value: bar.high))
        }
    }

    /// Advances by one closed bar and writes the 42 features into `out[base ..< base + 42]`.
    ///
    /// - Returns: whether a gap before this bar restarted the indicators.
    @discardableResult
    mutating func update(
        _ bar: Kline,
        book: BookFeatures?,
        into out: UnsafeMutablePointer<Double>
    ) throws(FeatureError) -> Bool {
        try Self.validate(bar)
        var restarted = false
        if let last = lastOpenTime {
            let step = bar.openTime - last
            if step <= 0 {
                throw FeatureError(openTime: bar.openTime, reason: .timeNotIncreasing(previous: last, current: bar.openTime))
            }
            if step != intervalMilliseconds {
                gapCount += 1
                resetIndicators()
                restarted = true
            }
        }
        lastOpenTime = bar.openTime
        advance(bar, book: book, out)
        return restarted
    }

    @inline(__always)
    private mutating func advance(_ bar: Kline, book: BookFeatures?, _ f: UnsafeMutablePointer<Double>) {
        let o = bar.open
        let h = bar.high
        let l = bar.low
        let c = bar.close
        let v = bar.volume
        let nan = Double.nan
        if computesMomentum {
            for i in 0..<18 { f[i] = nan }
        }
        if computesRest {
            for i in 18..<FeatureSpec.count { f[i] = nan }
        }

        let time = t
        closes.push(c)
        let first = time == 0
        let trueRange = first ? 0 : max(h - l, abs(h - prevClose), abs(l - prevClose))
        let tp = (h + l + c) / 3

        if computesMomentum {
            // 1–2, 10: RSI(14), RSI(7), CMO(14).
            if !first {
                let diff = c - prevClose
                if rsi14.push(change: diff) {
                    f[0] = rsi14.rsi
                    f[9] = rsi14.cmo
                }
                if rsi7.push(change: diff) { f[1] = rsi7.rsi }
            }

            // 3–5: STOCH(14, 3, 3) and WILLR(14) share the 14-bar extremes.
            highest14.push(h, time: time)
            lowest14.push(l, time: time)
            if time >= 13 {
                let hh = highest14.value
                let ll = lowest14.value
                let stochDiff = (hh - ll) / 100
                let k = stochDiff != 0 ? (c - ll) / stochDiff : 0
                fastK.push(k)
                if fastK.isFull {
                    slowK.push(fastK.sum / 3)
                    if slowK.isFull && time >= 17 {
                        f[2] = slowK.newest()
                        f[3] = slowK.sum / 3
                    }
                }
                let willrDiff = (hh - ll) / -100
                f[4] = willrDiff != 0 ? (hh - c) / willrDiff : 0
            }

            // 6–8: ROC(5), ROC(10), MOM(5) / close.
            if time >= 5 {
                let c5 = closes.ago(5)
                f[5] = c5 != 0 ? ((c / c5) - 1) * 100 : 0
                f[7] = (c - c5) / c * 100
            }
            if time >= 10 {
                let c10 = closes.ago(10)
                f[6] = c10 != 0 ? ((c / c10) - 1) * 100 : 0
            }

            // 9: CCI(20) on the typical price. TA-Lib sums its 20-value buffer for both the mean and the
            // mean absolute deviation on every bar; so does this (a fixed 40 operations).
            typical.push(tp)
            if typical.isFull {
                var sum = 0.0
                for i in 0..<20 { sum += typical.slot(i) }
                let mean = sum / 20
                var deviation = 0.0
                for i in 0..<20 { deviation += abs(typical.slot(i) - mean) }
                // TA-Lib 0.8 tests both terms for zero relative to the price scale: a window of equal
                // typical prices gives 0, not the ±66.7 that rounding of the mean would otherwise produce.
                let scale = 1e-12 * abs(mean)
                let distance = tp - mean
                f[8] = abs(distance) > scale && deviation > 20 * scale ? distance / (0.015 * (deviation / 20)) : 0
            }

            // 11–13: EMA ratios.
            if ema5.push(c) { f[10] = ema5.value / c }
            if ema10.push(c) { f[11] = ema10.value / c }
            if ema20.push(c) { f[12] = ema20.value / c }

            // 14–16: MACD(12, 26, 9); both EMAs start at bar 25, the fast one seeded by closes 14…25.
            if time < 25 {
                _ = macdSlow.push(c)
            } else {
                if time == 25 {
                    _ = macdSlow.push(c)
                    var s = 0.0
                    for i in stride(from: 11, through: 0, by: -1) { s += closes.ago(i) }
                    macdFast.seed(s / 12)
                } else {
                    _ = macdSlow.push(c)
                    _ = macdFast.push(c)
                }
                let macd = macdFast.value - macdSlow.value
                if macdSignal.push(macd) {
                    let signal = macdSignal.value
                    f[13] = macd / c * 100
                    f[14] = signal / c * 100
                    f[15] = (macd - signal) / c * 100
                }
            }

            // 17: ADX(14).
            if !first,
                adx14.push(high: h, low: l, previousHigh: prevHigh, previousLow: prevLow, trueRange: trueRange)
            {
                f[16] = adx14.value
            }

            // 18: AROONOSC(14) over 15 bars, ties to the most recent bar.
            aroonHigh.push(h, time: time)
            aroonLow.push(l, time: time)
            if time >= 14 { f[17] = (100.0 / 14) * Double(aroonHigh.time - aroonLow.time) }
        }

        if computesRest {
            // 19–20: Bollinger(20, 2, 2) width and position.
            bollinger.push(c)
            if bollinger.isFull {
                let middle = bollinger.mean
                let sd = bollinger.populationVariance.squareRoot()
                let upper = middle + 2 * sd
                let lower = middle - 2 * sd
                let width = upper - lower
                f[18] = middle != 0 ? width / middle : nan
                f[19] = width != 0 ? (c - lower) / width : 0.5
            }

            // 21–22: NATR(14) and ATR(14)/ATR(50).
            if !first {
                let ready14 = atr14.push(trueRange: trueRange)
                let ready50 = atr50.push(trueRange: trueRange)
                if ready14 { f[20] = c != 0 ? (atr14.value / c) * 100 : 0 }
                if ready14 && ready50 { f[21] = atr50.value != 0 ? atr14.value / atr50.value : nan }
            }

            // 23: population std of the last 20 log returns.
            if !first {
                logReturns.push(log(c / prevClose))
                if logReturns.isFull { f[22] = logReturns.populationVariance.squareRoot() }
            }

            // 24: mean (high − low) / close over 20 bars.
            rangeOverClose20.push((h - l) / c)
            if rangeOverClose20.isFull { f[23] = rangeOverClose20.value / 20 }

            // 25–32: order book at the bar's close.
            if let book {
                f[24] = book.spreadPct
                f[25] = book.imbalance10
                f[26] = book.bidDepth10
                f[27] = book.askDepth10
                f[28] = book.depthRatio10
                f[29] = book.buyPressure
                f[30] = book.sellPressure
                f[31] = book.midVsLastPct
            }

            // 33: volume over the mean of the previous 20 volumes (the window before this bar's push).
            if volume20.isFull {
                let mean = volume20.value / 20
                f[32] = mean != 0 ? v / mean : nan
            }

            // 34, 37: slopes of TA-Lib OBV and AD over 10 bars, per mean volume of those bars.
            if first {
                obv = v
            } else if c > prevClose {
                obv += v
            } else if c < prevClose {
                obv -= v
            }
            let hl = h - l
            if hl > 0 { ad += (((c - l) - (h - c)) / hl) * v }
            volume10.push(v)
            obvSlope.push(obv)
            adSlope.push(ad)
            if volume10.isFull {
                let meanVolume = volume10.value / 10
                if meanVolume != 0 {
                    f[33] = obvSlope.slope / meanVolume
                    f[36] = adSlope.slope / meanVolume
                }
            }

            // 35: taker-buy share of volume.
            f[34] = v != 0 ? (2 * bar.takerBuyBaseVolume - v) / v : 0

            // 36: distance from the 20-bar VWAP.
            typicalVolume20.push(tp * v)
            volume20.push(v)
            if volume20.isFull {
                let sv = volume20.value
                if sv != 0 {
                    let vwap = typicalVolume20.value / sv
                    f[35] = vwap != 0 ? (c - vwap) / vwap * 100 : nan
                }
            }

            // 38–40: simple returns.
            if time >= 1 { f[37] = c / closes.ago(1) - 1 }
            if time >= 5 { f[38] = c / closes.ago(5) - 1 }
            if time >= 15 { f[39] = c / closes.ago(15) - 1 }

            // 41: green streak.
            greenStreak = c > o ? greenStreak + 1 : 0
            f[40] = Double(greenStreak)

            // 42: bar range over the mean range of the previous 20 bars.
            if range20Previous.isFull {
                let mean = range20Previous.value / 20
                f[41] = mean != 0 ? hl / mean : nan
            }
            range20Previous.push(hl)
        }

        prevHigh = h
        prevLow = l
        prevClose = c
        t += 1
    }
}

/// The least-squares slope per bar of the last 10 values, x = 0…9: Σ(i − 4.5)·y_i / 82.5.
///
/// Kept as Σy and Σi·y updated in O(1) (Σi·y loses the oldest and shifts by −Σy); recomputed
/// exactly whenever the ring wraps, which bounds rounding drift to one window.
struct WindowSlope {
    private var ring = RingBuffer<Slots10>()
    private var sum = 0.0
    private var weighted = 0.0

    @inline(__always)
    mutating func push(_ y: Double) {
        if let old = ring.push(y) {
            weighted = weighted - (sum - old) + 9 * y
            sum += y - old
        } else {
            weighted += Double(ring.count - 1) * y
            sum += y
        }
        if ring.head == 0 {
            var s = 0.0
            var w = 0.0
            for i in 0..<ring.count {
                let value = ring.ago(ring.count - 1 - i)
                s += value
                w += Double(i) * value
            }
            sum = s
            weighted = w
        }
    }

    var slope: Double { (weighted - 4.5 * sum) / 82.5 }
}
