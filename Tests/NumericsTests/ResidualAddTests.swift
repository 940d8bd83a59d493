import XCTest
import Numerics
import TestSupport

final class ResidualAddTests: XCTestCase {
    /// y += x equals the element-by-element sum on 1 and 3 threads, over several blocks of 2^14 with a tail that is
    /// no multiple of 8, and every element of the blocks is visited once (`parallelBlocks`).
    func testMatchesElementwiseSumOnAnyThreads() {
        let original = ComputeThreads.kernelThreads
        defer { ComputeThreads.set(original) }
        let count = 3 * (1 << 14) + 13
        let x = randomNormal(count, seed: 1), y0 = randomNormal(count, seed: 2)
        let expected = zip(y0, x).map { $0 + $1 }
        for threads in [1, 3] {
            ComputeThreads.set(threads)
            var y = y0
            y.withUnsafeMutableBufferPointer { ResidualAdd.forward($0.baseAddress!, adding: x, count: count) }
            XCTAssertEqual(y, expected, "\(threads) threads: y + x differs from the element-wise sum")
            var visits = [Int](repeating: 0, count: count)
            visits.withUnsafeMutableBufferPointer { v in
                parallelBlocks(count, cost: 1 << 10) { range in for i in range { v[i] += 1 } }
            }
            XCTAssertEqual(Set(visits), [1], "\(threads) threads: some element was not visited exactly once")
        }
    }
}
