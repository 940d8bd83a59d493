import CLIP
import Distributed
import Prompting

extension Trainer {
    /// Each query's candidates and their fused scores (`rescoreCandidates`), on rank 0.
    struct RescoredCandidates {
        /// Image -> text: image g's best captions by the unfused similarity, and the fused score of each.
        let rows: [[Int]]
        let rowScores: [[Float]]
        /// Text -> image: caption c's best images, and the fused score of each.
        let columns: [[Int]]
        let columnScores: [[Float]]
    }

    /// LPI-P's retrieval, an approximation of ours: scoring every (caption, image) pair with the caption conditioned on
    /// the image would take n m text forwards over a gallery of n images and m captions, so the gallery is ranked by
    /// the unfused features (the image from stage A, the caption through LPI-M's text prompts of its own predicted
    /// task) and only the k = `evaluation.rerank_top_k` best candidates of each query, in both directions, are scored
    /// again with fusion (`RetrievalRecall.rerankedRanks`):
    /// ```
    /// rank 0: S = images . captions^T (n x m); candidates: top k of each row (i2t) and column (t2i), broadcast
    /// fused(g, c) = norm(image g) . norm(text(caption c | image g))     a pair takes the prompts and maps of image g's
    ///                                                                   predicted task (stage A is the image's)
    /// rank r computes fused(g, c) for its own images g (stage A again for each chunk of them), for every c it needs
    /// (at most k + the captions whose candidates g is among); the scores are gathered on rank 0
    /// ```
    /// Every rank calls it; `similarity` is rank 0's (nil on the others), its rows the images in rank order, its
    /// columns their captions in the same order (`retrieve`). `images` are this rank's normalised stage-A embeddings
    /// (rows of `positions`). Returns nil on the ranks but 0.
    func rescoreCandidates(_ step: CoupledStep, similarity: [Float]?, images: [Float], imageTasks: [Int],
                           positions: [Int], samples: [Int], owners: [Int]) throws -> RescoredCandidates? {
        let width = model.config.projectionDim, k = config.evaluation.rerankTopK
        // The gallery as rank 0 gathers it, known on every rank: images in rank order, each one's captions in order.
        let order = (0..<group.size).flatMap { r in Array(stride(from: r, to: owners.count, by: group.size)) }
        let texts = order.map { testDataset.captions(at: samples[$0]) }.flatMap { $0 }
        let (n, m) = (order.count, texts.count)
        let (rowWidth, columnWidth) = (min(k, m), min(k, n))
        var rows = [Int64](repeating: 0, count: n * rowWidth), columns = [Int64](repeating: 0, count: m * columnWidth)
        if let similarity {
            rows = RetrievalRecall.topCandidates(similarity: similarity, rows: n, columns: m, queries: .rows, k: k)
                .flatMap { $0.map(Int64.init) }
            columns = RetrievalRecall.topCandidates(similarity: similarity, rows: n, columns: m, queries: .columns, k: k)
                .flatMap { $0.map(Int64.init) }
        }
        group.broadcast(&rows, root: 0)
        group.broadcast(&columns, root: 0)

        // This rank's images are the rows offset ..< offset + positions.count.
        let offset = (0..<group.rank).reduce(0) { $0 + (n - $1 + group.size - 1) / group.size }
        let local = offset..<(offset + positions.count)
        var needed = [Set<Int>](repeating: [], count: positions.count)
        for g in local { needed[g - offset].formUnion(rows[(g * rowWidth)..<((g + 1) * rowWidth)].map { Int($0) }) }
        for c in 0..<m {
            for g in columns[(c * columnWidth)..<((c + 1) * columnWidth)].map({ Int($0) }) where local.contains(g) {
                needed[g - offset].insert(c)
            }
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
                    testLoader.loadTexts(part.map { texts[$0] })
                    let text = step.towers.forwardTexts(ids: testLoader.ids, count: part.count, image: l - start)
                    var embedded = Array(UnsafeBufferPointer(start: text, count: part.count * width))
                    TaskKeys.normalizeRows(&embedded, width: width)
                    for (p, c) in part.enumerated() {
                        var dot: Float = 0
                        for e in 0..<width { dot += images[l * width + e] * embedded[p * width + e] }
                        pairs += [Int64(offset + l), Int64(c)]
                        scores.append(dot)
                    }
                }
            }
        }
        let allPairs = group.gatherv(pairs), allScores = group.gatherv(scores)
        guard let allPairs, let allScores else { return nil }
        var fused = [Int: Float]()
        for (p, score) in allScores.enumerated() { fused[Int(allPairs[2 * p]) * m + Int(allPairs[2 * p + 1])] = score }
        func score(_ g: Int, _ c: Int) throws -> Float {
            guard let value = fused[g * m + c] else {
                throw TrainingError("retrieval re-ranking: no fused score for image \(g) and caption \(c)")
            }
            return value
        }
        let rowLists = (0..<n).map { g in rows[(g * rowWidth)..<((g + 1) * rowWidth)].map { Int($0) } }
        let columnLists = (0..<m).map { c in columns[(c * columnWidth)..<((c + 1) * columnWidth)].map { Int($0) } }
        return RescoredCandidates(rows: rowLists,
                                  rowScores: try rowLists.enumerated().map { g, cs in try cs.map { try score(g, $0) } },
                                  columns: columnLists,
                                  columnScores: try columnLists.enumerated().map { c, gs in try gs.map { try score($0, c) } })
    }
}
