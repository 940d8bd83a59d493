import Foundation

extension CLIPConfig {
    /// The `config.json` of a Hugging Face `CLIPModel` with this shape, as transformers' `save_pretrained`
    /// lays it out (indent 2, sorted keys) and `CLIPConfig.from_pretrained` reads it; `init(contentsOf:)`
    /// reads it back to an equal config:
    /// ```
    /// {"architectures": ["CLIPModel"], "model_type": "clip", "dtype": "float32", "initializer_factor": 1.0,
    ///  "projection_dim", "logit_scale_init_value",
    ///  "text_config":   {"model_type": "clip_text_model", "vocab_size", "hidden_size", "intermediate_size",
    ///                    "num_hidden_layers", "num_attention_heads", "max_position_embeddings", "hidden_act",
    ///                    "layer_norm_eps", "bos_token_id", "eos_token_id", "pad_token_id", ...},
    ///  "vision_config": {"model_type": "clip_vision_model", "hidden_size", "intermediate_size",
    ///                    "num_hidden_layers", "num_attention_heads", "num_channels", "image_size",
    ///                    "patch_size", "hidden_act", "layer_norm_eps", ...}}
    /// ```
    /// Besides the shape it states transformers' defaults for the keys that only matter to its training code
    /// (`attention_dropout` 0, `initializer_range` 0.02, `initializer_factor` 1). Every value is the one
    /// `save_pretrained` writes for the same model (CLIPSavingTests compares with its file).
    public var jsonText: String {
        func encoder(_ encoder: CLIPEncoderConfig, modelType: String) -> [String: JSONValue] {
            [
                "model_type": .string(modelType),
                "hidden_size": .int(encoder.hiddenSize),
                "intermediate_size": .int(encoder.intermediateSize),
                "num_hidden_layers": .int(encoder.layers),
                "num_attention_heads": .int(encoder.attentionHeads),
                "hidden_act": .string(encoder.activation.rawValue),
                "layer_norm_eps": JSONValue(encoder.layerNormEps),
                "attention_dropout": .double(0),
                "initializer_range": .double(0.02),
                "initializer_factor": .double(1),
            ]
        }
        var textConfig = encoder(text.encoder, modelType: "clip_text_model")
        textConfig["vocab_size"] = .int(text.vocabularySize)
        textConfig["max_position_embeddings"] = .int(text.contextLength)
        textConfig["bos_token_id"] = .int(text.bosTokenID)
        textConfig["eos_token_id"] = .int(text.eosTokenID)
        textConfig["pad_token_id"] = .int(text.padTokenID)
        var visionConfig = encoder(vision.encoder, modelType: "clip_vision_model")
        visionConfig["num_channels"] = .int(vision.channels)
        visionConfig["image_size"] = .int(vision.imageSize)
        visionConfig["patch_size"] = .int(vision.patchSize)
        let root: [String: JSONValue] = [
            "architectures": .array([.string("CLIPModel")]),
            "model_type": .string("clip"),
            "dtype": .string("float32"),
            "initializer_factor": .double(1),
            "projection_dim": .int(projectionDim),
            "logit_scale_init_value": JSONValue(logitScaleInit),
            "text_config": .object(textConfig),
            "vision_config": .object(visionConfig),
        ]
        return JSONValue.object(root).prettyText
    }
}
