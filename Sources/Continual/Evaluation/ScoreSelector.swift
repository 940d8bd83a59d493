/// Which number of `TaskScores` an `AccuracyMatrix` holds.
public enum ScoreSelector: Hashable, Sendable, CustomStringConvertible {
    /// `TaskScores.score`: the accuracy, or for retrieval the mean R@1 of both directions.
    case score
    case accuracy
    case recall(RetrievalDirection, RecallCutoff)
    case taskIdentity

    /// The selected number, nil when the scores do not hold it (a classification record has no recall).
    public func value(in scores: TaskScores) -> Double? {
        switch self {
        case .score:
            scores.accuracy != nil || (scores.imageToText != nil && scores.textToImage != nil) ? scores.score : nil
        case .accuracy:
            scores.accuracy
        case let .recall(direction, cutoff):
            (direction == .imageToText ? scores.imageToText : scores.textToImage)?[cutoff]
        case .taskIdentity:
            scores.taskIdentity
        }
    }

    /// "score", "accuracy", "image_to_text R@5", "task_identity".
    public var description: String {
        switch self {
        case .score: "score"
        case .accuracy: "accuracy"
        case let .recall(direction, cutoff): "\(direction.rawValue) R@\(cutoff.rawValue)"
        case .taskIdentity: "task_identity"
        }
    }
}
