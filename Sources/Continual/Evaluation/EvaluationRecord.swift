/// The evaluation after training `task`, over tasks 0...task (`tasks[j].task == j`); a metrics.jsonl
/// "evaluation" event, and one row of every `AccuracyMatrix`.
public struct EvaluationRecord: Codable, Equatable, Sendable {
    public var task: Int
    public var kind: EvaluationKind
    public var tasks: [TaskScores]
    /// Wall time of the evaluation (feature extraction, similarities, ranks).
    public var seconds: Double

    public init(task: Int, kind: EvaluationKind, tasks: [TaskScores], seconds: Double) {
        self.task = task
        self.kind = kind
        self.tasks = tasks
        self.seconds = seconds
    }
}
