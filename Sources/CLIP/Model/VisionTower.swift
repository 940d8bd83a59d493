import Numerics

/// CLIP's vision tower with deep prompts, planned once for a batch capacity and a prompt plan.
///
/// ```
/// E = [cls ; patches(pixels) W_patch^T] + pos            (B, 1 + P, D)   pixels: (B, C, H, W)
/// [site 0: insert prompts]   X_0 = LN_pre(E')            (B, 1 + P + c_0, D)
/// Y = encoder(X_0)  with sites at layers >= 1            (B, 1 + P + c_{L-1}, D)
/// image_embeds = LN_post(Y[:, 0]) W_proj^T               (B, E)
/// ```
/// `backward` accumulates prompt gradients (`+=`) and, when the tower was built with a gradient
/// buffer, the gradients of every vision weight.
public final class VisionTower {
    public let config: CLIPVisionConfig
    public let plan: PromptPlan
    public let capacity: Int
    let weights: VisionWeights
    let gradients: VisionWeights?
    let arena: Arena
    let encoder: PromptedEncoder
    private let head: ProjectionHead
    private let columns, embeddings, prefixed, preMean, preRstd, dFinal, dPrefixed, dEmbeddings: ArenaSlice

    public init(model: CLIPModel, capacity: Int, plan: PromptPlan = .none, weightGradients: ParameterBuffer? = nil) {
        config = model.config.vision
        self.plan = plan
        self.capacity = capacity
        weights = VisionWeights(model.weights, config: config)
        gradients = weightGradients.map { VisionWeights($0, config: model.config.vision) }
        let d = config.encoder.hiddenSize, e = model.config.projectionDim
        let base = config.tokenCount
        let c0 = plan.tokensAtFirstLayer
        var arenaPlan = ArenaPlan()
        columns = arenaPlan.reserve(capacity * config.patchCount * config.channels * config.patchSize * config.patchSize)
        embeddings = arenaPlan.reserve(capacity * base * d)
        prefixed = arenaPlan.reserve(c0 > 0 ? capacity * (base + c0) * d : 0)
        preMean = arenaPlan.reserve(capacity * (base + c0))
        preRstd = arenaPlan.reserve(capacity * (base + c0))
        encoder = PromptedEncoder(config: config.encoder, plan: plan, causal: false,
                                  promptStart: plan.placement == .afterClassToken ? 1 : base,
                                  batch: capacity, maxBase: base, arenaPlan: &arenaPlan)
        head = ProjectionHead(width: d, projectionDim: e, eps: config.encoder.layerNormEps, capacity: capacity,
                              arenaPlan: &arenaPlan)
        dFinal = arenaPlan.reserve(capacity * (base + (encoder.counts.last ?? 0)) * d)
        dPrefixed = arenaPlan.reserve(capacity * (base + c0) * d)
        dEmbeddings = arenaPlan.reserve(c0 > 0 ? capacity * base * d : 0)
        arena = Arena(arenaPlan)
    }

    /// Bytes of activations and workspace this tower holds.
    public var workspaceBytes: Int { arena.byteCount }

    /// Image embeddings (B, E) for `batch` <= capacity images, `pixels` (B, C, H, W) normalised.
    /// `prompts[i]` holds the values of `plan.sites[i]`. The result stays valid until the next forward.
    @discardableResult
    public func forward(pixels: UnsafePointer<Float>, prompts: [PromptValues] = [], batch: Int) -> UnsafePointer<Float> {
        precondition(batch <= capacity && prompts.count == plan.sites.count,
                     "vision forward: batch \(batch) of \(capacity), \(prompts.count) prompt sets for \(plan.sites.count) sites")
        let d = config.encoder.hiddenSize, base = config.tokenCount
        let c0 = plan.tokensAtFirstLayer
        let embedded = arena[embeddings]
        PatchEmbedding.forward(y: embedded, columns: arena[columns], pixels: pixels, weight: weights.patchWeight,
                               batch: batch, channels: config.channels, imageSize: config.imageSize,
                               patchSize: config.patchSize, width: d, sequenceLength: base, firstRow: 1)
        for b in 0..<batch { (embedded + b * base * d).update(from: weights.classEmbedding, count: d) }
        PositionalEmbedding.forward(y: embedded, table: weights.positionEmbedding, batch: batch, tokens: base, width: d)
        var preInput = embedded
        if c0 > 0 {
            preInput = arena[prefixed]
            PromptBlock(width: d, start: encoder.promptStart, existing: 0)
                .insert(into: preInput, from: embedded, values: prompts[0], count: c0, batch: batch, tokens: base)
        }
        LayerNorm.forward(y: encoder.input(arena), mean: arena[preMean], rstd: arena[preRstd], x: preInput,
                          weight: weights.preLayerNormWeight, bias: weights.preLayerNormBias,
                          rows: batch * (base + c0), columns: d, eps: config.encoder.layerNormEps)
        let y = encoder.forward(arena, weights: weights.layers, prompts: prompts, batch: batch, base: base)
        return head.forward(arena, weights: weights.head, y: y, tokens: base + (encoder.counts.last ?? 0),
                            batch: batch) { _ in 0 }
    }

    /// Back-propagates dimage_embeds (B, E) of the last forward into the prompt gradients
    /// (`promptGradients[i]` for `plan.sites[i]`, nil to skip one) and the weight gradients if any.
    public func backward(dEmbeds: UnsafePointer<Float>, promptGradients: [PromptGradient?], batch: Int) {
        precondition(promptGradients.count == plan.sites.count, "one prompt gradient per site")
        let lowest = gradients != nil ? 0 : (plan.sites.first?.layer ?? config.encoder.layers)
        guard lowest < config.encoder.layers else { return }
        let d = config.encoder.hiddenSize, base = config.tokenCount
        let c0 = plan.tokensAtFirstLayer
        let dY = arena[dFinal]
        head.backward(arena, weights: weights.head, gradients: gradients?.head, dEmbeds: dEmbeds, dY: dY,
                      tokens: base + (encoder.counts.last ?? 0), batch: batch) { _ in 0 }
        let dX0 = encoder.backward(arena, weights: weights.layers, gradients: gradients?.layers,
                                   promptGradients: promptGradients, dOutput: dY, batch: batch, base: base, downTo: lowest)
        guard lowest == 0, c0 > 0 || gradients != nil else { return }
        let preInput = c0 > 0 ? arena[prefixed] : arena[embeddings]
        let dPre = arena[dPrefixed]
        dPre.update(repeating: 0, count: batch * (base + c0) * d)
        LayerNorm.backward(dx: dPre, dWeight: gradients?.preLayerNormWeight, dBias: gradients?.preLayerNormBias,
                           dy: dX0, x: preInput, weight: weights.preLayerNormWeight,
                           mean: arena[preMean], rstd: arena[preRstd], rows: batch * (base + c0), columns: d)
        var dEmbedded = dPre
        if c0 > 0 {
            dEmbedded = arena[dEmbeddings]
            PromptBlock(width: d, start: encoder.promptStart, existing: 0)
                .insertBackward(dSource: dEmbedded, dDestination: dPre, gradient: promptGradients[0], count: c0,
                                batch: batch, tokens: base)
        }
        guard let gradients else { return }
        PositionalEmbedding.backward(dTable: gradients.positionEmbedding, dy: dEmbedded, batch: batch, tokens: base, width: d)
        for b in 0..<batch {
            let row = dEmbedded + b * base * d
            for c in 0..<d { gradients.classEmbedding[c] += row[c] }
        }
        PatchEmbedding.backward(dWeight: gradients.patchWeight, dy: dEmbedded, columns: arena[columns], batch: batch,
                                patches: config.patchCount, k: config.channels * config.patchSize * config.patchSize,
                                width: d, sequenceLength: base, firstRow: 1)
    }
}
