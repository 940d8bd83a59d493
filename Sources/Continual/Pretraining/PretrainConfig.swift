import Numerics

/// Everything a `promptcl pretrain` run needs, read from a TOML file (`configs/pretrain-tiny.toml`) with `--set`
/// overrides by `ConfigLoader`, like `TrainingConfig`: every key has a default, a file gives what it changes,
/// unknown keys and wrong types are errors naming the file and the key.
/// ```toml
/// seed = 0
/// [model.random]   image_size, patch_size, vision_*, text_*, projection_dim, context_length    the CLIP's shape
/// [data]           samples, held_out                       synthetic pairs to train on, and to evaluate on
/// [train]          epochs, global_batch, max_grad_norm, learn_logit_scale, log_every_steps
/// [optimizer]      kind, lr, weight_decay, betas, eps       OptimizerConfig; decay on weight matrices only
/// [schedule]       kind, warmup_epochs, ...                 LearningRateSchedule over the run's epochs
/// ```
/// The defaults are the small CLIP of `configs/pretrain-tiny.toml` with a shorter run.
public struct PretrainConfig: RunConfiguration, Equatable, Sendable {
    /// Seeds the initial weights, the training and held-out data and the sampler.
    public var seed: Int = 0
    public var model = PretrainModelSection()
    public var data = PretrainDataSection()
    public var train = PretrainTrainSection()
    /// AdamW as CLIP trains (Radford et al. 2021: decoupled decay 0.2 there; beta2 0.98, eps 1e-6 for stability).
    public var optimizer = OptimizerConfig(kind: .adamw, lr: 1e-3, beta2: 0.98, eps: 1e-6, weightDecay: 0.1)
    /// Warm-up then cosine decay, over the whole run (fractional epochs).
    public var schedule = LearningRateSchedule(kind: .cosine, warmupEpochs: 0.5, warmupStartFactor: 0.01)

    public init() {}

    /// Checks every value that does not depend on the job (rank count); throws `ConfigError.invalid` naming the key.
    public func validate() throws {
        try ConfigCheck.that(seed >= 0, "seed", "must be >= 0, got \(seed)")
        try model.random.validate()
        try data.validate()
        try train.validate()
        try ConfigCheck.that(data.samples >= train.globalBatch, "data.samples",
                             "\(data.samples) fill no global batch of \(train.globalBatch) (train.global_batch)")
        do {
            try optimizer.validate()
            try schedule.validate(totalEpochs: Double(train.epochs))
        } catch let error as OptimizationError {
            throw ConfigError.invalid(key: nil, problem: "\(error)")
        }
    }
}
