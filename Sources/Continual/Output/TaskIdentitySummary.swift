/// How often a per-task method picked the right task for a test image (summary.json's `"task_identity"`):
/// ```
/// overall_i = sum_{j <= i} samples_j * identity[i][j] / sum_{j <= i} samples_j     percent of all seen images
/// ```
/// and the per-task matrix identity[i][j] with its averages.
public struct TaskIdentitySummary: Codable, Equatable, Sendable {
    /// overall_i for each evaluation.
    public var overall: [Double]
    public var matrix: MatrixSummary

    public init(_ records: [EvaluationRecord], variant: ForgettingVariant) throws {
        matrix = MatrixSummary(try AccuracyMatrix(records: records, selecting: .taskIdentity), variant: variant)
        overall = try records.map { record in
            let samples = record.tasks.reduce(0) { $0 + $1.samples }
            guard samples > 0 else { throw EvaluationError("evaluation after task \(record.task): no test samples") }
            // The matrix above found every task identity.
            return record.tasks.reduce(0) { $0 + Double($1.samples) * $1.taskIdentity! } / Double(samples)
        }
    }
}
