import Foundation

/// Multi-head scaled dot-product attention on a packed q|k|v activation (the output of one fused
/// projection), with an optional causal mask. Prompt tokens are ordinary rows of the sequence.
///
/// ```
/// qkv: (B, T, 3D) rows [q | k | v], head h uses columns h*dh ..< (h+1)*dh of each part
/// S[b, h] = scale * Q[b, h] K[b, h]^T      (T, T), scale = 1/sqrt(dh); causal: S[i, j] = -inf for j > i
/// P[b, h] = softmax(S[b, h])               probs: (B, H, T, T), kept for the backward
/// O[b, :, h*dh ..< (h+1)*dh] = P[b, h] V[b, h]    out: (B, T, D)
/// ```
/// Heads are addressed in place through leading dimensions (no transposes or copies).
/// `backward` accumulates into `dqkv` (`+=`).
public enum Attention {
    public static func forward(
        _ backend: Gemm.Backend = .blas,
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
        batch: Int, tokens: Int, heads: Int, headSize: Int, causal: Bool
    ) {
        let width = heads * headSize
        let scale = 1 / Float(headSize).squareRoot()
        let flops = 2 * Double(tokens * tokens * headSize)  // of one of the two products, one head
        for b in 0..<batch {
            let base = qkv + b * tokens * 3 * width
            for h in 0..<heads {
                let q = base + h * headSize
                let k = base + width + h * headSize
                let v = base + 2 * width + h * headSize
                let p = probs + (b * heads + h) * tokens * tokens
                KernelProfile.measure(.attention, flops: flops) {
                    Gemm.multiply(backend, transposeA: false, transposeB: true, m: tokens, n: tokens, k: headSize,
                                  alpha: scale, a: q, lda: 3 * width, b: k, ldb: 3 * width, beta: 0, c: p, ldc: tokens)
                }
                KernelProfile.measure(.softmax) {
                    if causal { maskFuture(p, tokens: tokens) }
                    Softmax.forward(p: p, x: p, rows: tokens, columns: tokens)
                }
                KernelProfile.measure(.attention, flops: flops) {
                    Gemm.multiply(backend, transposeA: false, transposeB: false, m: tokens, n: headSize, k: tokens,
                                  a: p, lda: tokens, b: v, ldb: 3 * width,
                                  beta: 0, c: out + b * tokens * width + h * headSize, ldc: width)
                }
            }
        }
    }

    /// In the forward pass this was `O = softmax(scale Q K^T) V`. With `scratch` (T, T) for dP:
    /// ```
    /// dV += P^T dO;   dP = dO V^T;   dS = P * (dP - rowsum(dP * P))
    /// dQ += scale dS K;   dK += scale dS^T Q
    /// ```
    /// Masked entries have P = 0, so they get dS = 0 without a second mask.
    public static func backward(
        _ backend: Gemm.Backend = .blas,
        dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, probs: UnsafePointer<Float>,
        qkv: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>,
        batch: Int, tokens: Int, heads: Int, headSize: Int
    ) {
        let width = heads * headSize
        let scale = 1 / Float(headSize).squareRoot()
        let flops = 2 * Double(tokens * tokens * headSize)  // of one product, one head
        for b in 0..<batch {
            let base = qkv + b * tokens * 3 * width
            let dbase = dqkv + b * tokens * 3 * width
            for h in 0..<heads {
                let q = base + h * headSize, k = base + width + h * headSize, v = base + 2 * width + h * headSize
                let dq = dbase + h * headSize, dk = dbase + width + h * headSize
                let dv = dbase + 2 * width + h * headSize
                let p = probs + (b * heads + h) * tokens * tokens
                let dO = dout + b * tokens * width + h * headSize
                KernelProfile.measure(.attention, flops: 2 * flops) {
                    // dV += P^T dO
                    Gemm.multiply(backend, transposeA: true, transposeB: false, m: tokens, n: headSize, k: tokens,
                                  a: p, lda: tokens, b: dO, ldb: width, beta: 1, c: dv, ldc: 3 * width)
                    // dP = dO V^T
                    Gemm.multiply(backend, transposeA: false, transposeB: true, m: tokens, n: tokens, k: headSize,
                                  a: dO, lda: width, b: v, ldb: 3 * width, beta: 0, c: scratch, ldc: tokens)
                }
                KernelProfile.measure(.softmax) {
                    // dS = P * (dP - rowsum(dP * P)), in place in scratch
                    for i in 0..<tokens {
                        let pRow = p + i * tokens, dRow = scratch + i * tokens
                        var dot: Float = 0
                        for j in 0..<tokens { dot += pRow[j] * dRow[j] }
                        for j in 0..<tokens { dRow[j] = pRow[j] * (dRow[j] - dot) }
                    }
                }
                KernelProfile.measure(.attention, flops: 2 * flops) {
                    // dQ += scale dS K;  dK += scale dS^T Q
                    Gemm.multiply(backend, transposeA: false, transposeB: false, m: tokens, n: headSize, k: tokens,
                                  alpha: scale, a: scratch, lda: tokens, b: k, ldb: 3 * width, beta: 1, c: dq, ldc: 3 * width)
                    Gemm.multiply(backend, transposeA: true, transposeB: false, m: tokens, n: headSize, k: tokens,
                                  alpha: scale, a: scratch, lda: tokens, b: q, ldb: 3 * width, beta: 1, c: dk, ldc: 3 * width)
                }
            }
        }
    }

    /// Sets S[i, j] = -infinity for j > i in a (T, T) score block.
    static func maskFuture(_ scores: UnsafeMutablePointer<Float>, tokens: Int) {
        for i in 0..<tokens {
            for j in (i + 1)..<tokens { scores[i * tokens + j] = -.infinity }
        }
    }
}
