/// Evaluation results that the metrics cannot use (a missing row or score, a value that is not a percent, a
/// similarity matrix of the wrong size or with a NaN); the message says where (after which task, which task,
/// which query) and what is wrong.
public struct EvaluationError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}
