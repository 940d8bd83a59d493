import Foundation
import Numerics

/// Classification by a frozen text classifier (CLIP's zero-shot head): the classes' text embeddings
/// T_c of "a photo of a {class}", normalised, against the normalised image embeddings.
/// ```
/// x = image / ||image||  (n, E)      W = T / ||T||  (C, E)      s = exp(logit_scale)
/// logits = s x W^T  (n, C)           loss = ShardedCrossEntropy(logits, targets)
/// backward: dx = s dlogits W;  dimage = L2Normalize.backward(dx)
/// ```
final class TextClassifierObjective {
    let width: Int
    let capacity: Int
    private let maxClasses: Int
    private var classCount = 0
    private let classWeights: UnsafeMutablePointer<Float>
    private let classNorms: UnsafeMutablePointer<Float>
    private let normalized, norms, logits, dNormalized, dImage: UnsafeMutablePointer<Float>
    private let crossEntropy: ShardedCrossEntropy

    init(width: Int, capacity: Int, maxClasses: Int) {
        self.width = width
        self.capacity = capacity
        self.maxClasses = maxClasses
        classWeights = .allocate(capacity: maxClasses * width)
        classNorms = .allocate(capacity: maxClasses)
        normalized = .allocate(capacity: capacity * width)
        norms = .allocate(capacity: capacity)
        logits = .allocate(capacity: capacity * maxClasses)
        dNormalized = .allocate(capacity: capacity * width)
        dImage = .allocate(capacity: capacity * width)
        crossEntropy = ShardedCrossEntropy(rowCapacity: capacity, columnCapacity: maxClasses)
    }

    deinit {
        [classWeights, classNorms, normalized, norms, logits, dNormalized, dImage].forEach { $0.deallocate() }
    }

    /// Sets the classifier's rows: the text embeddings (C, E) of the classes in play, in column order.
    func setClasses(textEmbeddings: [Float], count: Int) {
        precondition(count <= maxClasses && textEmbeddings.count == count * width, "\(count) classes of \(maxClasses)")
        classCount = count
        textEmbeddings.withUnsafeBufferPointer {
            L2Normalize.forward(y: classWeights, norms: classNorms, x: $0.baseAddress!, rows: count, columns: width)
        }
    }

    /// This rank's share of the loss, and dloss/dimage (n, E), valid until the next call.
    func forwardBackward(image: UnsafePointer<Float>, targets: [Int32], count n: Int, globalCount: Int,
                         logScale: Float) -> (loss: Float, dImage: UnsafePointer<Float>) {
        let c = classCount, e = width, scale = exp(logScale)
        L2Normalize.forward(y: normalized, norms: norms, x: image, rows: n, columns: e)
        for row in 0..<n {
            for k in 0..<c {
                var dot: Float = 0
                for j in 0..<e { dot += normalized[row * e + j] * classWeights[k * e + j] }
                logits[row * c + k] = scale * dot
            }
        }
        let loss = crossEntropy.forwardBackward(logits: logits, targets: targets, rows: n, columns: c,
                                                globalRows: globalCount)
        // In the forward pass this was logits = s x W^T: dx[row] = s sum_k dlogits[row, k] W[k].
        dNormalized.update(repeating: 0, count: n * e)
        for row in 0..<n {
            for k in 0..<c {
                let g = scale * crossEntropy.dLogits[row * c + k]
                for j in 0..<e { dNormalized[row * e + j] += g * classWeights[k * e + j] }
            }
        }
        dImage.update(repeating: 0, count: n * e)
        L2Normalize.backward(dx: dImage, dy: dNormalized, y: normalized, norms: norms, rows: n, columns: e)
        return (loss, UnsafePointer(dImage))
    }
}
