import CLIP
import Numerics

/// LPI-P's stage A: the vision tower and the text prefix [SOT ; prompts] run layer by layer in lock-step, with
/// cross-modal prompt fusion (`CrossModalPromptFusion`) before each prompted layer but the first. It gives the image
/// embeddings and, for every fused layer, the text prompt rows of each image; stage B (the text tower over captions,
/// with those rows as per-sample `.replace` sites) gives the text embeddings f_t(caption | image).
///
/// ```
/// vision: X^v_0 = pre_LN([CLS ; P^v_0 ; patches] + pos)          text prefix: X^t_0 = [tok(SOT) ; P^l_0] + pos
/// for l = 0 ..< N_v:
///     1 <= l < D:  (rows of X^v_l, rows of X^t_l) <- CPF_{l-1}(rows of X^v_l, rows of X^t_l)    (after the add sites)
///                  fusedText(l) = rows of X^t_l                  (B, L, d_l): stage B's `.replace` values at layer l
///     X^v_{l+1} = layer^v_l(X^v_l) [+ P^v_{l+1} on the rows, l + 1 < D]
///     l < D - 1:   X^t_{l+1} = layer^t_l(X^t_l) [+ P^l_{l+1}]     (the prefix stops at X^t_{D-1})
/// image_embeds = post_LN(X^v_{N_v}[:, 0]) W_proj^T                (B, E)
/// ```
/// Why a prefix is enough: the text prompts sit right after SOT and CLIP's text attention is causal, so the prompt
/// rows never attend to the caption; the pair (I_v, I_l) at every layer depends on the image alone. Image features
/// therefore stay independent of the caption, while text features depend on the image.
///
/// The backward runs the same steps in reverse lock-step: the head's gradient down the vision tower, the gradient
/// stage B leaves on the fused text rows (`fusedTextGradient`, accumulated `+=` by the caller between forward and
/// backward) added to the prefix's dX^t_l, CPF's backward across the two towers at each fused layer, and the
/// prompt gradients of both towers' sites and the CPF maps' gradients accumulated (`+=`).
public final class CrossModalLockStep {
    /// D: prompted layers in each tower; fusion before layers 1 ..< D.
    public let depth: Int
    /// L: prompt tokens per layer.
    public let tokens: Int
    public let capacity: Int
    /// insert at layer 0 (after the class token), add at 1 ..< D (eq. 1).
    public let visionPlan: PromptPlan
    /// insert at layer 0 (after SOT), add at 1 ..< D.
    public let textPlan: PromptPlan
    public let vision: VisionTower
    /// Planned for [SOT ; prompts] alone.
    public let prefix: TextTower
    public let fusion: CrossModalPromptFusion
    private let arena: Arena
    private let fusedTextGradients: ArenaSlice
    private var batch = 0
    private var maps: [CrossModalPromptFusion.Maps] = []

    /// - Throws: `PromptPlanError` when `depth` is not in 2 ... min(vision layers, text layers) (fusion needs two
    ///   prompted layers) or `tokens` leaves no room in the text context.
    public init(model: CLIPModel, depth: Int, tokens: Int, momentum: Float, normalization: CrossModalPromptFusion.Normalization,
                capacity: Int) throws {
        let config = model.config
        let layers = min(config.vision.encoder.layers, config.text.encoder.layers)
        guard depth >= 2, depth <= layers else {
            throw PromptPlanError.fusionDepth(depth, layers: layers)
        }
        let sites = (0..<depth).map { PromptPlan.Site(layer: $0, tokens: tokens, mode: $0 == 0 ? .insert : .add) }
        visionPlan = try PromptPlan(sites: sites, placement: .afterClassToken, layers: config.vision.encoder.layers)
        textPlan = try PromptPlan(sites: sites, layers: config.text.encoder.layers)
        guard config.text.contextLength - tokens >= 2 else {
            throw PromptPlanError.noRoom(tokens: tokens, context: config.text.contextLength)
        }
        self.depth = depth
        self.tokens = tokens
        self.capacity = capacity
        vision = VisionTower(model: model, capacity: capacity, plan: visionPlan)
        prefix = TextTower(model: model, capacity: capacity, plan: textPlan, maxTokens: 1)
        fusion = CrossModalPromptFusion(visionWidth: config.vision.encoder.hiddenSize,
                                        textWidth: config.text.encoder.hiddenSize, tokens: tokens,
                                        fusedLayers: depth - 1, momentum: momentum, normalization: normalization,
                                        capacity: capacity)
        var plan = ArenaPlan()
        fusedTextGradients = plan.reserve((depth - 1) * capacity * tokens * config.text.encoder.hiddenSize)
        arena = Arena(plan)
    }

    /// Bytes of activations and workspace held (both towers, the fusion, the fused rows' gradients).
    public var workspaceBytes: Int { vision.workspaceBytes + prefix.workspaceBytes + fusion.workspaceBytes + arena.byteCount }

    // MARK: Forward

    /// Stage A for `batch` images: image embeddings (B, E), valid until the next forward; `fusedText(layer:)` then
    /// holds the fused text rows. `visionPrompts` and `textPrompts` are the values of the plans' sites and
    /// `maps[b]` sample b's CPF maps; all must stay valid until the backward. Zeroes `fusedTextGradient`.
    @discardableResult
    public func forward(pixels: UnsafePointer<Float>, startOfText: Int32, visionPrompts: [PromptValues],
                        textPrompts: [PromptValues], maps: [CrossModalPromptFusion.Maps], batch: Int) -> UnsafePointer<Float> {
        precondition(batch <= capacity && maps.count == batch, "stage A of \(batch) images (capacity \(capacity)) with \(maps.count) maps")
        self.batch = batch
        self.maps = maps
        arena[fusedTextGradients].update(repeating: 0, count: fusedTextGradients.count)
        vision.beginForward(pixels: pixels, prompts: visionPrompts, batch: batch)
        prefix.beginPrefixForward(startOfText: startOfText, prompts: textPrompts, batch: batch)
        for l in 0..<vision.config.encoder.layers {
            if l >= 1 && l < depth {
                fusion.forward(layer: l - 1, visual: vision.promptRows(layer: l), textual: prefix.promptRows(layer: l),
                               maps: maps)
            }
            vision.forwardLayer(l)
            if l < depth - 1 { prefix.forwardLayer(l) }
        }
        return vision.finishForward()
    }

    /// The fused text prompt rows before prompted layer `l` (1 ..< D) of the last forward, (B, L, d_l) in sequences of
    /// the prefix: stage B's per-sample `.replace` values at its layer l (`PromptValues(rows(b), batchStride: 0)` for
    /// every caption paired with image b).
    public func fusedText(layer l: Int) -> PromptRows {
        precondition(l >= 1 && l < depth, "fused text rows of layer \(l); fusion is before layers 1 ..< \(depth)")
        return prefix.promptRows(layer: l)
    }

    /// Where stage B's gradient of `fusedText(layer: l)` accumulates (`+=`), (B, L, d_l) packed; zeroed by `forward`.
    public func fusedTextGradient(layer l: Int) -> UnsafeMutablePointer<Float> {
        precondition(l >= 1 && l < depth, "fused text gradient of layer \(l); fusion is before layers 1 ..< \(depth)")
        return arena[fusedTextGradients] + (l - 1) * capacity * tokens * prefix.config.encoder.hiddenSize
    }

    // MARK: Backward

    /// Back-propagates dimage_embeds (B, E) and `fusedTextGradient` through stage A: accumulates (`+=`) the prompt
    /// gradients of both plans' sites and `mapGradients[b]` for sample b's maps (equal where the maps are).
    public func backward(dEmbeds: UnsafePointer<Float>, visionPromptGradients: [PromptGradient?],
                         textPromptGradients: [PromptGradient?], mapGradients: [CrossModalPromptFusion.MapGradients]) {
        precondition(mapGradients.count == batch, "\(mapGradients.count) map gradients for \(batch) images")
        vision.beginBackward(dEmbeds: dEmbeds, promptGradients: visionPromptGradients)
        prefix.beginBackward(zeroAt: depth - 1, promptGradients: textPromptGradients)
        for l in (0..<vision.config.encoder.layers).reversed() {
            vision.backwardLayer(l)
            if l < depth - 1 { prefix.backwardLayer(l) }
            guard l >= 1 && l < depth else { continue }
            let textual = prefix.promptRowGradients(layer: l)
            textual.add(fusedTextGradient(layer: l))
            fusion.backward(layer: l - 1, visual: vision.promptRowGradients(layer: l), textual: textual, maps: maps,
                            gradients: mapGradients)
        }
        vision.finishBackward()
        prefix.finishBackward()
    }
}
