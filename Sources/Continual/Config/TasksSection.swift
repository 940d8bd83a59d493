/// `[tasks]`: the continual schedule, `count` tasks trained one after the other for `epochs` each (`TaskSplit`).
/// ```
/// split = "class"   class-incremental: the dataset's classes, in an order drawn from the run's seed (or the
///                   prepared directory's recorded order), cut into `count` tasks of equal size
/// split = "domain"  domain-incremental (S-Prompts on DomainNet): task t is the prepared dataset's domain t,
///                   over every class; `count` must be its number of domains
/// ```
public struct TasksSection: Codable, Equatable, Sendable {
    public var count = 3
    /// Epochs per task.
    public var epochs = 1
    public var split = TaskSplit.Kind.classIncremental

    public init() {}

    func validate() throws {
        try ConfigCheck.that(count > 0, "tasks.count", "must be > 0, got \(count)")
        try ConfigCheck.that(epochs > 0, "tasks.epochs", "must be > 0, got \(epochs)")
    }
}
