/// One retrieval direction of a run: the R@1, R@5 and R@10 matrices with their averages, and LPI's
/// "Forgetting" of the direction, the mean of F@1, F@5 and F@10 (`AccuracyMatrix.recallForgetting`).
public struct DirectionRecall: Codable, Equatable, Sendable {
    public var r1: MatrixSummary
    public var r5: MatrixSummary
    public var r10: MatrixSummary
    /// (F@1 + F@5 + F@10) / 3 in the run's forgetting variant; nil with one task.
    public var forgetting: Double?

    public init(_ records: [EvaluationRecord], direction: RetrievalDirection, variant: ForgettingVariant) throws {
        func summary(_ cutoff: RecallCutoff) throws -> MatrixSummary {
            MatrixSummary(try AccuracyMatrix(records: records, selecting: .recall(direction, cutoff)), variant: variant)
        }
        r1 = try summary(.r1)
        r5 = try summary(.r5)
        r10 = try summary(.r10)
        forgetting = try AccuracyMatrix.recallForgetting(records, direction: direction, variant: variant)
    }

    public subscript(cutoff: RecallCutoff) -> MatrixSummary {
        switch cutoff {
        case .r1: r1
        case .r5: r5
        case .r10: r10
        }
    }

    enum CodingKeys: String, CodingKey { case r1, r5, r10, forgetting }

    /// Writes `"forgetting": null` rather than leaving the key out.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(r1, forKey: .r1)
        try container.encode(r5, forKey: .r5)
        try container.encode(r10, forKey: .r10)
        try container.encode(forgetting, forKey: .forgetting)
    }
}
