import CLIP
import Distributed
import Prompting

extension Trainer {
    /// Each query's candidates and their fused scores (`rescoreCandidates`), on rank 0.
    struct RescoredCandidates {
        /// Image -> text: image g's best captions by the unfused similarity, and the fused score of each.
        let rows: [[Int]]
        let rowScores: [[Float]]
        /// Text -> image: caption h's best images, and the fused score of each.
        let columns: [[Int]]
        let columnScores: [[Float]]
    }

    /// LPI-P's retrieval, an approximation of ours: scoring every (caption, image) pair with the caption conditioned on
    /// the image would take N^2 text forwards over a gallery of N pairs, so the gallery is ranked by the unfused
    /// features (the image from stage A, the caption through LPI-M's text prompts of its own predicted task) and only
    /// the k = `evaluation.rerank_top_k` best candidates of each query, in both directions, are scored again with
    /// fusion (`RetrievalRecall.rerankedRanks`):
    /// ```
    /// S = images . captions^T (N x N, every rank)          candidates: top k of each row (i2t) and column (t2i)
    /// fused(g, h) = norm(image g) . norm(text(caption h | image g))     a pair takes the prompts and maps of image g's
    ///                                                                   predicted task (stage A is the image's)
    /// rank r computes fused(g, h) for its own images g (stage A again for each chunk of them), for every h it needs
    /// (at most 2 k per image); the scores are gathered on rank 0
    /// ```
    /// `images` are this rank's normalised stage-A embeddings (rows of `positions`), `similarity` the gathered one
    /// (rows in `order`). Returns nil on the ranks but 0.
    func rescoreCandidates(_ step: CoupledStep, similarity: [Float], count n: Int, images: [Float], imageTasks: [Int],
                           positions: [Int], samples: [Int], order: [Int]) throws -> RescoredCandidates? {
        let width = model.config.projectionDim, k = config.evaluation.rerankTopK
        let rows = RetrievalRecall.topCandidates(similarity: similarity, rows: n, columns: n, queries: .rows, k: k)
        let columns = RetrievalRecall.topCandidates(similarity: similarity, rows: n, columns: n, queries: .columns, k: k)
        // This rank's images are the gathered rows offset ..< offset + positions.count.
        let offset = (0..<group.rank).reduce(0) { $0 + (n - $1 + group.size - 1) / group.size }
        let local = offset..<(offset + positions.count)
        var needed = [Set<Int>](repeating: [], count: positions.count)
        for g in local { needed[g - offset].formUnion(rows[g]) }
        for (h, images) in columns.enumerated() {
            for g in images where local.contains(g) { needed[g - offset].insert(h) }
        }

        var pairs: [Int64] = [], scores: [Float] = []
        for start in stride(from: 0, to: positions.count, by: localBatch) {
            let chunk = start..<min(start + localBatch, positions.count)
            testLoader.loadPixels(chunk.map { samples[positions[$0]] })
            _ = step.towers.forwardImages(pixels: testLoader.pixels, tasks: Array(imageTasks[chunk]), values: parameters.values)
            for l in chunk {
                let captions = needed[l].sorted()
                for first in stride(from: 0, to: captions.count, by: localBatch) {
                    let part = Array(captions[first..<min(first + localBatch, captions.count)])
                    testLoader.loadCaptions(part.map { samples[order[$0]] })
                    let text = step.towers.forwardTexts(ids: testLoader.ids, count: part.count, image: l - start)
                    var rowsOut = Array(UnsafeBufferPointer(start: text, count: part.count * width))
                    TaskKeys.normalizeRows(&rowsOut, width: width)
                    for (p, h) in part.enumerated() {
                        var dot: Float = 0
                        for e in 0..<width { dot += images[l * width + e] * rowsOut[p * width + e] }
                        pairs += [Int64(offset + l), Int64(h)]
                        scores.append(dot)
                    }
                }
            }
        }
        let allPairs = group.allgatherv(pairs).values, allScores = group.allgatherv(scores).values
        guard group.isRoot else { return nil }
        var fused = [Int: Float]()
        for (p, score) in allScores.enumerated() { fused[Int(allPairs[2 * p]) * n + Int(allPairs[2 * p + 1])] = score }
        func score(_ g: Int, _ h: Int) throws -> Float {
            guard let value = fused[g * n + h] else {
                throw TrainingError("retrieval re-ranking: no fused score for image \(g) and caption \(h)")
            }
            return value
        }
        return RescoredCandidates(rows: rows, rowScores: try rows.enumerated().map { g, hs in try hs.map { try score(g, $0) } },
                                  columns: columns,
                                  columnScores: try columns.enumerated().map { h, gs in try gs.map { try score($0, h) } })
    }
}
