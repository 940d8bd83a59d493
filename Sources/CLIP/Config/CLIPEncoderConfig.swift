import Numerics

/// The shape of one transformer encoder stack (CLIP's vision or text tower).
///
/// Each of the `layers` blocks: x += MHA(LN(x)) with `attentionHeads` heads of `headSize`;
/// x += W2 act(W1 LN(x)) with W1 (intermediateSize, hiddenSize) and W2 (hiddenSize, intermediateSize).
public struct CLIPEncoderConfig: Equatable, Sendable {
    /// D, the width of the residual stream (`hidden_size`).
    public var hiddenSize: Int
    /// The MLP's inner width (`intermediate_size`).
    public var intermediateSize: Int
    /// H (`num_attention_heads`); divides `hiddenSize`.
    public var attentionHeads: Int
    /// L (`num_hidden_layers`).
    public var layers: Int
    /// The epsilon of every LayerNorm (`layer_norm_eps`).
    public var layerNormEps: Float
    /// The MLP's activation (`hidden_act`).
    public var activation: Activation

    /// d_h = D / H.
    public var headSize: Int { hiddenSize / attentionHeads }

    public init(hiddenSize: Int, intermediateSize: Int, attentionHeads: Int, layers: Int,
                layerNormEps: Float, activation: Activation) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.attentionHeads = attentionHeads
        self.layers = layers
        self.layerNormEps = layerNormEps
        self.activation = activation
    }
}
