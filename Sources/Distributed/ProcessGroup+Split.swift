import CMPI

/// Groups of some of this group's ranks (MPI_Comm_split), for work that runs on fewer ranks than the job
/// has: timing a collective at 1, 2, ... ranks inside one `mpirun`, for instance.
///
/// ```
/// let firstTwo = ProcessGroup.world.prefix(2)      // collective over world; nil on ranks 2, 3, ...
/// if let firstTwo { firstTwo.allreduceSum(&x) }    // sums over ranks 0 and 1 only
/// let halves = group.split(color: group.rank % 2)  // evens and odds, each ordered by rank
/// ```
/// A subgroup is a `ProcessGroup` like `world`: its own ranks 0..<size, the same collectives, errors that
/// end the whole job (`abort` always calls MPI_Abort on MPI_COMM_WORLD), and BLACS grids over its ranks
/// only (`BlacsGrid(rows:columns:group:)`, so `DistributedSVD.compute(..., group:)` runs on it). Its
/// communicator is freed when the group is released; MPI counts that free as collective over the
/// subgroup's members.
extension ProcessGroup {
    /// MPI_Comm_split: the ranks passing the same `color` form one new group, ordered by `key` (ties by
    /// their rank here; default: this rank, keeping the order). A rank passing nil joins no group
    /// (MPI_UNDEFINED) and gets nil. Collective: every rank of this group calls it, in the same order
    /// as its other collectives. Colors are non-negative.
    public func split(color: Int?, key: Int? = nil, file: StaticString = #fileID, line: UInt = #line) -> ProcessGroup? {
        precondition(color.map { (0...Int(Int32.max)).contains($0) } ?? true, "split: color \(color!) is not in 0...Int32.max")
        let key = key ?? rank
        precondition(Int(Int32.min)...Int(Int32.max) ~= key, "split: key \(key) exceeds Int32")
        var newCommunicator: MPI_Comm? = nil
        check(MPI_Comm_split(communicator, color.map { Int32($0) } ?? MPI_UNDEFINED, Int32(key), &newCommunicator),
              "MPI_Comm_split", file: file, line: line)
        guard color != nil, let newCommunicator, newCommunicator != cmpi_comm_null() else { return nil }
        return ProcessGroup(owning: newCommunicator, parent: self, file: file, line: line)
    }

    /// This group's ranks 0..<count as a group of their own (same rank numbers); nil on the other ranks.
    /// Collective over this group, like `split`.
    public func prefix(_ count: Int, file: StaticString = #fileID, line: UInt = #line) -> ProcessGroup? {
        precondition((1...size).contains(count), "prefix: \(count) ranks of a group of \(size)")
        return split(color: rank < count ? 0 : nil, file: file, line: line)
    }
}
