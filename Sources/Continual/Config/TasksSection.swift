/// `[tasks]`: the class-incremental schedule. The dataset's classes, in an order drawn from the run's seed
/// (`TaskSplit`), are cut into `count` tasks of equal size, trained one after the other for `epochs` each.
public struct TasksSection: Codable, Equatable, Sendable {
    public var count = 3
    /// Epochs per task.
    public var epochs = 1

    public init() {}

    func validate() throws {
        try ConfigCheck.that(count > 0, "tasks.count", "must be > 0, got \(count)")
        try ConfigCheck.that(epochs > 0, "tasks.epochs", "must be > 0, got \(epochs)")
    }
}
