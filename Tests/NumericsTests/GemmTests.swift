import XCTest
import Numerics
import TestSupport

final class GemmTests: XCTestCase {
    /// BLAS against the naive loops for all four transpose combinations, with padded leading dimensions
    /// and beta = 1 accumulation.
    func testBlasMatchesNaiveForAllTransposes() {
        let (m, n, k) = (7, 5, 9)
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                let lda = (transposeA ? m : k) + 2
                let ldb = (transposeB ? k : n) + 1
                let ldc = n + 3
                let a = randomNormal((transposeA ? k : m) * lda, seed: 1)
                let b = randomNormal((transposeB ? n : k) * ldb, seed: 2)
                let c0 = randomNormal(m * ldc, seed: 3)
                var cBlas = c0
                var cNaive = c0
                for (backend, index) in [(Gemm.Backend.blas, 0), (.naive, 1)] {
                    if index == 0 {
                        Gemm.multiply(backend, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                      alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: &cBlas, ldc: ldc)
                    } else {
                        Gemm.multiply(backend, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                      alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: &cNaive, ldc: ldc)
                    }
                }
                let error = relativeError(cBlas, cNaive)
                XCTAssertLessThan(error, 1e-5, "transposeA \(transposeA) transposeB \(transposeB): \(error)")
                XCTAssertGreaterThan(relativeError(cBlas, c0), 1e-3, "GEMM changed nothing")
            }
        }
    }
}
