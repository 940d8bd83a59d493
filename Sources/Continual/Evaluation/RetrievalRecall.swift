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

    /// The `k` best gallery items of every query by `similarity` (rows x columns, row-major), best first; of equal
    /// scores the lower index first. k is capped at the gallery's size.
    public static func topCandidates(similarity: [Float], rows: Int, columns: Int, queries: Queries, k: Int) -> [[Int]] {
        precondition(similarity.count == rows * columns && k >= 0, "top \(k) of a \(rows) x \(columns) matrix of \(similarity.count)")
        let (queryCount, galleryCount) = queries == .rows ? (rows, columns) : (columns, rows)
        let stride = queries == .rows ? 1 : columns, kept = min(k, galleryCount)
        guard kept > 0 else { return Array(repeating: [], count: queryCount) }
        return similarity.withUnsafeBufferPointer { values in
            (0..<queryCount).map { q in
                let base = queries == .rows ? q * columns : q
                var best: [Int] = []
                best.reserveCapacity(kept + 1)
                for g in 0..<galleryCount {
                    let value = values[base + g * stride]
                    guard best.count < kept || value > values[base + best[kept - 1] * stride] else { continue }
                    // After the items scoring at least as much (earlier indices win ties).
                    var at = best.count
                    while at > 0 && values[base + best[at - 1] * stride] < value { at -= 1 }
                    best.insert(g, at: at)
                    if best.count > kept { best.removeLast() }
                }
                return best
            }
        }
    }

    /// rank_q when each query's `candidates[q]` (its best gallery items by `similarity`, `topCandidates`) are ranked
    /// again by `scores[q]` (one per candidate) ahead of the rest of the gallery, which keeps its `similarity` order:
    /// ```
    /// a relevant item among the candidates:  s*_q = max over relevant candidates of scores[q]
    ///                                        rank_q = 1 + #{ candidates c not in R_q : scores[q][c] >= s*_q }
    /// none:                                  s*_q = max_{g in R_q} s[q][g]
    ///                                        rank_q = K_q + 1 + #{ g not a candidate, not in R_q : s[q][g] >= s*_q }
    /// ```
    /// (K_q candidates; ties count against the query as in `bestRanks`.) With no candidates this is `bestRanks`; with
    /// the whole gallery as candidates it is `bestRanks` of the scores.
    public static func rerankedRanks(similarity: [Float], rows: Int, columns: Int, queries: Queries, candidates: [[Int]],
                                     scores: [[Float]], relevant: [[Int]]) throws -> [Int] {
        let unfused = try bestRanks(similarity: similarity, rows: rows, columns: columns, queries: queries, relevant: relevant)
        let (queryCount, galleryCount) = queries == .rows ? (rows, columns) : (columns, rows)
        guard candidates.count == queryCount, scores.count == queryCount else {
            throw EvaluationError("retrieval: \(candidates.count) candidate lists and \(scores.count) score lists for "
                                  + "\(queryCount) queries")
        }
        let stride = queries == .rows ? 1 : columns
        return try (0..<queryCount).map { q in
            let (items, chosen, rescored) = (relevant[q], candidates[q], scores[q])
            guard chosen.count == rescored.count, Set(chosen).count == chosen.count,
                  chosen.allSatisfy({ (0..<galleryCount).contains($0) }) else {
                throw EvaluationError("retrieval: query \(q) has candidates \(chosen) with \(rescored.count) scores "
                                      + "(distinct gallery items, one score each)")
            }
            if let bad = rescored.firstIndex(where: { !$0.isFinite }) {
                throw EvaluationError("retrieval: query \(q)'s re-scored candidate \(chosen[bad]) scores \(rescored[bad])")
            }
            let relevantScores = zip(chosen, rescored).filter { items.contains($0.0) }.map(\.1)
            if let best = relevantScores.max() {
                return 1 + zip(chosen, rescored).filter { !items.contains($0.0) && $0.1 >= best }.count
            }
            // The best relevant item lies outside the candidates: every candidate comes first.
            let base = queries == .rows ? q * columns : q
            let best = items.map { similarity[base + $0 * stride] }.max()!
            let ahead = chosen.filter { similarity[base + $0 * stride] >= best && !items.contains($0) }.count
            return unfused[q] - ahead + chosen.count
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
