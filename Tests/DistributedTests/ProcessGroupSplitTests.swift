import XCTest
import Distributed

/// `ProcessGroup.split` and `prefix`: the subgroups' sizes and rank numbers, collectives that stay inside a
/// subgroup, and ScaLAPACK on a subgroup. Valid at any world size (1 under `swift test`, 2, 3, 4 under
/// launch/test's mpirun); every rank runs every test, so the world collectives inside them match up.
final class ProcessGroupSplitTests: XCTestCase {
    let world = ProcessGroup.world

    /// Evens and odds: ceil(P / 2) and floor(P / 2) ranks, rank r becoming r / 2; an allreduce in each sums
    /// only its own members' world ranks.
    func testSplitByParity() throws {
        let p = world.size, r = world.rank
        let half = try XCTUnwrap(world.split(color: r % 2), "rank \(r) of \(p) passed a color, so gets a group")
        let members = (0..<p).filter { $0 % 2 == r % 2 }
        XCTAssertEqual(half.size, members.count, "rank \(r) of \(p): size of its parity group")
        XCTAssertEqual(half.rank, r / 2, "rank \(r) of \(p): its rank in the parity group")
        XCTAssertEqual(half.isRoot, r < 2, "rank \(r) of \(p): world ranks 0 and 1 root the two groups")
        XCTAssertEqual(half.allreduce(Int64(r), .sum), Int64(members.reduce(0, +)),
                       "rank \(r) of \(p): the sum of world ranks over its parity group only")
        XCTAssertEqual(half.allgather([Int64(r)]), members.map { Int64($0) },
                       "rank \(r) of \(p): allgather in rank order over the parity group")
        world.barrier()
    }

    /// `prefix(k)` for every k: ranks 0..<k get a group of size k with their own rank numbers, the others
    /// nil; the allreduce of rank + 1 inside it is k (k + 1) / 2, whatever the ranks outside hold.
    func testPrefixGroupsOfEverySize() {
        let p = world.size, r = world.rank
        for k in 1...p {
            let group = world.prefix(k)
            XCTAssertEqual(group != nil, r < k, "rank \(r) of \(p): member of the first \(k) ranks")
            if let group {
                XCTAssertEqual(group.size, k, "rank \(r): size of prefix(\(k))")
                XCTAssertEqual(group.rank, r, "rank \(r): rank in prefix(\(k))")
                XCTAssertEqual(group.allreduce(Int64(r + 1), .sum), Int64(k * (k + 1) / 2),
                               "rank \(r): sum of rank + 1 over prefix(\(k)) only")
                var values = [Double(r + 1), -1]
                group.allreduceSum(&values)
                XCTAssertEqual(values, [Double(k * (k + 1) / 2), -Double(k)], "rank \(r): array sum over prefix(\(k))")
            }
            world.barrier()
        }
    }

    /// The key orders the new group: key -rank reverses it. A nil color on every rank gives no group anywhere.
    func testKeyOrdersTheGroupAndNilColorGivesNone() throws {
        let p = world.size, r = world.rank
        let reversed = try XCTUnwrap(world.split(color: 7, key: -r), "rank \(r): color 7")
        XCTAssertEqual(reversed.size, p, "rank \(r) of \(p): one color, the whole world")
        XCTAssertEqual(reversed.rank, p - 1 - r, "rank \(r) of \(p): key -rank reverses the order")
        XCTAssertEqual(reversed.allgather([Int64(r)]), (0..<p).reversed().map { Int64($0) },
                       "rank \(r) of \(p): allgather in the reversed order")
        XCTAssertNil(world.split(color: nil), "rank \(r) of \(p): no color, no group")
        world.barrier()
    }

    /// A subgroup of a subgroup: the first ceil(k / 2) ranks of prefix(k).
    func testSplittingASubgroup() {
        let p = world.size, r = world.rank
        let outer = world.prefix(p)
        XCTAssertNotNil(outer, "rank \(r) of \(p): prefix(size) holds every rank")
        guard let outer else { return }
        let count = (p + 1) / 2
        let inner = outer.prefix(count)
        XCTAssertEqual(inner != nil, r < count, "rank \(r) of \(p): member of the inner \(count)")
        if let inner {
            XCTAssertEqual(inner.size, count, "rank \(r): inner size")
            XCTAssertEqual(inner.allreduce(Int64(1), .sum), Int64(count), "rank \(r): inner count by allreduce")
        }
        world.barrier()
    }

    /// PDGESVD and the QR route on each prefix subgroup (a BLACS grid over the subgroup's communicator), the
    /// ranks outside waiting, against LAPACK on the whole matrix: the same singular values and V^T up to sign.
    func testDistributedSVDOnEachPrefix() throws {
        let (m, n) = (50, 12)
        var state: UInt64 = 11
        let a = (0..<(m * n)).map { _ -> Double in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53) - 0.5
        }
        let reference = try DistributedSVD.lapack(a, rows: m, columns: n, rightVectors: true)
        let referenceVT = try XCTUnwrap(reference.rightSingularVectorsTransposed)
        for k in 1...world.size {
            if let group = world.prefix(k) {
                // Rank i of k holds rows i, i + k, i + 2k, ... (a permutation of rows: the same SVD).
                let rows = stride(from: group.rank, to: m, by: k).flatMap { a[($0 * n)..<(($0 + 1) * n)] }
                for route in DistributedSVD.Route.allCases {
                    let result = try DistributedSVD.compute(localRows: Array(rows), columns: n, rightVectors: true,
                                                            blockSize: 8, route: route, group: group)
                    XCTAssertEqual(result.rows, m, "\(route) on \(k) ranks: rows")
                    let valueError = zip(result.singularValues, reference.singularValues)
                        .map { abs($0 - $1) / reference.singularValues[0] }.max() ?? .infinity
                    XCTAssertLessThan(valueError, 1e-12, "\(route) on \(k) ranks, rank \(group.rank): singular values")
                    let vt = try XCTUnwrap(result.rightSingularVectorsTransposed, "\(route): V^T asked")
                    var worst = 0.0
                    for i in 0..<n {
                        let dot = (0..<n).reduce(0.0) { $0 + vt[i * n + $1] * referenceVT[i * n + $1] }
                        worst = max(worst, abs(abs(dot) - 1))
                    }
                    XCTAssertLessThan(worst, 1e-9, "\(route) on \(k) ranks, rank \(group.rank): V^T against LAPACK's")
                }
            }
            world.barrier()
        }
    }
}
