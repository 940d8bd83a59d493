import Numerics

/// Key matching: cosine similarities between the batch's queries and the pool's keys, and the per-sample top-k.
///
/// ```
/// norm(x) = x / sqrt(max(||x||^2, eps))     eps = 1e-12, on the squared norm    (prompt.py, l2_normalize, lines 38-42)
/// S = norm(Q) norm(K)^T                      Q (n, d), K (M, d), S (n, M)       (prompt.py, lines 61-64)
/// idx[b] = the k largest of S[b], descending; ties to the lower index           (prompt.py, line 67: torch.topk)
/// ```
/// torch.topk does not specify the order of equal values; we break ties by index so that runs are reproducible.
/// A NaN similarity ranks above every number, as in torch.topk.
extension PromptPool {
    /// eps of the official `l2_normalize`, a floor under the squared norm.
    public static let normalizationEpsilon = 1e-12

    /// 1 / sqrt(max(||x||^2, eps)) of a row of `count` floats, in Double.
    @inlinable
    static func inverseNorm(_ row: UnsafePointer<Float>, count: Int) -> Double {
        var squares = 0.0
        for i in 0..<count { squares += Double(row[i]) * Double(row[i]) }
        return 1 / max(squares, normalizationEpsilon).squareRoot()
    }

    /// Row-wise `norm` of a (rows, d) matrix into `normalized` (`=`), the rule of `normalizationEpsilon`.
    static func normalizeRows(_ x: UnsafePointer<Float>, rows: Int, columns: Int, into normalized: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let row = x + r * columns
            let scale = inverseNorm(row, count: columns)
            for c in 0..<columns { normalized[r * columns + c] = Float(Double(row[c]) * scale) }
        }
    }

    /// The cosine similarity matrix S (n, M), row-major.
    /// ```
    /// .blas:  normalise Q and K row by row, then S = Qn Kn^T by sgemm
    /// .naive: S[b][m] = (q_b . k_m) / (sqrt(max(||q_b||^2, eps)) sqrt(max(||k_m||^2, eps))), each in Double
    /// ```
    /// `.naive` is the algorithmic reference the tests compare `.blas` with.
    public func similarities(queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, count: Int,
                             backend: Gemm.Backend = .blas) -> [Float] {
        var result = [Float](repeating: 0, count: count * size)
        guard count > 0 else { return result }
        switch backend {
        case .blas:
            let normalizedQueries = UnsafeMutablePointer<Float>.allocate(capacity: count * keyWidth)
            let normalizedKeys = UnsafeMutablePointer<Float>.allocate(capacity: keyCount)
            defer { normalizedQueries.deallocate(); normalizedKeys.deallocate() }
            Self.normalizeRows(queries, rows: count, columns: keyWidth, into: normalizedQueries)
            Self.normalizeRows(keys, rows: size, columns: keyWidth, into: normalizedKeys)
            result.withUnsafeMutableBufferPointer { s in
                Gemm.multiply(.blas, transposeA: false, transposeB: true, m: count, n: size, k: keyWidth,
                              a: normalizedQueries, lda: keyWidth, b: normalizedKeys, ldb: keyWidth,
                              beta: 0, c: s.baseAddress!, ldc: size)
            }
        case .naive:
            let keyScales = (0..<size).map { Self.inverseNorm(keys + $0 * keyWidth, count: keyWidth) }
            for b in 0..<count {
                let query = queries + b * keyWidth
                let queryScale = Self.inverseNorm(query, count: keyWidth)
                for m in 0..<size {
                    let key = keys + m * keyWidth
                    var dot = 0.0
                    for c in 0..<keyWidth { dot += Double(query[c]) * Double(key[c]) }
                    result[b * size + m] = Float(dot * queryScale * keyScales[m])
                }
            }
        }
        return result
    }

    /// Each sample's k nearest keys: S by `similarities`, then `select(similarities:count:)`.
    public func select(queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, count: Int,
                       backend: Gemm.Backend = .blas) -> PromptPoolSelection {
        select(similarities: similarities(queries: queries, keys: keys, count: count, backend: backend), count: count)
    }

    /// The top-k of every row of S (n, M), independently per row: indices by descending similarity, ties to the
    /// lower index, and the similarities at those indices.
    public func select(similarities: [Float], count: Int) -> PromptPoolSelection {
        precondition(similarities.count == count * size, "similarities: \(similarities.count) for (\(count), \(size))")
        var indices = [Int]()
        var selected = [Float]()
        indices.reserveCapacity(count * topK)
        selected.reserveCapacity(count * topK)
        for b in 0..<count {
            let row = similarities[(b * size)..<((b + 1) * size)]
            let base = b * size
            let ranked = (0..<size).sorted { Self.ranksBefore(row[base + $0], $0, row[base + $1], $1) }
            for m in ranked.prefix(topK) {
                indices.append(m)
                selected.append(row[base + m])
            }
        }
        return PromptPoolSelection(count: count, topK: topK, indices: indices, similarities: selected)
    }

    /// The ranking's strict order: NaN first, then larger similarity, then lower index.
    static func ranksBefore(_ s: Float, _ i: Int, _ t: Float, _ j: Int) -> Bool {
        if s.isNaN != t.isNaN { return s.isNaN }
        if s.isNaN || s == t { return i < j }
        return s > t
    }
}
