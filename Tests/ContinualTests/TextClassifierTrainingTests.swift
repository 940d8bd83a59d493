import XCTest
import CLIP
@testable import Continual
import Distributed
import Numerics
import Prompting
import TestSupport

/// `loss.kind = "text-classifier"` with text-prompted methods: the class texts run through the text tower with
/// the method's text prompts every step, and the gradient reaches those prompts. The step's gradient against
/// central differences of its loss (24 classes in chunks of the local batch of 8, so the chunked backward with
/// recomputation is the one checked), the objective's weight, the classifier against the evaluation's class
/// embeddings, and text prompts that move only because of the text tower's backward.
final class TextClassifierTrainingTests: XCTestCase {
    /// A tiny random CLIP (vision 32 wide, text 16 wide, 2 layers each), 2 tasks of 24 synthetic classes, a
    /// global batch of 8 (one rank: 8 local samples, so 24 class texts make 3 chunks).
    private func config(method: String, overrides: [String] = []) throws -> TrainingConfig {
        try ConfigLoader.load(toml: """
            seed = 7
            [model.random]
            image_size = 16
            patch_size = 8
            vision_width = 32
            vision_layers = 2
            vision_heads = 2
            text_width = 16
            text_layers = 2
            text_heads = 2
            projection_dim = 16
            [data]
            samples = 192
            [tasks]
            count = 2
            epochs = 1
            [method]
            name = "\(method)"
            [method.sprompts]
            vision_tokens = 2
            text_tokens = 3
            [method.maple]
            tokens = 2
            depth = 2
            [method.lpi]
            depth = 2
            tokens = 2
            rank = 2
            [method.task_identity]
            centroids = 2
            [loss]
            kind = "text-classifier"
            [evaluation]
            kind = "none"
            [train]
            global_batch = 8
            [optimizer]
            lr = 0.05
            """, source: "text-classifier-test.toml", overrides: overrides)
    }

    /// The first 8 training samples of `task` with the classes in play, the classifier readied for the task.
    private func batch(_ trainer: Trainer, task: Int) throws -> (local: [Int], classes: [Int]) {
        let classes = trainer.classesInPlay(task: task)
        try trainer.beginClassifier(task: task, classes: classes)
        let local = Array(trainer.split.indices(ofTask: task, in: trainer.dataset).prefix(trainer.localBatch))
        XCTAssertEqual(local.count, 8, "a full local batch")
        return (local, classes)
    }

    /// The step's loss before the all-reduce (one rank: the whole batch's), accumulated in Double.
    private func stepLoss(_ trainer: Trainer, task: Int, local: [Int], classes: [Int]) throws -> Double {
        let shares = try trainer.localGradients(task: task, local: local, globalCount: local.count, classes: classes)
        return Double(shares.objective) + Double(shares.samples)
    }

    /// The derivative at 0 of `f` by the six-point central stencil (exact to O(h^6)):
    /// `f'(0) = [45 (f(h) - f(-h)) - 9 (f(2h) - f(-2h)) + (f(3h) - f(-3h))] / (60 h)`.
    private func sixPointDerivative(step h: Double, _ f: (Double) -> Double) -> Double {
        let d1 = f(h) - f(-h), d2 = f(2 * h) - f(-2 * h), d3 = f(3 * h) - f(-3 * h)
        return (45 * d1 - 9 * d2 + d3) / (60 * h)
    }

    /// Checks the step's gradient g of each of `tensors` against central differences of the step's loss written
    /// out in Double (`referenceLoss`, equal to the step's own Float loss: `testTrainingClassifierIsTheEvaluationsClassifier`).
    /// The values are first redrawn from N(0, 0.5^2): at the random model's scale (N(0, 0.02^2)) LayerNorm is too
    /// curved for steps that resolve a Float loss. The loss comes out of two Float towers, so it holds rounding of
    /// about 1e-6 (its own ulp is 5e-7): per entry that is ~5e-4 of the largest entry of g at the step used here
    /// (h = 3e-2, six-point stencil), so the 1e-3 check is on directional derivatives, where the whole g is the
    /// signal: along g itself and along two random directions u, |D_u L - g . u| / ||g|| < 1e-3 (an error
    /// e in g shows as e . u). Every entry is also checked, max-normalised, against 3e-3.
    private func assertGradients(_ trainer: Trainer, task: Int, tensors: [String],
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let (local, classes) = try batch(trainer, task: task)
        XCTAssertGreaterThan(classes.count, trainer.localBatch, "more class texts than one chunk", file: file, line: line)
        let values = trainer.parameters.values
        for (k, name) in tensors.enumerated() {
            let count = values.values(name).count
            values[name].update(from: randomNormal(count, seed: 40 + UInt64(k), std: 0.5), count: count)
        }
        _ = try stepLoss(trainer, task: task, local: local, classes: classes)
        let analytic = tensors.map { trainer.parameters.gradients.values($0) }
        let h = 3e-2
        for (k, (name, gradient)) in zip(tensors, analytic).enumerated() {
            let original = values.values(name)
            func loss(_ x: [Float]) -> Double {
                values[name].update(from: x, count: x.count)
                return (try? referenceLoss(trainer, task: task, local: local, classes: classes)) ?? .nan
            }
            let g = gradient.map(Double.init)
            let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertGreaterThan(norm, 1e-3, "\(name): the step gives a gradient", file: file, line: line)
            func unit(_ v: [Double]) -> [Double] {
                let length = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                return v.map { $0 / length }
            }
            let directions = [("along g", unit(g)),
                              ("random 1", unit(randomNormal(g.count, seed: 90 + UInt64(k)).map(Double.init))),
                              ("random 2", unit(randomNormal(g.count, seed: 95 + UInt64(k)).map(Double.init)))]
            for (label, u) in directions {
                let numerical = sixPointDerivative(step: h) { t in
                    loss((0..<original.count).map { original[$0] + Float(t * u[$0]) })
                }
                let expected = zip(g, u).reduce(0) { $0 + $1.0 * $1.1 }
                let error = abs(numerical - expected) / norm
                print("text-classifier \(trainer.method.name) \(name), derivative \(label): \(numerical) against g . u "
                      + "\(expected), error \(error) of ||g|| = \(norm)")
                XCTAssertLessThan(error, 1e-3, "\(name): derivative \(label) off g . u by \(error) of ||g||",
                                  file: file, line: line)
            }
            var entries = [Double](repeating: 0, count: original.count)
            for i in 0..<original.count {
                entries[i] = sixPointDerivative(step: h) { t in
                    var x = original
                    x[i] += Float(t)
                    return loss(x)
                }
            }
            values[name].update(from: original, count: original.count)
            let error = gradientError(gradient, entries)
            print("text-classifier \(trainer.method.name) \(name), every entry: max error \(error) of max |g| "
                  + "\(entries.map(abs).max() ?? 0)")
            XCTAssertLessThan(error, 3e-3, "\(name): entries off central differences by \(error)", file: file, line: line)
        }
    }

    /// The loss of the step written out in Double: lambda_1 / n sum_i -log softmax(s norm(image_i) . norm(T_c)^T)[y_i],
    /// the images through the vision prompts of `task`, T the evaluation's class embeddings (`classTextEmbeddings`).
    private func referenceLoss(_ trainer: Trainer, task: Int, local: [Int], classes: [Int]) throws -> Double {
        let width = trainer.model.config.projectionDim, n = local.count
        let values = trainer.parameters.values
        trainer.loader.loadPixels(local)
        trainer.method.prepare(values: values, batch: PromptBatch(count: n, task: task))
        let images = Array(UnsafeBufferPointer(
            start: trainer.vision.forward(pixels: trainer.loader.pixels, prompts: trainer.method.visionPrompts(values),
                                          batch: n),
            count: n * width))
        let texts = try trainer.classTextEmbeddings(classes, promptTask: task)
        func normalised(_ rows: [Float], _ row: Int) -> [Double] {
            let v = rows[row * width..<(row + 1) * width].map(Double.init)
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / norm }
        }
        let classRows = (0..<classes.count).map { normalised(texts, $0) }
        let scale = exp(Double(trainer.model.logitScale))
        var loss = 0.0
        for (row, index) in local.enumerated() {
            let x = normalised(images, row)
            let logits = classRows.map { w in scale * zip(x, w).reduce(0) { $0 + $1.0 * $1.1 } }
            let top = logits.max()!
            let logSum = top + log(logits.reduce(0) { $0 + exp($1 - top) })
            let target = try XCTUnwrap(classes.firstIndex(of: trainer.dataset.label(at: index)), "sample \(index)'s class")
            loss += (logSum - logits[target]) / Double(n)
        }
        return Double(trainer.method.objectiveWeight) * loss
    }

    func testMaPLeTextPromptGradientMatchesFiniteDifferences() throws {
        let trainer = try Trainer(config: config(method: "maple"), group: ProcessGroup.world)
        try assertGradients(trainer, task: 0, tensors: ["maple.layer0.text", "maple.layer1.text"])
    }

    /// Task 1's tensors: the shared D1 (both towers) and the text factors (the text tower alone).
    func testLPIMGradientMatchesFiniteDifferences() throws {
        let trainer = try Trainer(config: config(method: "lpi-m"), group: ProcessGroup.world)
        try assertGradients(trainer, task: 1, tensors: ["lpi.task1.d1", "lpi.task1.text.d2", "lpi.task1.text.d3"])
    }

    /// The 24 class texts through a tower of 8 rows (3 chunks, the first two run again for the backward) give the
    /// gradient that one chunk (a tower of 24 rows) gives, on the same 8 samples.
    func testChunkedClassTextsGiveTheOneChunkGradient() throws {
        var gradients: [[Float]] = []
        for globalBatch in [8, 24] {
            let trainer = try Trainer(config: config(method: "maple", overrides: ["train.global_batch=\(globalBatch)"]),
                                      group: ProcessGroup.world)
            let classes = trainer.classesInPlay(task: 0)
            try trainer.beginClassifier(task: 0, classes: classes)
            let local = Array(trainer.split.indices(ofTask: 0, in: trainer.dataset).prefix(8))
            _ = try trainer.localGradients(task: 0, local: local, globalCount: 8, classes: classes)
            gradients.append(Array(UnsafeBufferPointer(start: trainer.parameters.gradients.storage,
                                                       count: trainer.parameters.count)))
        }
        let error = relativeError(gradients[0], gradients[1])
        print("text-classifier maple: 3 chunks against 1, gradient within \(error)")
        XCTAssertGreaterThan(gradients[1].map(abs).max() ?? 0, 0, "a gradient to compare")
        XCTAssertLessThan(error, 1e-5, "chunked class texts: gradient off the one-chunk gradient by \(error)")
    }

    /// LPI's lambda_1 (base_weight) scales the classifier's loss and gradient.
    func testObjectiveWeightScalesLossAndGradient() throws {
        var results: [(loss: Double, gradient: [Float])] = []
        for weight in ["0.8", "1"] {
            let trainer = try Trainer(config: config(method: "lpi-m", overrides: ["method.lpi.base_weight=\(weight)"]),
                                      group: ProcessGroup.world)
            let (local, classes) = try batch(trainer, task: 0)
            let loss = try stepLoss(trainer, task: 0, local: local, classes: classes)
            results.append((loss, trainer.parameters.gradients.values("lpi.task0.text.d3")))
        }
        XCTAssertEqual(results[0].loss, 0.8 * results[1].loss, accuracy: 1e-6 * results[1].loss,
                       "the loss at base_weight 0.8 is 0.8 x the loss at 1")
        XCTAssertGreaterThan(results[1].gradient.map(abs).max() ?? 0, 0, "the text factor has a gradient")
        XCTAssertLessThan(relativeError(results[0].gradient, results[1].gradient.map { 0.8 * $0 }), 1e-5,
                          "the text factor's gradient at 0.8 is 0.8 x the one at 1")
    }

    /// The loss the step trains is cross-entropy against the evaluation's class embeddings (`classTextEmbeddings`:
    /// `loss.template` through the prompts of the task), computed here in Double over the 48 classes seen.
    func testTrainingClassifierIsTheEvaluationsClassifier() throws {
        let trainer = try Trainer(config: config(method: "lpi-m", overrides: ["loss.classes=seen"]),
                                  group: ProcessGroup.world)
        let (local, classes) = try batch(trainer, task: 1)
        XCTAssertEqual(classes.count, 48, "every class seen after task 1")
        let trained = try trainer.localGradients(task: 1, local: local, globalCount: local.count, classes: classes).objective

        let reference = try referenceLoss(trainer, task: 1, local: local, classes: classes)
        XCTAssertEqual(Double(trained), reference, accuracy: 1e-5 * reference,
                       "the step's loss is lambda_1 CE against the evaluation's class embeddings")
    }

    /// Tensors that only the text tower reads (S-Prompts' text prompts; LPI-M's text factors with HPA and CPA
    /// off) move over a task: the classifier's gradient reaches them. The next task's stay as they were.
    func testTextPromptsLearnFromTheClassifier() throws {
        let cases = [("s-prompts", [String](), "sprompts.task0.text", "sprompts.task1.text"),
                     ("lpi-m", ["method.lpi.modal_weight=0", "method.lpi.task_weight=0"], "lpi.task0.text.d3",
                      "lpi.task1.text.d3")]
        for (method, overrides, trained, untouched) in cases {
            let trainer = try Trainer(config: config(method: method, overrides: overrides),
                                      group: ProcessGroup.world)
            let before = (trainer.parameters.values.values(trained), trainer.parameters.values.values(untouched))
            let (local, classes) = try batch(trainer, task: 0)
            _ = try stepLoss(trainer, task: 0, local: local, classes: classes)
            let gradient = trainer.parameters.gradients.values(trained)
            XCTAssertGreaterThan(gradient.map(abs).max() ?? 0, 1e-8, "\(method): \(trained) has a gradient")
            let observer = FirstTask()
            trainer.observer = observer
            try trainer.run()
            let moved = relativeError(observer.values.values(trained), before.0)
            XCTAssertGreaterThan(moved, 1e-3, "\(method): \(trained) moved over task 0 (relative change \(moved))")
            XCTAssertEqual(observer.values.values(untouched), before.1, "\(method): task 1's \(untouched) waits its turn")
        }
    }

    /// The class rows of each rank cover 0..<C once, in rank order, with sizes that differ by at most one, also
    /// with fewer classes than ranks (some ranks own none).
    func testClassRowsSplitEvenlyOverTheRanksInOrder() {
        for (count, ranks) in [(24, 1), (24, 2), (10, 4), (3, 4), (0, 2), (101, 3)] {
            let slices = (0..<ranks).map { ClassTextEncoder.rows(of: $0, ranks: ranks, count: count) }
            XCTAssertEqual(slices.first?.lowerBound, 0, "\(count) classes on \(ranks) ranks: rank 0 starts at 0")
            XCTAssertEqual(slices.last?.upperBound, count, "\(count) classes on \(ranks) ranks: the last rank ends at C")
            for r in 1..<ranks {
                XCTAssertEqual(slices[r].lowerBound, slices[r - 1].upperBound,
                               "\(count) classes on \(ranks) ranks: rank \(r) does not start where rank \(r - 1) ends")
            }
            let sizes = slices.map(\.count)
            XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "\(count) classes on \(ranks) ranks: sizes \(sizes)")
        }
    }

    func testLinearHeadRefusesTextPromptedMethodsAndNamesTheAlternatives() throws {
        XCTAssertThrowsError(try Trainer(config: config(method: "maple", overrides: ["loss.kind=linear-head"]),
                                         group: ProcessGroup.world)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("linear-head") && message.contains("maple")
                          && message.contains("text-classifier") && message.contains("contrastive"),
                          "the message names the loss, the method and both alternatives: \(message)")
        }
    }

    /// Keeps a copy of the trainable values at the end of task 0.
    private final class FirstTask: TrainingObserver {
        var values = ParameterBuffer(layout: ParameterLayout())
        func taskStarted(_ start: TaskStart) throws {}
        func stepFinished(_ record: StepRecord) throws {}
        func taskFinished(_ end: TaskEnd, parameters: TrainableParameters, prompts: PromptSet?) throws {
            guard end.task == 0 else { return }
            values = ParameterBuffer(layout: parameters.layout)
            values.storage.update(from: parameters.values.storage, count: parameters.count)
        }
        func nullSpaceUpdated(_ update: NullSpaceRecord, factors: [LayerNullSpaceFactors]) throws {}
        func taskKeysFitted(_ record: TaskKeysRecord, image: TaskKeys, text: TaskKeys) throws {}
        func evaluationFinished(_ record: EvaluationRecord) throws {}
    }
}
