import CLIP
import Numerics
import Prompting

/// The forward and backward of one rank's share of a step of a `CoupledStepMethod` (LPI-P), whose text embeddings
/// depend on the image they are scored against, and its evaluation's class scores. Texts go through the towers in
/// chunks of `towers.capacity` (the local batch); the towers keep one chunk's activations, so the backward runs every
/// chunk's forward again but the last's (as `ClassTextEncoder`).
///
/// Contrastive, over a global batch of N pairs of which this rank holds n (the N captions gathered by the caller, in
/// rank order):
/// ```
/// image = towers.forwardImages(pixels)                                   (n, E), stage A
/// texts[i][j] = towers.forwardTexts(caption j | image i)                 (n, N, E): n N conditioned captions here
/// loss = w ConditionedContrastiveObjective(image, texts)                 N x N logits gathered: the global loss
/// (i, chunk) in reverse: towers.backwardTexts(w dtexts[i][chunk]);  towers.backwardImages(w dimage)
/// ```
/// Every rank back-propagates the rows of its own images; the pairs (image i, any caption) are this rank's alone, so
/// the ranks' gradients sum to the global batch's.
///
/// Text classifier, over the C class texts (n C conditioned texts here; the loss is this rank's share):
/// ```
/// for image i:  T_i (C, E) = towers.forwardTexts(class texts | image i)
///               loss_i, dimage_i, dT_i = TextClassifierObjective(image_i; rows T_i, target y_i, 1 / N of the batch)
///               chunks in reverse: towers.backwardTexts(dT_i[chunk])
/// towers.backwardImages(dimage)
/// ```
final class CoupledStep {
    let towers: any CoupledTowers
    let width: Int
    /// The contrastive objective over the global batch (loss.kind = "contrastive"), nil for the classifier.
    let contrastive: ConditionedContrastiveObjective?
    private let texts: UnsafeMutablePointer<Float>
    private let textCapacity: Int
    private let dImage: UnsafeMutablePointer<Float>
    private let classRows: UnsafeMutablePointer<Float>
    private let classCapacity: Int

    /// Room for the towers' batch of images, `captions` texts per image for the contrastive objective (the global
    /// batch; 0 without one) and `classes` class texts.
    init(towers: any CoupledTowers, width: Int, contrastive: ConditionedContrastiveObjective?, captions: Int, classes: Int) {
        self.towers = towers
        self.width = width
        self.contrastive = contrastive
        textCapacity = towers.capacity * captions * width
        classCapacity = classes * width
        texts = .allocate(capacity: max(textCapacity, 1))
        dImage = .allocate(capacity: towers.capacity * width)
        classRows = .allocate(capacity: max(classCapacity, 1))
    }

    deinit {
        texts.deallocate()
        dImage.deallocate()
        classRows.deallocate()
    }

    /// Chunks of at most the towers' capacity over `count` texts.
    private func chunks(_ count: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: towers.capacity).map { $0..<min($0 + towers.capacity, count) }
    }

    /// The embeddings (count, E) of `ids` (count, context) conditioned on image `image`, written to `into`.
    private func conditioned(_ ids: UnsafePointer<Int32>, count: Int, context: Int, image: Int,
                             into rows: UnsafeMutablePointer<Float>) {
        for chunk in chunks(count) {
            let output = towers.forwardTexts(ids: ids + chunk.lowerBound * context, count: chunk.count, image: image)
            (rows + chunk.lowerBound * width).update(from: output, count: chunk.count * width)
        }
    }

    /// Back-propagates dtexts (count, E) of `conditioned(ids, image)` (its activations last in the towers when
    /// `lastForward`; run again otherwise) into the towers.
    private func backwardConditioned(_ dTexts: UnsafePointer<Float>, ids: UnsafePointer<Int32>, count: Int, context: Int,
                                     image: Int, lastForward: Bool, gradients: ParameterBuffer) {
        let all = chunks(count)
        for (k, chunk) in all.enumerated().reversed() {
            if !(lastForward && k == all.count - 1) {
                towers.forwardTexts(ids: ids + chunk.lowerBound * context, count: chunk.count, image: image)
            }
            towers.backwardTexts(dEmbeds: dTexts + chunk.lowerBound * width, gradients: gradients)
        }
    }

    /// The contrastive step: the global loss (times `weight`), its gradient for this rank's images accumulated into
    /// `gradients`. `ids` (captions, context) are every rank's captions in rank order; this rank's images are
    /// `tasks.count` of them.
    func contrastive(pixels: UnsafePointer<Float>, tasks: [Int], ids: UnsafePointer<Int32>, captions: Int, context: Int,
                     values: ParameterBuffer, gradients: ParameterBuffer, weight: Float, logScale: Float) -> Float {
        guard let objective = contrastive else { preconditionFailure("a contrastive step without its objective") }
        let n = tasks.count
        precondition(n * captions * width <= textCapacity, "\(n) images x \(captions) captions exceed the planned room")
        let image = towers.forwardImages(pixels: pixels, tasks: tasks, values: values)
        let block = captions * width
        for i in 0..<n { conditioned(ids, count: captions, context: context, image: i, into: texts + i * block) }
        let loss = weight * objective.forward(image: image, texts: texts, count: n, captions: captions, logScale: logScale)
        let backward = objective.backward(dLoss: weight)
        dImage.update(from: backward.dImage, count: n * width)
        for i in (0..<n).reversed() {
            backwardConditioned(backward.dTexts + i * block, ids: ids, count: captions, context: context, image: i,
                                lastForward: i == n - 1, gradients: gradients)
        }
        towers.backwardImages(dEmbeds: dImage, values: values, gradients: gradients)
        return loss
    }

    /// The text-classifier step: this rank's share of the loss (times `weight`) over `globalCount` samples, its
    /// gradient accumulated into `gradients`. `classIDs` (classes, context) are the class texts in column order,
    /// `targets` each image's column.
    func classifier(_ classifier: TextClassifierObjective, pixels: UnsafePointer<Float>, tasks: [Int],
                    classIDs: UnsafePointer<Int32>, classes: Int, context: Int, targets: [Int32], globalCount: Int,
                    values: ParameterBuffer, gradients: ParameterBuffer, weight: Float, logScale: Float) -> Float {
        let n = tasks.count
        precondition(targets.count == n && classes * width <= classCapacity, "\(targets.count) targets for \(n) images, \(classes) classes")
        let image = towers.forwardImages(pixels: pixels, tasks: tasks, values: values)
        var loss: Float = 0
        for i in 0..<n {
            conditioned(classIDs, count: classes, context: context, image: i, into: classRows)
            classifier.setClasses(textEmbeddings: classRows, count: classes)
            let result = classifier.forwardBackward(image: image + i * width, targets: [targets[i]], count: 1,
                                                    globalCount: globalCount, logScale: logScale, weight: weight,
                                                    classGradients: true)
            loss += result.loss
            (dImage + i * width).update(from: result.dImage, count: width)
            guard let dClassTexts = result.dClassTexts else { preconditionFailure("the classifier gave no class gradient") }
            backwardConditioned(dClassTexts, ids: classIDs, count: classes, context: context, image: i, lastForward: true,
                                gradients: gradients)
        }
        towers.backwardImages(dEmbeds: dImage, values: values, gradients: gradients)
        return loss
    }

    /// Evaluation: the cosine scores (n, classes) of each image of `pixels` against the class texts conditioned on
    /// it, image b through the prompts and couplings of task `tasks[b]`.
    func classScores(pixels: UnsafePointer<Float>, tasks: [Int], classIDs: UnsafePointer<Int32>, classes: Int,
                     context: Int, values: ParameterBuffer) -> [Float] {
        let n = tasks.count
        precondition(classes * width <= classCapacity, "\(classes) classes exceed the planned \(classCapacity / width)")
        var images = Array(UnsafeBufferPointer(start: towers.forwardImages(pixels: pixels, tasks: tasks, values: values),
                                               count: n * width))
        TaskKeys.normalizeRows(&images, width: width)
        var scores = [Float](repeating: 0, count: n * classes)
        for b in 0..<n {
            conditioned(classIDs, count: classes, context: context, image: b, into: classRows)
            TaskKeys.normalizeRows(classRows, count: classes, width: width)
            for k in 0..<classes {
                var dot: Float = 0
                for e in 0..<width { dot += images[b * width + e] * classRows[k * width + e] }
                scores[b * classes + k] = dot
            }
        }
        return scores
    }
}
