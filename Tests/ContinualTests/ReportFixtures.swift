@testable import Continual

/// Hand-made evaluation records shared by the metric and report tests; the expected values derived from them are
/// worked out in the comments of the tests that use them.
enum ReportFixtures {
    /// Classification, 3 tasks: accuracy
    /// ```
    /// after 0: [80]
    /// after 1: [70, 90]
    /// after 2: [60, 85, 75]
    /// ```
    /// and task identity (samples 10, 30, 20)
    /// ```
    /// after 0: [100]
    /// after 1: [90, 80]
    /// after 2: [70, 80, 95]
    /// ```
    static func classification(identity: Bool = false) -> [EvaluationRecord] {
        let accuracy: [[Double]] = [[80], [70, 90], [60, 85, 75]]
        let taskIdentity: [[Double]] = [[100], [90, 80], [70, 80, 95]]
        let samples = [10, 30, 20]
        return accuracy.indices.map { i in
            EvaluationRecord(task: i, kind: .classification, tasks: (0...i).map { j in
                TaskScores(task: j, samples: samples[j], accuracy: accuracy[i][j],
                           taskIdentity: identity ? taskIdentity[i][j] : nil)
            }, seconds: Double(i) + 0.5)
        }
    }

    /// Retrieval, 3 tasks, (R@1, R@5, R@10) of each seen task:
    /// ```
    /// image→text  after 0: (20, 50, 60)
    ///             after 1: (10, 45, 62)  (30, 55, 70)
    ///             after 2: ( 8, 40, 55)  (25, 50, 70)  (35, 60, 80)
    /// text→image  after 0: (22, 52, 64)
    ///             after 1: (22, 50, 64)  (40, 60, 75)
    ///             after 2: (18, 50, 60)  (36, 60, 75)  (30, 58, 77)
    /// ```
    /// 100 images per task.
    static func retrieval() -> [EvaluationRecord] {
        let imageToText: [[RecallAtK]] = [
            [RecallAtK(r1: 20, r5: 50, r10: 60)],
            [RecallAtK(r1: 10, r5: 45, r10: 62), RecallAtK(r1: 30, r5: 55, r10: 70)],
            [RecallAtK(r1: 8, r5: 40, r10: 55), RecallAtK(r1: 25, r5: 50, r10: 70), RecallAtK(r1: 35, r5: 60, r10: 80)],
        ]
        let textToImage: [[RecallAtK]] = [
            [RecallAtK(r1: 22, r5: 52, r10: 64)],
            [RecallAtK(r1: 22, r5: 50, r10: 64), RecallAtK(r1: 40, r5: 60, r10: 75)],
            [RecallAtK(r1: 18, r5: 50, r10: 60), RecallAtK(r1: 36, r5: 60, r10: 75), RecallAtK(r1: 30, r5: 58, r10: 77)],
        ]
        return imageToText.indices.map { i in
            EvaluationRecord(task: i, kind: .retrieval, tasks: (0...i).map { j in
                TaskScores(task: j, samples: 100, imageToText: imageToText[i][j], textToImage: textToImage[i][j])
            }, seconds: 2)
        }
    }

    static func info(method: String = "lpi-m", dataset: String = "coco", seconds: Double = 3723,
                     variant: ForgettingVariant = .positive) -> RunInfo {
        RunInfo(method: method, dataset: dataset, ranks: 2, seed: 7, globalBatch: 32, seconds: seconds,
                settings: [.init("method.name", method), .init("tasks.count", "3"), .init("note", "a | b")],
                forgettingVariant: variant)
    }
}
