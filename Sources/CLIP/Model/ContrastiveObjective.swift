import Foundation
import Numerics

/// CLIP's training objective on the two towers' embeddings over a global batch, planned once.
///
/// ```
/// i = image_embeds / ||image_embeds||,  t = text_embeds / ||text_embeds||      local rows (n_r, E)
/// I, T = the rows of every rank, gathered in rank order                          (N, E), N = sum_r n_r
/// loss = (CE(s I T^T, 0..<N) + CE(s T I^T, 0..<N)) / 2,  s = exp(logit_scale)
/// ```
/// Every rank computes the same global loss and its gradient with respect to I and T, and back-propagates
/// only its own rows: summing the ranks' parameter gradients then gives the exact global gradient
/// (DESIGN.md, "Distributed"). With `LocalRows` (the default) this is the single-process loss.
/// `backward` gives dloss/dimage_embeds and dloss/dtext_embeds of the local rows (overwritten) and
/// dloss/dlogit_scale, which is global: add it once, not once per rank.
public final class ContrastiveObjective {
    public let capacity: Int
    public let localCapacity: Int
    public let width: Int
    private let gatherer: RowGatherer
    private let arena: Arena
    private let imageNormalized, textNormalized, imageNorms, textNorms, allImages, allTexts,
                dAllImages, dAllTexts, dImage, dText: ArenaSlice
    private let workspace: ContrastiveLoss.Workspace
    private var count = 0, offset = 0, total = 0
    private var logScale: Float = 0

    /// Room for `capacity` rows in all and `localCapacity` (default: `capacity`) on this process.
    public init(capacity: Int, width: Int, gatherer: RowGatherer = LocalRows(), localCapacity: Int? = nil) {
        self.capacity = capacity
        self.localCapacity = localCapacity ?? capacity
        self.width = width
        self.gatherer = gatherer
        let local = self.localCapacity
        var plan = ArenaPlan()
        imageNormalized = plan.reserve(local * width)
        textNormalized = plan.reserve(local * width)
        imageNorms = plan.reserve(local)
        textNorms = plan.reserve(local)
        allImages = plan.reserve(capacity * width)
        allTexts = plan.reserve(capacity * width)
        dAllImages = plan.reserve(capacity * width)
        dAllTexts = plan.reserve(capacity * width)
        dImage = plan.reserve(local * width)
        dText = plan.reserve(local * width)
        arena = Arena(plan)
        workspace = ContrastiveLoss.Workspace(capacity: capacity)
    }

    deinit { workspace.deallocate() }

    /// Bytes of the normalised rows, their gradients and the loss's workspace this objective holds.
    public var workspaceBytes: Int { arena.byteCount + workspace.byteCount }

    /// The global loss, given this process's `count` pairs (row n of each is a matching pair).
    public func forward(image: UnsafePointer<Float>, text: UnsafePointer<Float>, count: Int, logScale: Float) -> Float {
        precondition(count <= localCapacity, "contrastive batch \(count) exceeds local capacity \(localCapacity)")
        self.count = count
        self.logScale = logScale
        L2Normalize.forward(y: arena[imageNormalized], norms: arena[imageNorms], x: image, rows: count, columns: width)
        L2Normalize.forward(y: arena[textNormalized], norms: arena[textNorms], x: text, rows: count, columns: width)
        (offset, total) = gatherer.gatherRows(arena[imageNormalized], count: count, width: width,
                                              into: arena[allImages], capacity: capacity)
        _ = gatherer.gatherRows(arena[textNormalized], count: count, width: width, into: arena[allTexts], capacity: capacity)
        return ContrastiveLoss.forward(workspace: workspace, image: arena[allImages], text: arena[allTexts],
                                       count: total, width: width, logScale: logScale)
    }

    /// Gradients of the last forward's loss (times `dLoss`) for the local rows; valid until the next backward.
    public func backward(dLoss: Float = 1) -> (dImage: UnsafePointer<Float>, dText: UnsafePointer<Float>, dLogScale: Float) {
        arena[dAllImages].update(repeating: 0, count: total * width)
        arena[dAllTexts].update(repeating: 0, count: total * width)
        let dLogScale = ContrastiveLoss.backward(workspace: workspace, dImage: arena[dAllImages], dText: arena[dAllTexts],
                                                 image: arena[allImages], text: arena[allTexts], count: total,
                                                 width: width, logScale: logScale, dLoss: dLoss)
        let n = count * width
        arena[dImage].update(repeating: 0, count: n)
        arena[dText].update(repeating: 0, count: n)
        L2Normalize.backward(dx: arena[dImage], dy: arena[dAllImages] + offset * width, y: arena[imageNormalized],
                             norms: arena[imageNorms], rows: count, columns: width)
        L2Normalize.backward(dx: arena[dText], dy: arena[dAllTexts] + offset * width, y: arena[textNormalized],
                             norms: arena[textNorms], rows: count, columns: width)
        return (UnsafePointer(arena[dImage]), UnsafePointer(arena[dText]), dLogScale)
    }
}
