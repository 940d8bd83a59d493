/// A finished run's results, `summary.json` in its output directory; built from the evaluations by a pure
/// function (`init(records:info:)`), read back by `promptcl report` (`RunReport.readSummary`).
/// ```
/// format, version               "promptcl-run-summary", 1
/// method, dataset, kind         "lpi-m", "coco", "retrieval"
/// task_count, ranks, seed, global_batch, wall_seconds
/// average_accuracy              A   of accuracy_matrix (mean over evaluations of the mean over seen tasks)
/// final_accuracy                A_K (mean over all tasks after the last)
/// forgetting                    F   after the last task in forgetting_variant; null with one task
/// forgetting_variant            "positive" (max previous - last) or "signed" (last - max previous)
/// accuracy_curve                the mean over seen tasks after each task
/// forgetting_curve              F after each task (null after the first)
/// accuracy_matrix               [[a00], [a10, a11], ...] of TaskScores.score: accuracy, or for retrieval the
///                               mean R@1 of both directions
/// recall                        retrieval: {"image_to_text": {"r1": {final, average, forgetting, matrix}, "r5":
///                               ..., "r10": ..., "forgetting": (F@1 + F@5 + F@10) / 3}, "text_to_image": ...};
///                               null for classification
/// task_identity                 per-task methods: {"overall": [...], "matrix": {...}}; null otherwise
/// final_tasks                   the last evaluation's TaskScores, task by task
/// evaluation_seconds            wall time of each evaluation
/// settings                      [{"key": ..., "value": ...}] as the report lists them
/// ```
/// Scores are percents. Optional fields are written as null, never left out.
public struct RunSummary: Codable, Equatable, Sendable {
    public static let formatName = "promptcl-run-summary"
    public static let currentVersion = 1

    public var format: String
    public var version: Int
    public var method: String
    public var dataset: String
    public var kind: EvaluationKind
    public var taskCount: Int
    public var ranks: Int
    public var seed: Int
    public var globalBatch: Int
    public var wallSeconds: Double
    public var averageAccuracy: Double
    public var finalAccuracy: Double
    public var forgetting: Double?
    public var forgettingVariant: ForgettingVariant
    public var accuracyCurve: [Double]
    public var forgettingCurve: [Double?]
    public var accuracyMatrix: AccuracyMatrix
    public var recall: RetrievalSummary?
    public var taskIdentity: TaskIdentitySummary?
    public var finalTasks: [TaskScores]
    public var evaluationSeconds: [Double]
    public var settings: [RunInfo.Setting]

    /// The summary of `records` (one evaluation after each task, in order: `AccuracyMatrix(records:)`).
    /// Retrieval records need both directions' recall, and task identity is summarised when any score has it
    /// (then every score must).
    public init(records: [EvaluationRecord], info: RunInfo) throws {
        let matrix = try AccuracyMatrix(records: records)
        guard info.seconds.isFinite, info.seconds >= 0 else { throw EvaluationError("run wall time \(info.seconds) s") }
        if let bad = records.first(where: { !($0.seconds.isFinite && $0.seconds >= 0) }) {
            throw EvaluationError("evaluation after task \(bad.task) took \(bad.seconds) s")
        }
        let variant = info.forgettingVariant
        format = Self.formatName
        version = Self.currentVersion
        method = info.method
        dataset = info.dataset
        kind = records[0].kind
        taskCount = matrix.taskCount
        ranks = info.ranks
        seed = info.seed
        globalBatch = info.globalBatch
        wallSeconds = info.seconds
        averageAccuracy = matrix.averageAccuracy
        finalAccuracy = matrix.finalAccuracy
        forgetting = matrix.forgetting(variant)
        forgettingVariant = variant
        accuracyCurve = matrix.rowMeans
        forgettingCurve = matrix.forgettingCurve(variant)
        accuracyMatrix = matrix
        recall = kind == .retrieval ? try RetrievalSummary(records, variant: variant) : nil
        let hasIdentity = records.contains { $0.tasks.contains { $0.taskIdentity != nil } }
        taskIdentity = hasIdentity ? try TaskIdentitySummary(records, variant: variant) : nil
        finalTasks = records[records.count - 1].tasks
        evaluationSeconds = records.map(\.seconds)
        settings = info.settings
    }

    enum CodingKeys: String, CodingKey {
        case format, version, method, dataset, kind, ranks, seed, forgetting, recall, settings
        case taskCount = "task_count", globalBatch = "global_batch", wallSeconds = "wall_seconds"
        case averageAccuracy = "average_accuracy", finalAccuracy = "final_accuracy"
        case forgettingVariant = "forgetting_variant", accuracyCurve = "accuracy_curve"
        case forgettingCurve = "forgetting_curve", accuracyMatrix = "accuracy_matrix", taskIdentity = "task_identity"
        case finalTasks = "final_tasks", evaluationSeconds = "evaluation_seconds"
    }

    /// Every key, optional ones as null.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(format, forKey: .format)
        try container.encode(version, forKey: .version)
        try container.encode(method, forKey: .method)
        try container.encode(dataset, forKey: .dataset)
        try container.encode(kind, forKey: .kind)
        try container.encode(taskCount, forKey: .taskCount)
        try container.encode(ranks, forKey: .ranks)
        try container.encode(seed, forKey: .seed)
        try container.encode(globalBatch, forKey: .globalBatch)
        try container.encode(wallSeconds, forKey: .wallSeconds)
        try container.encode(averageAccuracy, forKey: .averageAccuracy)
        try container.encode(finalAccuracy, forKey: .finalAccuracy)
        try container.encode(forgetting, forKey: .forgetting)
        try container.encode(forgettingVariant, forKey: .forgettingVariant)
        try container.encode(accuracyCurve, forKey: .accuracyCurve)
        try container.encode(forgettingCurve, forKey: .forgettingCurve)
        try container.encode(accuracyMatrix, forKey: .accuracyMatrix)
        try container.encode(recall, forKey: .recall)
        try container.encode(taskIdentity, forKey: .taskIdentity)
        try container.encode(finalTasks, forKey: .finalTasks)
        try container.encode(evaluationSeconds, forKey: .evaluationSeconds)
        try container.encode(settings, forKey: .settings)
    }
}
