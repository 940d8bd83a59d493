import Foundation

/// Layer normalisation over the last dimension, as torch.nn.LayerNorm.
///
/// ```
/// mean = sum_c x[n, c] / C;  rstd = 1 / sqrt(sum_c (x[n, c] - mean)^2 / C + eps)
/// y[n, c] = (x[n, c] - mean) * rstd * w[c] + b[c]        x, y: (N, C)   w, b: (C)   mean, rstd: (N)
/// ```
/// The forward keeps `mean` and `rstd` for the backward; `backward` accumulates (`+=`) unless given a skip
/// gradient. Rows run in eight `SIMD8` lanes, then the tail.
public enum LayerNorm {
    public static func forward(
        y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
        x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        rows: Int, columns: Int, eps: Float
    ) {
        let body = columns - columns % 8
        parallelRows(rows, cost: columns * 8) { n in
            let row = x + n * columns
            var sums = SIMD8<Float>()
            for c in stride(from: 0, to: body, by: 8) { sums += row.vector(at: c) }
            var sum = sums.sum()
            for c in body..<columns { sum += row[c] }
            let m = sum / Float(columns)
            var squares = SIMD8<Float>()
            for c in stride(from: 0, to: body, by: 8) {
                let d = row.vector(at: c) - m
                squares += d * d
            }
            var variance = squares.sum()
            for c in body..<columns {
                let d = row[c] - m
                variance += d * d
            }
            let s = 1 / (variance / Float(columns) + eps).squareRoot()
            let out = y + n * columns
            for c in stride(from: 0, to: body, by: 8) {
                out.store((row.vector(at: c) - m) * s * weight.vector(at: c) + bias.vector(at: c), at: c)
            }
            for c in body..<columns { out[c] = (row[c] - m) * s * weight[c] + bias[c] }
            mean[n] = m
            rstd[n] = s
        }
    }

    /// In the forward pass this was `y = (x - mean) * rstd * w + b`. With xhat = (x - mean) * rstd and
    /// g = dy * w:
    /// ```
    /// dx += rstd * (g - mean_c(g) - xhat * mean_c(g * xhat))
    /// dw += sum_n dy * xhat;   db += sum_n dy
    /// ```
    /// With `skip` (N, C), the gradient that reaches x through the residual connection around the normalisation,
    /// dx is overwritten with skip + rstd * (...) instead: a pre-LN block's backward needs no copy of it first.
    /// `skip` may alias `dx`.
    public static func backward(
        dx: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, columns: Int,
        skip: UnsafePointer<Float>? = nil
    ) {
        let body = columns - columns % 8
        parallelRows(rows, cost: columns * 12) { n in
            let row = x + n * columns
            let gradOut = dy + n * columns
            let m = mean[n]
            let s = rstd[n]
            var sumsG = SIMD8<Float>(), sumsGX = SIMD8<Float>()
            for c in stride(from: 0, to: body, by: 8) {
                let g = gradOut.vector(at: c) * weight.vector(at: c)
                sumsG += g
                sumsGX += g * (row.vector(at: c) - m) * s
            }
            var meanG = sumsG.sum()
            var meanGX = sumsGX.sum()
            for c in body..<columns {
                let g = gradOut[c] * weight[c]
                meanG += g
                meanGX += g * (row[c] - m) * s
            }
            meanG /= Float(columns)
            meanGX /= Float(columns)
            let out = dx + n * columns
            let base = skip.map { $0 + n * columns } ?? UnsafePointer(out)
            for c in stride(from: 0, to: body, by: 8) {
                let xhat = (row.vector(at: c) - m) * s
                let g = gradOut.vector(at: c) * weight.vector(at: c)
                out.store(base.vector(at: c) + s * (g - meanG - xhat * meanGX), at: c)
            }
            for c in body..<columns {
                let xhat = (row[c] - m) * s
                out[c] = base[c] + s * (gradOut[c] * weight[c] - meanG - xhat * meanGX)
            }
        }
        guard dWeight != nil || dBias != nil else { return }
        for n in 0..<rows {
            let row = x + n * columns
            let gradOut = dy + n * columns
            for c in 0..<columns {
                dWeight?[c] += gradOut[c] * (row[c] - mean[n]) * rstd[n]
                dBias?[c] += gradOut[c]
            }
        }
    }
}
