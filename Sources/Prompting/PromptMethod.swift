import CLIP

/// A prompt method as the trainer drives it (DESIGN.md, "Prompting methods"): it declares its tensors in
/// the flat trainable buffer, says where its prompts go in each tower, builds each batch's prompts from
/// them, and may add losses of its own.
///
/// Per step of task t, on every rank (`range` = `trainedRange(task: t)`):
/// ```
/// prepare(values, batch)                               [compose / couple / select the batch's prompts]
/// image = vision(pixels; visionPrompts(values))        text = text(ids; textPrompts(values))
///                                                      [ids: the batch's captions, or the C class texts of the text
///                                                       classifier: text prompts then shared by every row]
/// loss  = w objective(image, text) [w = objectiveWeight; local rows, back-propagated into visionPromptGradients / textPromptGradients]
/// loss += finishBackward(values, gradients, batch)     [prompt gradients -> parameter gradients; per-sample losses]
/// all-reduce gradients[range]                          [buckets of it start during the vision backward:
///                                                       visionGradientsFinal]
/// loss += addPromptLoss(values, gradients, task: t)    [depends on the replicated values only: added once]
/// optimizer.step(values[range], gradients[range], lr, transformUpdate: updateTransform)
/// ```
/// Methods whose prompts are fixed tensors (VPT-deep) point the towers straight into the buffers; methods
/// whose prompts are computed (LPI's low-rank composition, MaPLe's coupling, L2P's per-sample selection)
/// build them in `prepare` into buffers of their own and carry the gradients back in `finishBackward`.
public protocol PromptMethod {
    /// The name configs use (`method.name`, e.g. "vpt-seq").
    var name: String { get }
    /// Prompt sites of the vision tower (`.none` for none).
    var visionPlan: PromptPlan { get }
    /// Prompt sites of the text tower (`.none` for none).
    var textPlan: PromptPlan { get }

    /// Appends the method's trainable tensors to `layout`.
    func declare(into layout: inout ParameterLayout)
    /// Fills the method's tensors of `values` with their initial values, seeded.
    func initialize(_ values: ParameterBuffer, seed: UInt64)
    /// The offsets of the trainable buffer trained during `task`; the rest stays as it is (the earlier
    /// tasks' prompts of per-task methods). The whole buffer by default.
    func trainedRange(task: Int, in layout: ParameterLayout) -> Range<Int>

    /// Whether the prompts depend on each sample's task (per-task prompts: S-Prompts, LPI), so that inference
    /// needs task keys. False by default.
    var selectsByTask: Bool { get }
    /// Whether `prepare` reads `PromptBatch.imageQueries` (L2P). False by default.
    var needsImageQueries: Bool { get }

    /// Builds the prompts of `batch` from `values` before the towers' forward; nothing by default.
    func prepare(values: ParameterBuffer, batch: PromptBatch)
    /// The values of `visionPlan.sites[i]` for the batch last prepared.
    func visionPrompts(_ values: ParameterBuffer) -> [PromptValues]
    /// Where the gradient of `visionPlan.sites[i]` accumulates.
    func visionPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?]
    func textPrompts(_ values: ParameterBuffer) -> [PromptValues]
    func textPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?]
    /// After the towers' backward, on this rank's samples: carries the prompt gradients into the parameter
    /// gradients (`+=`) and adds the method's per-sample losses, each sample weighted 1 / `globalCount`.
    /// Returns this rank's share of those losses (the trainer sums the shares over ranks); 0 by default.
    func finishBackward(values: ParameterBuffer, gradients: ParameterBuffer, batch: PromptBatch, globalCount: Int) -> Float

    /// Losses that depend on the (replicated) trainable values alone during `task`: returns their value and
    /// adds (`+=`) their gradient. The trainer calls it once per step after the all-reduce, on every rank,
    /// so such a loss counts once whatever the number of ranks.
    func addPromptLoss(values: ParameterBuffer, gradients: ParameterBuffer, task: Int) -> Float

    /// The weight of the trainer's objective in the method's total loss (LPI's lambda_1); the trainer scales the
    /// objective's value and gradient by it. 1 by default. The contrastive and text-classifier objectives take
    /// it; the linear head refuses the methods that weigh it (they prompt the text tower, which it gives no gradient).
    var objectiveWeight: Float { get }

    /// The parts of the trainable buffer (offsets in `layout`) whose gradients are final once the vision tower's
    /// backward step `l` (`VisionTower.backwardLayer(l)`) has returned: nothing later in the step (the steps
    /// below l, the tower's `finishBackward`, this method's `finishBackward`) adds to them. The trainer starts
    /// their all-reduce there, while the backward goes on (`BucketedAllreduce`), and reduces what no step named
    /// after the backward (one blocking all-reduce per gap). Ranges of one step must not overlap those of another.
    ///
    /// None by default: the whole trained range is reduced after the backward. That is right for every method
    /// whose parameter gradients are only known after `finishBackward`: prompts composed from shared factors
    /// (LPI's low-rank interaction, MaPLe's language-to-vision coupling, DCP, MPL's modules), chosen per sample
    /// (L2P's pool, S-Prompts' per-task scatter); they keep one bucket at the end.
    func visionGradientsFinal(afterBackwardLayer l: Int, in layout: ParameterLayout) -> [Range<Int>]

    /// Changes the optimiser's final update of the trained range in place before it is added
    /// (`Optimizer.step`'s `transformUpdate`: the range's update and its length); nil leaves it as it is.
    var updateTransform: ((UnsafeMutablePointer<Float>, Int) -> Void)? { get }
}

extension PromptMethod {
    public func trainedRange(task: Int, in layout: ParameterLayout) -> Range<Int> { 0..<layout.count }
    public var selectsByTask: Bool { false }
    public var needsImageQueries: Bool { false }
    public func prepare(values: ParameterBuffer, batch: PromptBatch) {}
    public func finishBackward(values: ParameterBuffer, gradients: ParameterBuffer, batch: PromptBatch,
                               globalCount: Int) -> Float { 0 }
    public func addPromptLoss(values: ParameterBuffer, gradients: ParameterBuffer, task: Int) -> Float { 0 }
    public var objectiveWeight: Float { 1 }
    /// Nothing is final before the backward ends: one all-reduce after it.
    public func visionGradientsFinal(afterBackwardLayer l: Int, in layout: ParameterLayout) -> [Range<Int>] { [] }
    /// Most methods leave the optimiser's update alone.
    public var updateTransform: ((UnsafeMutablePointer<Float>, Int) -> Void)? { nil }
}
