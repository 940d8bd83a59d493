import CLIP
import Prompting

extension MethodSection {
    /// The method `name` names, with its sub-table's settings, for a model with this vision tower.
    public func makeMethod(vision: CLIPVisionConfig) throws -> any PromptMethod {
        switch name {
        case .vptDeep:
            return try vptPrompts(vision: vision)
        case .vptNSP2:
            return try nullSpaceMethod(.vpt, vision: vision)
        case .clipNSP2:
            return try nullSpaceMethod(.clip, vision: vision)
        }
    }

    /// NSP2 on `[method.vpt]`'s prompts. The adaptive rule needs 3 singular values in each spectrum, and
    /// Omega2's has one per prompt token: fewer tokens are refused here rather than after the first task.
    private func nullSpaceMethod(_ variant: NullSpacePromptTuning.Variant, vision: CLIPVisionConfig) throws -> NullSpacePromptTuning {
        if nsp2.threshold == .adaptive && vpt.tokens < 3 {
            throw ConfigError.invalid(key: "method.vpt.tokens",
                                      problem: "\(vpt.tokens) prompt tokens are too few for \(name.rawValue)'s adaptive "
                                      + "null-space threshold (it needs 3 or more; or set method.nsp2.threshold = \"adam-nscl\")")
        }
        return NullSpacePromptTuning(variant: variant, prompts: try vptPrompts(vision: vision), settings: nsp2.settings)
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
