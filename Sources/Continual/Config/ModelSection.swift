import CLIP

/// `[model]`: the frozen CLIP. A Hugging Face `CLIPModel` folder (`config.json`, `model.safetensors`,
/// `vocab.json`, `merges.txt`, as `save_pretrained` writes it), or, when `path` is empty, a model with
/// random weights (transformers' initialisation, seeded by the run's `seed`) of the shapes in `[model.random]`
/// and the CLIP vocabulary bundled with promptcl: for examples, tests and benchmarks.
public struct ModelSection: Codable, Equatable, Sendable {
    /// The Hugging Face folder; "" for random weights.
    public var path = ""
    public var random = RandomModelSection()

    public init() {}

    func validate() throws {
        if path.isEmpty { try random.validate() }
    }
}

/// `[model.random]`: the shapes of a random-weight CLIP (QuickGELU, MLP 4 x width, LayerNorm eps 1e-5,
/// logit scale ln(1 / 0.07) as CLIP's initialisation). The defaults are a tiny model that trains in seconds.
public struct RandomModelSection: Codable, Equatable, Sendable {
    public var imageSize = 32
    public var patchSize = 8
    public var visionWidth = 64
    public var visionLayers = 4
    public var visionHeads = 4
    public var textWidth = 64
    public var textLayers = 2
    public var textHeads = 4
    public var projectionDim = 64
    public var contextLength = 77

    public init() {}

    enum CodingKeys: String, CodingKey {
        case imageSize = "image_size", patchSize = "patch_size", visionWidth = "vision_width"
        case visionLayers = "vision_layers", visionHeads = "vision_heads", textWidth = "text_width"
        case textLayers = "text_layers", textHeads = "text_heads", projectionDim = "projection_dim"
        case contextLength = "context_length"
    }

    func validate() throws {
        let key = "model.random."
        for (name, value) in [("image_size", imageSize), ("patch_size", patchSize), ("vision_width", visionWidth),
                              ("vision_layers", visionLayers), ("vision_heads", visionHeads),
                              ("text_width", textWidth), ("text_layers", textLayers), ("text_heads", textHeads),
                              ("projection_dim", projectionDim)] {
            try ConfigCheck.that(value > 0, key + name, "must be > 0, got \(value)")
        }
        try ConfigCheck.that(imageSize % patchSize == 0, key + "image_size",
                             "\(imageSize) is not a multiple of patch_size \(patchSize)")
        try ConfigCheck.that(visionWidth % visionHeads == 0, key + "vision_width",
                             "\(visionWidth) does not divide into vision_heads \(visionHeads)")
        try ConfigCheck.that(textWidth % textHeads == 0, key + "text_width",
                             "\(textWidth) does not divide into text_heads \(textHeads)")
        try ConfigCheck.that(contextLength >= 8, key + "context_length", "must be >= 8, got \(contextLength)")
    }

    /// The model config for a tokenizer of `vocabularySize` ids whose SOT and EOT are `startOfText`, `endOfText`.
    public func clipConfig(vocabularySize: Int, startOfText: Int, endOfText: Int) -> CLIPConfig {
        func encoder(_ width: Int, _ heads: Int, _ layers: Int) -> CLIPEncoderConfig {
            CLIPEncoderConfig(hiddenSize: width, intermediateSize: 4 * width, attentionHeads: heads, layers: layers,
                              layerNormEps: 1e-5, activation: .quickGELU)
        }
        return CLIPConfig(
            vision: CLIPVisionConfig(encoder: encoder(visionWidth, visionHeads, visionLayers),
                                     imageSize: imageSize, patchSize: patchSize, channels: 3),
            text: CLIPTextConfig(encoder: encoder(textWidth, textHeads, textLayers), vocabularySize: vocabularySize,
                                 contextLength: contextLength, bosTokenID: startOfText, eosTokenID: endOfText,
                                 padTokenID: endOfText),
            projectionDim: projectionDim, logitScaleInit: 2.6592)
    }
}
