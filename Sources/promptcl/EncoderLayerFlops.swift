import CLIP

/// Forward GEMM FLOPs of one encoder layer (multiply-add = 2 FLOPs) over `batch` sequences of `tokens` rows,
/// width D, MLP width F, H heads of d_h:
/// ```
/// linear     2 B T (3D^2 + D^2 + 2DF)   q|k|v, out_proj, fc1, fc2
/// attention  2 * 2 B H T^2 d_h          Q K^T and A V (every pair of rows: a causal mask saves nothing here)
/// ```
/// LayerNorms, biases, the activation, the softmax and the residual adds are left out (O(B T D), under 1%).
/// The backward of a layer to its input costs `linear` again and `attention` twice (`VisionStepFlops`).
struct EncoderLayerFlops {
    let linear: Double
    let attention: Double
    var total: Double { linear + attention }

    init(_ encoder: CLIPEncoderConfig, tokens: Int, batch: Int = 1) {
        let d = Double(encoder.hiddenSize), f = Double(encoder.intermediateSize)
        let b = Double(batch), t = Double(tokens)
        linear = 2 * b * t * (4 * d * d + 2 * d * f)
        attention = 4 * b * Double(encoder.attentionHeads) * t * t * Double(encoder.headSize)
    }
}

extension EncoderLayerFlops {
    /// GEMM FLOPs of a prompted encoder's layers over `batch` sequences of `baseTokens` rows plus the plan's
    /// prompt rows in the input of each layer (T_l = baseTokens + c_l, `PromptPlan.promptCounts`):
    /// ```
    /// forward   = sum over l of linear_l + attention_l
    /// backward  = sum over l >= the first prompted layer of linear_l + 2 attention_l   (to the inputs only)
    /// ```
    /// The backward of a prompt-tuning step stops at the first prompted layer: nothing below it is trained.
    /// Without sites it is 0.
    static func stack(_ encoder: CLIPEncoderConfig, baseTokens: Int, plan: PromptPlan, batch: Int)
        -> (forward: Double, backward: Double) {
        let counts = plan.promptCounts(layers: encoder.layers)
        let lowest = plan.sites.first?.layer ?? encoder.layers
        var forward = 0.0, backward = 0.0
        for l in 0..<encoder.layers {
            let layer = EncoderLayerFlops(encoder, tokens: baseTokens + counts[l], batch: batch)
            forward += layer.total
            if l >= lowest { backward += layer.linear + 2 * layer.attention }
        }
        return (forward, backward)
    }
}
