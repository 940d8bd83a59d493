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
public final class TextTower {
    public let config: CLIPTextConfig
    public let plan: PromptPlan
    public let capacity: Int
    let weights: TextWeights
    let gradients: TextWeights?
    let arena: Arena
    private let encoder: PromptedEncoder
    private let head: ProjectionHead
    private let tokenRows, dFinal, dTokens: ArenaSlice
    private var baseIDs: [Int32]
    private var endOfText: [Int]
    private var baseTokens = 0

    public init(model: CLIPModel, capacity: Int, plan: PromptPlan = .none, weightGradients: ParameterBuffer? = nil) {
        config = model.config.text
        self.plan = plan
        self.capacity = capacity
        weights = TextWeights(model.weights, config: config)
        gradients = weightGradients.map { TextWeights($0, config: model.config.text) }
        let d = config.encoder.hiddenSize, e = model.config.projectionDim
        let maxBase = config.contextLength - plan.tokensAtFirstLayer
        precondition(maxBase >= 2, "\(plan.tokensAtFirstLayer) text prompts at layer 0 leave no room for SOT and EOT in a context of \(config.contextLength)")
        var arenaPlan = ArenaPlan()
        tokenRows = arenaPlan.reserve(plan.tokensAtFirstLayer > 0 ? capacity * maxBase * d : 0)
        encoder = PromptedEncoder(config: config.encoder, plan: plan, causal: true, promptStart: 1,
                                  batch: capacity, maxBase: maxBase, arenaPlan: &arenaPlan)
        head = ProjectionHead(width: d, projectionDim: e, eps: config.encoder.layerNormEps, capacity: capacity,
                              arenaPlan: &arenaPlan)
        dFinal = arenaPlan.reserve(capacity * (maxBase + (encoder.counts.last ?? 0)) * d)
        dTokens = arenaPlan.reserve(capacity * maxBase * d)
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
        precondition(batch <= capacity && prompts.count == plan.sites.count,
                     "text forward: batch \(batch) of \(capacity), \(prompts.count) prompt sets for \(plan.sites.count) sites")
        let d = config.encoder.hiddenSize
        let c0 = plan.tokensAtFirstLayer
        prepareIDs(ids, batch: batch)
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
        let y = encoder.forward(arena, weights: weights.layers, prompts: prompts, batch: batch, base: base)
        let shift = encoder.counts.last ?? 0
        return head.forward(arena, weights: weights.head, y: y, tokens: base + shift, batch: batch) {
            self.endOfText[$0] + shift
        }
    }

    /// Back-propagates dtext_embeds (B, E) of the last forward into the prompt gradients
    /// (`promptGradients[i]` for `plan.sites[i]`, nil to skip one) and the weight gradients if any.
    public func backward(dEmbeds: UnsafePointer<Float>, promptGradients: [PromptGradient?], batch: Int) {
        precondition(promptGradients.count == plan.sites.count, "one prompt gradient per site")
        let lowest = gradients != nil ? 0 : (plan.sites.first?.layer ?? config.encoder.layers)
        guard lowest < config.encoder.layers else { return }
        let d = config.encoder.hiddenSize, base = baseTokens
        let c0 = plan.tokensAtFirstLayer
        let shift = encoder.counts.last ?? 0
        let dY = arena[dFinal]
        head.backward(arena, weights: weights.head, gradients: gradients?.head, dEmbeds: dEmbeds, dY: dY,
                      tokens: base + shift, batch: batch) { self.endOfText[$0] + shift }
        let dX0 = encoder.backward(arena, weights: weights.layers, gradients: gradients?.layers,
                                   promptGradients: promptGradients, dOutput: dY, batch: batch, base: base, downTo: lowest)
        guard lowest == 0 else { return }
        if let gradients {
            PositionalEmbedding.backward(dTable: gradients.positionEmbedding, dy: dX0, batch: batch, tokens: base + c0, width: d)
        }
        var dTokenRows = dX0
        if c0 > 0 {
            dTokenRows = arena[dTokens]
            PromptBlock(width: d, start: 1, existing: 0)
                .insertBackward(dSource: dTokenRows, dDestination: dX0, gradient: promptGradients[0], count: c0,
                                batch: batch, tokens: base)
        }
        guard let gradients else { return }
        baseIDs.withUnsafeBufferPointer { idsBuffer in
            TokenEmbedding.backward(dTable: gradients.tokenEmbedding, dy: dTokenRows, ids: idsBuffer.baseAddress!,
                                    rows: batch * base, width: d)
        }
    }

    /// Finds each row's end-of-text index, cuts captions that would overflow with the layer-0 prompts,
    /// and packs the first T = max eot + 1 ids of every row into `baseIDs` (B, T).
    private func prepareIDs(_ ids: UnsafePointer<Int32>, batch: Int) {
        let context = config.contextLength
        let room = context - plan.tokensAtFirstLayer
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
