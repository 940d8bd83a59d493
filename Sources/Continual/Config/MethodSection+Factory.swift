import CLIP
import Prompting

extension MethodSection {
    /// The method `name` names, with its sub-table's settings, for a model with this vision tower.
    public func makeMethod(vision: CLIPVisionConfig) throws -> any PromptMethod {
        switch name {
        case .vptDeep:
            return try vptPrompts(vision: vision)
        case .vptNSP2:
            return NullSpacePromptTuning(variant: .vpt, prompts: try vptPrompts(vision: vision), settings: nsp2.settings)
        case .clipNSP2:
            return NullSpacePromptTuning(variant: .clip, prompts: try vptPrompts(vision: vision), settings: nsp2.settings)
        }
    }

    /// `[method.vpt]`'s prompts on this vision tower.
    private func vptPrompts(vision: CLIPVisionConfig) throws -> VPTDeep {
        guard vpt.layers.allSatisfy({ $0 < vision.encoder.layers }) else {
            throw ConfigError.invalid(key: "method.vpt.layers",
                                      problem: "\(vpt.layers) has a layer outside the model's 0..<\(vision.encoder.layers)")
        }
        return try VPTDeep(config: vision, tokens: vpt.tokens, layers: vpt.layers.isEmpty ? nil : vpt.layers,
                           initialization: vpt.initialization)
    }
}
