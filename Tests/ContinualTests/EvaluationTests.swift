import XCTest
import CLIP
@testable import Continual
import Distributed
import Numerics
import Prompting

/// The evaluation after each task (`Trainer.evaluate(after:)`) against a plain reference written here: one
/// test sample at a time through fresh towers, the method's prompts for the sample's own predicted task,
/// argmax over every seen class, and retrieval ranks counted by a loop. Batching, sharding of positions,
/// per-sample task identity, class columns and ranks must all agree exactly.
final class EvaluationTests: XCTestCase {
    private func config(method: String, overrides: [String] = []) throws -> TrainingConfig {
        try ConfigLoader.load(toml: """
            seed = 5
            [model.random]
            image_size = 16
            patch_size = 8
            vision_width = 32
            vision_layers = 2
            vision_heads = 2
            text_width = 16
            text_layers = 1
            text_heads = 2
            projection_dim = 16
            [data]
            samples = 192
            [tasks]
            count = 2
            epochs = 1
            [method]
            name = "\(method)"
            [method.l2p]
            pool_size = 4
            length = 2
            top_k = 2
            [method.task_identity]
            centroids = 2
            [evaluation]
            test_samples = 96
            [train]
            global_batch = 16
            [optimizer]
            lr = 0.05
            """, source: "evaluation-test.toml", overrides: overrides)
    }

    /// Trains `config` and returns the trainer with every evaluation record.
    private func run(_ config: TrainingConfig) throws -> (Trainer, [EvaluationRecord]) {
        let trainer = try Trainer(config: config, group: ProcessGroup.world)
        let observer = Records()
        trainer.observer = observer
        try trainer.run()
        XCTAssertEqual(observer.records.map(\.task), [0, 1], "one evaluation after each task")
        return (trainer, observer.records)
    }

    func testZeroShotClassificationMatchesOneSampleReference() throws {
        let (trainer, records) = try run(config(method: "zero-shot"))
        try assertClassification(trainer, records.last!)
    }

    func testSPromptsClassificationUsesEachSamplesPredictedTask() throws {
        let (trainer, records) = try run(config(method: "s-prompts"))
        try assertClassification(trainer, records.last!)
        XCTAssertNotNil(records.last!.tasks[0].taskIdentity, "s-prompts reports task identity")
    }

    func testL2PClassificationReadsEachSamplesQuery() throws {
        let (trainer, records) = try run(config(method: "l2p"))
        try assertClassification(trainer, records.last!)
    }

    func testLinearHeadClassificationUsesTheHead() throws {
        let (trainer, records) = try run(config(method: "vpt-seq", overrides: ["loss.kind=linear-head"]))
        try assertClassification(trainer, records.last!)
    }

    func testVPTRetrievalMatchesLoopRanks() throws {
        let (trainer, records) = try run(config(method: "vpt-seq", overrides: ["evaluation.kind=retrieval"]))
        try assertRetrieval(trainer, records.last!)
    }

    func testSPromptsRetrievalPredictsCaptionsTasksByTheirOwnKeys() throws {
        let (trainer, records) = try run(config(method: "s-prompts", overrides: ["evaluation.kind=retrieval"]))
        try assertRetrieval(trainer, records.last!)
    }

    /// LPI-P on a 2-layer text tower: D = 2, fusion before layer 1.
    private let lpip = ["model.random.text_layers=2", "method.lpi.depth=2", "method.lpi.tokens=2", "method.lpi.rank=2"]

    func testLPIPClassificationConditionsTheClassTextsOnEachImage() throws {
        let (trainer, records) = try run(config(method: "lpi-p", overrides: lpip))
        try assertCoupledClassification(trainer, records.last!)
    }

    func testLPIPRetrievalRescoresEachQuerysBestCandidates() throws {
        let (trainer, records) = try run(config(method: "lpi-p", overrides: lpip + ["evaluation.kind=retrieval",
                                                                                    "evaluation.rerank_top_k=12"]))
        try assertCoupledRetrieval(trainer, records.last!, k: 12)
    }

    func testNoEvaluationWritesNoRecords() throws {
        let trainer = try Trainer(config: config(method: "zero-shot", overrides: ["evaluation.kind=none"]),
                                  group: ProcessGroup.world)
        let observer = Records()
        trainer.observer = observer
        try trainer.run()
        XCTAssertTrue(observer.records.isEmpty, "evaluation.kind = none evaluates nothing")
    }

    // MARK: The reference

    /// One sample's prompted, L2-normalised embeddings, one at a time through towers of capacity 1.
    private final class Reference {
        let trainer: Trainer
        let task: Int
        let vision, frozenVision: VisionTower
        let text, frozenText: TextTower
        let loader: BatchLoader
        var width: Int { trainer.model.config.projectionDim }

        init(_ trainer: Trainer, task: Int) throws {
            self.trainer = trainer
            self.task = task
            vision = VisionTower(model: trainer.model, capacity: 1, plan: trainer.method.visionPlan)
            frozenVision = VisionTower(model: trainer.model, capacity: 1, plan: .none)
            text = TextTower(model: trainer.model, capacity: 1, plan: trainer.method.textPlan)
            frozenText = TextTower(model: trainer.model, capacity: 1, plan: .none)
            loader = BatchLoader(dataset: trainer.testDataset, tokenizer: try CLIPTokenizer.bundled(), capacity: 1,
                                 contextLength: trainer.model.config.text.contextLength)
        }

        /// The image embedding of test sample `index` (raw, as the linear head reads it) and its prompt task.
        func image(_ index: Int) -> (embedding: [Float], promptTask: Int) {
            loader.loadPixels([index])
            let frozen = Array(UnsafeBufferPointer(start: frozenVision.forward(pixels: loader.pixels, batch: 1),
                                                   count: width))
            let k = trainer.method.selectsByTask ? trainer.taskKeys!.image.predict(features: frozen)[0] : task
            let method = trainer.method
            frozen.withUnsafeBufferPointer { query in
                method.prepare(values: trainer.parameters.values,
                               batch: PromptBatch(count: 1, task: k,
                                                  imageQueries: method.needsImageQueries ? query.baseAddress! : nil))
            }
            let output = vision.forward(pixels: loader.pixels, prompts: method.visionPrompts(trainer.parameters.values),
                                        batch: 1)
            return (Array(UnsafeBufferPointer(start: output, count: width)), k)
        }

        /// The normalised embedding of `caption` through the text prompts of `promptTask` (nil: its own keys').
        func text(_ caption: String, promptTask: Int?) -> [Float] {
            loader.loadTexts([caption])
            var k = promptTask ?? task
            if promptTask == nil, trainer.method.selectsByTask {
                let frozen = frozenText.forward(ids: loader.ids, batch: 1)
                k = trainer.taskKeys!.text.predict(features: frozen, count: 1)[0]
            }
            if !trainer.method.textPlan.sites.isEmpty {
                trainer.method.prepare(values: trainer.parameters.values, batch: PromptBatch(count: 1, task: k))
            }
            let output = text.forward(ids: loader.ids, prompts: trainer.method.textPrompts(trainer.parameters.values),
                                      batch: 1)
            return normalised(Array(UnsafeBufferPointer(start: output, count: width)))
        }

        func normalised(_ row: [Float]) -> [Float] {
            var row = row
            TaskKeys.normalizeRows(&row, width: width)
            return row
        }
    }

    /// A coupled method's scores one image and one text at a time: stage A of the image alone (towers of capacity 1)
    /// with the task its own keys predict, then each text conditioned on it.
    private final class CoupledReference {
        let trainer: Trainer
        let towers: any CoupledTowers
        let frozenVision: VisionTower
        let loader: BatchLoader
        var width: Int { trainer.model.config.projectionDim }

        init(_ trainer: Trainer) throws {
            self.trainer = trainer
            let tokenizer = try CLIPTokenizer.bundled()
            let method = try XCTUnwrap(trainer.method as? any CoupledStepMethod, "a coupled method")
            towers = try method.makeCoupledTowers(model: trainer.model, startOfText: tokenizer.startOfText, capacity: 1)
            frozenVision = VisionTower(model: trainer.model, capacity: 1, plan: .none)
            loader = BatchLoader(dataset: trainer.testDataset, tokenizer: tokenizer, capacity: 1,
                                 contextLength: trainer.model.config.text.contextLength)
        }

        /// Test sample `index`'s normalised image embedding and its predicted task; the texts that follow are
        /// conditioned on it.
        func image(_ index: Int) -> (embedding: [Float], promptTask: Int) {
            loader.loadPixels([index])
            let frozen = Array(UnsafeBufferPointer(start: frozenVision.forward(pixels: loader.pixels, batch: 1), count: width))
            let k = trainer.taskKeys!.image.predict(features: frozen)[0]
            var image = Array(UnsafeBufferPointer(start: towers.forwardImages(pixels: loader.pixels, tasks: [k],
                                                                               values: trainer.parameters.values),
                                                  count: width))
            TaskKeys.normalizeRows(&image, width: width)
            return (image, k)
        }

        /// The normalised embedding of `text` conditioned on the last image.
        func conditioned(_ text: String) -> [Float] {
            loader.loadTexts([text])
            var row = Array(UnsafeBufferPointer(start: towers.forwardTexts(ids: loader.ids, count: 1, image: 0), count: width))
            TaskKeys.normalizeRows(&row, width: width)
            return row
        }
    }

    private func dot(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    private func assertClassification(_ trainer: Trainer, _ record: EvaluationRecord,
                                      file: StaticString = #filePath, line: UInt = #line) throws {
        let reference = try Reference(trainer, task: record.task)
        let classes = Array(trainer.split.classesSeen(upTo: record.task))
        let template = trainer.config.loss.template
        var classTexts = [Int: [[Float]]]()
        for j in 0...record.task {
            var right = 0, identity = 0
            let indices = trainer.split.indices(ofTask: j, in: trainer.testDataset)
            for index in indices {
                let (embedding, k) = reference.image(index)
                if k == j { identity += 1 }
                let logits: [Float]
                if case .linearHead = trainer.objective {
                    let weight = trainer.parameters.values.values(LinearHeadObjective.weightName)
                    let bias = trainer.parameters.values.values(LinearHeadObjective.biasName)
                    logits = classes.map { c in
                        dot(embedding, Array(weight[(c * reference.width)..<((c + 1) * reference.width)])) + bias[c]
                    }
                } else {
                    if classTexts[k] == nil {
                        classTexts[k] = classes.map { c in
                            reference.text(template.replacingOccurrences(of: "{class}",
                                                                         with: trainer.dataset.classNames[c]),
                                           promptTask: k)
                        }
                    }
                    let image = reference.normalised(embedding)
                    logits = classTexts[k]!.map { dot(image, $0) }
                }
                let predicted = logits.indices.reduce(0) { logits[$1] > logits[$0] ? $1 : $0 }
                if classes[predicted] == trainer.testDataset.label(at: index) { right += 1 }
            }
            let scores = record.tasks[j]
            XCTAssertEqual(scores.samples, indices.count, "task \(j)'s test samples", file: file, line: line)
            XCTAssertEqual(scores.accuracy!, 100 * Double(right) / Double(indices.count), accuracy: 1e-9,
                           "task \(j)'s accuracy against the one-sample reference", file: file, line: line)
            if trainer.method.selectsByTask {
                XCTAssertEqual(scores.taskIdentity!, 100 * Double(identity) / Double(indices.count), accuracy: 1e-9,
                               "task \(j)'s task identity", file: file, line: line)
            } else {
                XCTAssertNil(scores.taskIdentity, "no task identity for shared prompts", file: file, line: line)
            }
        }
    }

    private func assertRetrieval(_ trainer: Trainer, _ record: EvaluationRecord,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let reference = try Reference(trainer, task: record.task)
        let seen = (0...record.task).map { trainer.split.indices(ofTask: $0, in: trainer.testDataset) }
        let samples = seen.flatMap { $0 }
        let images = samples.map { reference.normalised(reference.image($0).embedding) }
        // Every caption of every image, each knowing its image.
        let owners = samples.indices.flatMap { i in [Int](repeating: i, count: trainer.testDataset.captions(at: samples[i]).count) }
        XCTAssertGreaterThan(owners.count, samples.count, "several captions per image", file: file, line: line)
        let captions = samples.flatMap { trainer.testDataset.captions(at: $0) }.map { reference.text($0, promptTask: nil) }
        let similarity = images.map { image in captions.map { dot(image, $0) } }
        // Pessimistic rank: 1 + the wrong gallery items scoring at least the best right one.
        func rank(_ scores: [Float], _ right: Set<Int>) -> Int {
            let best = right.map { scores[$0] }.max()!
            return 1 + scores.indices.filter { !right.contains($0) && scores[$0] >= best }.count
        }
        var start = 0
        for j in 0...record.task {
            let queries = start..<(start + seen[j].count)
            start += seen[j].count
            let imageRanks = queries.map { i in rank(similarity[i], Set(owners.indices.filter { owners[$0] == i })) }
            let textRanks = owners.indices.filter { queries.contains(owners[$0]) }.map { c in
                rank(similarity.map { $0[c] }, [owners[c]])
            }
            func recall(_ ranks: [Int], _ k: Int) -> Double {
                100 * Double(ranks.filter { $0 <= k }.count) / Double(ranks.count)
            }
            let scores = record.tasks[j]
            for (k, got, want) in [(1, scores.imageToText!.r1, recall(imageRanks, 1)),
                                   (5, scores.imageToText!.r5, recall(imageRanks, 5)),
                                   (10, scores.imageToText!.r10, recall(imageRanks, 10)),
                                   (1, scores.textToImage!.r1, recall(textRanks, 1)),
                                   (5, scores.textToImage!.r5, recall(textRanks, 5)),
                                   (10, scores.textToImage!.r10, recall(textRanks, 10))] {
                XCTAssertEqual(got, want, accuracy: 1e-9, "task \(j)'s R@\(k) against the loop's ranks",
                               file: file, line: line)
            }
        }
    }

    /// Class-incremental accuracy when each class text is conditioned on the image it scores.
    private func assertCoupledClassification(_ trainer: Trainer, _ record: EvaluationRecord,
                                             file: StaticString = #filePath, line: UInt = #line) throws {
        let reference = try CoupledReference(trainer)
        let classes = Array(trainer.split.classesSeen(upTo: record.task))
        let texts = classes.map { trainer.config.loss.template.replacingOccurrences(of: "{class}",
                                                                                    with: trainer.dataset.classNames[$0]) }
        for j in 0...record.task {
            var right = 0, identity = 0
            let indices = trainer.split.indices(ofTask: j, in: trainer.testDataset)
            for index in indices {
                let (image, k) = reference.image(index)
                if k == j { identity += 1 }
                let logits = texts.map { dot(image, reference.conditioned($0)) }
                let predicted = logits.indices.reduce(0) { logits[$1] > logits[$0] ? $1 : $0 }
                if classes[predicted] == trainer.testDataset.label(at: index) { right += 1 }
            }
            let scores = record.tasks[j]
            XCTAssertEqual(scores.accuracy!, 100 * Double(right) / Double(indices.count), accuracy: 1e-9,
                           "task \(j)'s accuracy against the one-sample reference", file: file, line: line)
            XCTAssertEqual(scores.taskIdentity!, 100 * Double(identity) / Double(indices.count), accuracy: 1e-9,
                           "task \(j)'s task identity", file: file, line: line)
        }
    }

    /// Retrieval re-ranked as `Trainer.rescoreCandidates` says, by a loop, over every caption of every image: the
    /// unfused cosine ranks the gallery, each query's k best (earlier index first on ties) are ordered by the fused
    /// score of their pair (the image's stage A, the caption conditioned on it), and the best relevant item's rank is
    /// counted pessimistically.
    private func assertCoupledRetrieval(_ trainer: Trainer, _ record: EvaluationRecord, k: Int,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        let unfused = try Reference(trainer, task: record.task), coupled = try CoupledReference(trainer)
        let seen = (0...record.task).map { trainer.split.indices(ofTask: $0, in: trainer.testDataset) }
        let samples = seen.flatMap { $0 }, n = samples.count
        let texts = samples.flatMap { trainer.testDataset.captions(at: $0) }
        let owners = samples.indices.flatMap { i in [Int](repeating: i, count: trainer.testDataset.captions(at: samples[i]).count) }
        XCTAssertGreaterThan(owners.count, n, "several captions per image", file: file, line: line)
        let images = samples.map { coupled.image($0).embedding }
        let captions = texts.map { unfused.text($0, promptTask: nil) }
        let similarity = images.map { image in captions.map { dot(image, $0) } }
        func fused(_ g: Int, _ c: Int) -> Float {
            let image = coupled.image(samples[g]).embedding
            return dot(image, coupled.conditioned(texts[c]))
        }
        func top(_ scores: [Float]) -> [Int] {
            Array(scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.prefix(k))
        }
        // A query's rank: `scores` its unfused row (or column), `right` its relevant items, `pair(x)` the fused score
        // with gallery item x.
        func rank(_ scores: [Float], _ right: Set<Int>, _ pair: (Int) -> Float) -> Int {
            let candidates = top(scores)
            if let best = candidates.filter(right.contains).map(pair).max() {
                return 1 + candidates.filter { !right.contains($0) && pair($0) >= best }.count
            }
            let best = right.map { scores[$0] }.max()!
            return candidates.count + 1
                + scores.indices.filter { !candidates.contains($0) && !right.contains($0) && scores[$0] >= best }.count
        }
        let imageRanks = (0..<n).map { g in rank(similarity[g], Set(owners.indices.filter { owners[$0] == g })) { fused(g, $0) } }
        let textRanks = owners.indices.map { c in rank(similarity.map { $0[c] }, [owners[c]]) { fused($0, c) } }
        let plainRanks = try RetrievalRecall.bestRanks(
            similarity: similarity.flatMap { $0 }, rows: n, columns: owners.count, queries: .rows,
            relevant: try RetrievalRecall.captionsOfImages(captionImages: owners, imageCount: n))
        XCTAssertNotEqual(imageRanks, plainRanks, "re-scoring changes some ranks", file: file, line: line)
        var start = 0
        for j in 0...record.task {
            let queries = start..<(start + seen[j].count)
            start += seen[j].count
            let captionQueries = owners.indices.filter { queries.contains(owners[$0]) }
            func recall(_ ranks: [Int], _ subset: [Int], _ cutoff: Int) -> Double {
                100 * Double(subset.filter { ranks[$0] <= cutoff }.count) / Double(subset.count)
            }
            let scores = record.tasks[j]
            for (cutoff, got, want) in [(1, scores.imageToText!.r1, recall(imageRanks, Array(queries), 1)),
                                        (5, scores.imageToText!.r5, recall(imageRanks, Array(queries), 5)),
                                        (10, scores.imageToText!.r10, recall(imageRanks, Array(queries), 10)),
                                        (1, scores.textToImage!.r1, recall(textRanks, captionQueries, 1)),
                                        (5, scores.textToImage!.r5, recall(textRanks, captionQueries, 5)),
                                        (10, scores.textToImage!.r10, recall(textRanks, captionQueries, 10))] {
                XCTAssertEqual(got, want, accuracy: 1e-9, "task \(j)'s re-ranked R@\(cutoff) against the loop's ranks",
                               file: file, line: line)
            }
        }
    }

    private final class Records: TrainingObserver {
        var records: [EvaluationRecord] = []
        func taskStarted(_ start: TaskStart) throws {}
        func stepFinished(_ record: StepRecord) throws {}
        func taskFinished(_ end: TaskEnd, parameters: TrainableParameters, prompts: PromptSet?) throws {}
        func nullSpaceUpdated(_ update: NullSpaceRecord, factors: [LayerNullSpaceFactors]) throws {}
        func taskKeysFitted(_ record: TaskKeysRecord, image: TaskKeys, text: TaskKeys) throws {}
        func evaluationFinished(_ record: EvaluationRecord) throws { records.append(record) }
    }
}
