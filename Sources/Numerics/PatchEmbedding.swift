/// Non-overlapping patch embedding (a conv with kernel = stride = patch, no bias) computed as a GEMM.
///
/// ```
/// pixels: (B, C, H, W) with H = W = image;  G = image / patch;  P = G * G;  K = C * patch * patch
/// columns[b, p, (c, i, j)] = pixels[b, c, gy * patch + i, gx * patch + j]     (B, P, K), p = gy * G + gx
/// y[b, p, :] = columns[b, p, :] W^T                                           W: (D, C, patch, patch) = (D, K)
/// ```
/// The output rows are written with a row offset and stride so they land directly inside the
/// (B, 1 + P, D) embedding sequence behind the class token. `backward` gives only dW (pixels are data),
/// accumulated (`+=`).
public enum PatchEmbedding {
    public static func im2col(columns: UnsafeMutablePointer<Float>, pixels: UnsafePointer<Float>,
                              batch: Int, channels: Int, imageSize: Int, patchSize: Int) {
        let grid = imageSize / patchSize
        let k = channels * patchSize * patchSize
        for b in 0..<batch {
            for gy in 0..<grid {
                for gx in 0..<grid {
                    let destination = columns + ((b * grid + gy) * grid + gx) * k
                    var index = 0
                    for c in 0..<channels {
                        let plane = pixels + (b * channels + c) * imageSize * imageSize
                        for i in 0..<patchSize {
                            let row = plane + (gy * patchSize + i) * imageSize + gx * patchSize
                            (destination + index).update(from: row, count: patchSize)
                            index += patchSize
                        }
                    }
                }
            }
        }
    }

    /// y rows for image b start at `y + (b * sequenceLength + firstRow) * width`.
    public static func forward(
        _ backend: Gemm.Backend = .blas,
        y: UnsafeMutablePointer<Float>, columns: UnsafeMutablePointer<Float>, pixels: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, batch: Int, channels: Int, imageSize: Int, patchSize: Int, width: Int,
        sequenceLength: Int, firstRow: Int
    ) {
        im2col(columns: columns, pixels: pixels, batch: batch, channels: channels, imageSize: imageSize, patchSize: patchSize)
        let patches = (imageSize / patchSize) * (imageSize / patchSize)
        let k = channels * patchSize * patchSize
        for b in 0..<batch {
            Gemm.multiply(backend, transposeA: false, transposeB: true, m: patches, n: width, k: k,
                          a: columns + b * patches * k, lda: k, b: weight, ldb: k,
                          beta: 0, c: y + (b * sequenceLength + firstRow) * width, ldc: width)
        }
    }

    /// In the forward pass this was `y = columns W^T`: `dW += dy^T columns` over every image.
    public static func backward(
        _ backend: Gemm.Backend = .blas,
        dWeight: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, columns: UnsafePointer<Float>,
        batch: Int, patches: Int, k: Int, width: Int, sequenceLength: Int, firstRow: Int
    ) {
        for b in 0..<batch {
            Gemm.multiply(backend, transposeA: true, transposeB: false, m: width, n: k, k: patches,
                          a: dy + (b * sequenceLength + firstRow) * width, lda: width,
                          b: columns + b * patches * k, ldb: k, beta: 1, c: dWeight, ldc: k)
        }
    }
}
