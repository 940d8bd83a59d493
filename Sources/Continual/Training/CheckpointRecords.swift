/// A checkpoint written, as metrics.jsonl records it (`"event": "checkpoint"`).
public struct CheckpointRecord: Encodable, Sendable {
    /// The checkpoint's directory name under `OUT/checkpoints/`.
    public let name: String
    public let reason: CheckpointReason
    public let globalStep: Int
    /// The task the run goes on with.
    public let task: Int

    enum CodingKeys: String, CodingKey {
        case name, reason, task
        case globalStep = "global_step"
    }
}

/// A run resumed from a checkpoint (`"event": "resume"`): where it goes on, on how many ranks.
public struct ResumeRecord: Encodable, Sendable {
    public let checkpoint: String
    public let reason: CheckpointReason
    public let globalStep: Int
    /// The next step to run (task == taskCount: the run had finished).
    public let task: Int
    public let epoch: Int
    public let step: Int
    public let taskCount: Int
    public let ranks: Int
    /// The rank count of the run that wrote the checkpoint.
    public let savedRanks: Int

    enum CodingKeys: String, CodingKey {
        case checkpoint, reason, task, epoch, step, ranks
        case globalStep = "global_step", savedRanks = "saved_ranks", taskCount = "task_count"
    }
}
