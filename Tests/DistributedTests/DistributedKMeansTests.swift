import XCTest
import Distributed
import Numerics

/// k-means over the ranks against the same routine on one process (`ProcessGroup.single`) over all rows,
/// which every rank can compute: the same initial centroids (bit for bit), assignments, counts and
/// iteration count, centroids within 1e-5, whatever the group size (1 under `swift test`, 2 to 4 under
/// `mpirun`) and however the rows are split. Every rank runs every test in the same order.
///
/// ```
/// X: 600 x 16 from 5 Gaussian blobs (centres N(0, spread^2), noise N(0, noise^2)), the same on every rank
/// ```
final class DistributedKMeansTests: XCTestCase {
    let group = ProcessGroup.world
    let (total, d, k) = (600, 16, 5)
    let seed: UInt64 = 7

    /// Well separated: centre distances ~ 3 sqrt(32) = 17 against a blob radius ~ 0.3 sqrt(16) = 1.2.
    lazy var separated = makeBlobs(spread: 3, noise: 0.3, seed: 101)
    /// Overlapping: centre distances ~ 5.7 against a blob radius ~ 4.
    lazy var overlapping = makeBlobs(spread: 1, noise: 1, seed: 202)

    func testMatchesOneProcessForEverySplitAndSample() throws {
        for (name, blobs) in [("separated", separated), ("overlapping", overlapping)] {
            for split in Split.allCases {
                // 4096 takes every row into k-means++; 64 a sample gathered from the ranks.
                for initialSample in [4096, 64] {
                    try assertMatchesOneProcess(blobs, name: name, split: split, initialSample: initialSample)
                }
            }
        }
    }

    func testWellSeparatedBlobsAreRecovered() throws {
        let blobs = separated
        let indices = share(.strided)
        let result = try DistributedKMeans.fit(localRows: localRows(blobs, indices), globalIndices: indices,
                                               dimension: d, k: k, seed: seed)
        // labelCount[cluster * k + blob]: rows of each blob in each cluster, over all ranks.
        var labelCount = [Int64](repeating: 0, count: k * k)
        for (i, index) in indices.enumerated() { labelCount[result.localAssignments[i] * k + blobs.labels[index]] += 1 }
        group.allreduceSum(&labelCount)
        var blobOfCluster: [Int] = []
        var pure: Int64 = 0
        for cluster in 0..<k {
            let counts = labelCount[(cluster * k)..<((cluster + 1) * k)]
            let majority = counts.indices.max { counts[$0] < counts[$1] }! - cluster * k
            blobOfCluster.append(majority)
            pure += counts.max()!
        }
        group.log0("DistributedKMeans separated blobs, \(group.size) rank(s): \(pure)/\(total) rows in their blob's "
                   + "cluster, \(result.iterations) iterations, inertia \(result.inertia)")
        XCTAssertEqual(pure, Int64(total), "rows in a cluster holding another blob (rank \(group.rank))")
        XCTAssertEqual(Set(blobOfCluster).count, k, "clusters to blobs \(blobOfCluster) is not one to one")
        XCTAssertEqual(result.counts.reduce(0, +), total, "counts add up to the rows")
        XCTAssertTrue(result.converged, "converged within the iteration cap")
    }

    /// Reordering the rows inside each rank (a seeded shuffle per rank) changes only the order of the sums.
    func testRowOrderInsideARankDoesNotMatter() throws {
        for blobs in [separated, overlapping] {
            let indices = share(.contiguousUneven)
            let result = try DistributedKMeans.fit(localRows: localRows(blobs, indices), globalIndices: indices,
                                                   dimension: d, k: k, seed: seed)
            var generator = SplitMix64(seed: 99 + UInt64(group.rank))
            let permutation = Array(indices.indices).shuffled(using: &generator)
            let shuffled = permutation.map { indices[$0] }
            let other = try DistributedKMeans.fit(localRows: localRows(blobs, shuffled), globalIndices: shuffled,
                                                  dimension: d, k: k, seed: seed)
            XCTAssertEqual(other.initialCentroids, result.initialCentroids, "initial centroids after a shuffle")
            XCTAssertEqual(other.iterations, result.iterations, "iterations after a shuffle")
            XCTAssertEqual(other.counts, result.counts, "counts after a shuffle")
            let moved = zip(permutation, other.localAssignments).filter { result.localAssignments[$0] != $1 }.count
            XCTAssertEqual(moved, 0, "rows assigned elsewhere after a shuffle on rank \(group.rank)")
            let difference = maxAbsoluteDifference(other.centroids, result.centroids)
            XCTAssertLessThanOrEqual(difference, 1e-5, "centroids after a shuffle on rank \(group.rank)")
        }
    }

    func testFewerRowsThanCentroidsThrowsOnEveryRank() {
        let indices = Array(stride(from: group.rank, to: 3, by: group.size))  // 3 rows; some ranks hold none
        let rows = localRows(separated, indices)
        XCTAssertThrowsError(try DistributedKMeans.fit(localRows: rows, globalIndices: indices, dimension: d, k: 5,
                                                       seed: seed)) { error in
            XCTAssertEqual(error as? DistributedKMeans.Failure, .fewerRowsThanCentroids(rows: 3, k: 5),
                           "error on rank \(group.rank): \(error)")
        }
    }

    /// Rank 0 gives its row 0 the index 1, which another row (here or on another rank) already has.
    func testRepeatedGlobalIndexThrowsOnEveryRank() {
        var indices = share(.strided)
        let rows = localRows(separated, indices)
        if group.rank == 0 { indices[0] = 1 }
        XCTAssertThrowsError(try DistributedKMeans.fit(localRows: rows, globalIndices: indices, dimension: d, k: k,
                                                       seed: seed)) { error in
            XCTAssertEqual(error as? DistributedKMeans.Failure, .invalidGlobalIndices(rows: total),
                           "error on rank \(group.rank): \(error)")
        }
    }

    /// 8 rows at 2 distinct points and k = 3: k-means++ takes both points, then (all weight zero) the first
    /// row not yet chosen, a duplicate of one of them; ties go to the lower index, so that centroid's
    /// cluster is empty and it keeps its place.
    func testEmptyClusterKeepsItsCentroid() throws {
        let points: [[Float]] = [[0, 0], [4, 1]]
        let all = (0..<8).flatMap { points[$0 % 2] }
        let indices = Array(stride(from: group.rank, to: 8, by: group.size))
        let rows = indices.flatMap { all[($0 * 2)..<($0 * 2 + 2)] }
        let result = try DistributedKMeans.fit(localRows: rows, globalIndices: indices, dimension: 2, k: 3, seed: seed)
        XCTAssertEqual(result.counts.sorted(), [0, 4, 4], "counts \(result.counts)")
        guard let empty = result.counts.firstIndex(of: 0) else { return XCTFail("no empty cluster: \(result.counts)") }
        XCTAssertEqual(Array(result.centroids[(empty * 2)..<(empty * 2 + 2)]),
                       Array(result.initialCentroids[(empty * 2)..<(empty * 2 + 2)]), "the empty cluster's centroid")
        XCTAssertEqual(result.inertia, 0, "every row sits on a centroid")
        XCTAssertTrue(result.converged, "converged")
    }

    // MARK: Helpers

    struct Blobs {
        var rows: [Float]  // total x d
        var labels: [Int]  // total
    }

    /// The same rows on every rank: k centres with N(0, spread^2) coordinates, each row's blob drawn
    /// uniformly, plus N(0, noise^2) per coordinate.
    private func makeBlobs(spread: Float, noise: Float, seed: UInt64) -> Blobs {
        var generator = SplitMix64(seed: seed)
        let centres = (0..<(k * d)).map { _ in spread * generator.nextNormal() }
        let labels = (0..<total).map { _ in Int(generator.next() % UInt64(k)) }
        let rows = labels.flatMap { label in (0..<d).map { centres[label * d + $0] + noise * generator.nextNormal() } }
        return Blobs(rows: rows, labels: labels)
    }

    enum Split: CaseIterable {
        /// Rank r holds rows r, r + P, ...
        case strided
        /// Consecutive blocks of uneven sizes; the last rank (when not alone) holds none.
        case contiguousUneven
    }

    /// The global indices of this rank's rows.
    private func share(_ split: Split) -> [Int] {
        switch split {
        case .strided:
            return Array(stride(from: group.rank, to: total, by: group.size))
        case .contiguousUneven:
            let p = group.size
            let holders = max(1, p - 1)
            var counts = [Int](repeating: total / holders, count: p)
            if holders < p { counts[p - 1] = 0 }
            counts[0] += total % holders
            if holders > 1 { counts[0] += 37; counts[holders - 1] -= 37 }
            let first = counts[0..<group.rank].reduce(0, +)
            return Array(first..<(first + counts[group.rank]))
        }
    }

    private func localRows(_ blobs: Blobs, _ indices: [Int]) -> [Float] {
        indices.flatMap { blobs.rows[($0 * d)..<(($0 + 1) * d)] }
    }

    private func maxAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    private func assertMatchesOneProcess(_ blobs: Blobs, name: String, split: Split, initialSample: Int) throws {
        let reference = try DistributedKMeans.fit(localRows: blobs.rows, globalIndices: Array(0..<total), dimension: d,
                                                  k: k, seed: seed, initialSample: initialSample, group: .single)
        let indices = share(split)
        let result = try DistributedKMeans.fit(localRows: localRows(blobs, indices), globalIndices: indices,
                                               dimension: d, k: k, seed: seed, initialSample: initialSample)
        let label = "\(name), \(split), sample \(initialSample), rank \(group.rank) of \(group.size)"

        let disagreements = zip(indices, result.localAssignments).filter { reference.localAssignments[$0] != $1 }.count
        let allDisagreements = group.allreduce(Int64(disagreements), .sum)
        let difference = group.allreduce(maxAbsoluteDifference(result.centroids, reference.centroids), .max)
        // Every rank holds the same centroids: their element-wise max and min over ranks agree.
        var highest = result.centroids, lowest = result.centroids
        group.allreduce(&highest, .max)
        group.allreduce(&lowest, .min)
        group.log0("DistributedKMeans \(name), \(split), sample \(initialSample), \(group.size) rank(s): assignments "
                   + "agree \(Int64(total) - allDisagreements)/\(total), max centroid difference \(difference), "
                   + "iterations \(result.iterations) (one process \(reference.iterations)), inertia \(result.inertia)")

        XCTAssertEqual(result.initialCentroids, reference.initialCentroids, "k-means++ centroids (\(label))")
        XCTAssertEqual(allDisagreements, 0, "rows assigned differently from one process (\(label))")
        XCTAssertLessThanOrEqual(difference, 1e-5, "max centroid difference from one process (\(label))")
        XCTAssertEqual(highest, lowest, "centroids differ between ranks (\(label))")
        XCTAssertEqual(result.iterations, reference.iterations, "iterations (\(label))")
        XCTAssertEqual(result.counts, reference.counts, "cluster sizes (\(label))")
        XCTAssertEqual(result.inertia, reference.inertia, accuracy: 1e-9 * reference.inertia, "inertia (\(label))")
        XCTAssertTrue(result.converged, "converged within the iteration cap (\(label))")
        XCTAssertEqual(result.localAssignments.count, indices.count, "one assignment per local row (\(label))")
    }
}
