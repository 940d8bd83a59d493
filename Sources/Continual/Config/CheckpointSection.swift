/// `[checkpoint]`: when rank 0 writes a checkpoint under `OUT/checkpoints/` (`CheckpointStore`). A checkpoint is
/// always written at the end of each task and when the job is asked to stop (SIGUSR1 or SIGTERM on any rank);
/// these keys add periodic ones. They are the only keys a resumed run may change (with
/// `train.log_every_steps`): `ConfigDifference`.
/// ```toml
/// [checkpoint]
/// every_steps = 0        # also every this many optimiser steps (counted over the run); 0: never
/// every_minutes = 0.0    # also when this many minutes passed since the last checkpoint; 0: never
/// keep_last = 2          # periodic and on-signal checkpoints kept (newest); end-of-task ones are all kept
/// ```
public struct CheckpointSection: Codable, Equatable, Sendable {
    public var everySteps = 0
    public var everyMinutes = 0.0
    public var keepLast = 2

    public init() {}

    enum CodingKeys: String, CodingKey {
        case everySteps = "every_steps", everyMinutes = "every_minutes", keepLast = "keep_last"
    }

    func validate() throws {
        try ConfigCheck.that(everySteps >= 0, "checkpoint.every_steps", "must be >= 0 (0: never), got \(everySteps)")
        try ConfigCheck.that(everyMinutes.isFinite && everyMinutes >= 0, "checkpoint.every_minutes",
                             "must be >= 0 (0: never), got \(everyMinutes)")
        try ConfigCheck.that(keepLast >= 1, "checkpoint.keep_last", "must be >= 1, got \(keepLast)")
    }
}
