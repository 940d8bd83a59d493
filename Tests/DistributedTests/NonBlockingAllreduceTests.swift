import XCTest
import Distributed
import Numerics

/// The non-blocking all-reduce (`startAllreduce`, `AllreduceRequest`) and the bucketed reduction built on it
/// (`BucketedAllreduce`), with values every rank can predict: 1 rank under plain `swift test`, 2, 3 and 4 under
/// `mpirun` (launch/test). Every rank runs every test in the same order, so the collectives match up.
final class NonBlockingAllreduceTests: XCTestCase {
    let group = ProcessGroup.world

    /// Rank r's value at i: r + 1 + i (integers, so every order of the additions gives the same float).
    private func local(_ i: Int) -> Float { Float(group.rank + 1 + i) }
    /// Their sum over ranks: size (i + 1) + size (size - 1) / 2.
    private func summed(_ i: Int) -> Float { Float(group.size * (i + 1) + group.size * (group.size - 1) / 2) }

    func testWaitLeavesTheSumOverRanks() {
        var values = (0..<1000).map(local)
        values.withUnsafeMutableBufferPointer { buffer in
            let request = group.startAllreduceSum(buffer)
            request.wait()
            XCTAssertTrue(request.isComplete, "complete after wait on rank \(group.rank)")
            XCTAssertTrue(request.test(), "test() after wait is true")
        }
        for i in values.indices {
            XCTAssertEqual(values[i], summed(i), "sum at \(i) on rank \(group.rank) of \(group.size)")
        }
    }

    /// Polling alone finishes the reduction (Open MPI advances it inside MPI_Test), within a generous deadline.
    func testTestEventuallyReturnsTrue() {
        var values = (0..<4096).map(local)
        var polls = 0, done = false
        values.withUnsafeMutableBufferPointer { buffer in
            let request = group.startAllreduceSum(buffer)
            let deadline = Date().addingTimeInterval(30)
            while !done && Date() < deadline {
                done = request.test()
                polls += 1
                if !done { Thread.sleep(forTimeInterval: 0.0005) }
            }
            XCTAssertEqual(request.isComplete, done, "isComplete follows test()")
        }
        XCTAssertTrue(done, "rank \(group.rank): test() never returned true in 30 s (\(polls) polls)")
        for i in values.indices {
            XCTAssertEqual(values[i], summed(i), "sum at \(i) on rank \(group.rank) after \(polls) polls")
        }
    }

    /// Several requests in flight at once, waited for in another order than started; a blocking collective
    /// between them.
    func testSeveralRequestsInFlight() {
        var a = (0..<300).map(local), b = (0..<7).map { local($0) * 2 }, c = [Float](repeating: 0, count: 0)
        let maximum = a.withUnsafeMutableBufferPointer { aBuffer in
            b.withUnsafeMutableBufferPointer { bBuffer in
                c.withUnsafeMutableBufferPointer { cBuffer in
                    let first = group.startAllreduceSum(aBuffer)
                    let second = group.startAllreduce(bBuffer, .sum)
                    let empty = group.startAllreduceSum(cBuffer)
                    XCTAssertTrue(empty.isComplete, "an empty buffer is reduced at once")
                    let maximum = group.allreduce(Int64(group.rank), .max)
                    second.wait()
                    first.wait()
                    return maximum
                }
            }
        }
        XCTAssertEqual(maximum, Int64(group.size - 1), "the blocking max between the requests")
        for i in a.indices { XCTAssertEqual(a[i], summed(i), "first request at \(i)") }
        for i in b.indices { XCTAssertEqual(b[i], 2 * summed(i), "second request at \(i)") }
    }

    /// Buckets started in any order, clipped to the range; `finish` reduces the gaps; nothing outside the range
    /// changes.
    func testBucketsAndGapsCoverTheRangeOnce() {
        var values = (0..<100).map(local)
        let outcome = values.withUnsafeMutableBufferPointer { buffer in
            let reduce = BucketedAllreduce(group: group, buffer: buffer.baseAddress!, range: 10..<90)
            reduce.start(70..<90)
            reduce.progress()
            reduce.start(40..<60)
            reduce.start(0..<15)      // clipped to 10..<15
            reduce.start(95..<100)    // outside the range: nothing
            reduce.progress()
            XCTAssertEqual(reduce.started, [70..<90, 40..<60, 10..<15], "the buckets started, clipped")
            return reduce.finish()
        }
        for i in values.indices {
            let expected = (10..<90).contains(i) ? summed(i) : local(i)
            XCTAssertEqual(values[i], expected, "element \(i) on rank \(group.rank): reduced once inside 10..<90 only")
        }
        XCTAssertEqual(outcome.count, 80, "elements reduced")
        XCTAssertEqual(outcome.overlappedBuckets, 3, "buckets started before finish")
        XCTAssertEqual(outcome.overlappedCount, 45, "elements in them")
        XCTAssertEqual(outcome.overlappedFraction, 45.0 / 80, accuracy: 1e-12, "fraction")
        XCTAssertGreaterThanOrEqual(outcome.exposedSeconds, 0, "exposed seconds")
    }

    /// On values that are not integers: buckets give the sums of one blocking all-reduce, bit for bit on 1 and 2
    /// ranks (a + b is a + b whatever the call), within float rounding on more (MPI's algorithm for a message size
    /// orders the additions).
    func testBucketsGiveTheSumsOfOneBlockingAllreduce() {
        var generator = SplitMix64(seed: UInt64(17 + group.rank))
        var original = [Float](repeating: 0, count: 5000)
        original.withUnsafeMutableBufferPointer { generator.fillNormal($0.baseAddress!, count: $0.count, std: 1) }
        var single = original, bucketed = original
        single.withUnsafeMutableBufferPointer { group.allreduceSum($0) }
        let outcome = bucketed.withUnsafeMutableBufferPointer { buffer in
            let reduce = BucketedAllreduce(group: group, buffer: buffer.baseAddress!, range: 0..<buffer.count)
            for start in stride(from: 4000, through: 1000, by: -1000) { reduce.start(start..<start + 1000); reduce.progress() }
            return reduce.finish()
        }
        XCTAssertEqual(outcome.overlappedCount, 4000, "4 buckets of 1000, the first 1000 in finish")
        if group.size <= 2 {
            XCTAssertEqual(bucketed, single, "bucketed and single sums, bit for bit on \(group.size) ranks")
        } else {
            let scale = single.map(abs).max()!
            let worst = zip(bucketed, single).map { abs($0 - $1) }.max()! / scale
            XCTAssertLessThanOrEqual(worst, 1e-6, "bucketed against single sums on \(group.size) ranks")
        }
        // Every rank holds the same sums (the replicated optimiser needs it).
        let gathered = group.allgather(bucketed)
        for r in 0..<group.size {
            XCTAssertEqual(Array(gathered[r * bucketed.count..<(r + 1) * bucketed.count]), bucketed,
                           "rank \(r)'s bucketed sums against rank \(group.rank)'s")
        }
    }

    /// No bucket: `finish` is the one blocking all-reduce of the range.
    func testWithoutBucketsFinishReducesTheWholeRange() {
        var values = (0..<64).map(local)
        let outcome = values.withUnsafeMutableBufferPointer { buffer in
            let reduce = BucketedAllreduce(group: group, buffer: buffer.baseAddress!, range: 0..<64)
            reduce.progress()
            return reduce.finish()
        }
        for i in values.indices { XCTAssertEqual(values[i], summed(i), "element \(i)") }
        XCTAssertEqual(outcome.overlappedBuckets, 0, "no bucket")
        XCTAssertEqual(outcome.overlappedFraction, 0, "nothing overlapped")
    }
}
