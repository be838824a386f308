import Foundation
import Synchronization

/// How many threads one computation — a history's feature rows, a batch of predictions, a
/// backtest's symbols, a drift reference's columns — may use: every active core unless a limit is
/// set. A queue worker sets 1, so that each job it runs computes on one thread and N jobs side by
/// side (or N workers on one machine) use N cores, as the issue of queued work asks.
public enum ComputeThreads {
    private static let limitValue = Atomic<Int>(0)

    /// The threads a computation may use now: the limit when one is set, never more than the
    /// active cores.
    public static var count: Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let limit = limitValue.load(ordering: .relaxed)
        return limit > 0 ? min(limit, cores) : cores
    }

    /// Limits every later computation of this process to `threads` (≥ 1); 0 lifts the limit.
    public static func limit(to threads: Int) {
        precondition(threads >= 0, "a thread limit is ≥ 0")
        limitValue.store(threads, ordering: .relaxed)
    }

    /// Runs `body` for every index of `0..<iterations` on at most ``count`` threads (on the
    /// calling thread alone when that is 1), returning when all are done. Each index runs once;
    /// with fewer threads than indices each thread takes every `count`-th index.
    public static func perform(iterations: Int, _ body: (Int) -> Void) {
        guard iterations > 0 else { return }
        let threads = min(count, iterations)
        if threads <= 1 {
            for i in 0..<iterations { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedBody(body: body)
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var i = t
                while i < iterations {
                    shared.body(i)
                    i += threads
                }
            }
        }
    }
}

/// `perform`'s body handed to the threads of one `concurrentPerform`, which returns only when all
/// of them are done; the callers' bodies write disjoint slots.
private struct UncheckedBody: @unchecked Sendable {
    let body: (Int) -> Void
}
