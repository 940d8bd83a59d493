import XCTest
import Numerics
import Prompting

/// Task identity by nearest centroid: synthetic tasks whose keys come from a few Lloyd steps here (the
/// distributed fit is tested in DistributedTests), and hand-made cases for the L1 distance, ties, the
/// normalisation and per-sample prediction.
///
/// ```
/// task t: 3 clusters, centres u_tc random unit vectors in 32 dims; x = s (u_tc + N(0, 0.08^2 I)), s in [0.5, 5)
/// ```
final class TaskKeysTests: XCTestCase {
    let (tasks, clustersPerTask, width) = (4, 3, 32)
    let (trainPerCluster, heldOutPerCluster, centroidsPerTask) = (50, 20, 5)

    func testHeldOutSamplesGetTheirTask() {
        let (keys, heldOut, truth) = makeKeysAndHeldOut()
        let predicted = keys.predict(features: heldOut)
        let right = zip(predicted, truth).filter { $0 == $1 }.count
        let accuracy = Double(right) / Double(truth.count)
        print("TaskKeys: held-out task accuracy \(right)/\(truth.count) = \(accuracy) "
              + "(\(tasks) tasks x \(centroidsPerTask) centroids, width \(width))")
        XCTAssertGreaterThan(accuracy, 0.95, "held-out task accuracy \(right)/\(truth.count)")
        XCTAssertEqual(keys.taskCount, tasks, "tasks appended")
        XCTAssertEqual(keys.owners, (0..<tasks).flatMap { [Int](repeating: $0, count: centroidsPerTask) }, "owners")
    }

    /// One sample of task 2 in a batch of task 0 keeps its own task, and every row's prediction in the
    /// mixed batch equals that row predicted alone (no vote over the batch).
    func testPredictionIsPerSample() {
        let (keys, heldOut, truth) = makeKeysAndHeldOut()
        let loneIndex = truth.firstIndex(of: 2)!
        let batchIndices = truth.indices.filter { truth[$0] == 0 }.prefix(15) + [loneIndex]
        let batch = batchIndices.flatMap { heldOut[($0 * width)..<(($0 + 1) * width)] }
        let predicted = keys.predict(features: batch)
        XCTAssertEqual(predicted.last, 2, "the lone task-2 sample in a task-0 batch")
        XCTAssertEqual(predicted.dropLast().filter { $0 == 0 }.count, 15, "the task-0 samples: \(predicted)")

        let alone = (0..<(heldOut.count / width)).flatMap { keys.predict(features: Array(heldOut[($0 * width)..<(($0 + 1) * width)])) }
        XCTAssertEqual(keys.predict(features: heldOut), alone, "the whole mixed batch against one row at a time")
    }

    /// Query (2, 0) normalises to (1, 0). Task 0's centroid (0.75, 0.25) is nearer under L2 (0.354 against
    /// 0.4) and task 1's (0.6, 0) under L1 (0.4 against 0.5): the keys use L1.
    func testL1NotL2() {
        var keys = TaskKeys(width: 2)
        keys.append(task: [0.75, 0.25])
        keys.append(task: [0.6, 0, -5, -5])
        let query: [Float] = [2, 0]
        let centres: [[Float]] = [[0.75, 0.25], [0.6, 0]]
        let l1 = centres.map { abs(1 - $0[0]) + abs($0[1]) }
        let l2 = centres.map { ((1 - $0[0]) * (1 - $0[0]) + $0[1] * $0[1]).squareRoot() }
        XCTAssertLessThan(l2[0], l2[1], "the case is built so that L2 prefers task 0")
        XCTAssertLessThan(l1[1], l1[0], "and L1 task 1")
        XCTAssertEqual(keys.predict(features: query), [1], "L1 nearest is task 1's centroid")
    }

    /// (3, 0) is nearest task 1's (3, 0.3) as given, but normalised to (1, 0) it is task 0's (1, 0).
    func testFeaturesAreNormalisedFirst() {
        var keys = TaskKeys(width: 2)
        keys.append(task: [1, 0])
        keys.append(task: [3, 0.3])
        XCTAssertEqual(keys.predict(features: [3, 0, 0, 0.01]), [0, 0], "normalised rows go to task 0")

        var rows: [Float] = [3, 4, 0, -0.5, 1e-3, 2e-3]
        var expected = [Float](repeating: 0, count: 6)
        var norms = [Float](repeating: 0, count: 3)
        L2Normalize.forward(y: &expected, norms: &norms, x: rows, rows: 3, columns: 2)
        TaskKeys.normalizeRows(&rows, width: 2)
        XCTAssertEqual(rows, expected, "normalizeRows is L2Normalize.forward in place")
        for i in 0..<3 {
            XCTAssertEqual(rows[2 * i] * rows[2 * i] + rows[2 * i + 1] * rows[2 * i + 1], 1, accuracy: 1e-6, "row \(i) norm")
        }
    }

    /// A query at the same L1 distance from centroids of tasks 0 and 1 goes to task 0, whichever is appended
    /// with more centroids.
    func testTiesGoToTheLowerTask() {
        var keys = TaskKeys(width: 2)
        keys.append(task: [0, 1])
        keys.append(task: [1, 0, 0, -1])
        XCTAssertEqual(keys.predict(features: [1, 1]), [0], "(1, 1)/sqrt 2 is as far from (0, 1) as from (1, 0)")
    }

    // MARK: Helpers

    /// Keys fitted on each task's normalised training rows, and the held-out rows (unnormalised, tasks
    /// interleaved sample by sample) with their tasks.
    private func makeKeysAndHeldOut() -> (keys: TaskKeys, heldOut: [Float], truth: [Int]) {
        var generator = SplitMix64(seed: 2024)
        func unit() -> [Float] {
            let v = (0..<width).map { _ in generator.nextNormal() }
            let norm = v.map { $0 * $0 }.reduce(0, +).squareRoot()
            return v.map { $0 / norm }
        }
        func sample(_ centre: [Float]) -> [Float] {
            let scale = 0.5 + 4.5 * generator.nextUnitFloat()
            return centre.map { scale * ($0 + 0.08 * generator.nextNormal()) }
        }
        let centres = (0..<(tasks * clustersPerTask)).map { _ in unit() }
        var keys = TaskKeys(width: width)
        for t in 0..<tasks {
            var train: [Float] = []
            for c in 0..<clustersPerTask {
                for _ in 0..<trainPerCluster { train += sample(centres[t * clustersPerTask + c]) }
            }
            TaskKeys.normalizeRows(&train, width: width)
            keys.append(task: lloyd(train, k: centroidsPerTask))
        }
        var heldOut: [Float] = [], truth: [Int] = []
        for i in 0..<(heldOutPerCluster * clustersPerTask) {
            for t in 0..<tasks {
                heldOut += sample(centres[t * clustersPerTask + i % clustersPerTask])
                truth.append(t)
            }
        }
        return (keys, heldOut, truth)
    }

    /// k centroids of `rows` (n x width): farthest-point initialisation from row 0, then 20 Lloyd steps
    /// under squared Euclidean distance (an empty cluster keeps its centroid).
    private func lloyd(_ rows: [Float], k: Int) -> [Float] {
        let n = rows.count / width
        func distance(_ i: Int, _ centroids: [Float], _ j: Int) -> Float {
            (0..<width).reduce(0) { sum, c in
                let difference = rows[i * width + c] - centroids[j * width + c]
                return sum + difference * difference
            }
        }
        func nearest(_ i: Int, _ centroids: [Float], _ count: Int) -> (Int, Float) {
            (0..<count).map { ($0, distance(i, centroids, $0)) }.min { $0.1 < $1.1 }!
        }
        var centroids = Array(rows[0..<width])
        for j in 1..<k {
            let distances = (0..<n).map { nearest($0, centroids, j).1 }
            let farthest = distances.indices.max { distances[$0] < distances[$1] }!
            centroids += rows[(farthest * width)..<((farthest + 1) * width)]
        }
        for _ in 0..<20 {
            var sums = [Float](repeating: 0, count: k * width), counts = [Int](repeating: 0, count: k)
            for i in 0..<n {
                let j = nearest(i, centroids, k).0
                counts[j] += 1
                for c in 0..<width { sums[j * width + c] += rows[i * width + c] }
            }
            for j in 0..<k where counts[j] > 0 {
                for c in 0..<width { centroids[j * width + c] = sums[j * width + c] / Float(counts[j]) }
            }
        }
        return centroids
    }
}
