import Foundation
import Numerics

/// CLIP's contrastive objective when each caption's text embedding depends on the image it is paired with (LPI-P:
/// f_t(caption j | image i), from the fused prompt rows of image i), over a global batch of N pairs of which this
/// process holds n images, planned once for `capacity` pairs in all and `localCapacity` here.
///
/// ```
/// image (n, E): this process's images,  texts (n, N, E): texts[i][j] = f_t(caption j | image i) for all N captions
/// i^_i = image_i / ||image_i||,   t^_ij = texts[i][j] / ||texts[i][j]||
/// rows[i][j] = s <i^_i, t^_ij>,   s = exp(logit_scale)                    (n, N): this process's images, every caption
/// logits (N, N) = the rows of every process, gathered in rank order (`RowGatherer`)
/// loss = (CE(logits, 0..<N) + CE(logits^T, 0..<N)) / 2                    image g and caption g are a pair
/// ```
/// The captions must be in the order the images are gathered in (rank 0's, then rank 1's, ...), so that the pairs lie
/// on the diagonal. With texts[i][j] = t_j for every i this is `ContrastiveObjective`'s loss; every one of the N^2
/// similarities needs its own text embedding, hence N^2 conditioned captions per step, N n on each process
/// (`ConditionedTextTower`, which gives the cost). Every process computes the same loss and its gradient with respect
/// to the N x N logits, and back-propagates its own rows: the processes' parameter gradients sum to the global one.
/// With `LocalRows` (the default) this is the single-process loss, n = N.
/// `backward` gives dloss/dimage (n, E), dloss/dtexts (n, N, E) (overwritten) and dloss/dlogit_scale (global: add it
/// once, not once per process):
/// ```
/// in the forward pass this was: loss from logits = s <i^_i, t^_ij>;  G = dloss/dlogits (CrossEntropy, both directions)
/// di^_i = s sum_j G[g_i][j] t^_ij     dt^_ij = s G[g_i][j] i^_i     (g_i = offset + i)     dloss/dlogit_scale = sum G * logits
/// then L2Normalize's backward for both
/// ```
public final class ConditionedContrastiveObjective {
    public let capacity: Int
    public let localCapacity: Int
    public let width: Int
    private let gatherer: RowGatherer
    private let arena: Arena
    private let imageNormalized, imageNorms, textNormalized, textNorms, localLogits, logits, imageProbabilities,
                textProbabilities, logitGradient, dImageNormalized, dTextNormalized, dImage, dTexts: ArenaSlice
    private let targets: [Int32]
    private var count = 0, total = 0, offset = 0
    private var logScale: Float = 0

    /// Room for `capacity` pairs in all and `localCapacity` (default: `capacity`) images on this process.
    public init(capacity: Int, width: Int, gatherer: RowGatherer = LocalRows(), localCapacity: Int? = nil) {
        let local = localCapacity ?? capacity
        precondition(capacity > 0 && width > 0 && local > 0 && local <= capacity,
                     "conditioned contrastive objective of \(capacity) pairs (\(local) here), width \(width)")
        self.capacity = capacity
        self.localCapacity = local
        self.width = width
        self.gatherer = gatherer
        let (n, m, e) = (local, capacity, width)
        var plan = ArenaPlan()
        imageNormalized = plan.reserve(n * e)
        imageNorms = plan.reserve(n)
        textNormalized = plan.reserve(n * m * e)
        textNorms = plan.reserve(n * m)
        localLogits = plan.reserve(n * m)
        logits = plan.reserve(m * m)
        imageProbabilities = plan.reserve(m * m)
        textProbabilities = plan.reserve(m * m)
        logitGradient = plan.reserve(m * m)
        dImageNormalized = plan.reserve(n * e)
        dTextNormalized = plan.reserve(n * m * e)
        dImage = plan.reserve(n * e)
        dTexts = plan.reserve(n * m * e)
        arena = Arena(plan)
        targets = (0..<Int32(capacity)).map { $0 }
    }

    /// The global loss of this process's `count` images against all `captions` captions (default: `count`, one
    /// process), `texts` (count, captions, E) as above; the processes' images must number `captions` in all.
    public func forward(image: UnsafePointer<Float>, texts: UnsafePointer<Float>, count: Int, captions: Int? = nil,
                        logScale: Float) -> Float {
        let m = captions ?? count
        precondition(count > 0 && count <= localCapacity && m >= count && m <= capacity,
                     "conditioned contrastive batch of \(count) images here against \(m) captions (room for \(localCapacity) and \(capacity))")
        self.count = count
        self.logScale = logScale
        let (n, e) = (count, width)
        let scale = exp(logScale)
        L2Normalize.forward(y: arena[imageNormalized], norms: arena[imageNorms], x: image, rows: n, columns: e)
        L2Normalize.forward(y: arena[textNormalized], norms: arena[textNorms], x: texts, rows: n * m, columns: e)
        let images = arena[imageNormalized], captionRows = arena[textNormalized], rows = arena[localLogits]
        for i in 0..<n {
            for j in 0..<m {
                let a = images + i * e, b = captionRows + (i * m + j) * e
                var dot: Float = 0
                for c in 0..<e { dot += a[c] * b[c] }
                rows[i * m + j] = scale * dot
            }
        }
        (offset, total) = gatherer.gatherRows(rows, count: n, width: m, into: arena[logits], capacity: capacity)
        precondition(total == m, "\(total) images in all against \(m) captions: the pairs must match")
        return targets.withUnsafeBufferPointer { labels in
            let imageToText = CrossEntropy.forward(probabilities: arena[imageProbabilities], logits: arena[logits],
                                                   targets: labels.baseAddress!, rows: m, columns: m)
            let textToImage = CrossEntropy.forward(probabilities: arena[textProbabilities], logits: arena[logits],
                                                   targets: labels.baseAddress!, rows: m, columns: m, transposed: true)
            return (imageToText + textToImage) / 2
        }
    }

    /// Gradients of the last forward's loss (times `dLoss`) for this process's images: dimage (n, E), dtexts
    /// (n, N, E), valid until the next backward, and dloss/dlogit_scale.
    public func backward(dLoss: Float = 1) -> (dImage: UnsafePointer<Float>, dTexts: UnsafePointer<Float>, dLogScale: Float) {
        let (n, m, e) = (count, total, width)
        let scale = exp(logScale)
        let gradient = arena[logitGradient]
        gradient.update(repeating: 0, count: m * m)
        targets.withUnsafeBufferPointer { labels in
            CrossEntropy.backward(dLogits: gradient, probabilities: arena[imageProbabilities], targets: labels.baseAddress!,
                                  rows: m, columns: m, dLoss: dLoss / 2)
            CrossEntropy.backward(dLogits: gradient, probabilities: arena[textProbabilities], targets: labels.baseAddress!,
                                  rows: m, columns: m, dLoss: dLoss / 2, transposed: true)
        }
        var dLogScale: Float = 0
        for k in 0..<m * m { dLogScale += gradient[k] * arena[logits][k] }
        let images = arena[imageNormalized], captions = arena[textNormalized]
        let dImages = arena[dImageNormalized], dCaptions = arena[dTextNormalized]
        dImages.update(repeating: 0, count: n * e)
        for i in 0..<n {
            for j in 0..<m {
                let g = scale * gradient[(offset + i) * m + j]
                let a = images + i * e, b = captions + (i * m + j) * e
                let da = dImages + i * e, db = dCaptions + (i * m + j) * e
                for c in 0..<e {
                    da[c] += g * b[c]
                    db[c] = g * a[c]
                }
            }
        }
        arena[dImage].update(repeating: 0, count: n * e)
        arena[dTexts].update(repeating: 0, count: n * m * e)
        L2Normalize.backward(dx: arena[dImage], dy: dImages, y: images, norms: arena[imageNorms], rows: n, columns: e)
        L2Normalize.backward(dx: arena[dTexts], dy: dCaptions, y: captions, norms: arena[textNorms], rows: n * m, columns: e)
        return (UnsafePointer(arena[dImage]), UnsafePointer(arena[dTexts]), dLogScale)
    }
}
