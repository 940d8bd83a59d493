import Foundation
import Numerics

extension CLIPModel {
    /// Random weights drawn as transformers 5.23 initialises a new `CLIPModel` (`CLIPPreTrainedModel._init_weights`,
    /// `initializer_factor` 1), seeded: the scaled initialisation that trains from scratch (`promptcl pretrain`).
    /// With D a tower's width and L its depth:
    /// ```
    /// text token and position embeddings        N(0, 0.02^2)
    /// vision class embedding                    N(0, 1 / D)
    /// vision patch and position embeddings      N(0, 0.02^2)
    /// q_proj, k_proj, v_proj, mlp.fc2 weights   N(0, 1 / (2 L D))
    /// out_proj weight                           N(0, 1 / D)
    /// mlp.fc1 weight                            N(0, 1 / (2 D))
    /// visual_projection, text_projection        N(0, 1 / D of their tower)
    /// biases 0, LayerNorm weights 1 and biases 0, logit_scale = config.logitScaleInit
    /// ```
    /// (`random(config:seed:)` draws every matrix with std 0.02 instead.)
    public static func initialised(config: CLIPConfig, seed: UInt64) -> CLIPModel {
        let layout = ParameterLayout.clip(config)
        let buffer = ParameterBuffer(layout: layout)
        var generator = SplitMix64(seed: seed)
        for entry in layout.entries {
            let pointer = buffer.storage + entry.offset
            let name = entry.name
            let encoder = name.hasPrefix("vision_model") || name == "visual_projection.weight"
                ? config.vision.encoder : config.text.encoder
            let width = Float(encoder.hiddenSize), layers = Float(encoder.layers)
            let std: Float
            if name == "logit_scale" {
                pointer.pointee = config.logitScaleInit
                continue
            } else if name.contains("layer_norm") || name.contains("layrnorm") || name.contains("layernorm") {
                pointer.update(repeating: name.hasSuffix(".weight") ? 1 : 0, count: entry.count)
                continue
            } else if name.hasSuffix(".bias") {
                pointer.update(repeating: 0, count: entry.count)
                continue
            } else if name.hasSuffix("class_embedding") || name.hasSuffix("out_proj.weight")
                        || name.hasSuffix("projection.weight") {
                std = 1 / width.squareRoot()
            } else if name.hasSuffix("q_proj.weight") || name.hasSuffix("k_proj.weight") || name.hasSuffix("v_proj.weight")
                        || name.hasSuffix("fc2.weight") {
                std = 1 / (2 * layers * width).squareRoot()
            } else if name.hasSuffix("fc1.weight") {
                std = 1 / (2 * width).squareRoot()
            } else {
                std = 0.02  // token, position and patch embeddings
            }
            generator.fillNormal(pointer, count: entry.count, std: std)
        }
        return CLIPModel(config: config, weights: buffer)
    }
}
