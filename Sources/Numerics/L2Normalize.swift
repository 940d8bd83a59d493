/// Row-wise L2 normalisation, as `x / x.norm(dim=-1, keepdim=True)` in CLIP.
///
/// ```
/// y[n, :] = x[n, :] / ||x[n, :]||        x, y: (N, C)   norms: (N), kept for the backward
/// ```
/// `backward` accumulates (`+=`).
public enum L2Normalize {
    public static func forward(y: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>,
                               x: UnsafePointer<Float>, rows: Int, columns: Int) {
        for n in 0..<rows {
            let row = x + n * columns
            var sum: Float = 0
            for c in 0..<columns { sum += row[c] * row[c] }
            let norm = sum.squareRoot()
            norms[n] = norm
            let out = y + n * columns
            for c in 0..<columns { out[c] = row[c] / norm }
        }
    }

    /// In the forward pass this was `y = x / ||x||`: `dx += (dy - y (y . dy)) / ||x||`.
    public static func backward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, y: UnsafePointer<Float>,
                                norms: UnsafePointer<Float>, rows: Int, columns: Int) {
        for n in 0..<rows {
            let out = y + n * columns, gradient = dy + n * columns
            var dot: Float = 0
            for c in 0..<columns { dot += out[c] * gradient[c] }
            let inverse = 1 / norms[n]
            let destination = dx + n * columns
            for c in 0..<columns { destination[c] += (gradient[c] - out[c] * dot) * inverse }
        }
    }
}
