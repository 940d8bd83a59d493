import COpenBLAS

/// General matrix multiply on row-major Float32 matrices, with a naive reference beside the BLAS path.
///
/// ```
/// C = alpha * op(A) * op(B) + beta * C
/// op(A): (m, k), op(B): (k, n), C: (m, n); lda, ldb, ldc are row strides in elements
/// ```
/// `beta = 1` accumulates into C (how every backward in this module adds its gradients).
public enum Gemm {
    /// Which implementation a layer uses; `.naive` exists to test `.blas` against.
    public enum Backend: Sendable { case blas, naive }

    @inlinable
    public static func multiply(
        _ backend: Backend = .blas,
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        switch backend {
        case .blas:
            blas(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                 a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        case .naive:
            naive(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                  a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }

    /// `cblas_sgemm`, row-major.
    public static func blas(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The algorithmic reference: three loops, accumulation in Double.
    public static func naive(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let aValue = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let bValue = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(aValue) * Double(bValue)
                }
                let previous = beta == 0 ? 0 : beta * c[i * ldc + j]
                c[i * ldc + j] = alpha * Float(sum) + previous
            }
        }
    }
}
