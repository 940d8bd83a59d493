import CLIP

/// Zero-shot CLIP (Radford et al., 2021): the frozen model with no prompts and nothing to train, the lower
/// reference of every table. The trainer takes no steps for it; evaluation sees plain CLIP.
public struct ZeroShotCLIP: PromptMethod, Sendable {
    public init() {}

    public var name: String { "zero-shot" }
    public var visionPlan: PromptPlan { .none }
    public var textPlan: PromptPlan { .none }
    public func declare(into layout: inout ParameterLayout) {}
    public func initialize(_ values: ParameterBuffer, seed: UInt64) {}
    public func visionPrompts(_ values: ParameterBuffer) -> [PromptValues] { [] }
    public func visionPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] { [] }
    public func textPrompts(_ values: ParameterBuffer) -> [PromptValues] { [] }
    public func textPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] { [] }
}
