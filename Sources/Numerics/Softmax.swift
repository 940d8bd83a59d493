import Foundation

/// Row-wise softmax, numerically stable; entries equal to -infinity (masked) get probability 0.
///
/// ```
/// p[n, j] = exp(x[n, j] - max_j x[n, :]) / sum_j exp(x[n, j] - max_j x[n, :])     x, p: (N, C)
/// ```
/// `backward` accumulates (`+=`). Both run eight columns at a time (`VectorExp`, `SIMD8` sums; the sums'
/// order is that of eight lanes, then the tail).
public enum Softmax {
    /// p = softmax(x) row by row; `p` may alias `x`. `rowStride` >= columns.
    public static func forward(
        p: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: Int, columns: Int, rowStride: Int? = nil
    ) {
        let rowStep = rowStride ?? columns
        let body = columns - columns % 8
        for n in 0..<rows {
            let input = x + n * rowStep
            let output = p + n * rowStep
            var maxima = SIMD8<Float>(repeating: -.infinity)
            for j in stride(from: 0, to: body, by: 8) {
                let v = input.vector(at: j)
                maxima.replace(with: v, where: v .> maxima)  // not pointwiseMax: that runs lane by lane
            }
            var maximum = maxima.max()
            for j in body..<columns { maximum = max(maximum, input[j]) }
            var sums = SIMD8<Float>()
            for j in stride(from: 0, to: body, by: 8) {
                let e = VectorExp.exp(input.vector(at: j) - maximum)
                output.store(e, at: j)
                sums += e
            }
            var sum = sums.sum()
            for j in body..<columns {
                let e = VectorExp.exp(input[j] - maximum)
                output[j] = e
                sum += e
            }
            let inverse = 1 / sum
            for j in 0..<columns { output[j] *= inverse }
        }
    }

    /// In the forward pass this was `p = softmax(x)`:
    /// ```
    /// dx[n, j] += p[n, j] * (dp[n, j] - sum_k dp[n, k] p[n, k])      (= with `write: .overwrite`)
    /// ```
    /// With `.overwrite`, `dx` may alias `dp` (a row's dot product is taken before the row is written).
    public static func backward(
        dx: UnsafeMutablePointer<Float>, dp: UnsafePointer<Float>, p: UnsafePointer<Float>,
        rows: Int, columns: Int, rowStride: Int? = nil, write: GradientWrite = .accumulate
    ) {
        let rowStep = rowStride ?? columns
        let body = columns - columns % 8
        for n in 0..<rows {
            let probabilities = p + n * rowStep
            let gradient = dp + n * rowStep
            var dots = SIMD8<Float>()
            for j in stride(from: 0, to: body, by: 8) { dots += gradient.vector(at: j) * probabilities.vector(at: j) }
            var dot = dots.sum()
            for j in body..<columns { dot += gradient[j] * probabilities[j] }
            let out = dx + n * rowStep
            for j in stride(from: 0, to: body, by: 8) {
                let g = probabilities.vector(at: j) * (gradient.vector(at: j) - dot)
                out.store(write == .accumulate ? out.vector(at: j) + g : g, at: j)
            }
            for j in body..<columns {
                let g = probabilities[j] * (gradient[j] - dot)
                out[j] = write == .accumulate ? out[j] + g : g
            }
        }
    }
}
