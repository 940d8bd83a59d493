/// `[evaluation]`: what the run measures on the held-out split after each task (`Trainer+Evaluation`).
/// ```
/// classification: each seen task's test images, top-1 over every class seen so far (class-incremental),
///                  against the method's text embeddings of `loss.template` (the linear head's logits for
///                  loss.kind = "linear-head")
/// retrieval:       image -> text and text -> image R@1/5/10 of each seen task's test pairs over the gallery of
///                  every seen task's test pairs (LPI's protocol)
/// auto:            retrieval for coco, classification for the others
/// ```
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
    /// At most this many test samples per class (`ClassSubset`, seeded), 0 for all.
    public var perClass = 0
    /// Forgetting in summary.json and report.md: "positive" (max previous minus last, averaged over the earlier
    /// tasks) or "signed" (LPI's official code: last minus max previous, <= 0 when the run forgets).
    public var forgetting = ForgettingVariant.positive

    public init() {}

    enum CodingKeys: String, CodingKey {
        case kind, forgetting
        case testSamples = "test_samples", perClass = "per_class"
    }

    func validate() throws {
        try ConfigCheck.that(testSamples > 0, "evaluation.test_samples", "must be > 0, got \(testSamples)")
        try ConfigCheck.that(perClass >= 0, "evaluation.per_class", "must be >= 0 (0: all), got \(perClass)")
    }

    /// The kind a run on `dataset` evaluates with (`auto` resolved).
    public func resolvedKind(for dataset: DataSection.Dataset) -> Kind {
        guard kind == .auto else { return kind }
        return dataset == .coco ? .retrieval : .classification
    }
}
