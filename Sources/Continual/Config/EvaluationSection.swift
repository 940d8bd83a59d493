/// `[evaluation]`: what the run measures on the held-out split after each task (`Trainer+Evaluation`).
/// ```
/// classification: each seen task's test images, top-1 over every class seen so far (class-incremental),
///                  against the method's text embeddings of `loss.template` (the linear head's logits for
///                  loss.kind = "linear-head")
/// retrieval:       image -> text and text -> image R@1/5/10 of each seen task's test pairs over the gallery of
///                  every seen task's test pairs (LPI's protocol)
/// auto:            retrieval for coco, classification for the others
/// ```
/// LPI-P (`lpi-p`) scores a caption against an image with the caption's text tower fused with that image's vision
/// tower: classification runs the class texts once per test image; retrieval, which would need a text forward per
/// (image, caption) pair of the gallery, ranks it with LPI-M's unfused features and re-scores the `rerank_top_k` best
/// candidates of each query with the fused score (`Trainer+CoupledEvaluation`), an approximation of ours.
/// Prepared datasets bring their own test split; the synthetic set draws `test_samples` more from its own seed.
public struct EvaluationSection: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case auto, classification, retrieval
        /// No evaluation (training only): no evaluation lines and no summary.
        case none
    }

    public var kind = Kind.auto
    /// Test samples of the synthetic set (spread evenly over its 48 classes).
    public var testSamples = 480
    /// At most this many test samples per class (`ClassSubset`, seeded), 0 for all; with tasks.split = "domain",
    /// per class in each domain.
    public var perClass = 0
    /// Forgetting in summary.json and report.md: "positive" (max previous minus last, averaged over the earlier
    /// tasks) or "signed" (LPI's official code: last minus max previous, <= 0 when the run forgets).
    public var forgetting = ForgettingVariant.positive
    /// lpi-p's retrieval: the candidates of each query (ranked by unfused features) re-scored with fusion.
    public var rerankTopK = 16

    public init() {}

    enum CodingKeys: String, CodingKey {
        case kind, forgetting
        case testSamples = "test_samples", perClass = "per_class", rerankTopK = "rerank_top_k"
    }

    func validate() throws {
        try ConfigCheck.that(rerankTopK >= 1, "evaluation.rerank_top_k", "must be >= 1, got \(rerankTopK)")
        try ConfigCheck.that(testSamples > 0, "evaluation.test_samples", "must be > 0, got \(testSamples)")
        try ConfigCheck.that(perClass >= 0, "evaluation.per_class", "must be >= 0 (0: all), got \(perClass)")
    }

    /// The kind a run on `dataset` evaluates with (`auto` resolved).
    public func resolvedKind(for dataset: DataSection.Dataset) -> Kind {
        guard kind == .auto else { return kind }
        return dataset == .coco ? .retrieval : .classification
    }
}
