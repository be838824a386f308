import Foundation
import Synchronization

/// A wall clock the test sets (ms), for the store's own timestamps.
final class ManualClock: Sendable {
    private let value: Mutex<Int64>

    init(_ start: Int64) { value = Mutex(start) }

    func set(_ time: Int64) { value.withLock { $0 = time } }

    /// The store's `now`.
    var read: @Sendable () -> Int64 { { self.value.withLock { $0 } } }
}
