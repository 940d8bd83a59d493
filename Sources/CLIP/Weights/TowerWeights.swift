/// Views into a `ParameterBuffer` (weights or their gradients) for one encoder layer.
/// `qkvWeight` is the fused (3D, D) q|k|v matrix, `qkvBias` the fused (3D) bias.
public struct EncoderLayerWeights {
    public let layerNorm1Weight, layerNorm1Bias: UnsafeMutablePointer<Float>   // (D)
    public let qkvWeight, qkvBias: UnsafeMutablePointer<Float>                 // (3D, D), (3D)
    public let outWeight, outBias: UnsafeMutablePointer<Float>                 // (D, D), (D)
    public let layerNorm2Weight, layerNorm2Bias: UnsafeMutablePointer<Float>   // (D)
    public let fc1Weight, fc1Bias: UnsafeMutablePointer<Float>                 // (F, D), (F)
    public let fc2Weight, fc2Bias: UnsafeMutablePointer<Float>                 // (D, F), (D)

    init(_ buffer: ParameterBuffer, prefix p: String) {
        layerNorm1Weight = buffer["\(p).layer_norm1.weight"]
        layerNorm1Bias = buffer["\(p).layer_norm1.bias"]
        qkvWeight = buffer["\(p).self_attn.q_proj.weight"]
        qkvBias = buffer["\(p).self_attn.q_proj.bias"]
        outWeight = buffer["\(p).self_attn.out_proj.weight"]
        outBias = buffer["\(p).self_attn.out_proj.bias"]
        layerNorm2Weight = buffer["\(p).layer_norm2.weight"]
        layerNorm2Bias = buffer["\(p).layer_norm2.bias"]
        fc1Weight = buffer["\(p).mlp.fc1.weight"]
        fc1Bias = buffer["\(p).mlp.fc1.bias"]
        fc2Weight = buffer["\(p).mlp.fc2.weight"]
        fc2Bias = buffer["\(p).mlp.fc2.bias"]
    }

    static func stack(_ buffer: ParameterBuffer, tower: String, layers: Int) -> [EncoderLayerWeights] {
        (0..<layers).map { EncoderLayerWeights(buffer, prefix: "\(tower).encoder.layers.\($0)") }
    }
}

/// Views for the vision tower: embeddings, pre-LN, layers, post-LN and projection.
public struct VisionWeights {
    public let classEmbedding: UnsafeMutablePointer<Float>        // (D)
    public let patchWeight: UnsafeMutablePointer<Float>           // (D, C * p * p)
    public let positionEmbedding: UnsafeMutablePointer<Float>     // (1 + P, D)
    public let preLayerNormWeight, preLayerNormBias: UnsafeMutablePointer<Float>
    public let layers: [EncoderLayerWeights]
    public let postLayerNormWeight, postLayerNormBias: UnsafeMutablePointer<Float>
    public let projection: UnsafeMutablePointer<Float>            // (E, D)

    var head: ProjectionHead.Weights {
        ProjectionHead.Weights(layerNormWeight: postLayerNormWeight, layerNormBias: postLayerNormBias, projection: projection)
    }

    public init(_ buffer: ParameterBuffer, config: CLIPVisionConfig) {
        classEmbedding = buffer["vision_model.embeddings.class_embedding"]
        patchWeight = buffer["vision_model.embeddings.patch_embedding.weight"]
        positionEmbedding = buffer["vision_model.embeddings.position_embedding.weight"]
        preLayerNormWeight = buffer["vision_model.pre_layrnorm.weight"]
        preLayerNormBias = buffer["vision_model.pre_layrnorm.bias"]
        layers = EncoderLayerWeights.stack(buffer, tower: "vision_model", layers: config.encoder.layers)
        postLayerNormWeight = buffer["vision_model.post_layernorm.weight"]
        postLayerNormBias = buffer["vision_model.post_layernorm.bias"]
        projection = buffer["visual_projection.weight"]
    }
}

/// Views for the text tower: embeddings, layers, final LN and projection.
public struct TextWeights {
    public let tokenEmbedding: UnsafeMutablePointer<Float>        // (V, D)
    public let positionEmbedding: UnsafeMutablePointer<Float>     // (context, D)
    public let layers: [EncoderLayerWeights]
    public let finalLayerNormWeight, finalLayerNormBias: UnsafeMutablePointer<Float>
    public let projection: UnsafeMutablePointer<Float>            // (E, D)

    var head: ProjectionHead.Weights {
        ProjectionHead.Weights(layerNormWeight: finalLayerNormWeight, layerNormBias: finalLayerNormBias, projection: projection)
    }

    public init(_ buffer: ParameterBuffer, config: CLIPTextConfig) {
        tokenEmbedding = buffer["text_model.embeddings.token_embedding.weight"]
        positionEmbedding = buffer["text_model.embeddings.position_embedding.weight"]
        layers = EncoderLayerWeights.stack(buffer, tower: "text_model", layers: config.encoder.layers)
        finalLayerNormWeight = buffer["text_model.final_layer_norm.weight"]
        finalLayerNormBias = buffer["text_model.final_layer_norm.bias"]
        projection = buffer["text_projection.weight"]
    }
}
