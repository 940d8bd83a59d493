import Numerics

/// A matrix with known singular values and right singular vectors, the same on every rank:
/// ```
/// A = Q1 diag(s) Q2[:, 0..<r]^T     (m x n, row-major), r = s.count <= min(m, n)
/// Q1: m x r orthonormal columns, Q2: n x n orthogonal (seeded Gaussian, modified Gram-Schmidt twice)
/// ```
/// so row i < r of V^T is column i of Q2 up to sign, and columns r..<n of Q2 span A's null space.
func knownSpectrumMatrix(rows m: Int, columns n: Int, singularValues s: [Double],
                         seeds: (left: UInt64, right: UInt64)) -> (a: [Double], q2: [Double]) {
    let r = s.count
    let q1 = orthonormalColumns(rows: m, columns: r, seed: seeds.left)
    let q2 = orthonormalColumns(rows: n, columns: n, seed: seeds.right)
    var a = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for k in 0..<r { sum += q1[i * r + k] * s[k] * q2[j * n + k] }
            a[i * n + j] = sum
        }
    }
    return (a, q2)
}

/// Seeded Gaussian columns, orthonormalised by modified Gram-Schmidt, twice (row-major rows x columns).
private func orthonormalColumns(rows: Int, columns: Int, seed: UInt64) -> [Double] {
    var generator = SplitMix64(seed: seed)
    var q = (0..<(rows * columns)).map { _ in Double(generator.nextNormal()) }
    for _ in 0..<2 {
        for j in 0..<columns {
            for k in 0..<j {
                var dot = 0.0
                for i in 0..<rows { dot += q[i * columns + k] * q[i * columns + j] }
                for i in 0..<rows { q[i * columns + j] -= dot * q[i * columns + k] }
            }
            var norm = 0.0
            for i in 0..<rows { norm += q[i * columns + j] * q[i * columns + j] }
            norm = norm.squareRoot()
            for i in 0..<rows { q[i * columns + j] /= norm }
        }
    }
    return q
}
