import Foundation
import Numerics

/// A frozen CLIP: its configuration and all its weights in one flat buffer laid out by
/// `ParameterLayout.clip` (Hugging Face `CLIPModel` names).
public final class CLIPModel: @unchecked Sendable {
    public let config: CLIPConfig
    public let weights: ParameterBuffer

    public init(config: CLIPConfig, weights: ParameterBuffer) {
        precondition(weights.layout.count == ParameterLayout.clip(config).count, "weights laid out for another config")
        self.config = config
        self.weights = weights
    }

    /// log of the contrastive temperature's inverse (`logit_scale`).
    public var logitScale: Float { weights["logit_scale"].pointee }

    /// A new zero-filled buffer with this model's layout (for weight gradients).
    public func makeGradientBuffer() -> ParameterBuffer { ParameterBuffer(layout: weights.layout) }
}

extension CLIPModel {
    /// Random weights in the simplest form of transformers' initialisation of a `CLIPModel` (normal, std 0.02 =
    /// `initializer_range` for every linear and embedding weight, biases 0, LayerNorm 1 and 0, `logit_scale` from
    /// the config), seeded. For benchmarks and tests; `initialised(config:seed:)` draws with transformers' own
    /// per-layer scales, for training from scratch.
    public static func random(config: CLIPConfig, seed: UInt64) -> CLIPModel {
        let layout = ParameterLayout.clip(config)
        let buffer = ParameterBuffer(layout: layout)
        var generator = SplitMix64(seed: seed)
        for entry in layout.entries {
            let pointer = buffer.storage + entry.offset
            if entry.name == "logit_scale" {
                pointer.pointee = config.logitScaleInit
            } else if entry.name.contains("layer_norm") || entry.name.contains("layrnorm") || entry.name.contains("layernorm") {
                pointer.update(repeating: entry.name.hasSuffix(".weight") ? 1 : 0, count: entry.count)
            } else if entry.name.hasSuffix(".bias") {
                pointer.update(repeating: 0, count: entry.count)
            } else {
                generator.fillNormal(pointer, count: entry.count, std: 0.02)
            }
        }
        return CLIPModel(config: config, weights: buffer)
    }
}
