import Foundation
import Numerics

/// Classification by a text classifier (CLIP's zero-shot head; CoOp's and MaPLe's training loss): the classes'
/// text embeddings T_c of "a photo of a {class}", normalised, against the normalised image embeddings. The
/// rows T come from the text tower, through the method's text prompts when it has them (`ClassTextEncoder`,
/// every step, and dT goes back into those prompts), frozen otherwise (set once per task).
/// ```
/// x = image / ||image||  (n, E)      W = T / ||T||  (C, E)      s = exp(logit_scale)
/// logits = s x W^T  (n, C)           loss = w ShardedCrossEntropy(logits, targets)      w: the objective's weight
/// backward: dx = w s dlogits W   -> dimage = L2Normalize.backward(dx)                   (n, E)
///           dW = w s dlogits^T x -> dT = L2Normalize.backward(dW)     (C, E), only when the rows are trained
/// ```
/// dT is this rank's share (its rows of the global batch): back through the text tower it gives this rank's
/// share of the text prompts' gradient, and the trainer's all-reduce sums the shares.
final class TextClassifierObjective {
    let width: Int
    let capacity: Int
    let maxClasses: Int
    private var classCount = 0
    private let classWeights, classNorms, dClassWeights, dClassTexts: UnsafeMutablePointer<Float>
    private let normalized, norms, logits, dNormalized, dImage: UnsafeMutablePointer<Float>
    private let crossEntropy: ShardedCrossEntropy

    init(width: Int, capacity: Int, maxClasses: Int) {
        self.width = width
        self.capacity = capacity
        self.maxClasses = maxClasses
        classWeights = .allocate(capacity: maxClasses * width)
        classNorms = .allocate(capacity: maxClasses)
        dClassWeights = .allocate(capacity: maxClasses * width)
        dClassTexts = .allocate(capacity: maxClasses * width)
        normalized = .allocate(capacity: capacity * width)
        norms = .allocate(capacity: capacity)
        logits = .allocate(capacity: capacity * maxClasses)
        dNormalized = .allocate(capacity: capacity * width)
        dImage = .allocate(capacity: capacity * width)
        crossEntropy = ShardedCrossEntropy(rowCapacity: capacity, columnCapacity: maxClasses)
    }

    deinit {
        [classWeights, classNorms, dClassWeights, dClassTexts, normalized, norms, logits, dNormalized, dImage]
            .forEach { $0.deallocate() }
    }

    /// Sets the classifier's rows: the text embeddings T (C, E) of the classes in play, in column order.
    func setClasses(textEmbeddings: UnsafePointer<Float>, count: Int) {
        precondition(count <= maxClasses, "\(count) classes of \(maxClasses)")
        classCount = count
        L2Normalize.forward(y: classWeights, norms: classNorms, x: textEmbeddings, rows: count, columns: width)
    }

    /// This rank's share of the loss (times `weight`), dloss/dimage (n, E), and, with `classGradients`,
    /// dloss/dT (C, E) of the rows last set; both valid until the next call.
    func forwardBackward(image: UnsafePointer<Float>, targets: [Int32], count n: Int, globalCount: Int,
                         logScale: Float, weight: Float = 1, classGradients: Bool = false)
        -> (loss: Float, dImage: UnsafePointer<Float>, dClassTexts: UnsafePointer<Float>?) {
        let c = classCount, e = width, scale = exp(logScale)
        L2Normalize.forward(y: normalized, norms: norms, x: image, rows: n, columns: e)
        for row in 0..<n {
            for k in 0..<c {
                var dot: Float = 0
                for j in 0..<e { dot += normalized[row * e + j] * classWeights[k * e + j] }
                logits[row * c + k] = scale * dot
            }
        }
        let loss = weight * crossEntropy.forwardBackward(logits: logits, targets: targets, rows: n, columns: c,
                                                         globalRows: globalCount)
        // In the forward pass this was logits = s x W^T: dx[row] = w s sum_k dlogits[row, k] W[k],
        // dW[k] = w s sum_row dlogits[row, k] x[row].
        dNormalized.update(repeating: 0, count: n * e)
        if classGradients { dClassWeights.update(repeating: 0, count: c * e) }
        for row in 0..<n {
            for k in 0..<c {
                let g = weight * scale * crossEntropy.dLogits[row * c + k]
                for j in 0..<e { dNormalized[row * e + j] += g * classWeights[k * e + j] }
                if classGradients {
                    for j in 0..<e { dClassWeights[k * e + j] += g * normalized[row * e + j] }
                }
            }
        }
        dImage.update(repeating: 0, count: n * e)
        L2Normalize.backward(dx: dImage, dy: dNormalized, y: normalized, norms: norms, rows: n, columns: e)
        guard classGradients else { return (loss, UnsafePointer(dImage), nil) }
        // In the forward pass this was W = T / ||T||.
        dClassTexts.update(repeating: 0, count: c * e)
        L2Normalize.backward(dx: dClassTexts, dy: dClassWeights, y: classWeights, norms: classNorms, rows: c, columns: e)
        return (loss, UnsafePointer(dImage), UnsafePointer(dClassTexts))
    }
}
