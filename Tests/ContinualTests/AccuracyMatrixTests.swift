import Foundation
import XCTest
@testable import Continual

/// The continual-learning metrics on hand-made matrices, every expected value worked out by hand in the comments.
final class AccuracyMatrixTests: XCTestCase {
    private func message(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "no error" } catch { return "\(error)" }
    }

    /// ```
    /// a = [[80],
    ///      [70, 90],
    ///      [60, 85, 75]]
    /// row means         80, (70 + 90) / 2 = 80, (60 + 85 + 75) / 3 = 73.333...
    /// average accuracy  (80 + 80 + 73.333) / 3 = 77.777...
    /// final accuracy    73.333...
    /// forgetting        task 0: max(80, 70) - 60 = 20; task 1: 90 - 85 = 5; mean 12.5 (signed: -12.5)
    /// after task 1      task 0: 80 - 70 = 10
    /// ```
    func testMetricsOfAHandMadeMatrix() throws {
        let a = try AccuracyMatrix(rows: [[80], [70, 90], [60, 85, 75]])
        XCTAssertEqual(a.taskCount, 3, "tasks")
        XCTAssertEqual(a[after: 2, task: 1], 85, "a[2][1]")
        XCTAssertEqual(a.rowMeans.count, 3, "one mean per row")
        for (mean, expected) in zip(a.rowMeans, [80, 80, 220.0 / 3]) {
            XCTAssertEqual(mean, expected, accuracy: 1e-12, "row means \(a.rowMeans)")
        }
        XCTAssertEqual(a.averageAccuracy, (160 + 220.0 / 3) / 3, accuracy: 1e-12, "average incremental accuracy")
        XCTAssertEqual(a.finalAccuracy, 220.0 / 3, accuracy: 1e-12, "final accuracy")
        XCTAssertEqual(a.forgettingPerTask(), [20, 5], "positive per task: max previous minus last")
        XCTAssertEqual(a.forgettingPerTask(.signed), [-20, -5], "signed per task: last minus max previous")
        XCTAssertEqual(a.forgetting(), 12.5, "positive forgetting")
        XCTAssertEqual(a.forgetting(.signed), -12.5, "signed forgetting")
        XCTAssertEqual(a.forgetting(afterTask: 1), 10, "forgetting after task 1")
        XCTAssertEqual(a.forgettingCurve(), [nil, 10, 12.5], "forgetting after each task")
        XCTAssertEqual(a.forgettingCurve(.signed), [nil, -10, -12.5], "signed curve")
    }

    /// The maximum runs over every earlier evaluation of the task, not just its first:
    /// ```
    /// a = [[50],
    ///      [60, 40],
    ///      [55, 45, 30],
    ///      [52, 20, 30, 90]]
    /// task 0: max(50, 60, 55) - 52 = 8;  task 1: max(40, 45) - 20 = 25;  task 2: 30 - 30 = 0    mean 11
    /// after task 2: task 0: max(50, 60) - 55 = 5; task 1: 40 - 45 = -5 (it improved)            mean 0
    /// ```
    /// Nothing is clamped: backward transfer lowers positive forgetting below 0.
    func testForgettingTakesTheBestEarlierScoreAndIsNotClamped() throws {
        let a = try AccuracyMatrix(rows: [[50], [60, 40], [55, 45, 30], [52, 20, 30, 90]])
        XCTAssertEqual(a.forgettingPerTask(), [8, 25, 0], "per task after the last")
        XCTAssertEqual(a.forgetting(), 11, "mean over tasks 0...2")
        XCTAssertEqual(a.forgettingPerTask(afterTask: 2), [5, -5], "after task 2: task 1 improved")
        XCTAssertEqual(a.forgetting(afterTask: 2), 0, "after task 2")
        // (60 - 70 = -10 and 40 - 45 = -5: both tasks end higher than ever before.)
        let better = try AccuracyMatrix(rows: [[50], [60, 40], [70, 45, 30]])
        XCTAssertEqual(better.forgetting(), -7.5, "backward transfer: negative positive-forgetting")
        XCTAssertEqual(better.forgetting(.signed), 7.5, "and positive signed forgetting")
    }

    /// One task: A = A_K = the only entry; nothing can be forgotten yet, so forgetting is nil (not 0).
    func testOneTaskHasNoForgetting() throws {
        let a = try AccuracyMatrix(rows: [[42]])
        XCTAssertEqual(a.averageAccuracy, 42, "average")
        XCTAssertEqual(a.finalAccuracy, 42, "final")
        XCTAssertNil(a.forgetting(), "no forgetting with one task")
        XCTAssertNil(a.forgetting(.signed), "no signed forgetting either")
        XCTAssertEqual(a.forgettingPerTask(), [], "no task to forget")
        XCTAssertEqual(a.forgettingCurve(), [nil], "curve")
    }

    func testFromRecordsSelectsEachNumber() throws {
        let classification = try AccuracyMatrix(records: ReportFixtures.classification(identity: true))
        XCTAssertEqual(classification.rows, [[80], [70, 90], [60, 85, 75]], "score = accuracy")
        XCTAssertEqual(try AccuracyMatrix(records: ReportFixtures.classification(), selecting: .accuracy), classification,
                       "accuracy selector")
        XCTAssertEqual(try AccuracyMatrix(records: ReportFixtures.classification(identity: true), selecting: .taskIdentity)
                        .rows, [[100], [90, 80], [70, 80, 95]], "task identity")

        let retrieval = ReportFixtures.retrieval()
        // score = (image→text R@1 + text→image R@1) / 2: (20+22)/2; (10+22)/2, (30+40)/2; (8+18)/2, (25+36)/2, (35+30)/2
        XCTAssertEqual(try AccuracyMatrix(records: retrieval).rows, [[21], [16, 35], [13, 30.5, 32.5]], "retrieval score")
        XCTAssertEqual(try AccuracyMatrix(records: retrieval, selecting: .recall(.imageToText, .r5)).rows,
                       [[50], [45, 55], [40, 50, 60]], "image→text R@5")
        XCTAssertEqual(try AccuracyMatrix(records: retrieval, selecting: .recall(.textToImage, .r10)).rows,
                       [[64], [64, 75], [60, 75, 77]], "text→image R@10")
    }

    /// LPI's Forgetting of a direction is the mean of F@1, F@5 and F@10 (ReportFixtures.retrieval):
    /// ```
    /// image→text  F@1:  task 0: max(20, 10) - 8 = 12;  task 1: 30 - 25 = 5   -> 8.5
    ///             F@5:  task 0: max(50, 45) - 40 = 10; task 1: 55 - 50 = 5   -> 7.5
    ///             F@10: task 0: max(60, 62) - 55 = 7;  task 1: 70 - 70 = 0   -> 3.5
    ///             Forgetting (8.5 + 7.5 + 3.5) / 3 = 6.5
    /// text→image  F@1:  22 - 18 = 4;  40 - 36 = 4  -> 4
    ///             F@5:  max(52, 50) - 50 = 2; 60 - 60 = 0 -> 1
    ///             F@10: 64 - 60 = 4;  75 - 75 = 0  -> 2
    ///             Forgetting 7 / 3
    /// ```
    func testRetrievalForgettingAveragesFAt1And5And10() throws {
        let records = ReportFixtures.retrieval()
        let f = { (d: RetrievalDirection, k: RecallCutoff) in
            try AccuracyMatrix(records: records, selecting: .recall(d, k)).forgetting()
        }
        XCTAssertEqual(try f(.imageToText, .r1), 8.5, "image→text F@1")
        XCTAssertEqual(try f(.imageToText, .r5), 7.5, "image→text F@5")
        XCTAssertEqual(try f(.imageToText, .r10), 3.5, "image→text F@10")
        XCTAssertEqual(try AccuracyMatrix.recallForgetting(records, direction: .imageToText) ?? .nan, 6.5,
                       accuracy: 1e-12, "image→text Forgetting")
        XCTAssertEqual(try AccuracyMatrix.recallForgetting(records, direction: .imageToText, variant: .signed) ?? .nan,
                       -6.5, accuracy: 1e-12, "image→text signed Forgetting, as LPI's code prints it")
        XCTAssertEqual(try AccuracyMatrix.recallForgetting(records, direction: .textToImage) ?? .nan, 7.0 / 3,
                       accuracy: 1e-12, "text→image Forgetting")
        XCTAssertNil(try AccuracyMatrix.recallForgetting(Array(records.prefix(1)), direction: .textToImage),
                     "one task: none")
    }

    func testCodableRoundTripAndShapeChecks() throws {
        let a = try AccuracyMatrix(rows: [[80], [70, 90.5]])
        let json = try JSONEncoder().encode(a)
        XCTAssertEqual(String(decoding: json, as: UTF8.self), "[[80],[70,90.5]]", "encodes as its rows")
        XCTAssertEqual(try JSONDecoder().decode(AccuracyMatrix.self, from: json), a, "round trip")
        XCTAssertThrowsError(try JSONDecoder().decode(AccuracyMatrix.self, from: Data("[[80],[70]]".utf8)),
                             "decoding checks the shape") {
            XCTAssertTrue("\($0)".contains("the row after task 1 has 1 entries, expected 2"), "\($0)")
        }
        XCTAssertEqual(message { try AccuracyMatrix(rows: []) }, "accuracy matrix: no rows (no evaluation)")
        XCTAssertEqual(message { try AccuracyMatrix(rows: [[80, 1]]) },
                       "accuracy matrix: the row after task 0 has 2 entries, expected 1")
        XCTAssertEqual(message { try AccuracyMatrix(rows: [[80], [0.5, 150]]) },
                       "accuracy matrix: after task 1, task 1: 150.0 is not a percent in 0...100")
        XCTAssertTrue(message { try AccuracyMatrix(rows: [[.nan]]) }.contains("nan is not a percent"), "NaN refused")
        XCTAssertTrue(message { try AccuracyMatrix(rows: [[-1]]) }.contains("-1.0 is not a percent"), "negative refused")
    }

    func testRecordsOutOfShapeAreRefused() {
        var records = ReportFixtures.classification()
        XCTAssertEqual(message { try AccuracyMatrix(records: []) }, "accuracy matrix: no evaluation records")
        XCTAssertEqual(message { try AccuracyMatrix(records: Array(records.dropFirst())) },
                       "evaluation 0 is after task 1, expected after task 0 (one evaluation after each task, in order)")
        XCTAssertEqual(message { try AccuracyMatrix(records: records, selecting: .recall(.imageToText, .r1)) },
                       "evaluation after task 0, task 0: no image_to_text R@1")
        XCTAssertEqual(message { try AccuracyMatrix(records: records, selecting: .taskIdentity) },
                       "evaluation after task 0, task 0: no task_identity")
        records[1].tasks.swapAt(0, 1)
        XCTAssertEqual(message { try AccuracyMatrix(records: records) },
                       "evaluation after task 1 scores tasks [1, 0], expected 0...1")
        records = ReportFixtures.classification()
        records[2].kind = .retrieval
        XCTAssertEqual(message { try AccuracyMatrix(records: records) },
                       "evaluation after task 2 is retrieval, the first was classification")
        var retrieval = ReportFixtures.retrieval()
        retrieval[1].tasks[0].textToImage = nil
        XCTAssertEqual(message { try AccuracyMatrix(records: retrieval) }, "evaluation after task 1, task 0: no score",
                       "a retrieval score needs both directions")
    }

    func testEvaluationRecordJSONUsesSnakeCase() throws {
        let record = ReportFixtures.retrieval()[0]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(record), as: UTF8.self)
        XCTAssertEqual(text, #"{"kind":"retrieval","seconds":2,"task":0,"tasks":[{"image_to_text":{"r1":20,"r10":60,"r5":50},"#
                       + #""samples":100,"task":0,"text_to_image":{"r1":22,"r10":64,"r5":52}}]}"#, "metrics.jsonl payload")
        XCTAssertEqual(try JSONDecoder().decode(EvaluationRecord.self, from: Data(text.utf8)), record, "round trip")
        let identity = ReportFixtures.classification(identity: true)[0]
        XCTAssertTrue(String(decoding: try encoder.encode(identity), as: UTF8.self).contains(#""task_identity":100"#),
                      "task_identity key")
    }
}
