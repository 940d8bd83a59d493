/// Puts together rows that are spread over processes, in rank order: the identity in one process
/// (`LocalRows`), an all-gather over MPI in `Distributed` (`ProcessGroup` conforms). Losses over a global
/// batch (CLIP's contrastive loss) use it so that one implementation serves any number of ranks.
public protocol RowGatherer {
    /// Writes every process's rows (`width` floats each) into `all`, in rank order, and returns where this
    /// process's rows start there and how many rows there are in all (at most `capacity`).
    func gatherRows(_ local: UnsafePointer<Float>, count: Int, width: Int,
                    into all: UnsafeMutablePointer<Float>, capacity: Int) -> (offset: Int, total: Int)
}

/// One process: the local rows are all the rows.
public struct LocalRows: RowGatherer {
    public init() {}

    public func gatherRows(_ local: UnsafePointer<Float>, count: Int, width: Int,
                           into all: UnsafeMutablePointer<Float>, capacity: Int) -> (offset: Int, total: Int) {
        precondition(count <= capacity, "\(count) rows exceed the capacity \(capacity)")
        all.update(from: local, count: count * width)
        return (0, count)
    }
}
