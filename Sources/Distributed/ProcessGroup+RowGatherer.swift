import Numerics

/// Rows spread over the ranks, gathered in rank order with MPI_Allgatherv (ranks may hold different counts).
extension ProcessGroup: RowGatherer {
    public func gatherRows(_ local: UnsafePointer<Float>, count: Int, width: Int,
                           into all: UnsafeMutablePointer<Float>, capacity: Int) -> (offset: Int, total: Int) {
        let counts = allgather([Int64(count)]).map { Int($0) }
        let total = counts.reduce(0, +)
        if total > capacity {
            abort(message: "gathering \(total) rows over \(size) ranks exceeds the planned capacity \(capacity)")
        }
        allgatherv(UnsafeBufferPointer(start: local, count: count * width), counts: counts.map { $0 * width },
                   into: UnsafeMutableBufferPointer(start: all, count: total * width))
        return (counts[..<rank].reduce(0, +), total)
    }
}
