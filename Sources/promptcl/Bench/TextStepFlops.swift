import CLIP

/// Floating-point operations of a prompt-tuning step of the text tower (multiply-add = 2 FLOPs), counting the
/// GEMMs only, as `VisionStepFlops` does for the vision tower.
///
/// ```
/// T   = min(caption tokens, context - c_0)   positions SOT through EOT that `TextTower` computes (it cuts a longer
///                                             caption before EOT, and computes no position behind the batch's
///                                             last EOT)
/// per layer l with N = B (T + c_l) rows:    forward  2N(3D^2 + D^2 + 2DF) + 4 B H (T + c_l)^2 dh
///                                           (EncoderLayerFlops; the causal mask saves nothing: every pair of
///                                           rows is computed)
///                                           backward to inputs: the linears again, attention twice, from the
///                                           top layer down to the first prompted one
/// ```
/// Left out: the token and positional embeddings (a lookup and an add), LayerNorms, softmax, activations, and
/// the head (final LN and the projection of the B pooled rows, 2 B D E), as the vision count leaves out its head.
/// All captions of the batch are taken to have the same length.
struct TextStepFlops {
    let forward: Double
    let backward: Double
    var total: Double { forward + backward }

    /// `captionTokens`: tokens of each caption, SOT and EOT included.
    init(config: CLIPTextConfig, plan: PromptPlan, batch: Int, captionTokens: Int) {
        let tokens = min(captionTokens, config.contextLength - plan.tokensAtFirstLayer)
        (forward, backward) = EncoderLayerFlops.stack(config.encoder, baseTokens: tokens, plan: plan, batch: batch)
    }
}
