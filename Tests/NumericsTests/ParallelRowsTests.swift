import XCTest
import Numerics
import TestSupport

final class ParallelRowsTests: XCTestCase {
    /// Every row runs exactly once, on 1 and on 2 threads, above and below the size threshold.
    func testEveryRowRunsOnce() {
        let original = ComputeThreads.kernelThreads
        defer { ComputeThreads.set(original) }
        for threads in [1, 2] {
            ComputeThreads.set(threads)
            for (rows, cost) in [(0, 1 << 20), (1, 1 << 20), (3, 1 << 20), (1001, 1 << 10), (1001, 1)] {
                let visits = UnsafeMutablePointer<Int>.allocate(capacity: max(rows, 1))
                defer { visits.deallocate() }
                visits.initialize(repeating: 0, count: max(rows, 1))
                parallelRows(rows, cost: cost) { row in visits[row] += 1 }
                for row in 0..<rows {
                    XCTAssertEqual(visits[row], 1, "\(threads) threads, \(rows) rows, cost \(cost): row \(row) ran \(visits[row]) times")
                }
            }
        }
    }

    /// parallelBlocks visits every element of several blocks of 2^14 and a tail exactly once, on 1 and 3 threads.
    func testParallelBlocksVisitEveryElementOnce() {
        let original = ComputeThreads.kernelThreads
        defer { ComputeThreads.set(original) }
        let count = 3 * (1 << 14) + 13
        for threads in [1, 3] {
            ComputeThreads.set(threads)
            var visits = [Int](repeating: 0, count: count)
            visits.withUnsafeMutableBufferPointer { v in
                parallelBlocks(count, cost: 1 << 10) { range in for i in range { v[i] += 1 } }
            }
            XCTAssertEqual(Set(visits), [1], "\(threads) threads: some element was not visited exactly once")
        }
    }

    /// ComputeThreads.set clamps to at least 1 and sets both counts.
    func testComputeThreadsSet() {
        let original = ComputeThreads.kernelThreads
        defer { ComputeThreads.set(original) }
        ComputeThreads.set(0)
        XCTAssertEqual(ComputeThreads.kernelThreads, 1, "set(0) clamps kernel threads to 1")
        XCTAssertEqual(ComputeThreads.blasThreads, 1, "set(0) clamps BLAS threads to 1")
        ComputeThreads.set(2)
        XCTAssertEqual(ComputeThreads.kernelThreads, 2, "set(2) kernel threads")
        XCTAssertEqual(ComputeThreads.blasThreads, 2, "set(2) BLAS threads")
    }
}
