import Foundation
import Numerics

extension CLIPConfig {
    /// Reads the `config.json` of a Hugging Face `CLIPModel` (as `save_pretrained` writes it, or as on the hub).
    ///
    /// ```
    /// {"model_type": "clip", "projection_dim": 512, "logit_scale_init_value": 2.6592,
    ///  "text_config":   {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
    ///                    "num_attention_heads", "max_position_embeddings", "hidden_act", "layer_norm_eps",
    ///                    "bos_token_id", "eos_token_id", "pad_token_id", ...},
    ///  "vision_config": {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    ///                    "num_channels", "image_size", "patch_size", "hidden_act", "layer_norm_eps", ...}}
    /// ```
    /// A key missing from `text_config` / `vision_config` is taken from the legacy `text_config_dict` /
    /// `vision_config_dict` (older hub files have both), else it takes transformers' default
    /// (CLIPTextConfig, CLIPVisionConfig, CLIPConfig of transformers 5.23; `Defaults` below).
    /// Other keys are ignored. Throws `CLIPConfigError` naming the file and the key when the file is not
    /// JSON, `model_type` is present and not "clip", a value has the wrong JSON type or is not positive,
    /// `hidden_size` is not divisible by `num_attention_heads`, `image_size` not by `patch_size`, or
    /// `hidden_act` is not one of `Activation`'s.
    public init(contentsOf url: URL) throws {
        let bytes: Data
        do {
            bytes = try Data(contentsOf: url)
        } catch {
            throw CLIPConfigError(url, nil, "cannot read the file: \(error.localizedDescription)")
        }
        let json: JSONValue
        do {
            json = try JSONValue(parsing: Array(bytes))
        } catch {
            throw CLIPConfigError(url, nil, "not JSON: \(error)")
        }
        guard case .object(let root) = json else {
            throw CLIPConfigError(url, nil, "expected a JSON object, found \(json.typeDescription)")
        }

        let top = ConfigSection(url: url, root: root)
        if root["model_type"] != nil {
            let modelType = try top.string("model_type", default: "clip")
            guard modelType == "clip" else {
                throw top.error("model_type", "is \"\(modelType)\", expected \"clip\" (the config.json of a CLIPModel)")
            }
        }

        let text = try ConfigSection(url: url, root: root, key: "text_config", legacyKey: "text_config_dict")
        let textEncoder = try CLIPEncoderConfig(text, defaults: Defaults.textEncoder)
        self.text = CLIPTextConfig(
            encoder: textEncoder,
            vocabularySize: try text.positive("vocab_size", default: Defaults.vocabularySize),
            contextLength: try text.positive("max_position_embeddings", default: Defaults.contextLength),
            bosTokenID: try text.integer("bos_token_id", default: Defaults.bosTokenID),
            eosTokenID: try text.integer("eos_token_id", default: Defaults.eosTokenID),
            padTokenID: try text.integer("pad_token_id", default: Defaults.padTokenID))

        let vision = try ConfigSection(url: url, root: root, key: "vision_config", legacyKey: "vision_config_dict")
        let imageSize = try vision.side("image_size", default: Defaults.imageSize)
        let patchSize = try vision.side("patch_size", default: Defaults.patchSize)
        guard imageSize % patchSize == 0 else {
            throw vision.error("image_size", "\(imageSize) is not divisible by \(vision.path("patch_size")) \(patchSize)")
        }
        self.vision = CLIPVisionConfig(
            encoder: try CLIPEncoderConfig(vision, defaults: Defaults.visionEncoder),
            imageSize: imageSize,
            patchSize: patchSize,
            channels: try vision.positive("num_channels", default: Defaults.channels))

        projectionDim = try top.positive("projection_dim", default: Defaults.projectionDim)
        logitScaleInit = try top.number("logit_scale_init_value", default: Defaults.logitScaleInit)
    }

    /// transformers 5.23's defaults (models/clip/configuration_clip.py), the shape of openai/clip-vit-base-patch32.
    enum Defaults {
        static let textEncoder = CLIPEncoderConfig(hiddenSize: 512, intermediateSize: 2048, attentionHeads: 8,
                                                   layers: 12, layerNormEps: 1e-5, activation: .quickGELU)
        static let vocabularySize = 49408
        static let contextLength = 77
        static let bosTokenID = 49406
        static let eosTokenID = 49407
        static let padTokenID = 1

        static let visionEncoder = CLIPEncoderConfig(hiddenSize: 768, intermediateSize: 3072, attentionHeads: 12,
                                                     layers: 12, layerNormEps: 1e-5, activation: .quickGELU)
        static let imageSize = 224
        static let patchSize = 32
        static let channels = 3

        static let projectionDim = 512
        static let logitScaleInit: Float = 2.6592
    }
}

extension CLIPEncoderConfig {
    /// The encoder keys of one tower's section, each missing one taken from `defaults`.
    init(_ section: ConfigSection, defaults: CLIPEncoderConfig) throws {
        let hiddenSize = try section.positive("hidden_size", default: defaults.hiddenSize)
        let heads = try section.positive("num_attention_heads", default: defaults.attentionHeads)
        guard hiddenSize % heads == 0 else {
            throw section.error("hidden_size", "\(hiddenSize) is not divisible by "
                                + "\(section.path("num_attention_heads")) \(heads)")
        }
        let activationName = try section.string("hidden_act", default: defaults.activation.rawValue)
        guard let activation = Activation(rawValue: activationName) else {
            let supported = Activation.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw section.error("hidden_act", "\"\(activationName)\" is not supported (supported: \(supported))")
        }
        let eps = try section.number("layer_norm_eps", default: defaults.layerNormEps)
        guard eps > 0 else { throw section.error("layer_norm_eps", "must be positive, found \(eps)") }
        self.init(hiddenSize: hiddenSize,
                  intermediateSize: try section.positive("intermediate_size", default: defaults.intermediateSize),
                  attentionHeads: heads,
                  layers: try section.positive("num_hidden_layers", default: defaults.layers),
                  layerNormEps: eps,
                  activation: activation)
    }
}
