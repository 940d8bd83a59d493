import XCTest
import Distributed

/// The collectives with values every rank can predict, so the same tests hold at any group size:
/// 1 under plain `swift test` (an MPI singleton), 2 and 4 under `mpirun` (launch/test).
/// Every rank runs every test in the same order, so the collectives inside them match up.
final class ProcessGroupTests: XCTestCase {
    let group = ProcessGroup.world

    func testRankAndSize() {
        XCTAssertGreaterThanOrEqual(group.size, 1, "size")
        XCTAssertTrue((0..<group.size).contains(group.rank), "rank \(group.rank) outside 0..<\(group.size)")
        XCTAssertEqual(group.isRoot, group.rank == 0, "isRoot")
        let ranks = group.allgather([Int64(group.rank)])
        XCTAssertEqual(ranks, (0..<group.size).map { Int64($0) }, "every rank has its own rank number")
    }

    /// Rank r contributes r + 1 + i at index i; the sum over ranks is size * (i + 1) + size (size - 1) / 2.
    func testAllreduceSumFloatAndDouble() {
        let count = 1000
        let p = group.size
        func expected(_ i: Int) -> Double { Double(p * (i + 1) + p * (p - 1) / 2) }

        var floats = (0..<count).map { Float(group.rank + 1 + $0) }
        group.allreduceSum(&floats)
        var doubles = (0..<count).map { Double(group.rank + 1 + $0) + 0.25 }
        doubles.withUnsafeMutableBufferPointer { group.allreduceSum($0) }
        for i in 0..<count {
            XCTAssertEqual(Double(floats[i]), expected(i), "float sum at \(i) on rank \(group.rank)")
            XCTAssertEqual(doubles[i], expected(i) + 0.25 * Double(p), "double sum at \(i) on rank \(group.rank)")
        }
    }

    func testAllreduceMaxAndMin() {
        XCTAssertEqual(group.allreduce(Int64(group.rank), .max), Int64(group.size - 1), "max of ranks")
        XCTAssertEqual(group.allreduce(Double(group.rank) - 0.5, .min), -0.5, "min of ranks")
    }

    /// Rank r sends [r * 10 + 0, r * 10 + 1, r * 10 + 2].
    func testAllgatherEqualCounts() {
        let local = (0..<3).map { Float(group.rank * 10 + $0) }
        let gathered = group.allgather(local)
        let expected = (0..<group.size).flatMap { r in (0..<3).map { Float(r * 10 + $0) } }
        XCTAssertEqual(gathered, expected, "allgather of floats on rank \(group.rank)")

        let localDouble = [Double(group.rank) + 0.5, -Double(group.rank)]
        let gatheredDouble = group.allgather(localDouble)
        XCTAssertEqual(gatheredDouble, (0..<group.size).flatMap { [Double($0) + 0.5, -Double($0)] },
                       "allgather of doubles on rank \(group.rank)")
    }

    /// Rank r sends r + 1 values, each 100 r + i; rank 0 also tests the pointer form with known counts.
    func testAllgathervVaryingCounts() {
        let local = (0..<(group.rank + 1)).map { Float(100 * group.rank + $0) }
        let (values, counts) = group.allgatherv(local)
        XCTAssertEqual(counts, (0..<group.size).map { $0 + 1 }, "counts on rank \(group.rank)")
        let expected = (0..<group.size).flatMap { r in (0..<(r + 1)).map { Float(100 * r + $0) } }
        XCTAssertEqual(values, expected, "allgatherv values on rank \(group.rank)")

        // A rank with nothing to send (the last one) is fine.
        let sparse: [Float] = group.rank == group.size - 1 ? [] : [Float(group.rank)]
        let (sparseValues, sparseCounts) = group.allgatherv(sparse)
        XCTAssertEqual(sparseCounts.last, 0, "the last rank sent nothing")
        XCTAssertEqual(sparseValues, (0..<(group.size - 1)).map { Float($0) }, "allgatherv with an empty rank")
    }

    func testGathervToEveryRoot() {
        for root in 0..<group.size {
            let local = (0..<(group.rank + 1)).map { Int64(100 * group.rank + $0) }
            let gathered = group.gatherv(local, root: root)
            if group.rank == root {
                XCTAssertEqual(gathered, (0..<group.size).flatMap { r in (0..<(r + 1)).map { Int64(100 * r + $0) } },
                               "gatherv values on root \(root)")
            } else {
                XCTAssertNil(gathered, "gatherv gives nothing to rank \(group.rank) (root \(root))")
            }
            let empty: [Float] = group.rank == root ? [] : [Float(group.rank)]
            let sparse = group.gatherv(empty, root: root)
            if group.rank == root {
                XCTAssertEqual(sparse, (0..<group.size).filter { $0 != root }.map { Float($0) }, "an empty root share")
            }
        }
    }

    func testBroadcastFromEveryRoot() {
        for root in 0..<group.size {
            var floats = group.rank == root ? [1.5, -2, Float(root)] : [Float](repeating: 0, count: 3)
            floats.withUnsafeMutableBufferPointer { group.broadcast($0, root: root) }
            XCTAssertEqual(floats, [1.5, -2, Float(root)], "float broadcast from \(root) on rank \(group.rank)")

            var doubles = group.rank == root ? [Double.pi, Double(root)] : [0, 0]
            doubles.withUnsafeMutableBufferPointer { group.broadcast($0, root: root) }
            XCTAssertEqual(doubles, [Double.pi, Double(root)], "double broadcast from \(root)")

            var integers: [Int64] = group.rank == root ? [Int64.max, -7, Int64(root)] : []
            group.broadcast(&integers, root: root)  // the array form resizes the receivers
            XCTAssertEqual(integers, [Int64.max, -7, Int64(root)], "Int64 broadcast from \(root)")

            var bytes = [UInt8](repeating: 0, count: 5)
            if group.rank == root { bytes = Array("hello".utf8) }
            bytes.withUnsafeMutableBytes { group.broadcast($0, root: root) }
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "hello", "bytes from \(root)")
        }
    }

    func testBarriers() {
        group.barrier()
        group.barrierSleeping()
    }
}
