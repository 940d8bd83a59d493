/// What an evaluation measures: class-incremental top-1 accuracy (`classification`) or image-text retrieval
/// R@1/5/10 in both directions (`retrieval`, LPI's COCO and Flickr30K protocol).
public enum EvaluationKind: String, Codable, Sendable {
    case classification, retrieval
}

extension EvaluationKind {
    /// What an accuracy matrix entry (`TaskScores.score`) of this kind is, for tables and plot axes.
    public var scoreLabel: String {
        switch self {
        case .classification: "class-incremental top-1 accuracy (%)"
        case .retrieval: "R@1, mean of image→text and text→image (%)"
        }
    }
}
