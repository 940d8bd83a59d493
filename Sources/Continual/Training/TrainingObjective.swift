import CLIP

/// The objective of `[loss]`, planned for a rank's local batch.
enum TrainingObjective {
    /// CLIP's loss over the global batch, image and caption embeddings gathered from every rank.
    case contrastive(ContrastiveObjective)
    /// Frozen class text embeddings as the classifier; the rows are set at each task's start.
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
