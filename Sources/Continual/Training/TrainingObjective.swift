import CLIP

/// The objective of `[loss]`, planned for a rank's local batch.
enum TrainingObjective {
    /// CLIP's loss over the global batch, image and caption embeddings gathered from every rank.
    case contrastive(ContrastiveObjective)
    /// The class texts' embeddings as the classifier: through the method's text prompts every step (trained with
    /// them), or set once at each task's start for methods without text prompts.
    case textClassifier(TextClassifierObjective)
    /// A trained linear head (its tensors in the trainable buffer).
    case linearHead(LinearHeadObjective)

    /// Whether the loss a rank computes is already the global batch's (the contrastive loss, over gathered
    /// rows) rather than the rank's share of it (the classifiers, summed over ranks after the step).
    var lossIsGlobal: Bool {
        if case .contrastive = self { return true }
        return false
    }
}
