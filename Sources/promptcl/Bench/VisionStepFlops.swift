import CLIP

/// Floating-point operations of a prompt-tuning step of the vision tower (multiply-add = 2 FLOPs),
/// counting the GEMMs only (what the sgemm rate bounds).
///
/// ```
/// per layer l with N = B * T_l rows:  forward  2N(3D^2 + D^2 + 2DF) + 4 B H T_l^2 dh   (EncoderLayerFlops)
///                                     backward to inputs: the same for the linears, twice for attention
/// patch embedding: 2 B P K D (forward only: pixels need no gradient, the weight is frozen)
/// ```
/// T_l = 1 + P + c_l (CLS, patches, the prompts in the input of layer l). The backward runs only from the top
/// layer down to the first prompted layer (`EncoderLayerFlops.stack`). The head (post-LN, projection of the B
/// CLS rows: 2 B D E) is left out, as are LayerNorms, softmax and activations.
struct VisionStepFlops {
    let forward: Double
    let backward: Double
    var total: Double { forward + backward }

    init(config: CLIPVisionConfig, plan: PromptPlan, batch: Int) {
        let patchEmbedding = 2 * Double(batch * config.patchCount * config.channels * config.patchSize * config.patchSize)
            * Double(config.encoder.hiddenSize)
        let encoder = EncoderLayerFlops.stack(config.encoder, baseTokens: config.tokenCount, plan: plan, batch: batch)
        forward = patchEmbedding + encoder.forward
        backward = encoder.backward
    }
}
