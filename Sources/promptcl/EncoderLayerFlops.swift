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
