import CMPI

/// The collectives over the group. Every rank must call the same collective, in the same order, with
/// matching counts (MPI's rule); each is checked and aborts the job on an MPI error.
///
/// MPI counts are 32-bit: `allreduce` and `broadcast` split larger buffers into chunks; the gathers
/// require each rank's part and the total to fit in Int32.
extension ProcessGroup {
    /// Elements per MPI call in the chunked collectives (2^30, below Int32.max).
    static let maximumChunk = 1 << 30

    // MARK: All-reduce

    /// In place: every rank's `buffer` becomes the element-wise reduction over all ranks.
    /// ```
    /// buffer[i] <- op over r of buffer_r[i]
    /// ```
    public func allreduce<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ operation: ReduceOperation,
                                         file: StaticString = #fileID, line: UInt = #line) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        var offset = 0
        while offset < buffer.count {
            let count = min(buffer.count - offset, Self.maximumChunk)
            check(MPI_Allreduce(cmpi_in_place(), base + offset, Int32(count), T.mpiDatatype,
                                operation.mpiOp, communicator),
                  "MPI_Allreduce(\(count) x \(T.self), \(operation))", file: file, line: line)
            offset += count
        }
    }

    /// In place: every rank's `buffer` becomes the element-wise sum over all ranks.
    public func allreduceSum<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>,
                                            file: StaticString = #fileID, line: UInt = #line) {
        allreduce(buffer, .sum, file: file, line: line)
    }

    /// In place on an array: the element-wise sum over all ranks.
    public func allreduceSum<T: MPIScalar>(_ array: inout [T], file: StaticString = #fileID, line: UInt = #line) {
        array.withUnsafeMutableBufferPointer { allreduce($0, .sum, file: file, line: line) }
    }

    /// In place on an array: the element-wise reduction over all ranks.
    public func allreduce<T: MPIScalar>(_ array: inout [T], _ operation: ReduceOperation,
                                         file: StaticString = #fileID, line: UInt = #line) {
        array.withUnsafeMutableBufferPointer { allreduce($0, operation, file: file, line: line) }
    }

    /// One value reduced over all ranks (a loss, a count, an error flag).
    public func allreduce<T: MPIScalar>(_ value: T, _ operation: ReduceOperation,
                                         file: StaticString = #fileID, line: UInt = #line) -> T {
        var array = [value]
        allreduce(&array, operation, file: file, line: line)
        return array[0]
    }

    // MARK: All-gather

    /// Equal counts: `gathered` (count = size * local.count) receives rank r's `local` at r * local.count.
    public func allgather<T: MPIScalar>(_ local: UnsafeBufferPointer<T>, into gathered: UnsafeMutableBufferPointer<T>,
                                         file: StaticString = #fileID, line: UInt = #line) {
        precondition(gathered.count == local.count * size,
                     "allgather: \(gathered.count) slots for \(size) ranks x \(local.count) elements")
        precondition(gathered.count <= Int(Int32.max), "allgather: \(gathered.count) elements exceed Int32")
        guard local.count > 0 else { return }
        check(MPI_Allgather(local.baseAddress, Int32(local.count), T.mpiDatatype,
                            gathered.baseAddress, Int32(local.count), T.mpiDatatype, communicator),
              "MPI_Allgather(\(local.count) x \(T.self))", file: file, line: line)
    }

    /// Equal counts, arrays: rank r's `local` lands at r * local.count of the result.
    public func allgather<T: MPIScalar>(_ local: [T], file: StaticString = #fileID, line: UInt = #line) -> [T] {
        [T](unsafeUninitializedCapacity: local.count * size) { buffer, initialised in
            local.withUnsafeBufferPointer { allgather($0, into: buffer, file: file, line: line) }
            initialised = local.count * size
        }
    }

    /// Varying counts: `counts[r]` elements from rank r land at `sum(counts[0..<r])` of `gathered`.
    /// `counts` must be the same on every rank and `counts[rank] == local.count`.
    public func allgatherv<T: MPIScalar>(_ local: UnsafeBufferPointer<T>, counts: [Int],
                                          into gathered: UnsafeMutableBufferPointer<T>,
                                          file: StaticString = #fileID, line: UInt = #line) {
        precondition(counts.count == size, "allgatherv: \(counts.count) counts for \(size) ranks")
        precondition(counts[rank] == local.count, "allgatherv: rank \(rank) sends \(local.count), counts say \(counts[rank])")
        let total = counts.reduce(0, +)
        precondition(gathered.count == total, "allgatherv: \(gathered.count) slots for \(total) elements")
        precondition(total <= Int(Int32.max), "allgatherv: \(total) elements exceed Int32")
        guard total > 0 else { return }
        let receiveCounts = counts.map { Int32($0) }
        var displacements = [Int32](repeating: 0, count: size)
        for r in 1..<max(size, 1) { displacements[r] = displacements[r - 1] + receiveCounts[r - 1] }
        check(MPI_Allgatherv(local.baseAddress, Int32(local.count), T.mpiDatatype,
                             gathered.baseAddress, receiveCounts, displacements, T.mpiDatatype, communicator),
              "MPI_Allgatherv(\(local.count) x \(T.self))", file: file, line: line)
    }

    /// Varying counts, arrays: gathers the counts first, then the values in rank order.
    /// Returns all values and each rank's count.
    public func allgatherv<T: MPIScalar>(_ local: [T], file: StaticString = #fileID,
                                          line: UInt = #line) -> (values: [T], counts: [Int]) {
        let counts = allgather([Int64(local.count)], file: file, line: line).map { Int($0) }
        let total = counts.reduce(0, +)
        let values = [T](unsafeUninitializedCapacity: total) { buffer, initialised in
            local.withUnsafeBufferPointer { allgatherv($0, counts: counts, into: buffer, file: file, line: line) }
            initialised = total
        }
        return (values, counts)
    }

    /// Varying counts, to `root` only (MPI_Gatherv): every rank's values in rank order on `root`, nil on the others
    /// (which then hold nothing more than their own share). The counts travel first, gathered on every rank.
    public func gatherv<T: MPIScalar>(_ local: [T], root: Int = 0, file: StaticString = #fileID,
                                       line: UInt = #line) -> [T]? {
        precondition((0..<size).contains(root), "gatherv: root \(root) outside 0..<\(size)")
        let counts = allgather([Int64(local.count)], file: file, line: line).map { Int($0) }
        let total = counts.reduce(0, +)
        precondition(total <= Int(Int32.max), "gatherv: \(total) elements exceed Int32")
        let receiveCounts = counts.map { Int32($0) }
        var displacements = [Int32](repeating: 0, count: size)
        for r in 1..<max(size, 1) { displacements[r] = displacements[r - 1] + receiveCounts[r - 1] }
        var gathered = [T](unsafeUninitializedCapacity: rank == root ? total : 0) { _, initialised in
            initialised = rank == root ? total : 0
        }
        local.withUnsafeBufferPointer { send in
            gathered.withUnsafeMutableBufferPointer { receive in
                check(MPI_Gatherv(send.baseAddress, Int32(local.count), T.mpiDatatype, receive.baseAddress,
                                  receiveCounts, displacements, T.mpiDatatype, Int32(root), communicator),
                      "MPI_Gatherv(\(local.count) x \(T.self), root \(root))", file: file, line: line)
            }
        }
        return rank == root ? gathered : nil
    }

    // MARK: Broadcast

    /// `buffer` on every rank becomes `buffer` of rank `root`; counts must match on all ranks.
    public func broadcast<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int = 0,
                                         file: StaticString = #fileID, line: UInt = #line) {
        precondition((0..<size).contains(root), "broadcast: root \(root) outside 0..<\(size)")
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        var offset = 0
        while offset < buffer.count {
            let count = min(buffer.count - offset, Self.maximumChunk)
            check(MPI_Bcast(base + offset, Int32(count), T.mpiDatatype, Int32(root), communicator),
                  "MPI_Bcast(\(count) x \(T.self), root \(root))", file: file, line: line)
            offset += count
        }
    }

    /// Raw bytes from rank `root`; the byte count must match on all ranks.
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int = 0,
                          file: StaticString = #fileID, line: UInt = #line) {
        broadcast(bytes.bindMemory(to: UInt8.self), root: root, file: file, line: line)
    }

    /// An array from rank `root`, whatever its length: the count goes first, so the other ranks' arrays
    /// are resized to match (their contents are replaced).
    public func broadcast<T: MPIScalar>(_ array: inout [T], root: Int = 0,
                                         file: StaticString = #fileID, line: UInt = #line) {
        var count = [Int64(array.count)]
        count.withUnsafeMutableBufferPointer { broadcast($0, root: root, file: file, line: line) }
        if rank != root {
            array = [T](unsafeUninitializedCapacity: Int(count[0])) { _, initialised in initialised = Int(count[0]) }
        }
        array.withUnsafeMutableBufferPointer { broadcast($0, root: root, file: file, line: line) }
    }
}
