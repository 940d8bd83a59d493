import Foundation
import XCTest
@testable import Continual

/// summary.json, report.md and the writer on the hand-made records of `ReportFixtures`; the summary read back,
/// and its errors naming the file; several runs side by side (`RunComparison`).
final class RunReportTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-report-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    private func message(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "no error" } catch { return "\(error)" }
    }

    private func object(_ summary: RunSummary) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(summary)) as? [String: Any], "an object")
    }

    /// Retrieval (ReportFixtures.retrieval):
    /// ```
    /// score matrix      [[21], [16, 35], [13, 30.5, 32.5]]      (mean R@1 of both directions)
    /// row means         21, 25.5, 76/3
    /// average           (21 + 25.5 + 76/3) / 3 = 215.5 / 9 = 23.944...
    /// forgetting        max(21, 16) - 13 = 8; 35 - 30.5 = 4.5 -> 6.25;  after task 1: 21 - 16 = 5
    /// image→text R@1    [[20], [10, 30], [8, 25, 35]]: final 68/3, average (20 + 20 + 68/3) / 3 = 188/9, F@1 8.5
    /// Forgetting        image→text 6.5, text→image 7/3   (AccuracyMatrixTests)
    /// ```
    func testRetrievalSummary() throws {
        let summary = try RunSummary(records: ReportFixtures.retrieval(), info: ReportFixtures.info())
        XCTAssertEqual(summary.kind, .retrieval, "kind")
        XCTAssertEqual(summary.taskCount, 3, "tasks")
        XCTAssertEqual(summary.accuracyMatrix.rows, [[21], [16, 35], [13, 30.5, 32.5]], "score matrix")
        XCTAssertEqual(summary.averageAccuracy, 215.5 / 9, accuracy: 1e-12, "average accuracy")
        XCTAssertEqual(summary.finalAccuracy, 76.0 / 3, accuracy: 1e-12, "final accuracy")
        XCTAssertEqual(summary.forgetting, 6.25, "forgetting")
        XCTAssertEqual(summary.forgettingCurve, [nil, 5, 6.25], "forgetting curve")
        XCTAssertEqual(summary.accuracyCurve, [21, 25.5, 76.0 / 3], "accuracy curve")
        let recall = try XCTUnwrap(summary.recall, "retrieval has recall")
        XCTAssertEqual(recall.imageToText.r1.matrix.rows, [[20], [10, 30], [8, 25, 35]], "image→text R@1 matrix")
        XCTAssertEqual(recall.imageToText.r1.final, 68.0 / 3, accuracy: 1e-12, "image→text R@1 final")
        XCTAssertEqual(recall.imageToText.r1.average, 188.0 / 9, accuracy: 1e-12, "image→text R@1 average")
        XCTAssertEqual(recall.imageToText.r1.forgetting, 8.5, "image→text F@1")
        XCTAssertEqual(recall.imageToText.r10.forgetting, 3.5, "image→text F@10")
        XCTAssertEqual(recall.imageToText.forgetting ?? .nan, 6.5, accuracy: 1e-12, "image→text Forgetting")
        XCTAssertEqual(recall.textToImage.forgetting ?? .nan, 7.0 / 3, accuracy: 1e-12, "text→image Forgetting")
        XCTAssertEqual(recall[.textToImage].r5.matrix.rows, [[52], [50, 60], [50, 60, 58]], "text→image R@5 matrix")
        XCTAssertNil(summary.taskIdentity, "no task identity recorded")
        XCTAssertEqual(summary.finalTasks, ReportFixtures.retrieval()[2].tasks, "the last evaluation")
        XCTAssertEqual(summary.evaluationSeconds, [2, 2, 2], "evaluation times")
        XCTAssertEqual(summary.settings.map(\.key), ["method.name", "tasks.count", "note"], "settings in order")

        let signed = try RunSummary(records: ReportFixtures.retrieval(), info: ReportFixtures.info(variant: .signed))
        XCTAssertEqual(signed.forgetting, -6.25, "signed forgetting")
        XCTAssertEqual(signed.recall?.imageToText.forgetting ?? .nan, -6.5, accuracy: 1e-12, "LPI's signed Forgetting")
        XCTAssertEqual(signed.forgettingVariant, .signed, "variant recorded")
    }

    /// Task identity (samples 10, 30, 20), over all seen images:
    /// ```
    /// after 0: 100;  after 1: (10*90 + 30*80) / 40 = 82.5;  after 2: (10*70 + 30*80 + 20*95) / 60 = 83.333...
    /// ```
    func testClassificationSummaryWithTaskIdentity() throws {
        let summary = try RunSummary(records: ReportFixtures.classification(identity: true), info: ReportFixtures.info())
        XCTAssertEqual(summary.kind, .classification, "kind")
        XCTAssertNil(summary.recall, "no recall")
        XCTAssertEqual(summary.forgetting, 12.5, "forgetting of [[80], [70, 90], [60, 85, 75]] (AccuracyMatrixTests)")
        let identity = try XCTUnwrap(summary.taskIdentity, "task identity summarised")
        XCTAssertEqual(identity.overall.count, 3, "one per evaluation")
        for (value, expected) in zip(identity.overall, [100, 82.5, 5000.0 / 60]) {
            XCTAssertEqual(value, expected, accuracy: 1e-12, "overall task identity \(identity.overall)")
        }
        XCTAssertEqual(identity.matrix.matrix.rows, [[100], [90, 80], [70, 80, 95]], "per-task matrix")
        XCTAssertEqual(identity.matrix.forgetting, 15, "task 0: max(100, 90) - 70 = 30; task 1: 80 - 80 = 0; mean 15")
    }

    func testSummaryJSONHasEveryKeyAndRoundTrips() throws {
        let one = try RunSummary(records: Array(ReportFixtures.classification().prefix(1)), info: ReportFixtures.info())
        let json = try object(one)
        for key in ["format", "version", "method", "dataset", "kind", "task_count", "ranks", "seed", "global_batch",
                    "wall_seconds", "average_accuracy", "final_accuracy", "forgetting", "forgetting_variant",
                    "accuracy_curve", "forgetting_curve", "accuracy_matrix", "recall", "task_identity", "final_tasks",
                    "evaluation_seconds", "settings"] {
            XCTAssertNotNil(json[key], "key \(key) in \(json.keys.sorted())")
        }
        XCTAssertTrue(json["forgetting"] is NSNull, "one task: forgetting null, not left out")
        XCTAssertTrue(json["recall"] is NSNull, "classification: recall null")
        XCTAssertEqual(json["format"] as? String, "promptcl-run-summary", "format")
        XCTAssertEqual(json["forgetting_variant"] as? String, "positive", "variant")
        XCTAssertEqual((json["accuracy_matrix"] as? [[NSNumber]])?.map { $0.map(\.doubleValue) }, [[80]], "matrix")
        XCTAssertEqual(one.averageAccuracy, 80, "one task: average = final = the entry")

        let retrieval = try RunSummary(records: ReportFixtures.retrieval(), info: ReportFixtures.info())
        let recall = try XCTUnwrap(try object(retrieval)["recall"] as? [String: [String: Any]], "recall object")
        XCTAssertEqual(Set(recall.keys), ["image_to_text", "text_to_image"], "both directions")
        XCTAssertEqual(Set(recall["image_to_text"]?.keys ?? [:].keys), ["r1", "r5", "r10", "forgetting"], "direction keys")
        let r1 = recall["image_to_text"]?["r1"] as? [String: Any]
        XCTAssertEqual(Set(r1?.keys ?? [:].keys), ["final", "average", "forgetting", "matrix"], "R@K keys")
        for summary in [one, retrieval, try RunSummary(records: ReportFixtures.classification(identity: true),
                                                       info: ReportFixtures.info())] {
            XCTAssertEqual(try JSONDecoder().decode(RunSummary.self, from: JSONEncoder().encode(summary)), summary,
                           "round trip of \(summary.kind)")
        }
    }

    func testBadRecordsAndRunTimesAreRefused() {
        var partial = ReportFixtures.classification(identity: true)
        partial[2].tasks[1].taskIdentity = nil
        XCTAssertEqual(message { try RunSummary(records: partial, info: ReportFixtures.info()) },
                       "evaluation after task 2, task 1: no task_identity", "task identity for every task or none")
        XCTAssertEqual(message { try RunSummary(records: ReportFixtures.classification(), info: ReportFixtures.info(seconds: .nan)) },
                       "run wall time nan s")
        var retrieval = ReportFixtures.retrieval()
        retrieval[1].tasks[1].imageToText = nil
        retrieval[1].tasks[1].accuracy = 50
        XCTAssertEqual(message { try RunSummary(records: retrieval, info: ReportFixtures.info()) },
                       "evaluation after task 1, task 1: no image_to_text R@1")
    }

    func testMarkdownReport() throws {
        let text = ReportMarkdown.render(try RunSummary(records: ReportFixtures.retrieval(), info: ReportFixtures.info()))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let expected = [
            "# promptcl run: lpi-m on coco",
            "retrieval, 3 tasks, 2 ranks, seed 7, global batch 32, wall time 1:02:03 (3723.0 s)",
            "![R@1, mean of image→text and text→image (%) of each task after each task](recall.svg)",
            "| `method.name` | `lpi-m` |", "| `note` | `a \\| b` |",
            "## Final evaluation (after task 3)",
            "| task | images | image→text R@1 | image→text R@5 | image→text R@10 | text→image R@1 | text→image R@5 | text→image R@10 |",
            "| 1 | 100 | 8.00 | 40.00 | 55.00 | 18.00 | 50.00 | 60.00 |",
            "| 3 | 100 | 35.00 | 60.00 | 80.00 | 30.00 | 58.00 | 77.00 |",
            "| after task | task 1 | task 2 | task 3 | mean |",
            "| 1 | 21.00 |  |  | 21.00 |",
            "| 2 | 16.00 | 35.00 |  | 25.50 |",
            "| 3 | 13.00 | 30.50 | 32.50 | 25.33 |",
            "| average accuracy (mean over the evaluations of the mean over the tasks seen) | 23.94 |",
            "| final accuracy (mean over all tasks after the last) | 25.33 |",
            "| forgetting, positive (best earlier score minus the last, mean over tasks 1–2) | 6.25 |",
            "| image→text | R@1 | 22.67 | 20.89 | 8.50 |",
            "| image→text | mean of F@1, F@5, F@10 |  |  | 6.50 |",
            "| text→image | mean of F@1, F@5, F@10 |  |  | 2.33 |",
            "- run: 1:02:03 (3723.0 s) on 2 ranks",
            "- evaluations: 0:06 (6.0 s) in all (2.0 s, 2.0 s, 2.0 s)",
        ]
        for line in expected { XCTAssertTrue(lines.contains(line), "line \(line) in:\n\(text)") }
        XCTAssertFalse(text.contains("## Task identity"), "no task identity section without it")

        let one = ReportMarkdown.render(try RunSummary(records: Array(ReportFixtures.classification(identity: true).prefix(1)),
                                                       info: ReportFixtures.info(variant: .signed)))
        for line in ["classification, 1 task, 2 ranks, seed 7, global batch 32, wall time 1:02:03 (3723.0 s)",
                     "| task | samples | accuracy | task identity |", "| 1 | 10 | 80.00 | 100.00 |",
                     "| after task | task 1 | mean |", "| 1 | 80.00 | 80.00 |", "## Task identity", "| 1 | 100.00 |"] {
            XCTAssertTrue(one.contains(line + "\n"), "line \(line) in:\n\(one)")
        }
        XCTAssertTrue(one.contains("| forgetting, signed (last score minus the best earlier, no earlier task) | n/a (one task) |\n"),
                      "one task: no forgetting:\n\(one)")
    }

    func testWriteThenReadBack() throws {
        let run = scratch.appendingPathComponent("runs/a")
        let summary = try RunReport.write(records: ReportFixtures.retrieval(), info: ReportFixtures.info(), to: run)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run.path).sorted(),
                       ["recall.svg", "report.md", "summary.json"], "the three files and no temporary leftovers")
        XCTAssertEqual(try RunReport.readSummary(in: run), summary, "summary.json read back")
        XCTAssertEqual(try String(contentsOf: run.appendingPathComponent("report.md"), encoding: .utf8),
                       ReportMarkdown.render(summary), "report.md")
        XCTAssertEqual(try String(contentsOf: run.appendingPathComponent("recall.svg"), encoding: .utf8),
                       RecallPlot.svg(summary.accuracyMatrix, title: "lpi-m on coco: R@1 of each task after each task",
                                      axisLabel: EvaluationKind.retrieval.scoreLabel), "recall.svg")
        let json = try String(contentsOf: run.appendingPathComponent("summary.json"), encoding: .utf8)
        XCTAssertTrue(json.hasPrefix("{\n  \"accuracy_curve\" : ["), "pretty-printed, keys sorted: \(json.prefix(60))")
        // Writing again replaces the files whole.
        let again = try RunReport.write(records: ReportFixtures.classification(), info: ReportFixtures.info(), to: run)
        XCTAssertEqual(try RunReport.readSummary(in: run), again, "replaced")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run.path).count, 3, "still three files")
    }

    func testWriteErrorsNameTheFile() throws {
        let file = scratch.appendingPathComponent("plain")
        try Data("x".utf8).write(to: file)
        XCTAssertTrue(message { try RunReport.write(records: ReportFixtures.retrieval(), info: ReportFixtures.info(), to: file) }
                        .hasPrefix("\(file.path): cannot create the output directory"), "a file where the directory goes")
        XCTAssertEqual(message { try RunReport.write(records: [], info: ReportFixtures.info(), to: scratch) },
                       "\(scratch.appendingPathComponent("summary.json").path): cannot summarise the run: "
                       + "accuracy matrix: no evaluation records")
    }

    func testReadErrorsNameTheFile() throws {
        let run = scratch.appendingPathComponent("run")
        let url = run.appendingPathComponent("summary.json")
        XCTAssertEqual(message { try RunReport.readSummary(in: run) }, "\(url.path): no such file (not a finished promptcl run?)")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        func read(_ text: String) throws -> String {
            try Data(text.utf8).write(to: url)
            return message { try RunReport.readSummary(in: run) }
        }
        XCTAssertEqual(try read("{not json"), "\(url.path): not JSON")
        XCTAssertEqual(try read(#"{"steps": 3}"#),
                       "\(url.path): not a promptcl run summary (no \"format\": \"promptcl-run-summary\")")
        XCTAssertEqual(try read(#"{"format": "promptcl-run-summary", "version": 2}"#),
                       "\(url.path): summary version 2, this promptcl reads version 1")
        var good = try object(try RunSummary(records: ReportFixtures.retrieval(), info: ReportFixtures.info()))
        good["accuracy_matrix"] = [[21], [16]]
        XCTAssertEqual(try read(String(decoding: try JSONSerialization.data(withJSONObject: good), as: UTF8.self)),
                       "\(url.path): key accuracy_matrix: accuracy matrix: the row after task 1 has 1 entries, expected 2")
        good["accuracy_matrix"] = [[21], [16, 35], [13, 30.5, 32.5]]
        good["final_accuracy"] = nil
        XCTAssertEqual(try read(String(decoding: try JSONSerialization.data(withJSONObject: good), as: UTF8.self)),
                       "\(url.path): key final_accuracy: missing")
        good["final_accuracy"] = "high"
        XCTAssertEqual(try read(String(decoding: try JSONSerialization.data(withJSONObject: good), as: UTF8.self)),
                       "\(url.path): key final_accuracy: not a Double")
    }

    func testRunsSideBySide() throws {
        let retrieval = try RunSummary(records: ReportFixtures.retrieval(), info: ReportFixtures.info())
        let classification = try RunSummary(records: ReportFixtures.classification(),
                                            info: ReportFixtures.info(method: "vpt-seq", dataset: "cifar100", seconds: 59.6,
                                                                      variant: .signed))
        let one = try RunSummary(records: Array(ReportFixtures.classification().prefix(1)),
                                 info: ReportFixtures.info(method: "l2p", dataset: "synthetic", seconds: 5))
        let comparison = RunComparison([("runs/lpi", retrieval), ("runs/vpt", classification), ("x", one)])
        XCTAssertEqual(comparison.rows.map(\.run), ["runs/lpi", "runs/vpt", "x"], "in the order given")
        XCTAssertEqual(comparison.markdown, """
            | run | method | dataset | tasks | ranks | final | average | forgetting | image→text R@1 | text→image R@1 | wall time |
            | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
            | runs/lpi | lpi-m | coco | 3 | 2 | 25.33 | 23.94 | 6.25 | 22.67 | 28.00 | 1:02:03 |
            | runs/vpt | vpt-seq | cifar100 | 3 | 2 | 73.33 | 77.78 | -12.50 (signed) | – | – | 1:00 |
            | x | l2p | synthetic | 1 | 2 | 80.00 | 80.00 | n/a | – | – | 0:05 |

            """, "Markdown table (text→image R@1 final: (18 + 36 + 30) / 3 = 28)")
        XCTAssertEqual(comparison.table, """
            run       method   dataset    tasks  ranks  final  average       forgetting  image→text R@1  text→image R@1  wall time
            runs/lpi  lpi-m    coco           3      2  25.33    23.94             6.25           22.67           28.00    1:02:03
            runs/vpt  vpt-seq  cifar100       3      2  73.33    77.78  -12.50 (signed)               –               –       1:00
            x         l2p      synthetic      1      2  80.00    80.00              n/a               –               –       0:05

            """, "text table: text columns left, numbers right")
    }
}
