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
/// buffer, the gradients of every vision weight. Both also run one encoder layer at a time
/// (`beginForward`, `forwardLayer`, `finishForward`; `beginBackward`, `backwardLayer`, `finishBackward`),
/// with the prompt rows readable and writable between layers (`promptRows`, `promptRowGradients`): LPI-P runs
/// this tower and a text prefix in lock-step.
///
/// Built with `use: .inference` (`TowerUse`) it keeps the patch columns, E and E', pre-LN's statistics, the
/// encoder's shared intermediates and two X buffers, and the head's forward rows: the same embeddings bit for bit, in a fraction
/// of the memory, with no backward, no prompt-row gradients and no attention records (they stop with a
/// precondition failure naming the mode); layer by layer, only the prompt rows of the layer about to run.
public final class VisionTower {
    public let config: CLIPVisionConfig
    public let plan: PromptPlan
    public let capacity: Int
    public let use: TowerUse
    let weights: VisionWeights
    let gradients: VisionWeights?
    let arena: Arena
    let encoder: PromptedEncoder
    private let head: ProjectionHead
    private let columns, embeddings, prefixed, preMean, preRstd, dFinal, dPrefixed, dEmbeddings: ArenaSlice
    /// The forward and backward under way: their prompts, batch, next forward layer and prompt gradients.
    private var stepPrompts: [PromptValues] = []
    private var stepBatch = 0
    private var nextLayer = 0
    private var stepGradients: [PromptGradient?] = []

    /// A tower for `capacity` images with `plan`'s prompts; `weightGradients` (training only) receives the
    /// gradients of every vision weight. Without it the layers share one set of their linear layers' inputs,
    /// which only weight gradients read (`PromptedEncoder`): a prompt-tuning tower holds about a third less.
    public init(model: CLIPModel, capacity: Int, plan: PromptPlan = .none, weightGradients: ParameterBuffer? = nil,
                use: TowerUse = .training) {
        precondition(weightGradients == nil || use == .training,
                     "a vision tower built for inference takes no weight-gradient buffer: build it with use: .training")
        config = model.config.vision
        self.plan = plan
        self.capacity = capacity
        self.use = use
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
                                  batch: capacity, maxBase: base, use: use,
                                  keepsWeightInputs: weightGradients != nil, arenaPlan: &arenaPlan)
        head = ProjectionHead(width: d, projectionDim: e, eps: config.encoder.layerNormEps, capacity: capacity,
                              use: use, arenaPlan: &arenaPlan)
        let gradientRows = use == .training ? capacity : 0
        dFinal = arenaPlan.reserve(gradientRows * (base + (encoder.counts.last ?? 0)) * d)
        dPrefixed = arenaPlan.reserve(gradientRows * (base + c0) * d)
        dEmbeddings = arenaPlan.reserve(c0 > 0 ? gradientRows * base * d : 0)
        arena = Arena(arenaPlan)
    }

    /// Bytes of activations and workspace this tower holds.
    public var workspaceBytes: Int { arena.byteCount }

    /// Image embeddings (B, E) for `batch` <= capacity images, `pixels` (B, C, H, W) normalised.
    /// `prompts[i]` holds the values of `plan.sites[i]`. The result stays valid until the next forward.
    @discardableResult
    public func forward(pixels: UnsafePointer<Float>, prompts: [PromptValues] = [], batch: Int) -> UnsafePointer<Float> {
        beginForward(pixels: pixels, prompts: prompts, batch: batch)
        for l in 0..<config.encoder.layers { forwardLayer(l) }
        return finishForward()
    }

    /// Back-propagates dimage_embeds (B, E) of the last forward into the prompt gradients
    /// (`promptGradients[i]` for `plan.sites[i]`, nil to skip one) and the weight gradients if any.
    public func backward(dEmbeds: UnsafePointer<Float>, promptGradients: [PromptGradient?], batch: Int) {
        precondition(batch == stepBatch, "vision backward of \(batch) images after a forward of \(stepBatch)")
        beginBackward(dEmbeds: dEmbeds, promptGradients: promptGradients)
        for l in (lowestBackwardLayer..<config.encoder.layers).reversed() { backwardLayer(l) }
        finishBackward()
    }

    // MARK: Layer by layer

    /// The first step of a forward run layer by layer: embeddings, the site at layer 0 and `pre_layrnorm`,
    /// leaving X_0. Then `forwardLayer(0)` ... `forwardLayer(L-1)` and `finishForward()`; `forward` is that loop.
    /// `prompts` must stay valid until the last step.
    public func beginForward(pixels: UnsafePointer<Float>, prompts: [PromptValues] = [], batch: Int) {
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
        stepPrompts = prompts
        stepBatch = batch
        nextLayer = 0
    }

    /// Runs layer `l` (the next one) on X_l and applies the site at l + 1: X_{l+1} is then ready.
    public func forwardLayer(_ l: Int) {
        precondition(l == nextLayer && l < config.encoder.layers, "vision forward step \(l), expected \(nextLayer)")
        encoder.forwardLayer(l, arena, weights: weights.layers, prompts: stepPrompts, batch: stepBatch,
                             base: config.tokenCount)
        nextLayer += 1
    }

    /// The prompt rows of X_l (the input of layer l, after the site at l) of the forward under way, for
    /// l <= the next layer to run (in inference, l = the next layer to run: the layers below are overwritten);
    /// changing them before `forwardLayer(l)` changes what layer l reads.
    public func promptRows(layer l: Int) -> PromptRows {
        precondition(l <= nextLayer && l < config.encoder.layers, "vision prompt rows of layer \(l) before it is reached")
        precondition(use == .training || l == nextLayer,
                     "vision prompt rows of layer \(l) once it has run (next: \(nextLayer)), in a tower built for "
                     + "inference, which keeps the input of the layer about to run alone: build it with use: .training")
        return rows(encoder.input(arena, layer: l), layer: l)
    }

    /// Post-LN on the class token and the projection, after the last layer: image embeddings (B, E), valid
    /// until the next forward.
    public func finishForward() -> UnsafePointer<Float> {
        precondition(nextLayer == config.encoder.layers, "vision forward finished after \(nextLayer) layers")
        return head.forward(arena, weights: weights.head, y: encoder.output(arena),
                            tokens: config.tokenCount + (encoder.counts.last ?? 0), batch: stepBatch) { _ in 0 }
    }

    /// The lowest layer a backward has to reach: 0 with weight gradients, else the first prompted layer
    /// (L when nothing is trained: the backward then does nothing).
    public var lowestBackwardLayer: Int {
        gradients != nil ? 0 : (plan.sites.first?.layer ?? config.encoder.layers)
    }

    /// The first step of a backward run layer by layer, after a complete forward: the head's backward from
    /// dimage_embeds (B, E). Then `backwardLayer(L-1)` ... `backwardLayer(lowestBackwardLayer)` and
    /// `finishBackward()`; `backward` is that loop. `promptGradients` must stay valid until the last step.
    public func beginBackward(dEmbeds: UnsafePointer<Float>, promptGradients: [PromptGradient?]) {
        requireTraining("a backward")
        precondition(promptGradients.count == plan.sites.count, "one prompt gradient per site")
        precondition(nextLayer == config.encoder.layers, "vision backward after a forward of \(nextLayer) layers")
        stepGradients = promptGradients
        guard lowestBackwardLayer < config.encoder.layers else { return }
        let dY = arena[dFinal]
        head.backward(arena, weights: weights.head, gradients: gradients?.head, dEmbeds: dEmbeds, dY: dY,
                      tokens: config.tokenCount + (encoder.counts.last ?? 0), batch: stepBatch) { _ in 0 }
        encoder.beginBackward(arena, dOutput: dY)
    }

    /// Back-propagates the site at l + 1 and layer `l` (the next one down): dX_l is then ready.
    public func backwardLayer(_ l: Int) {
        requireTraining("backward step \(l)")
        encoder.backwardLayer(l, arena, weights: weights.layers, gradients: gradients?.layers,
                              promptGradients: stepGradients, batch: stepBatch, base: config.tokenCount)
    }

    /// The prompt rows of dX_l right after `backwardLayer(l)`, before the site at l is back-propagated; a caller
    /// that replaced those rows of X_l in the forward replaces their gradient here.
    public func promptRowGradients(layer l: Int) -> PromptRows {
        requireTraining("prompt-row gradients of layer \(l)")
        precondition(encoder.gradientLayer == l, "vision prompt-row gradients of layer \(l) at step \(encoder.gradientLayer)")
        return rows(encoder.inputGradient, layer: l)
    }

    /// Ends the backward below the lowest step: the site there, and at layer 0 the site at layer 0,
    /// `pre_layrnorm` and, with weight gradients, the embeddings.
    public func finishBackward() {
        requireTraining("the end of a backward")
        let lowest = lowestBackwardLayer
        guard lowest < config.encoder.layers else { return }
        precondition(encoder.gradientLayer == lowest, "vision backward finished at layer \(encoder.gradientLayer), not \(lowest)")
        let dX0 = encoder.finishBackward(promptGradients: stepGradients, batch: stepBatch, base: config.tokenCount)
        let d = config.encoder.hiddenSize, base = config.tokenCount, batch = stepBatch
        let c0 = plan.tokensAtFirstLayer
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
                .insertBackward(dSource: dEmbedded, dDestination: dPre, gradient: stepGradients[0], count: c0,
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

    /// Stops a tower built for inference, which keeps no layer's activations after the forward, naming `what`
    /// was asked of it.
    func requireTraining(_ what: String) {
        precondition(use == .training, "vision tower: \(what) needs the activations of every layer, which a tower "
                     + "built with use: .inference does not keep: build it with use: .training")
    }

    /// The prompt block of layer l in a (B, T_l, D) buffer of this tower.
    private func rows(_ sequence: UnsafeMutablePointer<Float>, layer l: Int) -> PromptRows {
        let d = config.encoder.hiddenSize
        return PromptRows(pointer: sequence + encoder.promptStart * d, batch: stepBatch, count: encoder.counts[l],
                          width: d, sequenceStride: (config.tokenCount + encoder.counts[l]) * d)
    }
}
