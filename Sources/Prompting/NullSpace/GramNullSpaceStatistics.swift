import CLAPACKE
import CLIP
import Numerics

/// NSP2's statistics of one prompted layer the way the official code keeps them (`train_eval.py`,
/// `get_update_projection_dict`): Omega1's rows formed per batch and their D x D Gram matrix accumulated.
///
/// ```
/// per batch, per head h:  X_h = Q_h W_k,h                  (rows, D) sgemm, Float as in the official code
///                         G  += X_h^T X_h                  (D, D)    sgemm, Float per batch, summed in Double
/// G2 += S^T S                                              (L, L)    S = [S_P,1 ; ... ; S_P,H], Double
/// factor of G = V diag(lambda) V^T (dsyevd):  F = diag(sqrt(max(lambda, 0))) V^T, descending      (D, D)
/// ```
/// so F^T F = G = Omega1^T Omega1 (likewise for Omega2). The official code divides each batch's Gram by its
/// row count; a constant scale moves neither selection rule, so it is left out. Costs 2 rows D^2 per head and
/// batch, (D / d_h)^2 times the factored route's QR: `promptcl bench nullspace` measures both.
public struct GramNullSpaceStatistics: NullSpaceStatisticsAccumulator {
    public let heads: Int
    public let headSize: Int
    public let promptTokens: Int
    /// G1 = Omega1^T Omega1, (D, D) row-major.
    public private(set) var channelGram: [Double]
    /// G2 = Omega2^T Omega2, (L, L) row-major.
    public private(set) var tokenGram: [Double]
    public private(set) var rowsSeen = 0

    public init(heads: Int, headSize: Int, promptTokens: Int) {
        self.heads = heads
        self.headSize = headSize
        self.promptTokens = promptTokens
        channelGram = [Double](repeating: 0, count: heads * headSize * heads * headSize)
        tokenGram = [Double](repeating: 0, count: promptTokens * promptTokens)
    }

    public mutating func accumulate(_ record: VisionTower.AttentionRecord, keyWeight: UnsafePointer<Float>) throws {
        precondition(record.heads == heads && record.headSize == headSize && record.promptRows.count == promptTokens,
                     "statistics of \(heads) x \(headSize) with \(promptTokens) prompts fed another layer's record")
        let d = heads * headSize
        var batchGram = [Float](repeating: 0, count: d * d)
        for h in 0..<heads {
            let queries = record.imageQueries(head: h)
            var rows = [Float](repeating: 0, count: queries.rows * d)
            // X_h = Q_h W_k,h: (rows, d_h) x (d_h, D), W_k,h = rows h d_h ..< (h + 1) d_h of W_k.
            Gemm.blas(transposeA: false, transposeB: false, m: queries.rows, n: d, k: headSize, alpha: 1,
                      a: queries.values, lda: headSize, b: keyWeight + h * headSize * d, ldb: d, beta: 0,
                      c: &rows, ldc: d)
            // G += X_h^T X_h: (D, rows) x (rows, D)
            Gemm.blas(transposeA: true, transposeB: false, m: d, n: d, k: queries.rows, alpha: 1,
                      a: rows, lda: d, b: rows, ldb: d, beta: 1, c: &batchGram, ldc: d)
            rowsSeen += queries.rows
        }
        for i in 0..<(d * d) { channelGram[i] += Double(batchGram[i]) }
        let attention = record.promptAttention(), l = promptTokens
        for r in 0..<attention.rows {
            for i in 0..<l {
                let a = Double(attention.values[r * l + i])
                for j in 0..<l { tokenGram[i * l + j] += a * Double(attention.values[r * l + j]) }
            }
        }
    }

    public func channelFactor(keyWeight: UnsafePointer<Float>) throws -> (values: [Double], rows: Int) {
        try Self.factor(ofGram: channelGram, dimension: heads * headSize)
    }

    public func tokenFactor() throws -> (values: [Double], rows: Int) {
        try Self.factor(ofGram: tokenGram, dimension: promptTokens)
    }

    /// diag(sqrt(lambda)) V^T of a symmetric positive semi-definite G = V diag(lambda) V^T, rows in
    /// descending order of lambda; negative rounding noise in lambda counts as 0. (n, n) row-major.
    static func factor(ofGram gram: [Double], dimension n: Int) throws -> (values: [Double], rows: Int) {
        var a = gram
        var eigenvalues = [Double](repeating: 0, count: n)
        // Row-major 'U' of a symmetric matrix; on exit the columns of a are the eigenvectors, ascending.
        let info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")), Int32(n), &a, Int32(n),
                                  &eigenvalues)
        guard info == 0 else { throw NullSpaceError("dsyevd of a \(n) x \(n) Gram matrix failed with info = \(info)") }
        var factor = [Double](repeating: 0, count: n * n)
        for row in 0..<n {
            let column = n - 1 - row
            let scale = max(eigenvalues[column], 0).squareRoot()
            for j in 0..<n { factor[row * n + j] = scale * a[j * n + column] }
        }
        return (factor, n)
    }
}
