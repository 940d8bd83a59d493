import COpenBLAS
import Foundation

/// Measured single-precision GEMM throughput of this machine through `Gemm.blas` (OpenBLAS): the compute
/// ceiling of a training step. Used by `promptcl doctor` and `promptcl bench`.
///
/// ```
/// C (m x n) = A (m x k) * B (k x n)        2 m n k floating-point operations per call
/// GFLOP/s = 2 m n k / (best seconds of `repetitions` calls) / 1e9
/// ```
/// The default shape is the MLP up-projection of ViT-B/16 on a batch of 8 images: 8 x 196 = 1568 tokens,
/// width 768, hidden 3072.
public enum SgemmRate {
    /// A GEMM shape, (m, n, k) as in `Gemm.multiply`.
    public struct Shape: Sendable, Equatable, Codable {
        public var m: Int, n: Int, k: Int
        public init(m: Int, n: Int, k: Int) { (self.m, self.n, self.k) = (m, n, k) }
        /// The floating-point operations of one multiply.
        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
    }

    /// 1568 x 3072 x 768: ViT-B/16's MLP up-projection at batch 8.
    public static let vitBase = Shape(m: 1568, n: 3072, k: 768)

    /// Best GFLOP/s of `repetitions` timed multiplies (after one untimed warm-up) with OpenBLAS on
    /// `threads` threads; the previous OpenBLAS thread count is restored afterwards.
    public static func measure(threads: Int, shape: Shape = vitBase, repetitions: Int = 5) -> Double {
        precondition(threads >= 1 && repetitions >= 1, "SgemmRate: threads \(threads), repetitions \(repetitions)")
        let previous = openblas_get_num_threads()
        openblas_set_num_threads(Int32(threads))
        defer { openblas_set_num_threads(previous) }

        var generator = SplitMix64(seed: 0x5eed)
        var a = [Float](repeating: 0, count: shape.m * shape.k)
        var b = [Float](repeating: 0, count: shape.k * shape.n)
        var c = [Float](repeating: 0, count: shape.m * shape.n)
        a.withUnsafeMutableBufferPointer { generator.fillUniform($0.baseAddress!, count: $0.count, low: -1, high: 1) }
        b.withUnsafeMutableBufferPointer { generator.fillUniform($0.baseAddress!, count: $0.count, low: -1, high: 1) }

        var best = Double.infinity
        for repetition in 0...repetitions {
            let start = DispatchTime.now().uptimeNanoseconds
            Gemm.blas(transposeA: false, transposeB: false, m: shape.m, n: shape.n, k: shape.k,
                      alpha: 1, a: a, lda: shape.k, b: b, ldb: shape.n, beta: 0, c: &c, ldc: shape.n)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            if repetition > 0 { best = min(best, seconds) }  // repetition 0 warms caches and threads up
        }
        return shape.flops / best / 1e9
    }
}
