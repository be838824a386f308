import Foundation
import ScalperCore
import Synchronization
import Testing

@Suite("ComputeThreads: a process-wide cap on the threads of one computation")
struct ComputeThreadsTests {
    @Test("perform runs every index exactly once, on the calling thread alone under a limit of 1, and never on more threads at once than the limit")
    func everyIndexOnce() {
        defer { ComputeThreads.limit(to: 0) }
        for limit in [0, 1, 2] {
            ComputeThreads.limit(to: limit)
            let cores = ProcessInfo.processInfo.activeProcessorCount
            #expect(ComputeThreads.count == (limit == 0 ? cores : min(limit, cores)))
            for iterations in [0, 1, 7, 1_000] {
                struct Tally {
                    var hits: [Int]
                    var running = 0
                    var peak = 0
                    var elsewhere = 0
                }
                let tally = Mutex(Tally(hits: [Int](repeating: 0, count: iterations)))
                let caller = Thread.current
                ComputeThreads.perform(iterations: iterations) { i in
                    let away = Thread.current != caller
                    tally.withLock {
                        $0.running += 1
                        $0.peak = max($0.peak, $0.running)
                        $0.hits[i] += 1
                        if away { $0.elsewhere += 1 }
                    }
                    // Long enough that threads overlap when there are several.
                    Thread.sleep(forTimeInterval: iterations == 7 ? 0.01 : 0)
                    tally.withLock { $0.running -= 1 }
                }
                tally.withLock { t in
                    #expect(t.hits.allSatisfy { $0 == 1 }, "limit \(limit), \(iterations) iterations")
                    #expect(t.peak <= ComputeThreads.count)
                    if limit == 1 { #expect(t.elsewhere == 0) }
                }
            }
        }
    }
}
