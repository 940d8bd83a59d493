import CLIP

/// A prompt method whose caption embeddings depend on the image they are scored against (LPI-P: the text prompts
/// are fused with the vision prompts layer by layer), so that the trainer cannot run its step as `PromptMethod`
/// describes it (two towers, each on its own inputs). The trainer checks for it with `as?` and then runs the step,
/// and the evaluation, through the method's `CoupledTowers` (`Trainer+CoupledStep`):
/// ```
/// image_b   = towers.forwardImages(pixels; prompts and couplings of task_b)          stage A, (n, E)
/// text_j|b  = towers.forwardTexts(ids_j, image: b)                                     one forward per image, any texts
/// loss(image, text_j|b) -> dimage, dtext_j|b
/// towers.backwardTexts(dtext_j|b) (after forwardTexts of the same texts and image), then towers.backwardImages(dimage)
/// ```
/// Everything else (declaring, initialising and training its tensors, the trained range, `addPromptLoss`, task
/// identity) goes through `PromptMethod` as for any method; its `visionPlan`, `textPlan`, `prepare` and prompt
/// accessors give the uncoupled towers' prompts (LPI-M's), which retrieval ranks the gallery with first.
public protocol CoupledStepMethod: PromptMethod {
    /// The towers of one rank, for batches of at most `capacity` images and `capacity` texts per `forwardTexts`;
    /// `startOfText` is the tokenizer's SOT id (the text prefix of stage A has no caption to read it from).
    func makeCoupledTowers(model: CLIPModel, startOfText: Int32, capacity: Int) throws -> any CoupledTowers
}
