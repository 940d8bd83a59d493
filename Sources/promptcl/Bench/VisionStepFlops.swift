import CLIP

/// Floating-point operations of a prompt-tuning step of the vision tower (multiply-add = 2 FLOPs),
/// counting the GEMMs only (what the sgemm rate bounds).
///
/// ```
/// per layer l with N = B * T_l rows:  forward  2N(3D^2 + D^2 + 2DF) + 4 B H T_l^2 dh   (EncoderLayerFlops)
///                                     backward to inputs: the same for the linears, twice for attention
/// patch embedding: 2 B P K D (forward only: pixels need no gradient, the weight is frozen)
/// ```
/// The backward runs only from the top layer down to the first prompted layer.
struct VisionStepFlops {
    let forward: Double
    let backward: Double
    var total: Double { forward + backward }

    init(config: CLIPVisionConfig, plan: PromptPlan, batch: Int) {
        let e = config.encoder
        let counts = plan.promptCounts(layers: e.layers)
        let lowest = plan.sites.first?.layer ?? e.layers
        var forward = 2 * Double(batch * config.patchCount * config.channels * config.patchSize * config.patchSize)
            * Double(e.hiddenSize)
        var backward = 0.0
        for l in 0..<e.layers {
            let layer = EncoderLayerFlops(e, tokens: config.tokenCount + counts[l], batch: batch)
            forward += layer.total
            if l >= lowest { backward += layer.linear + 2 * layer.attention }
        }
        self.forward = forward
        self.backward = backward
    }
}
