import Foundation
import Numerics

/// CLIP's training objective on the two towers' embeddings, planned once for a batch capacity.
///
/// ```
/// i = image_embeds / ||image_embeds||,  t = text_embeds / ||text_embeds||      (N, E)
/// loss = (CE(s i t^T, 0..<N) + CE(s t i^T, 0..<N)) / 2,  s = exp(logit_scale)
/// ```
/// `backward` gives dloss/dimage_embeds and dloss/dtext_embeds (overwritten) and dloss/dlogit_scale.
public final class ContrastiveObjective {
    public let capacity: Int
    public let width: Int
    private let arena: Arena
    private let imageNormalized, textNormalized, imageNorms, textNorms, dImageNormalized, dTextNormalized,
                dImage, dText: ArenaSlice
    private let workspace: ContrastiveLoss.Workspace
    private var count = 0
    private var logScale: Float = 0

    public init(capacity: Int, width: Int) {
        self.capacity = capacity
        self.width = width
        var plan = ArenaPlan()
        imageNormalized = plan.reserve(capacity * width)
        textNormalized = plan.reserve(capacity * width)
        imageNorms = plan.reserve(capacity)
        textNorms = plan.reserve(capacity)
        dImageNormalized = plan.reserve(capacity * width)
        dTextNormalized = plan.reserve(capacity * width)
        dImage = plan.reserve(capacity * width)
        dText = plan.reserve(capacity * width)
        arena = Arena(plan)
        workspace = ContrastiveLoss.Workspace(capacity: capacity)
    }

    deinit { workspace.deallocate() }

    /// The loss for `count` pairs (row n of each is a matching pair).
    public func forward(image: UnsafePointer<Float>, text: UnsafePointer<Float>, count: Int, logScale: Float) -> Float {
        precondition(count <= capacity, "contrastive batch \(count) exceeds capacity \(capacity)")
        self.count = count
        self.logScale = logScale
        L2Normalize.forward(y: arena[imageNormalized], norms: arena[imageNorms], x: image, rows: count, columns: width)
        L2Normalize.forward(y: arena[textNormalized], norms: arena[textNorms], x: text, rows: count, columns: width)
        return ContrastiveLoss.forward(workspace: workspace, image: arena[imageNormalized], text: arena[textNormalized],
                                       count: count, width: width, logScale: logScale)
    }

    /// Gradients of the last forward's loss (times `dLoss`); pointers stay valid until the next backward.
    public func backward(dLoss: Float = 1) -> (dImage: UnsafePointer<Float>, dText: UnsafePointer<Float>, dLogScale: Float) {
        let n = count * width
        arena[dImageNormalized].update(repeating: 0, count: n)
        arena[dTextNormalized].update(repeating: 0, count: n)
        let dLogScale = ContrastiveLoss.backward(workspace: workspace, dImage: arena[dImageNormalized],
                                                 dText: arena[dTextNormalized], image: arena[imageNormalized],
                                                 text: arena[textNormalized], count: count, width: width,
                                                 logScale: logScale, dLoss: dLoss)
        arena[dImage].update(repeating: 0, count: n)
        arena[dText].update(repeating: 0, count: n)
        L2Normalize.backward(dx: arena[dImage], dy: arena[dImageNormalized], y: arena[imageNormalized],
                             norms: arena[imageNorms], rows: count, columns: width)
        L2Normalize.backward(dx: arena[dText], dy: arena[dTextNormalized], y: arena[textNormalized],
                             norms: arena[textNorms], rows: count, columns: width)
        return (UnsafePointer(arena[dImage]), UnsafePointer(arena[dText]), dLogScale)
    }
}
