import CLIP

/// What building a method needs beyond its `[method]` settings: the model's shapes and the schedule.
public struct MethodContext: Sendable {
    /// The CLIP model the prompts are for.
    public let model: CLIPConfig
    /// Tasks in the run (per-task methods declare a prompt set for each).
    public let taskCount: Int
    /// (taskCount, taskCount) cosine similarities of the task names' frozen text embeddings, for the methods
    /// that align tasks (`needsTaskNameSimilarity`); nil when not computed.
    public let taskNameSimilarity: [Float]?

    public init(model: CLIPConfig, taskCount: Int, taskNameSimilarity: [Float]? = nil) {
        self.model = model
        self.taskCount = taskCount
        self.taskNameSimilarity = taskNameSimilarity
    }
}
