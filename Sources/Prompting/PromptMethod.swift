import CLIP

/// A prompt method as the trainer drives it (DESIGN.md, "Prompting methods"): it declares its tensors in
/// the flat trainable buffer, says where its prompts go in each tower, and may add losses of its own.
///
/// Per step, on every rank:
/// ```
/// image = vision(pixels; visionPrompts(values))        text = text(ids; textPrompts(values))
/// loss  = objective(image, text) [local rows, back-propagated into visionPromptGradients / textPromptGradients]
/// all-reduce the gradient buffer
/// loss += addPromptLoss(values, gradients)             [depends on the replicated prompts only: added once]
/// optimizer.step(values, gradients, lr, transformUpdate: updateTransform)   [NSP2 projects Adam's update]
/// ```
/// Methods with more hooks (task identity) extend this protocol in their issues.
public protocol PromptMethod {
    /// The name configs use ("vpt-deep").
    var name: String { get }
    /// Prompt sites of the vision tower (`.none` for none).
    var visionPlan: PromptPlan { get }
    /// Prompt sites of the text tower (`.none` for none).
    var textPlan: PromptPlan { get }

    /// Appends the method's trainable tensors to `layout`.
    func declare(into layout: inout ParameterLayout)
    /// Fills the method's tensors of `values` with their initial values, seeded.
    func initialize(_ values: ParameterBuffer, seed: UInt64)

    /// The values of `visionPlan.sites[i]`, read from the trainable buffer.
    func visionPrompts(_ values: ParameterBuffer) -> [PromptValues]
    /// Where the gradient of `visionPlan.sites[i]` accumulates.
    func visionPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?]
    func textPrompts(_ values: ParameterBuffer) -> [PromptValues]
    func textPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?]

    /// Losses that depend on the (replicated) trainable values alone: returns their value and adds
    /// (`+=`) their gradient. The trainer calls it once per step after the all-reduce, on every rank,
    /// so such a loss counts once whatever the number of ranks.
    func addPromptLoss(values: ParameterBuffer, gradients: ParameterBuffer) -> Float

    /// Changes the optimiser's final update in place before it is added (`Optimizer.step`'s `transformUpdate`:
    /// the update buffer and its length); nil leaves it as it is.
    var updateTransform: ((UnsafeMutablePointer<Float>, Int) -> Void)? { get }
}

extension PromptMethod {
    /// Most methods leave the optimiser's update alone.
    public var updateTransform: ((UnsafeMutablePointer<Float>, Int) -> Void)? { nil }
}
