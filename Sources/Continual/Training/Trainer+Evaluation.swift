import CLIP
import Distributed
import Foundation
import Numerics
import Prompting

extension Trainer {
    /// The evaluation after training `task`, over the test samples of tasks 0...task (DESIGN.md, "Continual
    /// runtime"), on every rank; the record is rank 0's (nil on the others).
    /// ```
    /// samples   = test indices of task 0, then task 1, ..., then task `task`      (N in all)
    /// rank r    encodes positions r, r + P, ... in batches of the local batch:
    ///   prompt task k_n = TaskKeys.predict(frozen features of sample n)   per-task methods (images and captions
    ///                                                                     each by their own keys)
    ///                   = task                                           the others (shared prompts)
    ///   image_n = norm(vision(pixels_n; prompts of k_n)),  caption_n = norm(text(ids_n; prompts of its k))
    /// classification: class_c^k = norm(text(template(c); prompts of k))  for each seen class c and prompt task k
    ///   prediction_n = argmax_c image_n . class_c^{k_n}   (linear-head: argmax_c image_n W_c^T + b_c)
    ///   counts of right predictions per task, summed over the ranks
    /// retrieval: every caption of every image (COCO: 5 per image) encoded where its image is; rows gathered on
    ///   rank 0: S = images . captions^T, RetrievalRecall per query task in both directions (an image's own
    ///   captions are its ground truth; a caption's image is its)
    /// ```
    /// Task identity is per sample, never a vote over the batch. A `CoupledStepMethod` (LPI-P) scores a text against an
    /// image with the text conditioned on it (`Trainer+CoupledEvaluation`): classification runs the class texts through
    /// each image's fused prompts; retrieval ranks with the unfused features and re-scores each query's
    /// `evaluation.rerank_top_k` best candidates.
    func evaluate(after task: Int) throws -> EvaluationRecord? {
        let started = DispatchTime.now().uptimeNanoseconds
        let kind = config.evaluation.resolvedKind(for: config.data.dataset)
        let seen = (0...task).map { split.indices(ofTask: $0, in: testDataset) }
        let owners = seen.enumerated().flatMap { j, indices in [Int](repeating: j, count: indices.count) }
        let samples = seen.flatMap { $0 }
        let positions = Array(stride(from: group.rank, to: samples.count, by: group.size))
        let width = model.config.projectionDim

        var images = [Float](repeating: 0, count: positions.count * width)
        var imageTasks = [Int](repeating: task, count: positions.count)
        let classes = Array(split.classesSeen(upTo: task))
        var coupledScores: [Float] = []
        if coupled != nil && kind == .classification { classTexts.setTexts(classes.map(classText)) }
        for start in stride(from: 0, to: positions.count, by: localBatch) {
            let chunk = positions[start..<min(start + localBatch, positions.count)].map { samples[$0] }
            let tasks: [Int]
            if let coupled {
                tasks = predictImageTasks(chunk)
                if kind == .classification {
                    coupledScores += coupled.classScores(pixels: testLoader.pixels, tasks: tasks,
                                                         classIDs: classTexts.tokenIDs, classes: classes.count,
                                                         context: model.config.text.contextLength,
                                                         values: parameters.values)
                } else {
                    let image = coupled.towers.forwardImages(pixels: testLoader.pixels, tasks: tasks, values: parameters.values)
                    images.withUnsafeMutableBufferPointer {
                        ($0.baseAddress! + start * width).update(from: image, count: chunk.count * width)
                    }
                }
            } else {
                tasks = encodeImages(chunk, task: task, into: &images, row: start)
            }
            imageTasks.replaceSubrange(start..<(start + chunk.count), with: tasks)
        }

        var scores = (0...task).map { j in TaskScores(task: j, samples: seen[j].count) }
        if method.selectsByTask {
            var hits = [Int64](repeating: 0, count: task + 1)
            for (row, position) in positions.enumerated() where imageTasks[row] == owners[position] {
                hits[owners[position]] += 1
            }
            group.allreduceSum(&hits)
            for j in 0...task { scores[j].taskIdentity = percent(hits[j], of: seen[j].count) }
        }

        var normalised = images
        TaskKeys.normalizeRows(&normalised, width: width)
        switch kind {
        case .classification:
            let logits = coupled != nil ? coupledScores
                : try classLogits(images: images, normalised: normalised, imageTasks: imageTasks, classes: classes, task: task)
            let right = countRight(logits: logits, classes: classes, positions: positions, samples: samples, owners: owners,
                                   task: task)
            for j in 0...task { scores[j].accuracy = percent(right[j], of: seen[j].count) }
        case .retrieval:
            // Every caption of every local test image (COCO: 5 each), with its image's position.
            let texts = positions.map { testDataset.captions(at: samples[$0]) }
            let captionPositions = zip(positions, texts).flatMap { position, captions in
                [Int64](repeating: Int64(position), count: captions.count)
            }
            let flat = texts.flatMap { $0 }
            var captions = [Float](repeating: 0, count: flat.count * width)
            for start in stride(from: 0, to: flat.count, by: localBatch) {
                encodeCaptions(Array(flat[start..<min(start + localBatch, flat.count)]), task: task, into: &captions,
                               row: start)
            }
            let recalls = try retrieve(images: normalised, imageTasks: imageTasks, captions: captions,
                                       captionPositions: captionPositions, positions: positions, samples: samples,
                                       owners: owners, task: task)
            for j in 0...task { (scores[j].imageToText, scores[j].textToImage) = recalls[j] }
        case .auto, .none:
            preconditionFailure("evaluation.kind \(kind) reached evaluate")
        }
        guard group.isRoot else { return nil }
        return EvaluationRecord(task: task, kind: kind == .retrieval ? .retrieval : .classification, tasks: scores,
                                seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }

    /// Loads the pixels of `indices` (test samples) and returns each one's task as its frozen features predict it
    /// (a coupled method's prompts and maps are per task).
    private func predictImageTasks(_ indices: [Int]) -> [Int] {
        testLoader.loadPixels(indices)
        guard let keys = taskKeys else { preconditionFailure("method \(method.name) predicts tasks but has no task keys") }
        return keys.image.predict(features: frozenImageEmbeddings(pixels: testLoader.pixels, count: indices.count),
                                  count: indices.count)
    }

    /// Writes the prompted image embeddings of `indices` (test samples) into `rows` from row `row` on, not
    /// normalised (the linear head reads them as trained); returns each sample's prompt task.
    private func encodeImages(_ indices: [Int], task: Int, into rows: inout [Float], row: Int) -> [Int] {
        let n = indices.count, width = model.config.projectionDim
        testLoader.loadPixels(indices)
        var tasks = [Int](repeating: task, count: n)
        var queries: UnsafePointer<Float>?
        if method.needsImageQueries || method.selectsByTask {
            let frozen = frozenImageEmbeddings(pixels: testLoader.pixels, count: n)
            if method.selectsByTask, let keys = taskKeys { tasks = keys.image.predict(features: frozen, count: n) }
            if method.needsImageQueries { queries = frozen }
        }
        method.prepare(values: parameters.values, batch: PromptBatch(count: n, tasks: tasks, imageQueries: queries))
        let image = vision.forward(pixels: testLoader.pixels, prompts: method.visionPrompts(parameters.values), batch: n)
        rows.withUnsafeMutableBufferPointer {
            let destination = $0.baseAddress! + row * width
            destination.update(from: image, count: n * width)
        }
        return tasks
    }

    /// Writes the L2-normalised prompted embeddings of `captions` into `rows` from row `row` on.
    private func encodeCaptions(_ captions: [String], task: Int, into rows: inout [Float], row: Int) {
        let n = captions.count, width = model.config.projectionDim
        testLoader.loadTexts(captions)
        var tasks = [Int](repeating: task, count: n)
        if method.selectsByTask, let keys = taskKeys, let frozenText {
            tasks = keys.text.predict(features: frozenText.forward(ids: testLoader.ids, prompts: [], batch: n), count: n)
        }
        if !method.textPlan.sites.isEmpty {
            method.prepare(values: parameters.values, batch: PromptBatch(count: n, tasks: tasks))
        }
        let text = text.forward(ids: testLoader.ids, prompts: method.textPrompts(parameters.values), batch: n)
        rows.withUnsafeMutableBufferPointer {
            let destination = $0.baseAddress! + row * width
            destination.update(from: text, count: n * width)
            TaskKeys.normalizeRows(destination, count: n, width: width)
        }
    }

    /// The class scores (rows, classes) of this rank's test images against `classes`; `images` raw (the linear
    /// head's input), `normalised` L2-normalised (cosine against the class texts).
    private func classLogits(images: [Float], normalised: [Float], imageTasks: [Int], classes: [Int],
                             task: Int) throws -> [Float] {
        let width = model.config.projectionDim, count = imageTasks.count
        let logits: [Float]
        if case .linearHead(let head) = objective {
            logits = images.withUnsafeBufferPointer {
                head.logits(image: $0.baseAddress!, count: count, columns: classes, values: parameters.values)
            }
        } else {
            // Each prompt task's class embeddings (only the current task's when prompts are shared).
            let promptTasks = method.selectsByTask ? Array(0...task) : [task]
            var embeddings = [Int: [Float]]()
            for k in promptTasks {
                var rows = try classTextEmbeddings(classes, promptTask: k)
                TaskKeys.normalizeRows(&rows, width: width)
                embeddings[k] = rows
            }
            var all = [Float](repeating: 0, count: count * classes.count)
            for row in 0..<count {
                let classEmbeddings = embeddings[imageTasks[row]] ?? embeddings[task]!
                for k in 0..<classes.count {
                    var dot: Float = 0
                    for e in 0..<width { dot += normalised[row * width + e] * classEmbeddings[k * width + e] }
                    all[row * classes.count + k] = dot
                }
            }
            logits = all
        }
        return logits
    }

    /// Right class-incremental predictions (argmax of `logits`, (rows, classes)) per seen task, summed over the ranks.
    private func countRight(logits: [Float], classes: [Int], positions: [Int], samples: [Int], owners: [Int],
                            task: Int) -> [Int64] {
        var column = [Int: Int]()
        for (k, c) in classes.enumerated() { column[c] = k }
        var right = [Int64](repeating: 0, count: task + 1)
        for (row, position) in positions.enumerated() {
            let base = row * classes.count
            var predicted = 0  // the first of equal maxima
            for k in 1..<classes.count where logits[base + k] > logits[base + predicted] { predicted = k }
            if predicted == column[testDataset.label(at: samples[position])] {
                right[owners[position]] += 1
            }
        }
        group.allreduceSum(&right)
        return right
    }

    /// Each seen task's recall in both directions, computed on rank 0 from the rows every rank sends it (empty
    /// recalls on the others):
    /// ```
    /// images (n, E) in rank order, captions (m, E) in rank order, caption c belonging to image image(c)
    /// S = images . captions^T                                           (n, m)
    /// image -> text: query i ranks the m captions, relevant {c : image(c) = i} (its best one counts)
    /// text -> image: query c ranks the n images, relevant {image(c)}
    /// per seen task j: the images of task j as queries, and the captions of task j's images
    /// ```
    /// A coupled method's best candidates of each query are re-scored with fusion (`rescoreCandidates`, every rank
    /// taking part; `RetrievalRecall.rerankedRanks`).
    private func retrieve(images: [Float], imageTasks: [Int], captions: [Float], captionPositions: [Int64],
                          positions: [Int], samples: [Int], owners: [Int], task: Int) throws -> [(RecallAtK?, RecallAtK?)] {
        let width = model.config.projectionDim
        let gatheredImages = group.gatherv(images), gatheredCaptions = group.gatherv(captions)
        let gatheredPositions = group.gatherv(captionPositions)
        guard let gatheredImages, let gatheredCaptions, let gatheredPositions else {
            if let coupled {
                _ = try rescoreCandidates(coupled, similarity: nil, images: images, imageTasks: imageTasks,
                                          positions: positions, samples: samples, owners: owners)
            }
            return Array(repeating: (nil, nil), count: task + 1)
        }
        // Image rows arrive in rank order: rank 0's positions, then rank 1's, ...
        let order = (0..<group.size).flatMap { r in Array(stride(from: r, to: owners.count, by: group.size)) }
        var imageRow = [Int](repeating: 0, count: owners.count)
        for (row, position) in order.enumerated() { imageRow[position] = row }
        let captionImages = gatheredPositions.map { imageRow[Int($0)] }
        let (n, m) = (order.count, captionImages.count)
        var similarity = [Float](repeating: 0, count: n * m)
        gatheredImages.withUnsafeBufferPointer { a in
            gatheredCaptions.withUnsafeBufferPointer { b in
                similarity.withUnsafeMutableBufferPointer { c in
                    Gemm.multiply(transposeA: false, transposeB: true, m: n, n: m, k: width, a: a.baseAddress!,
                                  lda: width, b: b.baseAddress!, ldb: width, beta: 0, c: c.baseAddress!, ldc: m)
                }
            }
        }
        let relevant = try RetrievalRecall.captionsOfImages(captionImages: captionImages, imageCount: n)
        let imageRanks, textRanks: [Int]
        if let coupled {
            guard let rescored = try rescoreCandidates(coupled, similarity: similarity, images: images,
                                                       imageTasks: imageTasks, positions: positions, samples: samples,
                                                       owners: owners) else {
                preconditionFailure("rank 0 receives the re-scored candidates")
            }
            imageRanks = try RetrievalRecall.rerankedRanks(similarity: similarity, rows: n, columns: m, queries: .rows,
                                                           candidates: rescored.rows, scores: rescored.rowScores,
                                                           relevant: relevant)
            textRanks = try RetrievalRecall.rerankedRanks(similarity: similarity, rows: n, columns: m, queries: .columns,
                                                          candidates: rescored.columns, scores: rescored.columnScores,
                                                          relevant: captionImages.map { [$0] })
        } else {
            imageRanks = try RetrievalRecall.bestRanks(similarity: similarity, rows: n, columns: m, queries: .rows,
                                                       relevant: relevant)
            textRanks = try RetrievalRecall.bestRanks(similarity: similarity, rows: n, columns: m, queries: .columns,
                                                      relevant: captionImages.map { [$0] })
        }
        return try (0...task).map { j in
            let imageQueries = (0..<n).filter { owners[order[$0]] == j }
            let captionQueries = (0..<m).filter { owners[order[captionImages[$0]]] == j }
            return (try RetrievalRecall.recall(ranks: imageRanks, of: imageQueries),
                    try RetrievalRecall.recall(ranks: textRanks, of: captionQueries))
        }
    }

    private func percent(_ count: Int64, of total: Int) -> Double {
        total == 0 ? 0 : 100 * Double(count) / Double(total)
    }
}
