/// Fully connected layer with PyTorch's weight layout.
///
/// ```
/// y = x W^T + b        x: (N, I)   W: (O, I)   b: (O)   y: (N, O)
/// ```
/// `backward` accumulates (`+=`) into every gradient it is given; `dWeight` and `dBias` are optional
/// because prompt tuning freezes the backbone and skipping them halves the work.
public enum Linear {
    /// y = x W^T + b (y is overwritten).
    public static func forward(
        _ backend: Gemm.Backend = .blas,
        y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        if let bias {
            for r in 0..<rows { (y + r * outFeatures).update(from: bias, count: outFeatures) }
        }
        Gemm.multiply(backend, transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                      a: x, lda: inFeatures, b: weight, ldb: inFeatures,
                      beta: bias == nil ? 0 : 1, c: y, ldc: outFeatures)
    }

    /// In the forward pass this was `y = x W^T + b`:
    /// ```
    /// dx += dy W        (N, I)      (dx = dy W with `dxWrite: .overwrite`)
    /// dW += dy^T x      (O, I)
    /// db += sum_n dy    (O)
    /// ```
    public static func backward(
        _ backend: Gemm.Backend = .blas,
        dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
        dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rows: Int, inFeatures: Int, outFeatures: Int, dxWrite: GradientWrite = .accumulate
    ) {
        if let dx {
            Gemm.multiply(backend, transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures,
                          a: dy, lda: outFeatures, b: weight, ldb: inFeatures, beta: dxWrite == .accumulate ? 1 : 0,
                          c: dx, ldc: inFeatures)
        }
        if let dWeight {
            Gemm.multiply(backend, transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
                          a: dy, lda: outFeatures, b: x, ldb: inFeatures, beta: 1, c: dWeight, ldc: inFeatures)
        }
        if let dBias {
            for r in 0..<rows {
                let row = dy + r * outFeatures
                for o in 0..<outFeatures { dBias[o] += row[o] }
            }
        }
    }
}
