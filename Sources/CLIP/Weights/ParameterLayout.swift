import Numerics

/// The table of every tensor of a Hugging Face `CLIPModel`, by its safetensors name, with its shape
/// and its offset in one flat Float32 buffer (llm.c's parameter table).
///
/// Per encoder layer `P = {vision_model, text_model}.encoder.layers.i`, with width D and MLP width F:
/// ```
/// P.self_attn.{q,k,v}_proj.weight   (D, D) each, stored back to back = one (3D, D) fused q|k|v matrix
/// P.self_attn.{q,k,v}_proj.bias     (D) each, back to back = one (3D) bias
/// P.self_attn.out_proj.weight (D, D), .bias (D);  P.layer_norm{1,2}.weight/.bias (D)
/// P.mlp.fc1.weight (F, D), .bias (F);  P.mlp.fc2.weight (D, F), .bias (D)
/// ```
/// Offsets are contiguous in declaration order with no padding, so the fused blocks hold by construction.
public struct ParameterLayout: Sendable {
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public private(set) var entries: [Entry] = []
    private var indexByName: [String: Int] = [:]
    public private(set) var count = 0

    public init() {}

    /// Appends a tensor at the end of the buffer.
    public mutating func append(_ name: String, _ shape: [Int]) {
        precondition(indexByName[name] == nil, "parameter \(name) declared twice")
        indexByName[name] = entries.count
        entries.append(Entry(name: name, shape: shape, offset: count))
        count += shape.reduce(1, *)
    }

    public func entry(_ name: String) -> Entry? { indexByName[name].map { entries[$0] } }

    /// The offset of a tensor that the layout is known to hold (a missing name is a programming error).
    public func offset(_ name: String) -> Int {
        guard let entry = entry(name) else { preconditionFailure("no parameter named \(name)") }
        return entry.offset
    }
}

extension ParameterLayout {
    /// Every tensor of `CLIPModel` for `config`, in the order that fuses q|k|v per layer.
    public static func clip(_ config: CLIPConfig) -> ParameterLayout {
        var layout = ParameterLayout()
        let vision = config.vision, text = config.text
        let dv = vision.encoder.hiddenSize, dt = text.encoder.hiddenSize
        layout.append("vision_model.embeddings.class_embedding", [dv])
        layout.append("vision_model.embeddings.patch_embedding.weight",
                      [dv, vision.channels, vision.patchSize, vision.patchSize])
        layout.append("vision_model.embeddings.position_embedding.weight", [vision.tokenCount, dv])
        layout.append("vision_model.pre_layrnorm.weight", [dv])
        layout.append("vision_model.pre_layrnorm.bias", [dv])
        layout.appendEncoder(prefix: "vision_model.encoder.layers", vision.encoder)
        layout.append("vision_model.post_layernorm.weight", [dv])
        layout.append("vision_model.post_layernorm.bias", [dv])
        layout.append("visual_projection.weight", [config.projectionDim, dv])
        layout.append("text_model.embeddings.token_embedding.weight", [text.vocabularySize, dt])
        layout.append("text_model.embeddings.position_embedding.weight", [text.contextLength, dt])
        layout.appendEncoder(prefix: "text_model.encoder.layers", text.encoder)
        layout.append("text_model.final_layer_norm.weight", [dt])
        layout.append("text_model.final_layer_norm.bias", [dt])
        layout.append("text_projection.weight", [config.projectionDim, dt])
        layout.append("logit_scale", [])
        return layout
    }

    private mutating func appendEncoder(prefix: String, _ encoder: CLIPEncoderConfig) {
        let d = encoder.hiddenSize, f = encoder.intermediateSize
        for i in 0..<encoder.layers {
            let p = "\(prefix).\(i)"
            for part in ["q", "k", "v"] { append("\(p).self_attn.\(part)_proj.weight", [d, d]) }
            for part in ["q", "k", "v"] { append("\(p).self_attn.\(part)_proj.bias", [d]) }
            append("\(p).self_attn.out_proj.weight", [d, d])
            append("\(p).self_attn.out_proj.bias", [d])
            append("\(p).layer_norm1.weight", [d])
            append("\(p).layer_norm1.bias", [d])
            append("\(p).layer_norm2.weight", [d])
            append("\(p).layer_norm2.bias", [d])
            append("\(p).mlp.fc1.weight", [f, d])
            append("\(p).mlp.fc1.bias", [f])
            append("\(p).mlp.fc2.weight", [d, f])
            append("\(p).mlp.fc2.bias", [d])
        }
    }
}
