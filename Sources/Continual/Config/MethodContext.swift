import CLIP

/// What building a method needs beyond its `[method]` settings: the model's shapes and the schedule.
public struct MethodContext: Sendable {
    /// The CLIP model the prompts are for.
    public let model: CLIPConfig
    /// Tasks in the run (per-task methods declare a prompt set for each).
    public let taskCount: Int

    public init(model: CLIPConfig, taskCount: Int) {
        self.model = model
        self.taskCount = taskCount
    }
}
