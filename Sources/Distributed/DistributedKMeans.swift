import Numerics

/// k-means (Lloyd's algorithm) over rows sharded across the ranks of a group, with a k-means++
/// initialisation that is the same for every rank count; the keys of task identity at inference
/// (S-Prompts, LPI: 5 centroids per task on the L2-normalised frozen CLIP features; DESIGN.md,
/// "Prompting methods").
///
/// ```
/// X = rows of all ranks                      (N x d, rank r holds n_r rows, row-major, with global
///                                             indices: together a permutation of 0..<N)
/// init:  S = min(initialSample, N) global indices drawn by Floyd's sampling with SplitMix64(seed);
///        every rank gathers those rows (allgatherv), sorts them by global index, and runs k-means++
///        (D^2 sampling, SplitMix64(seed) again) on them: C (k x d), the same on every rank and rank count
/// Lloyd: a(i) = argmin_j ||x_i - c_j||^2             each rank over its rows, ties to the lower j
///        [ sums (k x d) | counts (k) ] = allreduce( sum over local i of [ x_i e_a(i) | e_a(i) ] )   (Double)
///        c_j <- sums_j / counts_j,  or c_j unchanged when counts_j = 0 (an empty cluster keeps its centroid)
///        stop when max_j ||c_j,new - c_j,old|| <= tolerance, or after `iterations` updates
/// final: a(i) against the returned C; counts (k) and inertia = sum_i ||x_i - c_a(i)||^2, allreduced
/// ```
/// One allreduce of k*d + k + 1 Doubles per iteration (the inertia of the assignment rides along).
/// Each row's distances are computed the same way on any rank, so the rank count changes only the order
/// of the Double sums: the same assignments and iteration count, centroids equal to ~1e-7 (tests compare
/// 1 to 4 ranks). Every rank must call it with the same k, d, iterations, tolerance, seed and
/// initialSample; every rank returns the same centroids, as MPI_Allreduce gives every rank the same
/// sums (which the training step relies on too).
///
/// Assignment and accumulation run on the calling thread, in row order, so a given rank count and row
/// order give the same bits on every run.
public enum DistributedKMeans {
    /// What `fit` returns.
    public struct Result: Sendable {
        /// The centroids, k x d row-major; the same on every rank.
        public var centroids: [Float]
        public var k: Int, dimension: Int
        /// Lloyd updates run (0 when `iterations` was 0).
        public var iterations: Int
        /// Whether it stopped because no centroid moved more than the tolerance (not on the iteration cap).
        public var converged: Bool
        /// Sum over all ranks' rows of the squared Euclidean distance to the nearest returned centroid.
        public var inertia: Double
        /// Rows of all ranks nearest to each returned centroid (k).
        public var counts: [Int]
        /// Each of this rank's rows' nearest returned centroid, in the order the rows were given.
        public var localAssignments: [Int]
        /// The k-means++ centroids Lloyd started from (k x d).
        public var initialCentroids: [Float]
    }

    /// Bad input, thrown on every rank alike (a rank throwing alone would leave the others in a collective).
    public enum Failure: Error, CustomStringConvertible, Equatable {
        /// Fewer rows over all ranks than centroids asked for.
        case fewerRowsThanCentroids(rows: Int, k: Int)
        /// The global indices are not a permutation of 0..<rows (out of range, or repeated).
        case invalidGlobalIndices(rows: Int)

        public var description: String {
            switch self {
            case let .fewerRowsThanCentroids(rows, k):
                return "DistributedKMeans: \(rows) rows over all ranks, fewer than the \(k) centroids asked for"
            case let .invalidGlobalIndices(rows):
                return "DistributedKMeans: the ranks' global row indices are not a permutation of 0..<\(rows)"
            }
        }
    }

    /// k-means of the rows of all ranks (see the type's equations). Collective over `group`.
    ///
    /// - Parameters:
    ///   - localRows: this rank's rows, `globalIndices.count` x `dimension`, row-major (zero rows is fine).
    ///   - globalIndices: each local row's index in the global set; over all ranks a permutation of 0..<N.
    ///     Only the initial sample depends on them, which makes it independent of how rows are split.
    ///   - k: centroids (>= 1); N < k throws `Failure.fewerRowsThanCentroids` on every rank.
    ///   - iterations: the most Lloyd updates (>= 0).
    ///   - tolerance: stop once no centroid moves more than this (Euclidean, in feature units).
    ///   - initialSample: the most rows k-means++ sees (>= k); they are gathered to every rank.
    public static func fit(localRows: UnsafeBufferPointer<Float>, globalIndices: [Int], dimension d: Int, k: Int,
                           iterations: Int = 100, tolerance: Float = 1e-6, seed: UInt64,
                           initialSample: Int = 4096, group: ProcessGroup = .world) throws -> Result {
        precondition(d >= 1 && k >= 1 && iterations >= 0 && tolerance >= 0,
                     "DistributedKMeans: d \(d), k \(k), iterations \(iterations), tolerance \(tolerance)")
        precondition(initialSample >= k, "DistributedKMeans: initialSample \(initialSample) < k \(k)")
        let n = globalIndices.count
        precondition(localRows.count == n * d,
                     "DistributedKMeans: \(localRows.count) values for \(n) rows of \(d) on rank \(group.rank)")

        // The global count, and a check of the indices: in range locally, and over all ranks the sums of i
        // and of a 32-bit hash of i equal to those over 0..<N (a repeated index would have to be offset
        // exactly in both).
        let total = Int(group.allreduce(Int64(n), .sum))
        guard total >= k else { throw Failure.fewerRowsThanCentroids(rows: total, k: k) }
        func hash(_ index: Int) -> Int64 {
            var generator = SplitMix64(seed: UInt64(truncatingIfNeeded: index))
            return Int64(generator.next() >> 32)
        }
        var check: [Int64] = [0, 0, 0]  // [out of range, sum i, sum hash(i)]
        for index in globalIndices {
            guard index >= 0 && index < total else { check[0] += 1; continue }
            check[1] += Int64(index)
            check[2] += hash(index)
        }
        group.allreduceSum(&check)
        let expectedHashes = (0..<total).reduce(Int64(0)) { $0 + hash($1) }
        guard check[0] == 0, check[1] == Int64(total) * Int64(total - 1) / 2, check[2] == expectedHashes else {
            throw Failure.invalidGlobalIndices(rows: total)
        }

        let initial = initialCentroids(localRows: localRows, globalIndices: globalIndices, total: total,
                                       dimension: d, k: k, seed: seed, initialSample: initialSample, group: group)
        var centroids = initial
        var run = 0
        var converged = false
        var buffer = [Double](repeating: 0, count: k * d + k + 1)  // [sums (k x d) | counts (k) | inertia]
        var assignments = [Int](repeating: 0, count: n)
        while run < iterations {
            accumulate(localRows, rows: n, dimension: d, centroids: centroids, k: k,
                       assignments: &assignments, buffer: &buffer, sums: true)
            group.allreduceSum(&buffer)
            run += 1
            var shift: Double = 0
            for j in 0..<k {
                let count = buffer[k * d + j]
                guard count > 0 else { continue }  // an empty cluster keeps its previous centroid
                var moved: Double = 0
                for c in 0..<d {
                    let updated = Float(buffer[j * d + c] / count)
                    let step = Double(updated) - Double(centroids[j * d + c])
                    moved += step * step
                    centroids[j * d + c] = updated
                }
                shift = max(shift, moved.squareRoot())
            }
            if shift <= Double(tolerance) { converged = true; break }
        }

        // The final assignment, counts and inertia against the centroids returned.
        var final = [Double](repeating: 0, count: k + 1)
        accumulate(localRows, rows: n, dimension: d, centroids: centroids, k: k,
                   assignments: &assignments, buffer: &final, sums: false)
        group.allreduceSum(&final)
        return Result(centroids: centroids, k: k, dimension: d, iterations: run, converged: converged,
                      inertia: final[k], counts: final[0..<k].map { Int($0) }, localAssignments: assignments,
                      initialCentroids: initial)
    }

    /// `fit` on an array of this rank's rows.
    public static func fit(localRows: [Float], globalIndices: [Int], dimension d: Int, k: Int,
                           iterations: Int = 100, tolerance: Float = 1e-6, seed: UInt64,
                           initialSample: Int = 4096, group: ProcessGroup = .world) throws -> Result {
        try localRows.withUnsafeBufferPointer {
            try fit(localRows: $0, globalIndices: globalIndices, dimension: d, k: k, iterations: iterations,
                    tolerance: tolerance, seed: seed, initialSample: initialSample, group: group)
        }
    }

    /// The nearest of the k centroids (k x d) to one row, by squared Euclidean distance (Float, summed in
    /// column order), ties to the lower index; and that distance.
    @inline(__always)
    public static func nearest(_ row: UnsafePointer<Float>, centroids: UnsafePointer<Float>, k: Int,
                               dimension d: Int) -> (index: Int, squaredDistance: Float) {
        var best = 0
        var bestDistance = Float.infinity
        for j in 0..<k {
            let centroid = centroids + j * d
            var distance: Float = 0
            for c in 0..<d {
                let difference = row[c] - centroid[c]
                distance += difference * difference
            }
            if distance < bestDistance { best = j; bestDistance = distance }
        }
        return (best, bestDistance)
    }

    // MARK: Helpers

    /// Assigns each local row to its nearest centroid and accumulates, in row order, into `buffer`
    /// (zeroed first): with `sums`, [sums (k x d) | counts (k) | inertia]; without, [counts (k) | inertia].
    private static func accumulate(_ rows: UnsafeBufferPointer<Float>, rows n: Int, dimension d: Int,
                                   centroids: [Float], k: Int, assignments: inout [Int],
                                   buffer: inout [Double], sums: Bool) {
        let countsAt = sums ? k * d : 0
        for i in buffer.indices { buffer[i] = 0 }
        guard n > 0, let base = rows.baseAddress else { return }
        centroids.withUnsafeBufferPointer { c in
            for i in 0..<n {
                let row = base + i * d
                let (j, distance) = nearest(row, centroids: c.baseAddress!, k: k, dimension: d)
                assignments[i] = j
                if sums { for column in 0..<d { buffer[j * d + column] += Double(row[column]) } }
                buffer[countsAt + j] += 1
                buffer[countsAt + k] += Double(distance)
            }
        }
    }

    /// The k-means++ centroids of the initial sample: the same S global indices on every rank (Floyd's
    /// sampling), their rows gathered and sorted by global index, then D^2 sampling with SplitMix64(seed).
    /// When every remaining row coincides with a chosen centroid (fewer than k distinct rows), the first
    /// row not yet chosen is taken.
    private static func initialCentroids(localRows: UnsafeBufferPointer<Float>, globalIndices: [Int], total: Int,
                                         dimension d: Int, k: Int, seed: UInt64, initialSample: Int,
                                         group: ProcessGroup) -> [Float] {
        var generator = SplitMix64(seed: seed)
        let s = min(initialSample, total)
        // Floyd's algorithm: s distinct indices of 0..<total.
        var chosen = Set<Int>(minimumCapacity: s)
        if s == total {
            chosen = Set(0..<total)
        } else {
            for j in (total - s)..<total {
                let t = Int(generator.next() % UInt64(j + 1))
                chosen.insert(chosen.contains(t) ? j : t)
            }
        }
        var sendRows: [Float] = []
        var sendIndices: [Int64] = []
        for (i, index) in globalIndices.enumerated() where chosen.contains(index) {
            sendIndices.append(Int64(index))
            sendRows.append(contentsOf: localRows[(i * d)..<((i + 1) * d)])
        }
        let (gatheredIndices, _) = group.allgatherv(sendIndices)
        let (gatheredRows, _) = group.allgatherv(sendRows)
        precondition(gatheredIndices.count == s, "DistributedKMeans: gathered \(gatheredIndices.count) of \(s) sample rows")
        let order = gatheredIndices.indices.sorted { gatheredIndices[$0] < gatheredIndices[$1] }
        var sample = [Float](repeating: 0, count: s * d)
        for (position, source) in order.enumerated() {
            for c in 0..<d { sample[position * d + c] = gatheredRows[source * d + c] }
        }

        // k-means++ on the sorted sample.
        func squaredDistance(_ a: Int, toCentroid centroid: ArraySlice<Float>) -> Double {
            var sum: Double = 0
            var c = centroid.startIndex
            for column in 0..<d {
                let difference = Double(sample[a * d + column]) - Double(centroid[c])
                sum += difference * difference
                c += 1
            }
            return sum
        }
        func uniform(_ generator: inout SplitMix64) -> Double { Double(generator.next() >> 11) * 0x1p-53 }

        var centroids = [Float](repeating: 0, count: k * d)
        var picked = [Bool](repeating: false, count: s)
        let first = Int(generator.next() % UInt64(s))
        var minimum = [Double](repeating: .infinity, count: s)
        for j in 0..<k {
            let row: Int
            if j == 0 {
                row = first
            } else {
                let weight = minimum.reduce(0, +)
                if weight > 0 {
                    let target = uniform(&generator) * weight
                    var cumulative: Double = 0
                    var pick = -1
                    for i in 0..<s where minimum[i] > 0 {
                        pick = i
                        cumulative += minimum[i]
                        if cumulative > target { break }
                    }
                    row = pick  // the last row of positive weight when rounding leaves target unreached
                } else {
                    row = picked.firstIndex(of: false)!
                }
            }
            picked[row] = true
            for c in 0..<d { centroids[j * d + c] = sample[row * d + c] }
            let centroid = centroids[(j * d)..<((j + 1) * d)]
            for i in 0..<s { minimum[i] = min(minimum[i], squaredDistance(i, toCentroid: centroid)) }
        }
        return centroids
    }
}
