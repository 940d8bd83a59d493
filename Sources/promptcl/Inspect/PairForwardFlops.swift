import CLIP

/// Forward FLOPs of one image-caption pair through both towers of CLIP with a method's prompt tokens
/// (multiply-add = 2 FLOPs), counting the GEMMs: every linear layer, attention's Q K^T and A V
/// (`EncoderLayerFlops`) and the patch embedding.
///
/// ```
/// vision   2 P (C p^2) D_v                 patch embedding, P = (image / p)^2 patches of C p^2 pixels
///        + sum_l layer_v(P + 1 + c_l)      c_l = visionPlan.promptCounts(layers:)[l], the prompts in layer l's input
///        + 2 D_v E                         visual_projection of the class token
/// text     sum_l layer_t(T - t_0 + t_l)    T = context length (77), every position as CLIP computes it; prompts
///                                          inserted at layer 0 take t_0 of the caption's positions (TextTower)
///        + 2 D_t E                         text_projection of the end-of-text row
/// queries  vision with no prompts          for a method that picks its prompts from frozen image features (L2P)
/// fusion   (D - 1) 2 (2 L D_t D_v)         LPI-P's cross-modal prompt fusion: at each fused layer, VIS maps the L
///                                          text prompt rows to D_v and TEXT the L vision rows to D_t
/// ```
/// (LPI-P's pair is the paper's: the two towers in lock-step. promptcl runs the text prefix of stage A once per
/// image and the conditioned caption once per pair, which for a batch of B pairs costs B prefixes more.)
/// Left out: LayerNorms, biases, activations, softmax, residual and positional adds, the token lookup (all
/// O(T D) per layer, under 1% at ViT-B/16); building the prompts (MaPLe's couplings, LPI's low-rank
/// composition: once per batch, not per pair); L2P's key matching and the pair's cosine. promptcl's own
/// text tower stops at the batch's last end-of-text token, so it runs fewer text FLOPs than counted here.
///
/// These are FLOPs, twice the multiply-accumulates that fvcore and most papers call "FLOPs": ViT-B/16's
/// image tower is 35.1 GFLOPs here, "17.6 GFLOPs" there. And they are per pair: the GFLOPs column of
/// LPI's Table 4 (3349.41 for L2P on ViT-B/16) looks like a whole batch's.
struct PairForwardFlops {
    let vision: Double
    let text: Double
    let queries: Double
    let fusion: Double
    var total: Double { vision + text + queries + fusion }

    /// `fusion`: LPI-P's fused layers (D - 1) and prompt tokens per layer (L); nil for the other methods.
    init(config: CLIPConfig, visionPlan: PromptPlan, textPlan: PromptPlan, frozenImageQueries: Bool,
         fusion: (layers: Int, tokens: Int)? = nil) {
        vision = Self.vision(config, plan: visionPlan)
        text = Self.text(config, plan: textPlan)
        queries = frozenImageQueries ? Self.vision(config, plan: .none) : 0
        self.fusion = fusion.map {
            Double($0.layers) * 4 * Double($0.tokens) * Double(config.vision.encoder.hiddenSize)
                * Double(config.text.encoder.hiddenSize)
        } ?? 0
    }

    private static func vision(_ config: CLIPConfig, plan: PromptPlan) -> Double {
        let v = config.vision, e = v.encoder
        let patchEmbedding = 2 * Double(v.patchCount) * Double(v.channels * v.patchSize * v.patchSize)
            * Double(e.hiddenSize)
        let layers = plan.promptCounts(layers: e.layers)
            .map { EncoderLayerFlops(e, tokens: v.tokenCount + $0).total }.reduce(0, +)
        return patchEmbedding + layers + 2 * Double(e.hiddenSize * config.projectionDim)
    }

    private static func text(_ config: CLIPConfig, plan: PromptPlan) -> Double {
        let t = config.text, e = t.encoder
        let base = t.contextLength - plan.tokensAtFirstLayer
        let layers = plan.promptCounts(layers: e.layers)
            .map { EncoderLayerFlops(e, tokens: base + $0).total }.reduce(0, +)
        return layers + 2 * Double(e.hiddenSize * config.projectionDim)
    }
}
