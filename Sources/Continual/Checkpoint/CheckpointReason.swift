/// Why a checkpoint was written (`state.json`'s "reason"). End-of-task checkpoints are all kept; the others
/// only the newest `checkpoint.keep_last`.
public enum CheckpointReason: String, Codable, Sendable, CaseIterable {
    case everySteps = "every_steps"
    case everyMinutes = "every_minutes"
    case endOfTask = "end_of_task"
    /// SIGUSR1 or SIGTERM reached a rank: the run stops after writing it (exit status 75).
    case signal
}
