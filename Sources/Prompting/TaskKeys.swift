import Numerics

/// Task identity at inference for one modality (images, or captions): each learned task's k-means
/// centroids of its L2-normalised frozen CLIP features, and each sample's task by its nearest centroid
/// under the L1 distance (S-Prompts; LPI; DESIGN.md, "Prompting methods").
///
/// ```
/// keys:     K = [C_0 ; C_1 ; ... ; C_{T-1}]     C_t: c_t x d, task t's centroids (fitted on normalised rows)
/// predict:  x_hat = x / ||x||                   x: one sample's features (d), normalised here
///           task(x) = owner( argmin_m sum_c |x_hat[c] - K[m, c]| )      ties to the lower task
/// ```
/// Per sample, never a vote over the batch (a batch-wise vote inflates class-incremental accuracy): a batch
/// that mixes tasks gets each sample's own task. Images and captions each have their own `TaskKeys`.
/// The centroids come from `DistributedKMeans` (5 per task) over the task's training features, normalised
/// with `normalizeRows` first.
public struct TaskKeys: Sendable {
    /// The feature width d.
    public let width: Int
    /// All tasks' centroids, task by task: `owners.count` x `width`, row-major.
    public private(set) var centroids: [Float] = []
    /// The task of each centroid row (non-decreasing).
    public private(set) var owners: [Int] = []
    /// Tasks appended so far.
    public private(set) var taskCount = 0

    public init(width: Int) {
        precondition(width >= 1, "TaskKeys: width \(width)")
        self.width = width
    }

    /// Adds the next task's centroids (c x width row-major, c >= 1); tasks are numbered in the order appended.
    public mutating func append(task centroids: [Float]) {
        precondition(!centroids.isEmpty && centroids.count % width == 0,
                     "TaskKeys: \(centroids.count) values are not centroids of width \(width)")
        precondition(centroids.allSatisfy(\.isFinite), "TaskKeys: task \(taskCount) has a non-finite centroid")
        self.centroids += centroids
        owners += [Int](repeating: taskCount, count: centroids.count / width)
        taskCount += 1
    }

    /// Each row's task: the owner of its nearest centroid under L1 after L2-normalising the row (see the
    /// type's equations). `features` (count x width, row-major) need not be normalised and is not changed.
    /// Rows must be finite and non-zero; at least one task must have been appended.
    public func predict(features: UnsafePointer<Float>, count: Int) -> [Int] {
        precondition(taskCount > 0, "TaskKeys: predict before any task was appended")
        precondition(count >= 0, "TaskKeys: count \(count)")
        var row = [Float](repeating: 0, count: width)
        var norm: Float = 0
        return (0..<count).map { i in
            row.withUnsafeMutableBufferPointer { row in
                L2Normalize.forward(y: row.baseAddress!, norms: &norm, x: features + i * width, rows: 1, columns: width)
            }
            precondition(norm.isFinite && norm > 0, "TaskKeys: row \(i) has norm \(norm), not finite and non-zero")
            return owners[nearest(row)]
        }
    }

    /// `predict` on an array of rows.
    public func predict(features: [Float]) -> [Int] {
        precondition(features.count % width == 0, "TaskKeys: \(features.count) values are not rows of \(width)")
        guard !features.isEmpty else { return [] }
        return features.withUnsafeBufferPointer { predict(features: $0.baseAddress!, count: features.count / width) }
    }

    /// The index of the centroid nearest to `row` (already normalised) under L1; ties to the lower index,
    /// which belongs to the lower task.
    private func nearest(_ row: [Float]) -> Int {
        var best = 0
        var bestDistance = Float.infinity
        for m in 0..<owners.count {
            var distance: Float = 0
            for c in 0..<width { distance += abs(row[c] - centroids[m * width + c]) }
            if distance < bestDistance { best = m; bestDistance = distance }
        }
        return best
    }

    /// L2-normalises `count` rows of `width` in place, exactly as `L2Normalize.forward` (CLIP's
    /// `x / x.norm(dim=-1, keepdim=True)`): the features k-means fits the keys on. A zero row becomes NaN.
    public static func normalizeRows(_ rows: UnsafeMutablePointer<Float>, count: Int, width: Int) {
        var norm: Float = 0
        for i in 0..<count {
            // One row at a time: forward reads the whole row for its norm before it writes, so in place is safe.
            L2Normalize.forward(y: rows + i * width, norms: &norm, x: rows + i * width, rows: 1, columns: width)
        }
    }

    /// `normalizeRows` on an array.
    public static func normalizeRows(_ rows: inout [Float], width: Int) {
        precondition(rows.count % width == 0, "TaskKeys: \(rows.count) values are not rows of \(width)")
        let count = rows.count / width
        guard count > 0 else { return }
        rows.withUnsafeMutableBufferPointer { normalizeRows($0.baseAddress!, count: count, width: width) }
    }
}
