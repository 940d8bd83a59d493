/// What a method may read about a batch to build its prompts (`PromptMethod.prepare`).
///
/// Training: every sample's task is the task being trained. Inference: each sample's task is the one its
/// own frozen features predict (`TaskKeys`, nearest centroid per sample; never a vote over the batch).
public struct PromptBatch {
    /// Samples in the batch.
    public let count: Int
    /// Each sample's task, `count` entries.
    public let tasks: [Int]
    /// (count, E) frozen image embeddings of the batch (the tower without prompts), when the method's
    /// `needsImageQueries` is true (L2P's queries); nil otherwise.
    public let imageQueries: UnsafePointer<Float>?

    public init(count: Int, tasks: [Int], imageQueries: UnsafePointer<Float>? = nil) {
        precondition(tasks.count == count, "\(tasks.count) task ids for a batch of \(count)")
        self.count = count
        self.tasks = tasks
        self.imageQueries = imageQueries
    }

    /// A batch of `count` samples of one task.
    public init(count: Int, task: Int, imageQueries: UnsafePointer<Float>? = nil) {
        self.init(count: count, tasks: Array(repeating: task, count: count), imageQueries: imageQueries)
    }

    /// The task all samples share, or nil when they differ.
    public var sharedTask: Int? {
        guard let first = tasks.first, tasks.allSatisfy({ $0 == first }) else { return nil }
        return first
    }
}
