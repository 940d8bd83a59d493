/// How a dataset is cut into tasks (`tasks.split`): by class or by domain.
///
/// Class-incremental (`classIncremental`, the default): a seeded order of the classes, cut into `taskCount`
/// tasks of equal size:
/// ```
/// classOrder = FisherYates(0..<classCount, SeededStream(seed, 0))      (recorded, Codable)
/// classes(ofTask: t) = classOrder[t * k ..< (t + 1) * k],  k = classCount / taskCount
/// indices(ofTask: t) = the samples whose label is in classes(ofTask: t)
/// ```
/// Domain-incremental (`domainIncremental`: S-Prompts' protocol on DomainNet, one task per domain, in the
/// dataset's domain order):
/// ```
/// classOrder = 0..<classCount,  taskCount = domainNames.count
/// classes(ofTask: t) = classesSeen(upTo: t) = every class
/// indices(ofTask: t) = the samples whose domain is t (ImageTextDataset.domain(at:))
/// ```
/// Tasks are numbered from 0. A class split encodes as it always did (`classOrder`, `taskCount`); a domain split
/// adds `kind` and `domainNames`. Decoding checks that the recorded order is a permutation that divides evenly
/// (class split) or is every class in label order (domain split).
public struct TaskSplit: Codable, Equatable, Sendable {
    /// What a task is: a group of classes or a domain (the config's `tasks.split`).
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case classIncremental = "class"
        case domainIncremental = "domain"
    }

    public let kind: Kind
    /// The classes in the order the tasks see them (a domain split: 0..<classCount).
    public let classOrder: [Int]
    public let taskCount: Int
    /// Task t's domain, `taskCount` names (a domain split); empty for a class split.
    public let domainNames: [String]

    /// A class split drawn from `seed`. Throws when `classCount` or `taskCount` is not positive or `taskCount`
    /// does not divide `classCount`.
    public init(classCount: Int, taskCount: Int, seed: UInt64) throws {
        guard classCount > 0 else { throw TaskSplitError("class count \(classCount) must be positive") }
        var order = Array(0..<classCount)
        var generator = SeededStream.generator(seed: seed, stream: 0)
        SeededStream.shuffle(&order, using: &generator)
        try self.init(classOrder: order, taskCount: taskCount)
    }

    /// A class split with a given class order (a permutation of 0..<classOrder.count), e.g. a paper's.
    public init(classOrder: [Int], taskCount: Int) throws {
        guard taskCount > 0 else { throw TaskSplitError("task count \(taskCount) must be positive") }
        guard !classOrder.isEmpty, classOrder.count % taskCount == 0 else {
            throw TaskSplitError("\(classOrder.count) classes do not divide into \(taskCount) tasks of equal size")
        }
        guard classOrder.sorted() == Array(0..<classOrder.count) else {
            throw TaskSplitError("class order \(classOrder) is not a permutation of 0..<\(classOrder.count)")
        }
        kind = .classIncremental
        self.classOrder = classOrder
        self.taskCount = taskCount
        domainNames = []
    }

    /// A domain split: task t is domain `domainNames[t]`, over all `classCount` classes. Throws when there is no
    /// domain, a name repeats, or `classCount` is not positive.
    public init(domainNames: [String], classCount: Int) throws {
        guard !domainNames.isEmpty else { throw TaskSplitError("a domain split needs at least one domain") }
        guard Set(domainNames).count == domainNames.count else {
            throw TaskSplitError("domain names \(domainNames) repeat")
        }
        guard classCount > 0 else { throw TaskSplitError("class count \(classCount) must be positive") }
        kind = .domainIncremental
        classOrder = Array(0..<classCount)
        taskCount = domainNames.count
        self.domainNames = domainNames
    }

    private enum CodingKeys: String, CodingKey {
        case kind, classOrder, taskCount, domainNames
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let classOrder = try container.decode([Int].self, forKey: .classOrder)
        let taskCount = try container.decode(Int.self, forKey: .taskCount)
        switch try container.decodeIfPresent(Kind.self, forKey: .kind) ?? .classIncremental {
        case .classIncremental:
            try self.init(classOrder: classOrder, taskCount: taskCount)
        case .domainIncremental:
            try self.init(domainNames: container.decode([String].self, forKey: .domainNames),
                          classCount: classOrder.count)
            guard classOrder == self.classOrder, taskCount == self.taskCount else {
                throw TaskSplitError("a domain split of \(domainNames.count) domains records class order "
                                     + "\(classOrder) and \(taskCount) tasks; expected every class in label order "
                                     + "and one task per domain")
            }
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(classOrder, forKey: .classOrder)
        try container.encode(taskCount, forKey: .taskCount)
        if kind == .domainIncremental {
            try container.encode(kind, forKey: .kind)
            try container.encode(domainNames, forKey: .domainNames)
        }
    }

    /// Classes per task: classCount / taskCount (a domain split: every class).
    public var classesPerTask: Int { kind == .classIncremental ? classOrder.count / taskCount : classOrder.count }

    /// The classes of task `task`, in class order.
    public func classes(ofTask task: Int) -> ArraySlice<Int> {
        precondition((0..<taskCount).contains(task), "task \(task) outside 0..<\(taskCount)")
        return kind == .classIncremental ? classOrder[task * classesPerTask ..< (task + 1) * classesPerTask]
            : classOrder[...]
    }

    /// The classes of tasks 0 through `task`, in class order.
    public func classesSeen(upTo task: Int) -> ArraySlice<Int> {
        precondition((0..<taskCount).contains(task), "task \(task) outside 0..<\(taskCount)")
        return kind == .classIncremental ? classOrder[..<((task + 1) * classesPerTask)] : classOrder[...]
    }

    /// Ascending indices of the samples of `dataset` in task `task`: those whose label is one of its classes (a
    /// class split), those of its domain (a domain split; the dataset's domains must be the split's).
    public func indices(ofTask task: Int, in dataset: some ImageTextDataset) -> [Int] {
        precondition(dataset.classNames.count == classOrder.count,
                     "dataset has \(dataset.classNames.count) classes, the split \(classOrder.count)")
        switch kind {
        case .classIncremental:
            var inTask = [Bool](repeating: false, count: classOrder.count)
            for c in classes(ofTask: task) { inTask[c] = true }
            return (0..<dataset.count).filter { inTask[dataset.label(at: $0)] }
        case .domainIncremental:
            precondition(dataset.domainNames == domainNames,
                         "dataset has domains \(dataset.domainNames), the split \(domainNames)")
            precondition((0..<taskCount).contains(task), "task \(task) outside 0..<\(taskCount)")
            return (0..<dataset.count).filter { dataset.domain(at: $0) == task }
        }
    }
}
