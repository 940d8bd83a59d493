/// Image-text retrieval as LPI's evaluation scores it, as pure functions over a similarity matrix.
///
/// For query q and the gallery items G (rows or columns of `similarity`), with the relevant items R_q (an image
/// has several captions; a caption has one image), the rank of q is that of its best relevant item, counted
/// pessimistically on ties:
/// ```
/// s*_q   = max_{g in R_q} s[q][g]
/// rank_q = 1 + #{ g not in R_q : s[q][g] >= s*_q }          (1 = retrieved first)
/// R@K    = 100 * #{ q in Q_t : rank_q <= K } / |Q_t|         over one query task's queries Q_t
/// ```
/// A non-relevant item that ties the best relevant one is counted as ranked before it (an arg-sort would place
/// ties arbitrarily; this never flatters a model that outputs constant similarities), while relevant items
/// tying one another do not push each other down.
public enum RetrievalRecall {
    /// Which side of `similarity` (rows x columns, row-major) the queries are.
    public enum Queries: Sendable {
        /// Query q is row q, the gallery the columns (image→text from an image x caption matrix).
        case rows
        /// Query q is column q, the gallery the rows (text→image from the same image x caption matrix).
        case columns
    }

    /// rank_q for every query, from 1.
    ///
    /// - similarity: (rows, columns), row-major; every value finite
    /// - relevant: one non-empty list per query of gallery indices (no matter the order, repeats allowed)
    public static func bestRanks(similarity: [Float], rows: Int, columns: Int, queries: Queries,
                                 relevant: [[Int]]) throws -> [Int] {
        guard rows >= 0, columns >= 0, similarity.count == rows * columns else {
            throw EvaluationError("retrieval: a similarity matrix of \(similarity.count) values is not \(rows) x \(columns)")
        }
        if let bad = similarity.firstIndex(where: { !$0.isFinite }) {
            throw EvaluationError("retrieval: similarity [\(bad / max(columns, 1))][\(bad % max(columns, 1))] is "
                                  + "\(similarity[bad])")
        }
        let (queryCount, galleryCount) = queries == .rows ? (rows, columns) : (columns, rows)
        guard relevant.count == queryCount else {
            throw EvaluationError("retrieval: \(relevant.count) relevance lists for \(queryCount) queries")
        }
        // Query q's similarities lie at base + g * stride: along a row, or down a column.
        let stride = queries == .rows ? 1 : columns
        return try similarity.withUnsafeBufferPointer { values in
            try (0..<queryCount).map { q in
                let items = relevant[q]
                guard !items.isEmpty else { throw EvaluationError("retrieval: query \(q) has no relevant gallery item") }
                if let bad = items.first(where: { !(0..<galleryCount).contains($0) }) {
                    throw EvaluationError("retrieval: query \(q)'s relevant item \(bad) is outside the gallery of \(galleryCount)")
                }
                let base = queries == .rows ? q * columns : q
                let best = items.map { values[base + $0 * stride] }.max()!
                var rank = 1
                for g in 0..<galleryCount where values[base + g * stride] >= best && !items.contains(g) { rank += 1 }
                return rank
            }
        }
    }

    /// R@1, R@5, R@10 in percent over the queries `subset` (one query task's) of `ranks` (`bestRanks`).
    public static func recall(ranks: [Int], of subset: some Collection<Int>) throws -> RecallAtK {
        guard !subset.isEmpty else { throw EvaluationError("retrieval: recall over no queries") }
        if let bad = subset.first(where: { !ranks.indices.contains($0) }) {
            throw EvaluationError("retrieval: query \(bad) is outside the \(ranks.count) ranked queries")
        }
        func percent(_ cutoff: RecallCutoff) -> Double {
            100 * Double(subset.filter { ranks[$0] <= cutoff.rawValue }.count) / Double(subset.count)
        }
        return RecallAtK(r1: percent(.r1), r5: percent(.r5), r10: percent(.r10))
    }

    /// Image→text relevance from each caption's image: the captions of image i, ascending.
    /// ```
    /// relevant[i] = { c : captionImages[c] == i }
    /// ```
    /// Text→image relevance is `captionImages.map { [$0] }`. Every image must have a caption.
    public static func captionsOfImages(captionImages: [Int], imageCount: Int) throws -> [[Int]] {
        var captions = [[Int]](repeating: [], count: imageCount)
        for (c, image) in captionImages.enumerated() {
            guard captions.indices.contains(image) else {
                throw EvaluationError("retrieval: caption \(c) belongs to image \(image), outside the \(imageCount) images")
            }
            captions[image].append(c)
        }
        if let bare = captions.firstIndex(where: \.isEmpty) {
            throw EvaluationError("retrieval: image \(bare) has no caption")
        }
        return captions
    }
}
