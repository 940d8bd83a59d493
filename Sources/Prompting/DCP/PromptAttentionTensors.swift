import CLIP

/// The fourteen tensors of one `PromptAttentionBranch`, as pointers into a parameter buffer (values) or into
/// its gradient buffer (same layout). Names follow the official code's `PromptAttention` module (GingL/CMPA,
/// clip/model.py), the vision branch's names there in brackets:
/// ```
/// projection.weight, .bias          (D, E), (D)      [proj_t2v]   the other tower's prompts into this width
/// norm1.weight, .bias               (D), (D)         [ln_pa_1_visual]   one LayerNorm for queries, keys and values
/// attention.in_proj.weight, .bias   (3D, D), (3D)    [promt_attention_visual.in_proj_*]   rows W_q; W_k; W_v
/// attention.out_proj.weight, .bias  (D, D), (D)      [promt_attention_visual.out_proj]
/// norm2.weight, .bias               (D), (D)         [ln_pa_2_visual]
/// mlp.fc.weight, .bias              (4D, D), (4D)    [mlp_pa_visual.c_fc]
/// mlp.proj.weight, .bias            (D, 4D), (D)     [mlp_pa_visual.c_proj]
/// ```
public struct PromptAttentionTensors {
    public let projectionWeight: UnsafeMutablePointer<Float>
    public let projectionBias: UnsafeMutablePointer<Float>
    public let norm1Weight: UnsafeMutablePointer<Float>
    public let norm1Bias: UnsafeMutablePointer<Float>
    public let inProjectionWeight: UnsafeMutablePointer<Float>
    public let inProjectionBias: UnsafeMutablePointer<Float>
    public let outProjectionWeight: UnsafeMutablePointer<Float>
    public let outProjectionBias: UnsafeMutablePointer<Float>
    public let norm2Weight: UnsafeMutablePointer<Float>
    public let norm2Bias: UnsafeMutablePointer<Float>
    public let fcWeight: UnsafeMutablePointer<Float>
    public let fcBias: UnsafeMutablePointer<Float>
    public let mlpProjectionWeight: UnsafeMutablePointer<Float>
    public let mlpProjectionBias: UnsafeMutablePointer<Float>

    /// The tensor names under `prefix` with their shapes, for a branch of width D (`own`) reading prompts of
    /// width E (`other`), in declaration order.
    public static func shapes(prefix: String, own d: Int, other e: Int) -> [(name: String, shape: [Int])] {
        [("\(prefix).projection.weight", [d, e]), ("\(prefix).projection.bias", [d]),
         ("\(prefix).norm1.weight", [d]), ("\(prefix).norm1.bias", [d]),
         ("\(prefix).attention.in_proj.weight", [3 * d, d]), ("\(prefix).attention.in_proj.bias", [3 * d]),
         ("\(prefix).attention.out_proj.weight", [d, d]), ("\(prefix).attention.out_proj.bias", [d]),
         ("\(prefix).norm2.weight", [d]), ("\(prefix).norm2.bias", [d]),
         ("\(prefix).mlp.fc.weight", [4 * d, d]), ("\(prefix).mlp.fc.bias", [4 * d]),
         ("\(prefix).mlp.proj.weight", [d, 4 * d]), ("\(prefix).mlp.proj.bias", [d])]
    }

    /// The branch's tensors under `prefix` in `buffer` (values or gradients).
    public init(prefix: String, in buffer: ParameterBuffer) {
        projectionWeight = buffer["\(prefix).projection.weight"]
        projectionBias = buffer["\(prefix).projection.bias"]
        norm1Weight = buffer["\(prefix).norm1.weight"]
        norm1Bias = buffer["\(prefix).norm1.bias"]
        inProjectionWeight = buffer["\(prefix).attention.in_proj.weight"]
        inProjectionBias = buffer["\(prefix).attention.in_proj.bias"]
        outProjectionWeight = buffer["\(prefix).attention.out_proj.weight"]
        outProjectionBias = buffer["\(prefix).attention.out_proj.bias"]
        norm2Weight = buffer["\(prefix).norm2.weight"]
        norm2Bias = buffer["\(prefix).norm2.bias"]
        fcWeight = buffer["\(prefix).mlp.fc.weight"]
        fcBias = buffer["\(prefix).mlp.fc.bias"]
        mlpProjectionWeight = buffer["\(prefix).mlp.proj.weight"]
        mlpProjectionBias = buffer["\(prefix).mlp.proj.bias"]
    }
}
