import Foundation

/// Row-wise softmax, numerically stable; entries equal to -infinity (masked) get probability 0.
///
/// ```
/// p[n, j] = exp(x[n, j] - max_j x[n, :]) / sum_j exp(x[n, j] - max_j x[n, :])     x, p: (N, C)
/// ```
/// `backward` accumulates (`+=`).
public enum Softmax {
    /// p = softmax(x) row by row; `p` may alias `x`. `rowStride` >= columns.
    public static func forward(
        p: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, rows: Int, columns: Int, rowStride: Int? = nil
    ) {
        let stride = rowStride ?? columns
        for n in 0..<rows {
            let input = x + n * stride
            let output = p + n * stride
            var maximum = -Float.infinity
            for j in 0..<columns { maximum = max(maximum, input[j]) }
            var sum: Float = 0
            for j in 0..<columns {
                let e = expf(input[j] - maximum)
                output[j] = e
                sum += e
            }
            let inverse = 1 / sum
            for j in 0..<columns { output[j] *= inverse }
        }
    }

    /// In the forward pass this was `p = softmax(x)`:
    /// ```
    /// dx[n, j] += p[n, j] * (dp[n, j] - sum_k dp[n, k] p[n, k])
    /// ```
    public static func backward(
        dx: UnsafeMutablePointer<Float>, dp: UnsafePointer<Float>, p: UnsafePointer<Float>,
        rows: Int, columns: Int, rowStride: Int? = nil
    ) {
        let stride = rowStride ?? columns
        for n in 0..<rows {
            let probabilities = p + n * stride
            let gradient = dp + n * stride
            var dot: Float = 0
            for j in 0..<columns { dot += gradient[j] * probabilities[j] }
            let out = dx + n * stride
            for j in 0..<columns { out[j] += probabilities[j] * (gradient[j] - dot) }
        }
    }
}
