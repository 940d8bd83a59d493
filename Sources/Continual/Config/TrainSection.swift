/// `[train]`: the training loop. The global batch is split over the ranks (it must divide by their
/// number); the result does not depend on the rank count beyond float rounding.
public struct TrainSection: Codable, Equatable, Sendable {
    /// Samples per optimiser step over all ranks.
    public var globalBatch = 32
    /// Clip the global gradient norm to this value; 0 for no clipping.
    public var maxGradNorm = 0.0
    /// Rank 0 prints a progress line every this many steps (and at the end of each epoch).
    public var logEverySteps = 10
    /// Start the gradient all-reduce of each layer's prompts during the vision backward, as soon as they are
    /// final (methods that say so: VPT-deep, NSP2), instead of one all-reduce after the backward. Either way each
    /// gradient is the same sum; this only hides communication behind computation.
    public var overlapAllreduce = true

    public init() {}

    enum CodingKeys: String, CodingKey {
        case globalBatch = "global_batch", maxGradNorm = "max_grad_norm", logEverySteps = "log_every_steps"
        case overlapAllreduce = "overlap_allreduce"
    }

    func validate() throws {
        try ConfigCheck.that(globalBatch > 0, "train.global_batch", "must be > 0, got \(globalBatch)")
        try ConfigCheck.that(maxGradNorm.isFinite && maxGradNorm >= 0, "train.max_grad_norm",
                             "must be >= 0 (0: no clipping), got \(maxGradNorm)")
        try ConfigCheck.that(logEverySteps > 0, "train.log_every_steps", "must be > 0, got \(logEverySteps)")
    }
}
