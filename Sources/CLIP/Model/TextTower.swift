import Numerics

/// CLIP's text tower with deep prompts, planned once for a batch capacity and a prompt plan.
///
/// ```
/// ids: (B, context) token ids, each row [SOT, w_1 .. w_k, EOT, pad ..]
/// X_0 = [tok(SOT) ; prompts (site 0) ; tok(w_1 .. w_k, EOT, ..)] + pos      (B, T + c_0, D)
/// Y = encoder(X_0), causal, with sites at layers >= 1                        (B, T + c_{L-1}, D)
/// text_embeds = LN_final(Y[b, eot_b + c_{L-1}]) W_proj^T                     (B, E)
/// ```
/// The pooled row is the end-of-text token: the first `eos_token_id` of the row, or the largest id when a
/// config still says `eos_token_id = 2` (transformers' rule). Only the first T = max_b eot_b + 1 positions
/// are computed: with the causal mask the rows behind EOT cannot change the pooled row. When prompts at
/// layer 0 would push EOT past the context length, the caption is cut before EOT, which is kept.
/// `backward` accumulates prompt gradients (`+=`) and, with a gradient buffer, every text weight's gradient.
/// Both also run one encoder layer at a time, with the prompt rows readable and writable between layers
/// (`beginForward` / `beginPrefixForward`, `forwardLayer`, `promptRows`, ...): LPI-P runs the prefix
/// [SOT ; prompts] in lock-step with the vision tower.
///
/// Built with `use: .inference` (`TowerUse`) it keeps the token rows, the encoder's shared intermediates and two
/// X buffers, and the head's forward rows: the same embeddings bit for bit, in a fraction of the memory, with no
/// backward and no prompt-row gradients (they stop with a precondition failure naming the mode); layer by layer,
/// only the prompt rows of the layer about to run.
public final class TextTower {
    public let config: CLIPTextConfig
    public let plan: PromptPlan
    public let capacity: Int
    public let use: TowerUse
    let weights: TextWeights
    let gradients: TextWeights?
    let arena: Arena
    private let encoder: PromptedEncoder
    private let head: ProjectionHead
    private let tokenRows, dFinal, dTokens: ArenaSlice
    private var baseIDs: [Int32]
    private var endOfText: [Int]
    private var baseTokens = 0
    /// Token positions planned per sequence (SOT through EOT; layer-0 prompts not counted).
    private let maxBase: Int
    /// The forward and backward under way: their prompts, batch, next forward layer and prompt gradients.
    private var stepPrompts: [PromptValues] = []
    private var stepBatch = 0
    private var nextLayer = 0
    private var stepGradients: [PromptGradient?] = []

    /// `maxTokens` bounds the token positions planned per sequence (SOT through EOT, the layer-0 prompts not
    /// counted; longer captions are cut before EOT, which is kept): nil plans for the whole context, 1 for
    /// `beginPrefixForward` alone. `weightGradients` (training only) receives every text weight's gradient;
    /// without it the layers share one set of their linear layers' inputs (`PromptedEncoder`).
    public init(model: CLIPModel, capacity: Int, plan: PromptPlan = .none, weightGradients: ParameterBuffer? = nil,
                maxTokens: Int? = nil, use: TowerUse = .training) {
        precondition(weightGradients == nil || use == .training,
                     "a text tower built for inference takes no weight-gradient buffer: build it with use: .training")
        config = model.config.text
        self.plan = plan
        self.capacity = capacity
        self.use = use
        weights = TextWeights(model.weights, config: config)
        gradients = weightGradients.map { TextWeights($0, config: model.config.text) }
        let d = config.encoder.hiddenSize, e = model.config.projectionDim
        let room = config.contextLength - plan.tokensAtFirstLayer
        precondition(room >= 2, "\(plan.tokensAtFirstLayer) text prompts at layer 0 leave no room for SOT and EOT in a context of \(config.contextLength)")
        precondition(maxTokens.map { $0 >= 1 && $0 <= room } ?? true, "text tower planned for \(maxTokens ?? 0) tokens of \(room)")
        let maxBase = maxTokens ?? room
        self.maxBase = maxBase
        var arenaPlan = ArenaPlan()
        tokenRows = arenaPlan.reserve(plan.tokensAtFirstLayer > 0 ? capacity * maxBase * d : 0)
        encoder = PromptedEncoder(config: config.encoder, plan: plan, causal: true, promptStart: 1,
                                  batch: capacity, maxBase: maxBase, use: use,
                                  keepsWeightInputs: weightGradients != nil, arenaPlan: &arenaPlan)
        head = ProjectionHead(width: d, projectionDim: e, eps: config.encoder.layerNormEps, capacity: capacity,
                              use: use, arenaPlan: &arenaPlan)
        let gradientRows = use == .training ? capacity : 0
        dFinal = arenaPlan.reserve(gradientRows * (maxBase + (encoder.counts.last ?? 0)) * d)
        dTokens = arenaPlan.reserve(gradientRows * maxBase * d)
        arena = Arena(arenaPlan)
        baseIDs = [Int32](repeating: 0, count: capacity * maxBase)
        endOfText = [Int](repeating: 0, count: capacity)
    }

    /// Bytes of activations and workspace this tower holds.
    public var workspaceBytes: Int { arena.byteCount }

    /// Text embeddings (B, E) for `batch` <= capacity rows of `ids` (B, context).
    /// `prompts[i]` holds the values of `plan.sites[i]`. The result stays valid until the next forward.
    @discardableResult
    public func forward(ids: UnsafePointer<Int32>, prompts: [PromptValues] = [], batch: Int) -> UnsafePointer<Float> {
        beginForward(ids: ids, prompts: prompts, batch: batch)
        for l in 0..<config.encoder.layers { forwardLayer(l) }
        return finishForward()
    }

    /// Back-propagates dtext_embeds (B, E) of the last forward into the prompt gradients
    /// (`promptGradients[i]` for `plan.sites[i]`, nil to skip one) and the weight gradients if any.
    public func backward(dEmbeds: UnsafePointer<Float>, promptGradients: [PromptGradient?], batch: Int) {
        precondition(batch == stepBatch, "text backward of \(batch) rows after a forward of \(stepBatch)")
        beginBackward(dEmbeds: dEmbeds, promptGradients: promptGradients)
        for l in (lowestBackwardLayer..<config.encoder.layers).reversed() { backwardLayer(l) }
        finishBackward()
    }

    // MARK: Layer by layer

    /// The first step of a forward run layer by layer: token embeddings, the site at layer 0 and the positional
    /// embedding, leaving X_0. Then `forwardLayer(0)` ... `forwardLayer(L-1)` and `finishForward()`; `forward`
    /// is that loop. `prompts` must stay valid until the last step.
    public func beginForward(ids: UnsafePointer<Int32>, prompts: [PromptValues] = [], batch: Int) {
        precondition(batch <= capacity && prompts.count == plan.sites.count,
                     "text forward: batch \(batch) of \(capacity), \(prompts.count) prompt sets for \(plan.sites.count) sites")
        prepareIDs(ids, batch: batch)
        embed(prompts: prompts, batch: batch)
    }

    /// `beginForward` for the prefix [SOT ; prompts] alone, (B, 1 + c_0, D) from layer 0 on (`startOfText`: the
    /// tokenizer's SOT id). With the causal mask, the prompt rows of any caption's sequence are these rows:
    /// they never attend to the caption. Nothing pools here (`finishForward` would pool SOT).
    public func beginPrefixForward(startOfText: Int32, prompts: [PromptValues], batch: Int) {
        precondition(batch <= capacity && prompts.count == plan.sites.count,
                     "text prefix forward: batch \(batch) of \(capacity), \(prompts.count) prompt sets for \(plan.sites.count) sites")
        for b in 0..<batch {
            baseIDs[b] = startOfText
            endOfText[b] = 0
        }
        baseTokens = 1
        embed(prompts: prompts, batch: batch)
    }

    /// Runs layer `l` (the next one) on X_l and applies the site at l + 1: X_{l+1} is then ready.
    public func forwardLayer(_ l: Int) {
        precondition(l == nextLayer && l < config.encoder.layers, "text forward step \(l), expected \(nextLayer)")
        encoder.forwardLayer(l, arena, weights: weights.layers, prompts: stepPrompts, batch: stepBatch, base: baseTokens)
        nextLayer += 1
    }

    /// The prompt rows of X_l (the input of layer l, after the site at l) of the forward under way, for
    /// l <= the next layer to run (in inference, l = the next layer to run: the layers below are overwritten);
    /// changing them before `forwardLayer(l)` changes what layer l reads.
    public func promptRows(layer l: Int) -> PromptRows {
        precondition(l <= nextLayer && l < config.encoder.layers, "text prompt rows of layer \(l) before it is reached")
        precondition(use == .training || l == nextLayer,
                     "text prompt rows of layer \(l) once it has run (next: \(nextLayer)), in a tower built for "
                     + "inference, which keeps the input of the layer about to run alone: build it with use: .training")
        return rows(encoder.input(arena, layer: l), layer: l)
    }

    /// The final LayerNorm on each row's EOT and the projection, after the last layer: text embeddings (B, E),
    /// valid until the next forward.
    public func finishForward() -> UnsafePointer<Float> {
        precondition(nextLayer == config.encoder.layers, "text forward finished after \(nextLayer) layers")
        let shift = encoder.counts.last ?? 0
        return head.forward(arena, weights: weights.head, y: encoder.output(arena), tokens: baseTokens + shift,
                            batch: stepBatch) { self.endOfText[$0] + shift }
    }

    /// The lowest layer a backward has to reach: 0 with weight gradients, else the first prompted layer
    /// (L when nothing is trained: the backward then does nothing).
    public var lowestBackwardLayer: Int {
        gradients != nil ? 0 : (plan.sites.first?.layer ?? config.encoder.layers)
    }

    /// The first step of a backward run layer by layer, after a complete forward: the head's backward from
    /// dtext_embeds (B, E). Then `backwardLayer(L-1)` ... `backwardLayer(lowestBackwardLayer)` and
    /// `finishBackward()`; `backward` is that loop. `promptGradients` must stay valid until the last step.
    public func beginBackward(dEmbeds: UnsafePointer<Float>, promptGradients: [PromptGradient?]) {
        requireTraining("a backward")
        precondition(promptGradients.count == plan.sites.count, "one prompt gradient per site")
        precondition(nextLayer == config.encoder.layers, "text backward after a forward of \(nextLayer) layers")
        stepGradients = promptGradients
        guard lowestBackwardLayer < config.encoder.layers else { return }
        let shift = encoder.counts.last ?? 0
        let dY = arena[dFinal]
        head.backward(arena, weights: weights.head, gradients: gradients?.head, dEmbeds: dEmbeds, dY: dY,
                      tokens: baseTokens + shift, batch: stepBatch) { self.endOfText[$0] + shift }
        encoder.beginBackward(arena, dOutput: dY)
    }

    /// The first step of a backward of a forward that stopped at X_l (it ran layers 0 ..< l, as LPI-P's text
    /// prefix does): dX_l starts at 0, for the caller to add its gradient into `promptRowGradients(layer: l)`.
    /// Then `backwardLayer(l - 1)` ... and `finishBackward()`.
    public func beginBackward(zeroAt l: Int, promptGradients: [PromptGradient?]) {
        requireTraining("a backward from layer \(l)")
        precondition(promptGradients.count == plan.sites.count, "one prompt gradient per site")
        precondition(l <= nextLayer && l < config.encoder.layers, "text backward from layer \(l) after a forward of \(nextLayer) layers")
        precondition(lowestBackwardLayer <= l, "text backward from layer \(l), below the lowest prompted layer")
        stepGradients = promptGradients
        encoder.beginBackward(arena, zeroAt: l, batch: stepBatch, base: baseTokens)
    }

    /// Back-propagates the site at l + 1 and layer `l` (the next one down): dX_l is then ready.
    public func backwardLayer(_ l: Int) {
        requireTraining("backward step \(l)")
        encoder.backwardLayer(l, arena, weights: weights.layers, gradients: gradients?.layers,
                              promptGradients: stepGradients, batch: stepBatch, base: baseTokens)
    }

    /// The prompt rows of dX_l right after `backwardLayer(l)` (or `beginBackward(zeroAt: l)`), before the site at
    /// l is back-propagated; a caller that replaced those rows of X_l in the forward replaces their gradient here.
    public func promptRowGradients(layer l: Int) -> PromptRows {
        requireTraining("prompt-row gradients of layer \(l)")
        precondition(encoder.gradientLayer == l, "text prompt-row gradients of layer \(l) at step \(encoder.gradientLayer)")
        return rows(encoder.inputGradient, layer: l)
    }

    /// Ends the backward below the lowest step: the site there, and at layer 0 the site at layer 0 and, with
    /// weight gradients, the embeddings.
    public func finishBackward() {
        requireTraining("the end of a backward")
        let lowest = lowestBackwardLayer
        guard lowest < config.encoder.layers else { return }
        precondition(encoder.gradientLayer == lowest, "text backward finished at layer \(encoder.gradientLayer), not \(lowest)")
        let dX0 = encoder.finishBackward(promptGradients: stepGradients, batch: stepBatch, base: baseTokens)
        guard lowest == 0 else { return }
        let d = config.encoder.hiddenSize, base = baseTokens, batch = stepBatch
        let c0 = plan.tokensAtFirstLayer
        if let gradients {
            PositionalEmbedding.backward(dTable: gradients.positionEmbedding, dy: dX0, batch: batch, tokens: base + c0, width: d)
        }
        var dTokenRows = dX0
        if c0 > 0 {
            dTokenRows = arena[dTokens]
            PromptBlock(width: d, start: 1, existing: 0)
                .insertBackward(dSource: dTokenRows, dDestination: dX0, gradient: stepGradients[0], count: c0,
                                batch: batch, tokens: base)
        }
        guard let gradients else { return }
        baseIDs.withUnsafeBufferPointer { idsBuffer in
            TokenEmbedding.backward(dTable: gradients.tokenEmbedding, dy: dTokenRows, ids: idsBuffer.baseAddress!,
                                    rows: batch * base, width: d)
        }
    }

    /// X_0 from `baseIDs` (B, T): token embeddings, the layer-0 site's insert after SOT, positions; starts the steps.
    private func embed(prompts: [PromptValues], batch: Int) {
        let d = config.encoder.hiddenSize
        let c0 = plan.tokensAtFirstLayer
        let base = baseTokens
        let x0 = encoder.input(arena)
        baseIDs.withUnsafeBufferPointer { idsBuffer in
            if c0 > 0 {
                TokenEmbedding.forward(y: arena[tokenRows], ids: idsBuffer.baseAddress!, table: weights.tokenEmbedding,
                                       rows: batch * base, width: d)
                PromptBlock(width: d, start: 1, existing: 0)
                    .insert(into: x0, from: arena[tokenRows], values: prompts[0], count: c0, batch: batch, tokens: base)
            } else {
                TokenEmbedding.forward(y: x0, ids: idsBuffer.baseAddress!, table: weights.tokenEmbedding,
                                       rows: batch * base, width: d)
            }
        }
        PositionalEmbedding.forward(y: x0, table: weights.positionEmbedding, batch: batch, tokens: base + c0, width: d)
        stepPrompts = prompts
        stepBatch = batch
        nextLayer = 0
    }

    /// Stops a tower built for inference, which keeps no layer's activations after the forward, naming `what`
    /// was asked of it.
    private func requireTraining(_ what: String) {
        precondition(use == .training, "text tower: \(what) needs the activations of every layer, which a tower "
                     + "built with use: .inference does not keep: build it with use: .training")
    }

    /// The prompt block of layer l in a (B, T_l, D) buffer of this tower.
    private func rows(_ sequence: UnsafeMutablePointer<Float>, layer l: Int) -> PromptRows {
        let d = config.encoder.hiddenSize
        return PromptRows(pointer: sequence + d, batch: stepBatch, count: encoder.counts[l], width: d,
                          sequenceStride: (baseTokens + encoder.counts[l]) * d)
    }

    /// Finds each row's end-of-text index, cuts captions that would overflow with the layer-0 prompts,
    /// and packs the first T = max eot + 1 ids of every row into `baseIDs` (B, T).
    private func prepareIDs(_ ids: UnsafePointer<Int32>, batch: Int) {
        let context = config.contextLength
        let room = maxBase
        var longest = 0
        for b in 0..<batch {
            let row = ids + b * context
            endOfText[b] = min(endOfTextIndex(row), room - 1)
            longest = max(longest, endOfText[b] + 1)
        }
        baseTokens = longest
        for b in 0..<batch {
            let row = ids + b * context
            let original = endOfTextIndex(row)
            for t in 0..<longest {
                // A cut caption keeps its EOT token at the last position that fits.
                baseIDs[b * longest + t] = t == endOfText[b] ? row[original] : row[min(t, context - 1)]
            }
        }
    }

    /// transformers' pooling rule: the first `eos_token_id`, or the argmax id for legacy configs (eos = 2);
    /// like transformers, a row without that id pools position 0.
    private func endOfTextIndex(_ row: UnsafePointer<Int32>) -> Int {
        let context = config.contextLength
        if config.eosTokenID == 2 {
            var best = 0
            for t in 1..<context where row[t] > row[best] { best = t }
            return best
        }
        for t in 0..<context where Int(row[t]) == config.eosTokenID { return t }
        return 0
    }
}
