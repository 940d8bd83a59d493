import Foundation
import Numerics

/// CLIP's contrastive objective when each caption's text embedding depends on the image it is paired with (LPI-P:
/// f_t(caption j | image i), from the fused prompt rows of image i), planned once for `capacity` pairs.
///
/// ```
/// image (N, E),  texts (N, N, E): texts[i][j] = f_t(caption j | image i)
/// i^_i = image_i / ||image_i||,   t^_ij = texts[i][j] / ||texts[i][j]||
/// logits[i][j] = s <i^_i, t^_ij>,   s = exp(logit_scale)                          (N, N): image i, caption j
/// loss = (CE(logits, 0..<N) + CE(logits^T, 0..<N)) / 2
/// ```
/// With texts[i][j] = t_j for every i this is `ContrastiveObjective`'s loss; every one of the N^2 similarities
/// needs its own text embedding, hence N^2 conditioned captions per step (`ConditionedTextTower`, which gives the cost). Single process: the
/// distributed form (each rank's images against the gathered captions) is not written yet.
/// `backward` gives dloss/dimage (N, E), dloss/dtexts (N, N, E) (overwritten) and dloss/dlogit_scale:
/// ```
/// in the forward pass this was: loss from logits = s <i^_i, t^_ij>;  G = dloss/dlogits (CrossEntropy, both directions)
/// di^_i = s sum_j G[i][j] t^_ij        dt^_ij = s G[i][j] i^_i        dloss/dlogit_scale = sum G * logits
/// then L2Normalize's backward for both
/// ```
public final class ConditionedContrastiveObjective {
    public let capacity: Int
    public let width: Int
    private let arena: Arena
    private let imageNormalized, imageNorms, textNormalized, textNorms, logits, imageProbabilities, textProbabilities,
                logitGradient, dImageNormalized, dTextNormalized, dImage, dTexts: ArenaSlice
    private let targets: [Int32]
    private var count = 0
    private var logScale: Float = 0

    public init(capacity: Int, width: Int) {
        precondition(capacity > 0 && width > 0, "conditioned contrastive objective of \(capacity) pairs, width \(width)")
        self.capacity = capacity
        self.width = width
        let (n, e) = (capacity, width)
        var plan = ArenaPlan()
        imageNormalized = plan.reserve(n * e)
        imageNorms = plan.reserve(n)
        textNormalized = plan.reserve(n * n * e)
        textNorms = plan.reserve(n * n)
        logits = plan.reserve(n * n)
        imageProbabilities = plan.reserve(n * n)
        textProbabilities = plan.reserve(n * n)
        logitGradient = plan.reserve(n * n)
        dImageNormalized = plan.reserve(n * e)
        dTextNormalized = plan.reserve(n * n * e)
        dImage = plan.reserve(n * e)
        dTexts = plan.reserve(n * n * e)
        arena = Arena(plan)
        targets = (0..<Int32(capacity)).map { $0 }
    }

    /// The loss of `count` images against their `count` captions, `texts` (count, count, E) as above.
    public func forward(image: UnsafePointer<Float>, texts: UnsafePointer<Float>, count: Int, logScale: Float) -> Float {
        precondition(count > 0 && count <= capacity, "conditioned contrastive batch \(count) of \(capacity)")
        self.count = count
        self.logScale = logScale
        let (n, e) = (count, width)
        let scale = exp(logScale)
        L2Normalize.forward(y: arena[imageNormalized], norms: arena[imageNorms], x: image, rows: n, columns: e)
        L2Normalize.forward(y: arena[textNormalized], norms: arena[textNorms], x: texts, rows: n * n, columns: e)
        let images = arena[imageNormalized], captions = arena[textNormalized], scores = arena[logits]
        for i in 0..<n {
            for j in 0..<n {
                let a = images + i * e, b = captions + (i * n + j) * e
                var dot: Float = 0
                for c in 0..<e { dot += a[c] * b[c] }
                scores[i * n + j] = scale * dot
            }
        }
        return targets.withUnsafeBufferPointer { labels in
            let imageToText = CrossEntropy.forward(probabilities: arena[imageProbabilities], logits: scores,
                                                   targets: labels.baseAddress!, rows: n, columns: n)
            let textToImage = CrossEntropy.forward(probabilities: arena[textProbabilities], logits: scores,
                                                   targets: labels.baseAddress!, rows: n, columns: n, transposed: true)
            return (imageToText + textToImage) / 2
        }
    }

    /// Gradients of the last forward's loss (times `dLoss`): dimage (N, E), dtexts (N, N, E), valid until the next
    /// backward, and dloss/dlogit_scale.
    public func backward(dLoss: Float = 1) -> (dImage: UnsafePointer<Float>, dTexts: UnsafePointer<Float>, dLogScale: Float) {
        let (n, e) = (count, width)
        let scale = exp(logScale)
        let gradient = arena[logitGradient]
        gradient.update(repeating: 0, count: n * n)
        targets.withUnsafeBufferPointer { labels in
            CrossEntropy.backward(dLogits: gradient, probabilities: arena[imageProbabilities], targets: labels.baseAddress!,
                                  rows: n, columns: n, dLoss: dLoss / 2)
            CrossEntropy.backward(dLogits: gradient, probabilities: arena[textProbabilities], targets: labels.baseAddress!,
                                  rows: n, columns: n, dLoss: dLoss / 2, transposed: true)
        }
        var dLogScale: Float = 0
        for k in 0..<n * n { dLogScale += gradient[k] * arena[logits][k] }
        let images = arena[imageNormalized], captions = arena[textNormalized]
        let dImages = arena[dImageNormalized], dCaptions = arena[dTextNormalized]
        dImages.update(repeating: 0, count: n * e)
        for i in 0..<n {
            for j in 0..<n {
                let g = scale * gradient[i * n + j]
                let a = images + i * e, b = captions + (i * n + j) * e
                let da = dImages + i * e, db = dCaptions + (i * n + j) * e
                for c in 0..<e {
                    da[c] += g * b[c]
                    db[c] = g * a[c]
                }
            }
        }
        arena[dImage].update(repeating: 0, count: n * e)
        arena[dTexts].update(repeating: 0, count: n * n * e)
        L2Normalize.backward(dx: arena[dImage], dy: dImages, y: images, norms: arena[imageNorms], rows: n, columns: e)
        L2Normalize.backward(dx: arena[dTexts], dy: dCaptions, y: captions, norms: arena[textNorms], rows: n * n, columns: e)
        return (UnsafePointer(arena[dImage]), UnsafePointer(arena[dTexts]), dLogScale)
    }
}
