/// A class-incremental split: a seeded order of the classes, cut into `taskCount` tasks of equal size.
///
/// ```
/// classOrder = FisherYates(0..<classCount, SeededStream(seed, 0))      (recorded, Codable)
/// classes(ofTask: t) = classOrder[t * k ..< (t + 1) * k],  k = classCount / taskCount
/// ```
/// Tasks are numbered from 0. Decoding checks that the recorded order is a permutation that divides evenly.
public struct TaskSplit: Codable, Equatable, Sendable {
    /// The classes in the order the tasks see them.
    public let classOrder: [Int]
    public let taskCount: Int

    /// Throws when `classCount` or `taskCount` is not positive or `taskCount` does not divide `classCount`.
    public init(classCount: Int, taskCount: Int, seed: UInt64) throws {
        guard classCount > 0 else { throw TaskSplitError("class count \(classCount) must be positive") }
        var order = Array(0..<classCount)
        var generator = SeededStream.generator(seed: seed, stream: 0)
        SeededStream.shuffle(&order, using: &generator)
        try self.init(classOrder: order, taskCount: taskCount)
    }

    /// A split with a given class order (a permutation of 0..<classOrder.count), e.g. a paper's.
    public init(classOrder: [Int], taskCount: Int) throws {
        guard taskCount > 0 else { throw TaskSplitError("task count \(taskCount) must be positive") }
        guard !classOrder.isEmpty, classOrder.count % taskCount == 0 else {
            throw TaskSplitError("\(classOrder.count) classes do not divide into \(taskCount) tasks of equal size")
        }
        guard classOrder.sorted() == Array(0..<classOrder.count) else {
            throw TaskSplitError("class order \(classOrder) is not a permutation of 0..<\(classOrder.count)")
        }
        self.classOrder = classOrder
        self.taskCount = taskCount
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(classOrder: container.decode([Int].self, forKey: .classOrder),
                      taskCount: container.decode(Int.self, forKey: .taskCount))
    }

    public var classesPerTask: Int { classOrder.count / taskCount }

    /// The classes of task `task`, in class order.
    public func classes(ofTask task: Int) -> ArraySlice<Int> {
        precondition((0..<taskCount).contains(task), "task \(task) outside 0..<\(taskCount)")
        return classOrder[task * classesPerTask ..< (task + 1) * classesPerTask]
    }

    /// The classes of tasks 0 through `task`, in class order.
    public func classesSeen(upTo task: Int) -> ArraySlice<Int> {
        precondition((0..<taskCount).contains(task), "task \(task) outside 0..<\(taskCount)")
        return classOrder[..<((task + 1) * classesPerTask)]
    }

    /// Ascending indices of the samples of `dataset` whose label is one of task `task`'s classes.
    public func indices(ofTask task: Int, in dataset: some ImageTextDataset) -> [Int] {
        precondition(dataset.classNames.count == classOrder.count,
                     "dataset has \(dataset.classNames.count) classes, the split \(classOrder.count)")
        var inTask = [Bool](repeating: false, count: classOrder.count)
        for c in classes(ofTask: task) { inTask[c] = true }
        return (0..<dataset.count).filter { inTask[dataset.label(at: $0)] }
    }
}
