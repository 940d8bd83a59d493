import Dispatch

/// The sum over ranks of `range` of a buffer, in buckets started (MPI_Iallreduce) as soon as their values are
/// final, so that the communication runs while this rank still computes the rest: the gradient all-reduce
/// hidden behind the backward (PyTorch DDP's buckets). One object serves one reduction.
///
/// ```
/// let reduce = BucketedAllreduce(group: group, buffer: gradients, range: trained)
/// for l in layers.reversed() {
///     backward(l)                       // leaves the values of bucket(l) final
///     reduce.start(bucket(l))           // MPI_Iallreduce of bucket(l) ∩ range, in place
///     reduce.progress()                 // MPI_Test of every pending bucket (Open MPI advances them only
/// }                                     // inside MPI calls: `AllreduceRequest`)
/// let outcome = reduce.finish()         // each part of `range` never started: one blocking all-reduce;
///                                       // then MPI_Wait for every bucket
/// ```
/// Every element of `range` is reduced exactly once, in a bucket or in `finish`: with no bucket started,
/// `finish` is the single blocking all-reduce of the whole range, the same call as `allreduceSum`. Each
/// element gets the sum of the same values over the same ranks whichever call carries it: bit for bit on 2
/// ranks; on more, the algorithm MPI picks for a message's size orders the additions, which may move the
/// last bit.
///
/// Rules: every rank starts the same buckets in the same order (MPI's rule for collectives); buckets do not
/// overlap; nothing writes into a started bucket, and nothing reads it, until `finish` returns; call
/// everything from the thread that called MPI_Init (MPI_THREAD_FUNNELED).
///
/// Exposed time: the seconds this rank spends inside the reduction's MPI calls (starting and testing buckets,
/// `finish`'s all-reduces and waits): the communication the computation did not hide. It includes waiting for
/// slower ranks, as the blocking all-reduce's time does. With more ranks than cores, Open MPI yields the core in
/// every MPI call that finds nothing to do (`mpi_yield_when_idle`, on when oversubscribed), so the time inside
/// `progress` then also holds other ranks' computation: compare step times there, not exposed seconds.
public final class BucketedAllreduce<T: MPIScalar> {
    /// What a finished reduction did.
    public struct Outcome: Sendable, Equatable {
        /// Seconds this rank spent inside the reduction's MPI calls (see the type's comment).
        public let exposedSeconds: Double
        /// Buckets started before `finish`, and the elements they held.
        public let overlappedBuckets: Int
        public let overlappedCount: Int
        /// Elements reduced in all (the range's length).
        public let count: Int

        /// The part of the range reduced in buckets started before `finish` (0 without buckets; 0 for an empty range).
        public var overlappedFraction: Double { count == 0 ? 0 : Double(overlappedCount) / Double(count) }
    }

    public let group: ProcessGroup
    public let buffer: UnsafeMutablePointer<T>
    /// The offsets of `buffer` to reduce.
    public let range: Range<Int>
    /// The buckets started so far (offsets in `buffer`), in start order, and their requests.
    public private(set) var started: [Range<Int>] = []
    private var pending: [AllreduceRequest] = []
    private var seconds = 0.0
    private var finished = false

    /// A reduction of `buffer[range]` over `group`; nothing is started yet.
    public init(group: ProcessGroup, buffer: UnsafeMutablePointer<T>, range: Range<Int>) {
        self.group = group
        self.buffer = buffer
        self.range = range
    }

    /// Starts the all-reduce of `bucket ∩ range` (nothing when that is empty). `bucket` must not overlap a
    /// bucket already started, and its values must be final on this rank.
    public func start(_ bucket: Range<Int>, file: StaticString = #fileID, line: UInt = #line) {
        precondition(!finished, "BucketedAllreduce: bucket \(bucket) started after finish")
        let part = bucket.clamped(to: range)
        guard !part.isEmpty else { return }
        precondition(!started.contains { $0.overlaps(part) },
                     "BucketedAllreduce: bucket \(part) overlaps one already started (\(started))")
        timed {
            pending.append(group.startAllreduceSum(UnsafeMutableBufferPointer(start: buffer + part.lowerBound,
                                                                              count: part.count), file: file, line: line))
        }
        started.append(part)
    }

    /// Tests every pending bucket (MPI_Test), which lets Open MPI take their next steps; never blocks.
    /// Makes no MPI call when none is pending.
    public func progress() {
        guard pending.contains(where: { !$0.isComplete }) else { return }
        timed { for request in pending { request.test() } }
    }

    /// Reduces every part of `range` that no bucket covered (one blocking all-reduce per gap, in order), then
    /// waits for every bucket: `buffer[range]` then holds the sum over ranks. Call it once.
    public func finish(file: StaticString = #fileID, line: UInt = #line) -> Outcome {
        precondition(!finished, "BucketedAllreduce: finished twice")
        finished = true
        timed {
            for gap in remainder() {
                group.allreduceSum(UnsafeMutableBufferPointer(start: buffer + gap.lowerBound, count: gap.count),
                                   file: file, line: line)
            }
            for request in pending { request.wait() }
        }
        return Outcome(exposedSeconds: seconds, overlappedBuckets: started.count,
                       overlappedCount: started.reduce(0) { $0 + $1.count }, count: range.count)
    }

    /// The parts of `range` no bucket covers, in increasing order.
    private func remainder() -> [Range<Int>] {
        var gaps: [Range<Int>] = []
        var next = range.lowerBound
        for bucket in started.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if bucket.lowerBound > next { gaps.append(next..<bucket.lowerBound) }
            next = bucket.upperBound
        }
        if next < range.upperBound { gaps.append(next..<range.upperBound) }
        return gaps
    }

    private func timed(_ body: () -> Void) {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        seconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
