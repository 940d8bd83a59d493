import CMPI

/// An in-place all-reduce started by `ProcessGroup.startAllreduce` (MPI_Iallreduce) and not yet known to be
/// done. Until `test()` returns true or `wait()` returns, the buffer belongs to MPI: do not read or write it.
///
/// ```
/// let request = group.startAllreduce(buffer, .sum)   // returns at once
/// ... compute something else, calling request.test() now and then ...
/// request.wait()                                     // buffer[i] = sum over ranks of buffer_r[i]
/// ```
/// Progress: Open MPI (4.x, shared memory and TCP) has no progress thread for collectives; a non-blocking
/// collective advances only while this rank is inside some MPI call. A request nobody tests makes no
/// progress while the rank computes, and all of its work lands in `wait()`. So call `test()` between pieces
/// of work (the trainer does, between backward layers: `BucketedAllreduce.progress()`); each call lets the
/// reduction take its next steps.
///
/// A buffer larger than MPI's 32-bit counts is reduced in several requests (chunks of
/// `ProcessGroup.maximumChunk` elements), all held here. Errors abort the job through `ProcessGroup.check`,
/// naming the call and the file and line that started it.
///
/// Threads: like every collective of the group, call `test()` and `wait()` on the thread that started it.
public final class AllreduceRequest {
    private let group: ProcessGroup
    /// The chunks' requests; MPI sets a finished one to MPI_REQUEST_NULL.
    private var requests: [MPI_Request?]
    private let call: String
    private let file: StaticString
    private let line: UInt
    /// Whether every chunk has finished (the buffer holds the reduction).
    public private(set) var isComplete: Bool

    init(group: ProcessGroup, requests: [MPI_Request?], call: String, file: StaticString, line: UInt) {
        self.group = group
        self.requests = requests
        self.call = call
        self.file = file
        self.line = line
        isComplete = requests.isEmpty
    }

    /// MPI_Test on every unfinished chunk: true once the buffer holds the reduction (and from then on).
    /// Never blocks; each call also advances the request (and any other pending collective of the process).
    @discardableResult
    public func test() -> Bool {
        guard !isComplete else { return true }
        var done = true
        for i in requests.indices where requests[i] != cmpi_request_null() {
            var flag: Int32 = 0
            group.check(MPI_Test(&requests[i], &flag, cmpi_status_ignore()), "MPI_Test(\(call))", file: file, line: line)
            if flag == 0 { done = false }
        }
        isComplete = done
        return done
    }

    /// MPI_Wait on every unfinished chunk: returns once the buffer holds the reduction.
    public func wait() {
        guard !isComplete else { return }
        for i in requests.indices where requests[i] != cmpi_request_null() {
            group.check(MPI_Wait(&requests[i], cmpi_status_ignore()), "MPI_Wait(\(call))", file: file, line: line)
        }
        isComplete = true
    }

    /// A request released unfinished is waited for: MPI forbids freeing a pending collective's request,
    /// and the other ranks take part in it whatever this one does.
    deinit { wait() }
}
