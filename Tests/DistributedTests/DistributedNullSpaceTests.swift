import XCTest
import Distributed
import Numerics

/// The null space from the distributed SVD of a rank-deficient matrix: both routes against a matrix whose
/// null space is known, against LAPACK's dgesdd on one process, and a negative control showing that the
/// subspace measure does see a small rotation. Valid at any group size; every rank checks its own results.
///
/// ```
/// A = Q1 diag(s) Q2[:, 0..<r]^T     Q1: m x r orthonormal columns, Q2: n x n orthogonal (seeded)
/// s_i = 50 * 0.9^i, i < r           distinct, from 50 down to about 2.4
/// null(A) = span(Q2[:, r..<n])      rows r..<n of V^T span it
/// ```
/// The distance between two k-dimensional subspaces, given by the orthonormal rows of U_ref and U (k x n):
/// ```
/// sin(theta_max) = ||(I - U_ref^T U_ref) U^T||_2  <=  ||(I - U_ref^T U_ref) U^T||_F
/// ```
/// The Frobenius norm is what is measured (an upper bound, so conservative). Sines stay accurate near zero,
/// where acos of the cosines loses everything below about 1e-8 (Knyazev and Argentati, "Principal angles
/// between subspaces in an A-based scalar product: algorithms and perturbation estimates", SIAM J. Sci.
/// Comput. 23(6), 2002).
final class DistributedNullSpaceTests: XCTestCase {
    let group = ProcessGroup.world
    let (m, n, r) = (150, 48, 30)

    var knownValues: [Double] { (0..<r).map { 50 * pow(0.9, Double($0)) } }

    func testNullSpaceOfARankDeficientMatrix() throws {
        let (a, _) = makeMatrix()
        let normA = norm(a)  // ||A||_F
        for route in DistributedSVD.Route.allCases {
            var worst = (leading: 0.0, tail: 0.0, residual: 0.0)
            for layout in layouts {
                let (s, vt) = try distributedSVD(a, route: route, layout: layout)
                let at = "(\(route), \(layout), rank \(group.rank) of \(group.size))"
                XCTAssertEqual(s.count, min(m, n), "min(m, n) singular values \(at)")
                XCTAssertEqual(vt.count, min(m, n) * n, "V^T is min(m, n) x n \(at)")
                guard s.count == min(m, n), vt.count == min(m, n) * n else { continue }

                let leading = zip(s[0..<r], knownValues).map { abs($0 - $1) / $1 }.max() ?? 0
                XCTAssertLessThan(leading, 1e-10, "leading singular values against the known ones \(at)")
                let tail = s[r...].map { abs($0) / s[0] }.max() ?? 0
                XCTAssertLessThan(tail, 1e-12, "singular values r..<n relative to s_0 \(at)")
                let nullity = s.filter { $0 <= 1e-10 * s[0] }.count + (n - min(m, n))
                XCTAssertEqual(nullity, n - r, "null-space dimension \(at)")
                let residual = (r..<n).map { norm(multiply(a, vt, row: $0)) / normA }.max() ?? 0
                XCTAssertLessThan(residual, 1e-10, "max ||A v|| / ||A||_F over null vectors \(at)")
                worst = (max(worst.leading, leading), max(worst.tail, tail), max(worst.residual, residual))
            }
            log0("\(route), worst of \(layouts.count) layouts: max |s_i - known_i| / known_i = \(worst.leading), "
                 + "max s_i / s_0 (i >= r) = \(worst.tail), max ||A v|| / ||A||_F = \(worst.residual)")
        }
    }

    func testScaLAPACKAgainstLAPACK() throws {
        let (a, q2) = makeMatrix()
        let reference = try DistributedSVD.lapack(a, rows: m, columns: n, rightVectors: true)
        let referenceVT = try XCTUnwrap(reference.rightSingularVectorsTransposed,
                                        "LAPACK V^T, rank \(group.rank) of \(group.size)")
        let referenceNull = Array(referenceVT[(r * n)...])
        // The reference itself against the known null space, Q2[:, r..<n]^T.
        let knownNull = (r..<n).flatMap { k in (0..<n).map { j in q2[j * n + k] } }
        let referenceSine = subspaceSine(referenceNull, reference: knownNull)
        XCTAssertLessThan(referenceSine, 1e-8,
                          "LAPACK null space against the known one, rank \(group.rank) of \(group.size)")

        for route in DistributedSVD.Route.allCases {
            var worst = (value: 0.0, sine: 0.0)
            for layout in layouts {
                let (s, vt) = try distributedSVD(a, route: route, layout: layout)
                let at = "(\(route), \(layout), rank \(group.rank) of \(group.size))"
                guard s.count == reference.singularValues.count, vt.count == referenceVT.count else {
                    XCTFail("shapes: \(s.count) values, \(vt.count) V^T entries \(at)"); continue
                }
                let s0 = reference.singularValues[0]
                let valueError = zip(s, reference.singularValues).map { abs($0 - $1) / s0 }.max() ?? 0
                XCTAssertLessThan(valueError, 1e-10, "max |s_i - r_i| / r_0 against LAPACK \(at)")
                let sine = subspaceSine(Array(vt[(r * n)...]), reference: referenceNull)
                XCTAssertLessThan(sine, 1e-8, "sine of the largest principal angle to LAPACK's null space \(at)")
                worst = (max(worst.value, valueError), max(worst.sine, sine))
            }
            log0("\(route), worst of \(layouts.count) layouts: max |s_i - r_i| / r_0 = \(worst.value), "
                 + "null-space sine to LAPACK = \(worst.sine) (LAPACK's to the known one: \(referenceSine))")
        }
    }

    /// Rotating one null vector towards the range by a known angle theta must show up as a sine of about
    /// sin(theta), and as a null-vector residual far above the tolerance: the measures can fail.
    func testTheMeasuresSeeARotationOfKnownAngle() throws {
        let (a, _) = makeMatrix()
        let normA = norm(a)  // ||A||_F
        let reference = try DistributedSVD.lapack(a, rows: m, columns: n, rightVectors: true)
        let referenceVT = try XCTUnwrap(reference.rightSingularVectorsTransposed,
                                        "LAPACK V^T, rank \(group.rank) of \(group.size)")
        let referenceNull = Array(referenceVT[(r * n)...])
        let theta = 1e-6
        for route in DistributedSVD.Route.allCases {
            let layout = layouts[0]
            let (_, vt) = try distributedSVD(a, route: route, layout: layout)
            let at = "(\(route), \(layout), rank \(group.rank) of \(group.size))"
            guard vt.count == min(m, n) * n else { XCTFail("V^T shape \(at)"); continue }
            // Row r (a null vector) <- cos(theta) row r + sin(theta) row 0 (the top right singular vector):
            // the rows stay orthonormal and the subspace turns by exactly theta.
            var null = Array(vt[(r * n)...])
            for j in 0..<n { null[j] = cos(theta) * vt[r * n + j] + sin(theta) * vt[j] }
            let sine = subspaceSine(null, reference: referenceNull)
            XCTAssertGreaterThan(sine, 0.5e-6, "sine after a rotation by \(theta) rad \(at)")
            XCTAssertLessThan(sine, 2e-6, "sine after a rotation by \(theta) rad \(at)")
            let residual = norm(multiply(a, null, row: 0)) / normA
            XCTAssertGreaterThan(residual, 1e-10, "||A v|| / ||A||_F of the rotated null vector \(at)")
            log0("\(at): rotation by \(theta) rad measured as sine \(sine), "
                 + "rotated vector ||A v|| / ||A||_F = \(residual)")
        }
    }

    // MARK: Helpers

    /// How the m rows are dealt to the ranks (uneven on purpose; `emptyRank` holds none, unless it is
    /// alone) and the square block of ScaLAPACK's block-cyclic copy.
    struct Layout: CustomStringConvertible {
        var counts: [Int]
        var blockSize: Int
        var description: String { "rows \(counts), blocks \(blockSize)" }
    }

    var layouts: [Layout] {
        [Layout(counts: rowCounts(emptyRank: nil), blockSize: 8),
         Layout(counts: rowCounts(emptyRank: 0), blockSize: 5),
         Layout(counts: rowCounts(emptyRank: group.size - 1), blockSize: 64)]
    }

    private func rowCounts(emptyRank: Int?) -> [Int] {
        let holders = (0..<group.size).filter { $0 != emptyRank || group.size == 1 }
        var counts = [Int](repeating: 0, count: group.size)
        for h in holders { counts[h] = m / holders.count }
        counts[holders[0]] += m % holders.count
        if holders.count > 1 { counts[holders[0]] += 3; counts[holders[holders.count - 1]] -= 3 }
        return counts
    }

    /// The distributed SVD of `a` (row-major m x n, whole on every rank), this rank passing its rows.
    private func distributedSVD(_ a: [Double], route: DistributedSVD.Route,
                                layout: Layout) throws -> (s: [Double], vt: [Double]) {
        let first = layout.counts[0..<group.rank].reduce(0, +)
        let rows = Array(a[(first * n)..<((first + layout.counts[group.rank]) * n)])
        let result = try DistributedSVD.compute(localRows: rows, columns: n, rightVectors: true,
                                                blockSize: layout.blockSize, route: route, group: group)
        return (result.singularValues, try XCTUnwrap(result.rightSingularVectorsTransposed,
                                                     "V^T (\(route), \(layout), rank \(group.rank) of \(group.size))"))
    }

    /// A = Q1 diag(s) Q2[:, 0..<s.count]^T and Q2 (`knownSpectrumMatrix`); the same on every rank.
    private func makeMatrix() -> (a: [Double], q2: [Double]) {
        knownSpectrumMatrix(rows: m, columns: n, singularValues: knownValues, seeds: (21, 22))
    }

    /// ||(I - U_ref^T U_ref) U^T||_F for row-orthonormal U_ref and U (k x n each, row-major): the residuals
    /// of U's rows after projection onto U_ref's row space.
    private func subspaceSine(_ u: [Double], reference: [Double]) -> Double {
        let k = reference.count / n
        precondition(u.count == k * n, "subspaceSine: \(u.count) values for \(k) x \(n)")
        var total = 0.0
        for row in 0..<k {
            let x = u[(row * n)..<((row + 1) * n)]
            var residual = Array(x)
            for i in 0..<k {
                let c = zip(reference[(i * n)..<((i + 1) * n)], x).map { $0 * $1 }.reduce(0, +)
                for j in 0..<n { residual[j] -= c * reference[i * n + j] }
            }
            total += residual.map { $0 * $0 }.reduce(0, +)
        }
        return total.squareRoot()
    }

    /// A v, for v the given row of a row-major matrix with n columns.
    private func multiply(_ a: [Double], _ vectors: [Double], row: Int) -> [Double] {
        (0..<m).map { (i: Int) -> Double in
            var sum = 0.0
            for j in 0..<n { sum += a[i * n + j] * vectors[row * n + j] }
            return sum
        }
    }

    private func norm(_ x: [Double]) -> Double { x.map { $0 * $0 }.reduce(0, +).squareRoot() }

    /// The measured values, printed on rank 0 (every rank asserts on its own).
    private func log0(_ line: String) {
        if group.isRoot { print("DistributedNullSpaceTests, \(group.size) rank(s): \(line)") }
    }
}
