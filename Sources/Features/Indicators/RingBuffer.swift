/// A fixed-capacity ring of the most recent values, oldest overwritten first, stored inline.
struct RingBuffer<Slots: FixedSlots>: Sendable where Slots.Element == Double {
    private var slots = Slots()
    /// Index of the slot the next value goes to.
    private(set) var head = 0
    private(set) var count = 0

    init() {}

    var capacity: Int { Slots.count }
    var isFull: Bool { count == Slots.count }

    /// Appends `x`; returns the value it evicted when the ring was full.
    @inline(__always)
    @discardableResult
    mutating func push(_ x: Double) -> Double? {
        let evicted: Double? = count == Slots.count ? slots[head] : nil
        slots[head] = x
        head += 1
        if head == Slots.count { head = 0 }
        if count < Slots.count { count += 1 }
        return evicted
    }

    /// The value pushed `back` pushes ago (0 = newest). Requires `back < count`.
    @inline(__always)
    mutating func ago(_ back: Int) -> Double {
        var i = head - 1 - back
        if i < 0 { i += Slots.count }
        return slots[i]
    }

    /// Raw slot `i` (0 ..< capacity), in storage order rather than age order.
    @inline(__always)
    mutating func slot(_ i: Int) -> Double { slots[i] }

    mutating func removeAll() {
        head = 0
        count = 0
    }
}

/// The sum of the last `window` values, updated in O(1) per value.
///
/// Adds and subtracts as values come and go; each time the ring wraps, the sum is recomputed
/// exactly from the ring (oldest first), so rounding drift never outlives one window (amortised
/// O(1)). `nonzeroCount` makes an all-zero window's sum exactly 0, which the spec's
/// "NaN on division by zero" rules need.
struct WindowSum<Slots: FixedSlots>: Sendable where Slots.Element == Double {
    private(set) var ring = RingBuffer<Slots>()
    private(set) var sum = 0.0
    private(set) var nonzeroCount = 0

    init() {}

    var isFull: Bool { ring.isFull }
    var window: Int { ring.capacity }
    /// The sum, exactly 0 when every value in the window is 0.
    var value: Double { nonzeroCount == 0 ? 0 : sum }

    /// The newest value. Requires a non-empty window.
    @inline(__always)
    mutating func newest() -> Double { ring.ago(0) }

    @inline(__always)
    mutating func push(_ x: Double) {
        if x != 0 { nonzeroCount += 1 }
        if let old = ring.push(x) {
            if old != 0 { nonzeroCount -= 1 }
            sum -= old
        }
        sum += x
        if ring.head == 0 { recompute() }
    }

    private mutating func recompute() {
        var s = 0.0
        for i in stride(from: ring.count - 1, through: 0, by: -1) { s += ring.ago(i) }
        sum = s
    }

    mutating func reset() {
        ring.removeAll()
        sum = 0
        nonzeroCount = 0
    }
}

/// Mean and sum of squared deviations of the last `window` values (sliding Welford update).
///
/// Recomputed exactly by two passes each time the ring wraps; a window whose values are all
/// equal has a variance of exactly 0 (the spec's bb_width rule).
struct WindowMoments<Slots: FixedSlots>: Sendable where Slots.Element == Double {
    private(set) var ring = RingBuffer<Slots>()
    private(set) var mean = 0.0
    private(set) var m2 = 0.0
    /// How many of the newest values equal the newest one.
    private var equalRun = 0

    private let inverseWindow = 1 / Double(Slots.count)

    init() {}

    var isFull: Bool { ring.isFull }

    /// Population variance (divisor = window).
    var populationVariance: Double {
        if equalRun >= ring.count { return 0 }
        return max(0, m2 * (ring.isFull ? inverseWindow : 1 / Double(ring.count)))
    }

    @inline(__always)
    mutating func push(_ x: Double) {
        if ring.count > 0 && ring.ago(0) == x { equalRun += 1 } else { equalRun = 1 }
        if let old = ring.push(x) {
            let oldMean = mean
            mean += (x - old) * inverseWindow
            m2 += (x - old) * (x - mean + old - oldMean)
        } else {
            let k = Double(ring.count)
            let delta = x - mean
            mean += delta / k
            m2 += delta * (x - mean)
        }
        if ring.head == 0 { recompute() }
    }

    private mutating func recompute() {
        let n = ring.count
        var s = 0.0
        for i in stride(from: n - 1, through: 0, by: -1) { s += ring.ago(i) }
        let mu = s / Double(n)
        var q = 0.0
        for i in stride(from: n - 1, through: 0, by: -1) {
            let d = ring.ago(i) - mu
            q += d * d
        }
        mean = mu
        m2 = q
    }

    mutating func reset() {
        ring.removeAll()
        mean = 0
        m2 = 0
        equalRun = 0
    }
}

/// The maximum (or minimum) of the last `window` values and how many bars ago it was, O(1)
/// amortised (monotonic deque). Ties go to the most recent bar, as in TA-Lib's AROON.
struct WindowExtreme: Sendable {
    // A deque never holds more than `window` entries; a spare slot keeps head != tail when full.
    private var values = Slots16()
    private var times = IntSlots16()
    private var head = 0
    private var tail = 0
    private let window: Int
    private let isMaximum: Bool

    init(window: Int, maximum: Bool) {
        precondition(window > 0 && window < Slots16.count, "the window must leave one spare slot")
        self.window = window
        isMaximum = maximum
    }

    /// Adds the value of bar `time` (times increase by one per push).
    @inline(__always)
    mutating func push(_ x: Double, time: Int) {
        let capacity = Slots16.count
        while head != tail {
            let last = tail == 0 ? capacity - 1 : tail - 1
            let kept = values[last]
            let keep = isMaximum ? kept > x : kept < x
            if keep { break }
            tail = last
        }
        values[tail] = x
        times[tail] = time
        tail += 1
        if tail == capacity { tail = 0 }
        while times[head] <= time - window {
            head += 1
            if head == capacity { head = 0 }
        }
    }

    /// The extreme value in the window.
    var value: Double {
        @inline(__always) mutating get { values[head] }
    }
    /// The bar time of the extreme (the most recent one among equals).
    var time: Int {
        @inline(__always) mutating get { times[head] }
    }

    mutating func reset() {
        head = 0
        tail = 0
    }
}
