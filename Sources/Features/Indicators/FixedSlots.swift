/// Inline storage for a fixed number of values: a homogeneous tuple, so the values sit inside the
/// indicator that owns them (no heap block, no reference counting, no uniqueness check on write).
///
/// The kernel's rings were `[Double]`s; each push then paid an array uniqueness check and the
/// state of one symbol was spread over some 30 heap blocks. With tuples the whole kernel is one
/// flat value, which a batch run keeps on its own stack and streaming keeps in place.
protocol FixedSlots: Sendable {
    associatedtype Element
    /// Number of slots.
    static var count: Int { get }
    init()
}

extension FixedSlots {
    /// Slot `i` (0 ..< count). Reads are `mutating` so that they go through the value's own
    /// address rather than a copy of the whole tuple.
    @inline(__always)
    subscript(_ i: Int) -> Element {
        mutating get {
            assert(i >= 0 && i < Self.count, "slot index out of range")
            return withUnsafeMutableBytes(of: &self) { $0.baseAddress!.assumingMemoryBound(to: Element.self)[i] }
        }
        set {
            assert(i >= 0 && i < Self.count, "slot index out of range")
            withUnsafeMutableBytes(of: &self) { $0.baseAddress!.assumingMemoryBound(to: Element.self)[i] = newValue }
        }
    }
}

/// 3 inline `Double` slots.
struct Slots3: FixedSlots {
    typealias Element = Double
    static var count: Int { 3 }
    var values: (
        Double, Double, Double
    ) = (
        0, 0, 0
    )
}

/// 10 inline `Double` slots.
struct Slots10: FixedSlots {
    typealias Element = Double
    static var count: Int { 10 }
    var values: (
        Double, Double, Double, Double, Double, Double, Double, Double, Double, Double
    ) = (
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    )
}

/// 16 inline `Double` slots.
struct Slots16: FixedSlots {
    typealias Element = Double
    static var count: Int { 16 }
    var values: (
        Double, Double, Double, Double, Double, Double, Double, Double, Double, Double,
        Double, Double, Double, Double, Double, Double
    ) = (
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    )
}

/// 20 inline `Double` slots.
struct Slots20: FixedSlots {
    typealias Element = Double
    static var count: Int { 20 }
    var values: (
        Double, Double, Double, Double, Double, Double, Double, Double, Double, Double,
        Double, Double, Double, Double, Double, Double, Double, Double, Double, Double
    ) = (
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    )
}

/// 16 inline `Int` slots.
struct IntSlots16: FixedSlots {
    typealias Element = Int
    static var count: Int { 16 }
    var values: (
        Int, Int, Int, Int, Int, Int, Int, Int, Int, Int,
        Int, Int, Int, Int, Int, Int
    ) = (
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    )
}
