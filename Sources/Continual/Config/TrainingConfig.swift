import Numerics

/// Everything a `promptcl train` run needs, read from a TOML file (`configs/*.toml`) with `--set` overrides.
///
/// Every key has a default (`TrainingConfig()`); a file gives only what it changes. Unknown keys, wrong
/// types and values no run could mean are errors naming the file and the key (`ConfigLoader`). The config a
/// run used is written next to its outputs as `config.toml`, with every key.
/// ```toml
/// seed = 0
/// [model]        path, [model.random] shapes           which CLIP (ModelSection)
/// [data]         dataset, samples                      what it trains on (DataSection)
/// [tasks]        count, epochs, split                  the class- or domain-incremental schedule (TasksSection)
/// [method]       name, [method.vpt]                    how prompts are placed and trained (MethodSection)
/// [loss]         kind, template, classes               the objective (LossSection)
/// [train]        global_batch, max_grad_norm, ...      the loop (TrainSection)
/// [evaluation]   kind, test_samples, forgetting        after each task, on the test split (EvaluationSection)
/// [optimizer]    kind, lr, ...                         OptimizerConfig (torch's defaults)
/// [schedule]     kind, warmup_epochs, ...              LearningRateSchedule, over each task's epochs
/// [checkpoint]   every_steps, every_minutes, keep_last when checkpoints are written (CheckpointSection)
/// ```
public struct TrainingConfig: Codable, Equatable, Sendable {
    /// Seeds everything random in a run: the random model, the data, the class order, the prompts'
    /// initialisation and the sampler. Two runs with the same config and rank count give the same bits.
    public var seed: Int = 0
    public var model = ModelSection()
    public var data = DataSection()
    public var tasks = TasksSection()
    public var method = MethodSection()
    public var loss = LossSection()
    public var train = TrainSection()
    public var evaluation = EvaluationSection()
    public var optimizer = OptimizerConfig(kind: .adam, lr: 0.01)
    public var schedule = LearningRateSchedule(kind: .cosine)
    public var checkpoint = CheckpointSection()

    public init() {}

    /// Checks every value that does not depend on the job (rank count) or on files; throws
    /// `ConfigError.invalid` naming the key.
    public func validate() throws {
        try ConfigCheck.that(seed >= 0, "seed", "must be >= 0, got \(seed)")
        try model.validate()
        try data.validate()
        try tasks.validate()
        try ConfigCheck.that(tasks.split == .classIncremental || data.dataset != .synthetic, "tasks.split",
                             "\"domain\" needs a dataset with domains (DomainNet); the synthetic set has none")
        try method.validate()
        try loss.validate()
        try train.validate()
        try evaluation.validate()
        try checkpoint.validate()
        do {
            try optimizer.validate()
            try schedule.validate(totalEpochs: Double(tasks.epochs))
        } catch let error as OptimizationError {
            throw ConfigError.invalid(key: nil, problem: "\(error)")
        }
    }
}
