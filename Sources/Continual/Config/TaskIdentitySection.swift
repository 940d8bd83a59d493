/// `[method.task_identity]`: the k-means keys that give each sample its task at inference, for the methods
/// whose prompts are per task (`s-prompts`, `lpi-m`, `lpi-p`, `dp`, `cp`).
public struct TaskIdentitySection: Codable, Equatable, Sendable {
    /// Centroids per task, in each modality.
    public var centroids = 5
    /// Most Lloyd iterations.
    public var iterations = 100

    public init() {}

    func validate() throws {
        try ConfigCheck.that(centroids > 0, "method.task_identity.centroids", "must be > 0, got \(centroids)")
        try ConfigCheck.that(iterations > 0, "method.task_identity.iterations", "must be > 0, got \(iterations)")
    }
}
