import CLIP

/// Floating-point operations of a prompt-tuning step of the vision tower (multiply-add = 2 FLOPs),
/// counting the GEMMs only (what the sgemm rate bounds).
///
/// ```
/// per layer l with N = B * T_l rows:  forward  2N(3D^2 + D^2 + 2DF) + 4 B H T_l^2 dh
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
        let d = Double(e.hiddenSize), f = Double(e.intermediateSize), b = Double(batch)
        let counts = plan.promptCounts(layers: e.layers)
        let lowest = plan.sites.first?.layer ?? e.layers
        var forward = 2 * b * Double(config.patchCount * config.channels * config.patchSize * config.patchSize) * d
        var backward = 0.0
        for l in 0..<e.layers {
            let t = Double(config.tokenCount + counts[l])
            let linear = 2 * b * t * (4 * d * d + 2 * d * f)
            let attention = 4 * b * Double(e.attentionHeads) * t * t * Double(e.headSize)
            forward += linear + attention
            if l >= lowest { backward += linear + 2 * attention }
        }
        self.forward = forward
        self.backward = backward
    }
}
