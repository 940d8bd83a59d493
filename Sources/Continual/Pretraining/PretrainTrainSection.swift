/// `[train]` of a pretraining: the loop. The global batch is split over the ranks (it must divide by their
/// number); the contrastive loss is over the whole global batch, so the result does not depend on the rank
/// count beyond float rounding.
public struct PretrainTrainSection: Codable, Equatable, Sendable {
    public var epochs = 2
    /// Pairs per optimiser step over all ranks; also the number of negatives each pair is contrasted with.
    public var globalBatch = 64
    /// Clip the global gradient norm to this value; 0 for no clipping.
    public var maxGradNorm = 1.0
    /// Train `logit_scale` (clamped to [0, ln 100] after each step, as CLIP); else it stays at ln(1 / 0.07).
    public var learnLogitScale = true
    /// Rank 0 prints a progress line every this many steps (and at the end of each epoch).
    public var logEverySteps = 10

    public init() {}

    enum CodingKeys: String, CodingKey {
        case epochs
        case globalBatch = "global_batch", maxGradNorm = "max_grad_norm", learnLogitScale = "learn_logit_scale"
        case logEverySteps = "log_every_steps"
    }

    func validate() throws {
        try ConfigCheck.that(epochs > 0, "train.epochs", "must be > 0, got \(epochs)")
        try ConfigCheck.that(globalBatch > 1, "train.global_batch",
                             "must be > 1 (a contrastive batch needs negatives), got \(globalBatch)")
        try ConfigCheck.that(maxGradNorm.isFinite && maxGradNorm >= 0, "train.max_grad_norm",
                             "must be >= 0 (0: no clipping), got \(maxGradNorm)")
        try ConfigCheck.that(logEverySteps > 0, "train.log_every_steps", "must be > 0, got \(logEverySteps)")
    }
}
