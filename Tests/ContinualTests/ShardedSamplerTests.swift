import XCTest
@testable import Continual

/// The deterministic sharded sampler: permutations, epochs, shards and errors.
final class ShardedSamplerTests: XCTestCase {
    let indices = Array(stride(from: 3, to: 3 + 2 * 53, by: 2))  // 53 indices, not 0..<n

    func testEachEpochIsAPermutationAndEpochsDiffer() throws {
        let sampler = try ShardedSampler(indices: indices, globalBatch: 8, rankCount: 2, seed: 5, dropLast: false)
        let again = try ShardedSampler(indices: indices, globalBatch: 8, rankCount: 2, seed: 5)
        let otherSeed = try ShardedSampler(indices: indices, globalBatch: 8, rankCount: 2, seed: 6)
        var orders = Set<[Int]>()
        for epoch in 0..<4 {
            let order = sampler.order(epoch: epoch)
            XCTAssertEqual(order.sorted(), indices, "epoch \(epoch) covers each index exactly once")
            XCTAssertEqual(order, again.order(epoch: epoch), "epoch \(epoch) is the same from the same seed")
            XCTAssertNotEqual(order, otherSeed.order(epoch: epoch), "epoch \(epoch) differs under another seed")
            XCTAssertEqual(Array(sampler.globalBatches(epoch: epoch).joined()), order, "batches cut the order")
            orders.insert(order)
        }
        XCTAssertEqual(orders.count, 4, "four epochs, four orders")
    }

    func testBatchCountsAndDropLast() throws {
        let dropping = try ShardedSampler(indices: indices, globalBatch: 8, rankCount: 4, seed: 1)
        XCTAssertEqual(dropping.batchCount, 6, "53 / 8 whole batches")
        XCTAssertTrue(dropping.globalBatches(epoch: 0).allSatisfy { $0.count == 8 }, "only whole batches")
        let keeping = try ShardedSampler(indices: indices, globalBatch: 8, rankCount: 4, seed: 1, dropLast: false)
        XCTAssertEqual(keeping.globalBatches(epoch: 0).map(\.count), [8, 8, 8, 8, 8, 8, 5], "last batch kept")
        XCTAssertEqual(keeping.localBatchSizes(ofBatch: 6), [2, 1, 1, 1], "5 over 4 ranks")
        XCTAssertEqual(keeping.localOffsets(ofBatch: 6), [0, 2, 3, 4], "displacements")
        XCTAssertEqual(keeping.localBatchSizes(ofBatch: 0), [2, 2, 2, 2], "whole batch")
    }

    /// Interleaving the ranks' shares (position j from rank j % P) gives back each global batch, and the
    /// rank-major gather (`localOffsets`) holds the same rows; for P = 1, 2, 3, 4 and even or uneven batches.
    func testRankSharesInterleaveToTheGlobalBatch() throws {
        for ranks in 1...4 {
            for (globalBatch, dropLast) in [(12, true), (12, false), (10, false), (7, true)] {
                let uneven = globalBatch % ranks != 0
                let sampler = try ShardedSampler(indices: indices, globalBatch: globalBatch, rankCount: ranks,
                                                 seed: 9, dropLast: dropLast, allowUneven: uneven)
                let what = "P \(ranks), B \(globalBatch), dropLast \(dropLast)"
                let global = sampler.globalBatches(epoch: 3)
                let local = (0..<ranks).map { sampler.localBatches(epoch: 3, rank: $0) }
                for b in 0..<sampler.batchCount {
                    let shares = local.map { $0[b] }
                    let sizes = sampler.localBatchSizes(ofBatch: b)
                    XCTAssertEqual(shares.map(\.count), sizes, "\(what): batch \(b) local sizes")
                    XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "\(what): sizes differ by at most one")
                    let interleaved = (0..<global[b].count).map { j in shares[j % ranks][j / ranks] }
                    XCTAssertEqual(interleaved, Array(global[b]), "\(what): batch \(b) interleaved")
                    let gathered = Array(shares.joined())
                    let offsets = sampler.localOffsets(ofBatch: b)
                    for j in 0..<global[b].count {
                        XCTAssertEqual(gathered[offsets[j % ranks] + j / ranks], global[b][global[b].startIndex + j],
                                       "\(what): batch \(b) gathered row for global position \(j)")
                    }
                }
            }
        }
    }

    func testBadConfigurationsThrowClearErrors() {
        func message(_ body: () throws -> ShardedSampler) -> String {
            do { _ = try body(); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message { try ShardedSampler(indices: indices, globalBatch: 10, rankCount: 4, seed: 0) }
            .contains("global batch 10 does not divide over 4 ranks"))
        XCTAssertEqual(message { try ShardedSampler(indices: indices, globalBatch: 10, rankCount: 4, seed: 0,
                                                   allowUneven: true) }, "no error")
        XCTAssertTrue(message { try ShardedSampler(indices: Array(0..<7), globalBatch: 8, rankCount: 2, seed: 0) }
            .contains("7 indices fill no global batch of 8"))
        XCTAssertEqual(message { try ShardedSampler(indices: Array(0..<7), globalBatch: 8, rankCount: 2, seed: 0,
                                                   dropLast: false) }, "no error")
        XCTAssertTrue(message { try ShardedSampler(indices: [], globalBatch: 8, rankCount: 2, seed: 0,
                                                  dropLast: false) }.contains("no indices"))
        XCTAssertTrue(message { try ShardedSampler(indices: indices, globalBatch: 0, rankCount: 1, seed: 0) }
            .contains("global batch 0"))
        XCTAssertTrue(message { try ShardedSampler(indices: indices, globalBatch: 4, rankCount: 0, seed: 0) }
            .contains("rank count 0"))
    }
}
