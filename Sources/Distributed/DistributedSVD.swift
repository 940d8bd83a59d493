import CLAPACKE
import CScaLAPACK

/// Singular values (and right singular vectors) of a tall matrix A whose block rows are spread over
/// the ranks, with ScaLAPACK on a P x 1 BLACS grid; and the one-rank LAPACK reference.
///
/// ```
/// A = [A_0 ; A_1 ; ... ; A_{P-1}]      (m x n, rank r holds A_r: counts[r] x n, row-major)
/// A = U diag(s) V^T,  s descending, min(m, n) values
/// ```
/// Two routes give s and V (U is never formed):
/// ```
/// .qr:   A = Q R (PDGEQRF, distributed);  R (min(m, n) x n, upper) gathered;  R = U_R diag(s) V^T (dgesdd)
/// .svd:  PDGESVD on A directly
/// ```
/// A and R share s and V because Q has orthonormal columns. `.qr` is the default: on NSP2's merge (768 columns,
/// 1536 to 2304 rows) it took 0.35 s against PDGESVD's 2.19 s on 1 rank and 0.41 s against 1.36 s on 2
/// (`promptcl bench nullspace`, 1 thread per rank).
/// The null-space projection of NSP2 (DESIGN.md, "Null space") needs s and V of the stacked per-rank
/// factors; this is the first, minimal piece of it.
///
/// Layout: the ranks' rows are first described as one padded block layout (block r of `maxCount` rows on
/// process r, of which the first counts[r] are real), then each rank's real rows are copied with
/// Cpdgemr2d into a square-block-cyclic layout (`blockSize` x `blockSize`) of the unpadded m x n matrix,
/// which is what PDGESVD works on. Results are the same on every rank.
public enum DistributedSVD {
    /// What an SVD returns here.
    public struct Result: Sendable {
        /// The singular values, descending, min(m, n) of them.
        public var singularValues: [Double]
        /// V^T, row-major, min(m, n) x n (row i is the right singular vector of singularValues[i]);
        /// nil unless asked for.
        public var rightSingularVectorsTransposed: [Double]?
        /// The shape of A.
        public var rows: Int, columns: Int
    }

    /// A LAPACK or ScaLAPACK routine that reported failure (`info != 0`); the same on every rank.
    public struct Failure: Error, CustomStringConvertible {
        public var routine: String
        public var info: Int
        public var description: String { "\(routine) failed with info = \(info)" }
    }

    /// How the distributed SVD is computed (see the type's equations).
    public enum Route: String, Codable, Sendable, CaseIterable {
        case qr, svd
    }

    /// The SVD of the row-stacked matrix, every rank passing its own rows (`localRows`: count x columns,
    /// row-major; any count, zero included). Collective: every rank calls it with the same `columns`,
    /// `rightVectors`, `blockSize` and `route`. Throws the same `Failure` on every rank when a routine
    /// reports one.
    public static func compute(localRows: [Double], columns n: Int, rightVectors: Bool = false,
                               blockSize: Int = 64, route: Route = .qr,
                               group: ProcessGroup = .world) throws -> Result {
        precondition(n >= 1 && localRows.count % n == 0,
                     "DistributedSVD: \(localRows.count) values are not rows of \(n) columns")
        precondition(blockSize >= 1, "DistributedSVD: block size \(blockSize)")
        let counts = group.allgather([Int64(localRows.count / n)]).map { Int($0) }
        let m = counts.reduce(0, +)
        let size = min(m, n)
        guard size > 0 else { return Result(singularValues: [], rightSingularVectorsTransposed: rightVectors ? [] : nil, rows: m, columns: n) }
        precondition(m <= Int(Int32.max) && n <= Int(Int32.max), "DistributedSVD: \(m) x \(n) exceeds Int32")

        let grid = BlacsGrid(rows: group.size, columns: 1, group: group)
        // The descriptors carry the grid's context as a plain integer: keep the grid (and its context)
        // alive until the last ScaLAPACK call, however early the optimiser would release it.
        defer { withExtendedLifetime(grid) {} }
        let p = group.size

        // Source: the padded block layout, local array column-major maxCount x n.
        let maxCount = max(1, counts.max() ?? 1)
        let myCount = counts[group.rank]
        var source = [Double](repeating: 0, count: maxCount * n)
        for i in 0..<myCount {
            for j in 0..<n { source[i + j * maxCount] = localRows[i * n + j] }
        }
        let sourceDesc = grid.descriptor(rows: p * maxCount, columns: n, rowBlock: maxCount, columnBlock: n,
                                         leadingDimension: maxCount)

        // Target: the m x n matrix in square blocks, dealt cyclically over the P process rows.
        let nb = blockSize
        let localM = grid.localRows(m, rowBlock: nb)
        let lldA = max(1, localM)
        var a = [Double](repeating: 0, count: lldA * n)
        let descA = grid.descriptor(rows: m, columns: n, rowBlock: nb, columnBlock: nb, leadingDimension: lldA)
        var offset = 0
        for (r, count) in counts.enumerated() {
            if count > 0 {
                Cpdgemr2d(Int32(count), Int32(n), source, Int32(r * maxCount + 1), 1, sourceDesc,
                          &a, Int32(offset + 1), 1, descA, grid.context)
            }
            offset += count
        }
        source = []

        if route == .qr {
            return try qrRoute(a: &a, descA: descA, rows: m, columns: n, rightVectors: rightVectors,
                               grid: grid, group: group)
        }

        // PDGESVD: JOBU = 'N' (U is neither computed nor referenced), JOBVT = 'V' or 'N'.
        var s = [Double](repeating: 0, count: size)
        let descU = grid.descriptor(rows: m, columns: size, rowBlock: nb, columnBlock: nb, leadingDimension: lldA)
        var u = [Double](repeating: 0, count: 1)
        let localVTRows = grid.localRows(size, rowBlock: nb)
        let lldVT = max(1, localVTRows)
        let descVT = grid.descriptor(rows: size, columns: n, rowBlock: nb, columnBlock: nb, leadingDimension: lldVT)
        var vt = [Double](repeating: 0, count: rightVectors ? lldVT * n : 1)
        var jobU = CChar(UInt8(ascii: "N")), jobVT = CChar(UInt8(ascii: rightVectors ? "V" : "N"))
        var m32 = Int32(m), n32 = Int32(n), one: Int32 = 1, info: Int32 = 0
        var lwork: Int32 = -1
        var query = [Double](repeating: 0, count: 1)
        pdgesvd_(&jobU, &jobVT, &m32, &n32, &a, &one, &one, descA, &s, &u, &one, &one, descU,
                 &vt, &one, &one, descVT, &query, &lwork, &info, 1, 1)
        try agree(info, "PDGESVD (workspace query)", group)
        lwork = Int32(query[0].rounded(.up))
        var work = [Double](repeating: 0, count: max(1, Int(lwork)))
        pdgesvd_(&jobU, &jobVT, &m32, &n32, &a, &one, &one, descA, &s, &u, &one, &one, descU,
                 &vt, &one, &one, descVT, &work, &lwork, &info, 1, 1)
        try agree(info, "PDGESVD", group)

        var result = Result(singularValues: s, rightSingularVectorsTransposed: nil, rows: m, columns: n)
        if rightVectors {
            result.rightSingularVectorsTransposed = gather(vt, rows: size, columns: n, descriptor: descVT,
                                                           grid: grid, group: group)
        }
        return result
    }

    /// The one-rank reference: LAPACKE_dgesdd on a row-major `rows` x `columns` matrix.
    public static func lapack(_ matrix: [Double], rows m: Int, columns n: Int,
                              rightVectors: Bool = false) throws -> Result {
        precondition(matrix.count == m * n, "DistributedSVD.lapack: \(matrix.count) values for \(m) x \(n)")
        let size = min(m, n)
        guard size > 0 else { return Result(singularValues: [], rightSingularVectorsTransposed: rightVectors ? [] : nil, rows: m, columns: n) }
        var a = matrix
        var s = [Double](repeating: 0, count: size)
        var u = [Double](repeating: 0, count: rightVectors ? m * size : 1)
        var vt = [Double](repeating: 0, count: rightVectors ? size * n : 1)
        let jobz = CChar(UInt8(ascii: rightVectors ? "S" : "N"))
        let info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, jobz, Int32(m), Int32(n), &a, Int32(n), &s,
                                  &u, Int32(rightVectors ? size : 1), &vt, Int32(n))
        if info != 0 { throw Failure(routine: "LAPACKE_dgesdd", info: Int(info)) }
        return Result(singularValues: s, rightSingularVectorsTransposed: rightVectors ? vt : nil, rows: m, columns: n)
    }

    /// PDGEQRF on the distributed A, then the SVD of its R on every rank (the same bits everywhere: R is
    /// gathered whole and each rank runs the same dgesdd on it).
    private static func qrRoute(a: inout [Double], descA: [Int32], rows m: Int, columns n: Int, rightVectors: Bool,
                                grid: BlacsGrid, group: ProcessGroup) throws -> Result {
        let size = min(m, n)
        var m32 = Int32(m), n32 = Int32(n), one: Int32 = 1, info: Int32 = 0
        // On a P x 1 grid every process holds all n columns, so tau needs n entries.
        var tau = [Double](repeating: 0, count: n)
        var lwork: Int32 = -1
        var query = [Double](repeating: 0, count: 1)
        pdgeqrf_(&m32, &n32, &a, &one, &one, descA, &tau, &query, &lwork, &info)
        try agree(info, "PDGEQRF (workspace query)", group)
        lwork = Int32(query[0].rounded(.up))
        var work = [Double](repeating: 0, count: max(1, Int(lwork)))
        pdgeqrf_(&m32, &n32, &a, &one, &one, descA, &tau, &work, &lwork, &info)
        try agree(info, "PDGEQRF", group)
        // R is the upper triangle (trapezoid when m < n) of A's first min(m, n) rows.
        var r = gather(a, rows: size, columns: n, descriptor: descA, grid: grid, group: group)
        for i in 0..<size { for j in 0..<min(i, n) { r[i * n + j] = 0 } }
        var result = try lapack(r, rows: size, columns: n, rightVectors: rightVectors)
        result.rows = m
        return result
    }

    // MARK: Helpers

    /// Makes a ScaLAPACK `info` the same on every rank, so that all ranks throw or none does (one rank
    /// throwing alone would leave the others waiting in the next collective).
    private static func agree(_ info: Int32, _ routine: String, _ group: ProcessGroup) throws {
        let worst = group.allreduce(Int64(abs(info)), .max)
        if worst != 0 {
            let signed = group.allreduce(Int64(info), info < 0 ? .min : .max)
            throw Failure(routine: routine, info: Int(signed))
        }
    }

    /// A distributed `rows` x `columns` matrix, returned row-major and whole on every rank: Cpdgemr2d onto
    /// a 1 x 1 grid (rank 0; the other ranks' descriptors carry context -1), then a broadcast.
    private static func gather(_ local: [Double], rows: Int, columns: Int, descriptor: [Int32],
                               grid: BlacsGrid, group: ProcessGroup) -> [Double] {
        let single = BlacsGrid(rows: 1, columns: 1, group: group)
        defer { withExtendedLifetime(single) {} }
        var whole = [Double](repeating: 0, count: single.isMember ? rows * columns : 1)
        let wholeDesc = single.descriptor(rows: rows, columns: columns, rowBlock: rows, columnBlock: columns,
                                          leadingDimension: rows)
        Cpdgemr2d(Int32(rows), Int32(columns), local, 1, 1, descriptor, &whole, 1, 1, wholeDesc, grid.context)
        var rowMajor = [Double](repeating: 0, count: rows * columns)
        if group.isRoot {
            for i in 0..<rows { for j in 0..<columns { rowMajor[i * columns + j] = whole[i + j * rows] } }
        }
        group.broadcast(&rowMajor, root: 0)
        return rowMajor
    }
}
