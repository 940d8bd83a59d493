import XCTest
import Distributed
import Numerics

/// PDGESVD over the ranks' block rows against a matrix with known singular values and vectors, and
/// against LAPACK's dgesdd on one rank. Valid at any group size; every rank checks its own results.
///
/// ```
/// A = Q1 diag(s) Q2^T     Q1: m x n orthonormal columns, Q2: n x n orthogonal (seeded), s known
/// ```
final class DistributedSVDTests: XCTestCase {
    let group = ProcessGroup.world
    let (m, n) = (120, 40)

    /// s_i = 50 * 0.9^i: distinct, from 50 down to about 0.8, so each right singular vector is unique
    /// up to sign.
    var knownValues: [Double] { (0..<n).map { 50 * pow(0.9, Double($0)) } }

    func testSingularValuesAndVectorsMatchTheKnownOnes() throws {
        for route in DistributedSVD.Route.allCases { try assertKnownValuesAndVectors(route: route) }
    }

    private func assertKnownValuesAndVectors(route: DistributedSVD.Route) throws {
        let (a, q2) = makeMatrix()
        // Uneven rows (rank 0 takes the remainder and three more), and small blocks so every rank holds some.
        let counts = splitRows(m, ranks: group.size, emptyLast: false)
        let result = try DistributedSVD.compute(localRows: localRows(of: a, counts: counts), columns: n,
                                                rightVectors: true, blockSize: 8, route: route)
        XCTAssertEqual(result.rows, m, "rows")
        XCTAssertEqual(result.columns, n, "columns")
        XCTAssertEqual(result.singularValues.count, n, "min(m, n) values")
        let error = maxRelativeDifference(result.singularValues, knownValues)
        XCTAssertLessThan(error, 1e-10, "ScaLAPACK singular values (\(route)) on rank \(group.rank) of \(group.size)")

        // Row i of V^T is column i of Q2 up to sign.
        guard let vt = result.rightSingularVectorsTransposed else { return XCTFail("no V^T") }
        XCTAssertEqual(vt.count, n * n, "V^T is n x n")
        var worst = 0.0
        for i in 0..<n {
            var dot = 0.0
            for j in 0..<n { dot += vt[i * n + j] * q2[j * n + i] }
            worst = max(worst, abs(abs(dot) - 1))
        }
        XCTAssertLessThan(worst, 1e-10, "right singular vectors (\(route)) against Q2 on rank \(group.rank)")
    }

    /// The last rank holds no rows, and the default (large) block leaves some ranks nothing of the
    /// block-cyclic matrix either.
    func testARankWithoutRowsAndLargeBlocks() throws {
        let (a, _) = makeMatrix()
        let counts = splitRows(m, ranks: group.size, emptyLast: true)
        for route in DistributedSVD.Route.allCases {
            let result = try DistributedSVD.compute(localRows: localRows(of: a, counts: counts), columns: n, route: route)
            XCTAssertNil(result.rightSingularVectorsTransposed, "vectors only when asked (\(route))")
            XCTAssertEqual(result.rows, m, "rows (\(route))")
            let error = maxRelativeDifference(result.singularValues, knownValues)
            XCTAssertLessThan(error, 1e-10, "ScaLAPACK singular values (\(route)), empty last rank, rank \(group.rank)")
        }
    }

    func testLAPACKReferenceMatchesKnownValuesAndScaLAPACK() throws {
        let (a, q2) = makeMatrix()
        let reference = try DistributedSVD.lapack(a, rows: m, columns: n, rightVectors: true)
        XCTAssertLessThan(maxRelativeDifference(reference.singularValues, knownValues), 1e-10,
                          "LAPACK singular values")
        let vt = try XCTUnwrap(reference.rightSingularVectorsTransposed)
        var worst = 0.0
        for i in 0..<n {
            var dot = 0.0
            for j in 0..<n { dot += vt[i * n + j] * q2[j * n + i] }
            worst = max(worst, abs(abs(dot) - 1))
        }
        XCTAssertLessThan(worst, 1e-10, "LAPACK right singular vectors against Q2")

        let counts = splitRows(m, ranks: group.size, emptyLast: false)
        let distributed = try DistributedSVD.compute(localRows: localRows(of: a, counts: counts), columns: n)
        XCTAssertLessThan(maxRelativeDifference(distributed.singularValues, reference.singularValues), 1e-10,
                          "ScaLAPACK against LAPACK on rank \(group.rank) of \(group.size)")
    }

    // MARK: Helpers

    /// A = Q1 diag(s) Q2[:, 0..<s.count]^T and Q2 (`knownSpectrumMatrix`); the same on every rank.
    private func makeMatrix() -> (a: [Double], q2: [Double]) {
        knownSpectrumMatrix(rows: m, columns: n, singularValues: knownValues, seeds: (11, 12))
    }

    /// Row counts per rank: uneven on purpose; with `emptyLast` the last rank (if not alone) gets none.
    private func splitRows(_ rows: Int, ranks: Int, emptyLast: Bool) -> [Int] {
        let holders = emptyLast && ranks > 1 ? ranks - 1 : ranks
        var counts = [Int](repeating: rows / holders, count: ranks)
        if holders < ranks { counts[ranks - 1] = 0 }
        counts[0] += rows % holders
        if holders > 1 { counts[0] += 3; counts[holders - 1] -= 3 }
        return counts
    }

    /// This rank's rows of the row-major matrix `a` under `counts`.
    private func localRows(of a: [Double], counts: [Int]) -> [Double] {
        let first = counts[0..<group.rank].reduce(0, +)
        return Array(a[(first * n)..<((first + counts[group.rank]) * n)])
    }

    private func maxRelativeDifference(_ actual: [Double], _ expected: [Double]) -> Double {
        guard actual.count == expected.count else { return .infinity }
        return zip(actual, expected).map { abs($0 - $1) / abs($1) }.max() ?? 0
    }
}
