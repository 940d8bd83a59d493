/// Why a `TaskSplit` could not be made or decoded.
public struct TaskSplitError: Error, CustomStringConvertible {
    public let problem: String

    init(_ problem: String) { self.problem = problem }

    public var description: String { "task split: \(problem)" }
}
