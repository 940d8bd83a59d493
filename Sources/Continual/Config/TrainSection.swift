/// `[train]`: the training loop. The global batch is split over the ranks (it must divide by their
/// number); the result does not depend on the rank count beyond float rounding.
public struct TrainSection: Codable, Equatable, Sendable {
    /// Samples per optimiser step over all ranks.
    public var globalBatch = 32
    /// Clip the global gradient norm to this value; 0 for no clipping.
    public var maxGradNorm = 0.0
    /// Rank 0 prints a progress line every this many steps (and at the end of each epoch).
    public var logEverySteps = 10

    public init() {}

    enum CodingKeys: String, CodingKey {
        case globalBatch = "global_batch", maxGradNorm = "max_grad_norm", logEverySteps = "log_every_steps"
    }

    func validate() throws {
        try ConfigCheck.that(globalBatch > 0, "train.global_batch", "must be > 0, got \(globalBatch)")
        try ConfigCheck.that(maxGradNorm.isFinite && maxGradNorm >= 0, "train.max_grad_norm",
                             "must be >= 0 (0: no clipping), got \(maxGradNorm)")
        try ConfigCheck.that(logEverySteps > 0, "train.log_every_steps", "must be > 0, got \(logEverySteps)")
    }
}
