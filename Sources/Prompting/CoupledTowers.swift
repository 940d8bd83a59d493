import CLIP

/// The towers of a `CoupledStepMethod` on one rank: image embeddings, then text embeddings conditioned on one of
/// those images, and the way back into the trainable gradients. One batch of images at a time: `forwardImages`
/// starts a batch, and everything else refers to its images until the next `forwardImages`.
///
/// Gradients accumulate (`+=`) into the trainable gradient buffer; nothing is zeroed here but the towers' own
/// scratch.
public protocol CoupledTowers: AnyObject {
    /// Most images of a batch, and most texts of one `forwardTexts`.
    var capacity: Int { get }

    /// The image embeddings (n, E) of `pixels` (n, 3, S, S), image b with the prompts and couplings of task
    /// `tasks[b]` read from `values`; valid until the next `forwardImages`.
    func forwardImages(pixels: UnsafePointer<Float>, tasks: [Int], values: ParameterBuffer) -> UnsafePointer<Float>

    /// The text embeddings (count, E) of `ids` (count, context), each conditioned on image `image` of the batch;
    /// valid until the next `forwardTexts`.
    @discardableResult
    func forwardTexts(ids: UnsafePointer<Int32>, count: Int, image: Int) -> UnsafePointer<Float>

    /// Back-propagates dtext_embeds (count, E) of the last `forwardTexts` into the batch's state (the image's
    /// share) and into `gradients` (`+=`).
    func backwardTexts(dEmbeds: UnsafePointer<Float>, gradients: ParameterBuffer)

    /// Back-propagates dimage_embeds (n, E), with what `backwardTexts` left, through the image side into
    /// `gradients` (`+=`): the tensors of the batch's tasks. Once per batch, after its `backwardTexts`. (A coupled
    /// method has no per-sample losses of its own: `PromptMethod.finishBackward`'s share is not asked for.)
    func backwardImages(dEmbeds: UnsafePointer<Float>, values: ParameterBuffer, gradients: ParameterBuffer)
}
