/// Deterministic data-parallel batches: every rank computes the same epoch order from (seed, epoch) and
/// takes its own interleaved share of each global batch (DESIGN "Distributed").
///
/// ```
/// order(epoch)    = FisherYates(indices, SeededStream(seed, epoch))
/// global batch b  = order[b * B ..< min((b + 1) * B, n)]          B = globalBatch, n = indices.count
/// local(b, rank r of P) = global batch b at positions r, r + P, r + 2P, ...
/// ```
/// `dropLast` (default) drops the last incomplete global batch; otherwise it is kept, smaller.
/// Shares of one batch differ in size by at most one, larger on lower ranks; `localBatchSizes` and
/// `localOffsets` are the counts and displacements for an allgatherv, whose result is rank-major:
/// gathered row `localOffsets[r] + k` is global position `r + k * P`.
public struct ShardedSampler: Sendable {
    public let indices: [Int]
    public let globalBatch: Int
    public let rankCount: Int
    public let seed: UInt64
    public let dropLast: Bool

    /// Throws when `globalBatch` or `rankCount` is not positive, when `globalBatch % rankCount != 0` unless
    /// `allowUneven`, when `indices` is empty, and, with `dropLast`, when `indices` fill no whole batch.
    public init(indices: [Int], globalBatch: Int, rankCount: Int, seed: UInt64,
                dropLast: Bool = true, allowUneven: Bool = false) throws {
        guard globalBatch > 0 else { throw ShardedSamplerError("global batch \(globalBatch) must be positive") }
        guard rankCount > 0 else { throw ShardedSamplerError("rank count \(rankCount) must be positive") }
        guard allowUneven || globalBatch % rankCount == 0 else {
            throw ShardedSamplerError("global batch \(globalBatch) does not divide over \(rankCount) ranks "
                                      + "(pass allowUneven to let shards differ by one)")
        }
        guard !indices.isEmpty else { throw ShardedSamplerError("no indices to sample from") }
        guard !dropLast || indices.count >= globalBatch else {
            throw ShardedSamplerError("\(indices.count) indices fill no global batch of \(globalBatch) "
                                      + "(with dropLast every epoch would be empty)")
        }
        self.indices = indices
        self.globalBatch = globalBatch
        self.rankCount = rankCount
        self.seed = seed
        self.dropLast = dropLast
    }

    /// Global batches per epoch.
    public var batchCount: Int {
        dropLast ? indices.count / globalBatch : (indices.count + globalBatch - 1) / globalBatch
    }

    /// The epoch's permutation of `indices`.
    public func order(epoch: Int) -> [Int] {
        var order = indices
        var generator = SeededStream.generator(seed: seed, stream: UInt64(truncatingIfNeeded: epoch))
        SeededStream.shuffle(&order, using: &generator)
        return order
    }

    /// The epoch's global batches, in order.
    public func globalBatches(epoch: Int) -> [ArraySlice<Int>] {
        let order = order(epoch: epoch)
        return (0..<batchCount).map { b in order[b * globalBatch ..< min((b + 1) * globalBatch, order.count)] }
    }

    /// Rank `rank`'s share of each of the epoch's global batches.
    public func localBatches(epoch: Int, rank: Int) -> [[Int]] {
        precondition((0..<rankCount).contains(rank), "rank \(rank) outside 0..<\(rankCount)")
        return globalBatches(epoch: epoch).map { batch in
            stride(from: batch.startIndex + rank, to: batch.endIndex, by: rankCount).map { batch[$0] }
        }
    }

    /// Size of each rank's share of global batch `batch` (the last one may be smaller without dropLast).
    public func localBatchSizes(ofBatch batch: Int) -> [Int] {
        precondition((0..<batchCount).contains(batch), "batch \(batch) outside 0..<\(batchCount)")
        let size = min(globalBatch, indices.count - batch * globalBatch)
        return (0..<rankCount).map { r in size / rankCount + (r < size % rankCount ? 1 : 0) }
    }

    /// Where each rank's share of global batch `batch` starts in the rank-major gathered batch.
    public func localOffsets(ofBatch batch: Int) -> [Int] {
        var offset = 0
        return localBatchSizes(ofBatch: batch).map { size in
            defer { offset += size }
            return offset
        }
    }
}
