/// TA-Lib RSI(n) and CMO(n), which share Wilder-smoothed average gains and losses.
///
/// Seed: the plain averages of the first n gains and losses (bars 1…n), first output at bar n;
/// then `avg = (avg·(n−1) + x) / n`. RSI = 100·g/(g+l), CMO = 100·(g−l)/(g+l), both 0 when g+l = 0
/// (TA-Lib `TA_RSI`, `TA_CMO` in the 0.8 build, where CMO is Wilder-smoothed).
struct WilderRSI {
    let period: Int
    private var gain = 0.0
    private var loss = 0.0
    private var seen = 0  // price changes seen

    init(period: Int) { self.period = period }

    /// Feeds the change `close_t − close_{t−1}`; returns true once outputs are valid.
    @inline(__always)
    mutating func push(change diff: Double) -> Bool {
        seen += 1
        let n = Double(period)
        if seen <= period {
            if diff < 0 { loss -= diff } else { gain += diff }
            if seen == period {
                loss /= n
                gain /= n
                return true
            }
            return false
        }
        loss *= n - 1
        gain *= n - 1
        if diff < 0 { loss -= diff } else { gain += diff }
        loss /= n
        gain /= n
        return true
    }

    var rsi: Double {
        let total = gain + loss
        return total != 0 ? 100 * (gain / total) : 0
    }

    var cmo: Double {
        let total = gain + loss
        return total != 0 ? 100 * ((gain - loss) / total) : 0
    }

    mutating func reset() {
        gain = 0
        loss = 0
        seen = 0
    }
}

/// TA-Lib EMA(n): seeded with the simple mean of the first n inputs, then `ema += (x − ema)·k`,
/// k = 2/(n+1).
struct SeededEMA {
    let period: Int
    let k: Double
    private var sum = 0.0
    private(set) var count = 0
    private(set) var value = 0.0

    init(period: Int) {
        self.period = period
        k = 2 / Double(period + 1)
    }

    /// Feeds one input; returns true once `value` is valid.
    @inline(__always)
    mutating func push(_ x: Double) -> Bool {
        count += 1
        if count < period {
            sum += x
            return false
        }
        if count == period {
            sum += x
            value = sum / Double(period)
            return true
        }
        value = (x - value) * k + value
        return true
    }

    /// Starts the average at `seed` (as if `period` inputs with that mean had been seen).
    mutating func seed(_ seed: Double) {
        value = seed
        count = period
    }

    mutating func reset() {
        sum = 0
        count = 0
        value = 0
    }
}

/// TA-Lib ATR(n): true range from bar 1, seeded with the mean of TR over bars 1…n, then Wilder.
struct WilderATR {
    let period: Int
    private var sum = 0.0
    private var seen = 0
    private(set) var value = 0.0

    init(period: Int) { self.period = period }

    /// Feeds the true range of bar t ≥ 1; returns true once `value` is valid.
    @inline(__always)
    mutating func push(trueRange tr: Double) -> Bool {
        seen += 1
        if seen < period {
            sum += tr
            return false
        }
        if seen == period {
            sum += tr
            value = sum / Double(period)
            return true
        }
        value = (value * Double(period - 1) + tr) / Double(period)
        return true
    }

    mutating func reset() {
        sum = 0
        seen = 0
        value = 0
    }
}

/// TA-Lib ADX(n) (Wilder's directional movement, double smoothing).
///
/// Bars 1…n−1 seed the sums of +DM, −DM and TR; bars n…2n−1 update them as `S − S/n + x` and
/// average their DX; the first ADX is at bar 2n−1, then `adx = (adx·(n−1) + dx)/n`. A bar whose
/// smoothed TR or DI sum is 0 leaves ADX unchanged, exactly as TA-Lib does.
struct WilderADX {
    let period: Int
    private var plusDM = 0.0
    private var minusDM = 0.0
    private var tr = 0.0
    private var sumDX = 0.0
    private var seen = 0  // bars after the first
    private(set) var value = 0.0

    init(period: Int) { self.period = period }

    /// Feeds bar t ≥ 1 given the previous bar's high, low and close; true once `value` is valid.
    @inline(__always)
    mutating func push(high: Double, low: Double, previousHigh: Double, previousLow: Double, trueRange: Double) -> Bool {
        seen += 1
        let n = Double(period)
        let diffP = high - previousHigh
        let diffM = previousLow - low
        if seen >= period {
            minusDM -= minusDM / n
            plusDM -= plusDM / n
        }
        if diffM > 0 && diffP < diffM {
            minusDM += diffM
        } else if diffP > 0 && diffP > diffM {
            plusDM += diffP
        }
        if seen < period {
            tr += trueRange
            return false
        }
        tr = tr - tr / n + trueRange
        var dx: Double?
        if tr != 0 {
            let minusDI = 100 * (minusDM / tr)
            let plusDI = 100 * (plusDM / tr)
            let sum = minusDI + plusDI
            if sum != 0 { dx = 100 * (abs(minusDI - plusDI) / sum) }
        }
        if seen < 2 * period - 1 {
            sumDX += dx ?? 0
            return false
        }
        if seen == 2 * period - 1 {
            sumDX += dx ?? 0
            value = sumDX / n
            return true
        }
        if let dx { value = (value * (n - 1) + dx) / n }
        return true
    }

    mutating func reset() {
        plusDM = 0
        minusDM = 0
        tr = 0
        sumDX = 0
        seen = 0
        value = 0
    }
}
