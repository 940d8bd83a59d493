import CLIP
import Prompting

extension MethodSection {
    /// The method `name` names, with its sub-table's settings, for a model with this vision tower.
    public func makeMethod(vision: CLIPVisionConfig) throws -> any PromptMethod {
        switch name {
        case .vptDeep:
            guard vpt.layers.allSatisfy({ $0 < vision.encoder.layers }) else {
                throw ConfigError.invalid(key: "method.vpt.layers",
                                          problem: "\(vpt.layers) has a layer outside the model's 0..<\(vision.encoder.layers)")
            }
            return try VPTDeep(config: vision, tokens: vpt.tokens, layers: vpt.layers.isEmpty ? nil : vpt.layers,
                               initialization: vpt.initialization)
        }
    }
}
