/// Fully connected layer with PyTorch's weight layout.
///
/// ```
/// y = x W^T + b        x: (N, I)   W: (O, I)   b: (O)   y: (N, O)
/// ```
/// `backward` accumulates (`+=`) into every gradient it is given; `dWeight` and `dBias` are optional
/// because prompt tuning freezes the backbone and skipping them halves the work.
public enum Linear {
    /// y = x W^T + b + r (y is overwritten); the bias b (O) and the residual r (N, O) are optional.
    ///
    /// With either, the rows of y are first set to b + r (in blocks of rows over the kernel threads, eight lanes at
    /// a time) and the GEMM adds x W^T onto them (beta 1); the residual connection that follows a projection costs
    /// no pass of its own.
    public static func forward(
        _ backend: Gemm.Backend = .blas,
        y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>? = nil,
        rows: Int, inFeatures: Int, outFeatures: Int
    ) {
        let offset = bias != nil || residual != nil
        if offset { setRows(y, bias: bias, residual: residual, rows: rows, columns: outFeatures) }
        Gemm.multiply(backend, transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                      a: x, lda: inFeatures, b: weight, ldb: inFeatures,
                      beta: offset ? 1 : 0, c: y, ldc: outFeatures)
    }

    /// y[n, :] = b + r[n, :], either term optional (absent means 0).
    private static func setRows(_ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?,
                                residual: UnsafePointer<Float>?, rows: Int, columns: Int) {
        let body = columns - columns % 8
        parallelRows(rows, cost: columns) { n in
            let out = y + n * columns
            let skip = residual.map { $0 + n * columns }
            for c in stride(from: 0, to: body, by: 8) {
                let b = bias?.vector(at: c) ?? SIMD8()
                out.store(skip.map { b + $0.vector(at: c) } ?? b, at: c)
            }
            for c in body..<columns {
                let b = bias?[c] ?? 0
                out[c] = skip.map { b + $0[c] } ?? b
            }
        }
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
