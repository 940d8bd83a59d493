import Foundation
import XCTest

/// `promptcl report` as people run it (the built binary) on summary.json files written here by hand in the
/// documented format (`RunSummary`): the runs side by side in the order given, as a table, Markdown or JSON
/// lines; a missing or foreign summary ends with exit status 2 and names the file.
final class ReportCommandTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-report-cmd-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    private func report(_ arguments: [String], logs: String) throws -> TrainJob.Result {
        try TrainJob.promptcl(["report"] + arguments, ranks: nil, logs: scratch.appendingPathComponent(logs), timeout: 60)
    }

    /// One matrix summary: {"final", "average", "forgetting", "matrix"}.
    private func matrix(_ rows: [[Double]], final: Double, average: Double, forgetting: Double?) -> [String: Any] {
        ["final": final, "average": average, "forgetting": forgetting ?? NSNull(), "matrix": rows]
    }

    /// A summary.json in `directory` with the headline numbers given; retrieval runs get `recall` with the final
    /// R@1 of each direction as given (the other entries are filler the command does not print).
    private func writeSummary(_ directory: String, method: String, dataset: String, kind: String, tasks: Int,
                              ranks: Int, final: Double, average: Double, forgetting: Double?,
                              variant: String = "positive", recallR1: (Double, Double)? = nil,
                              seconds: Double) throws -> URL {
        let run = scratch.appendingPathComponent(directory)
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        let rows = (0..<tasks).map { i in Array(repeating: final, count: i + 1) }
        var recall: Any = NSNull()
        if let (imageToText, textToImage) = recallR1 {
            func direction(_ r1: Double) -> [String: Any] {
                ["r1": matrix(rows, final: r1, average: r1, forgetting: 1), "r5": matrix(rows, final: 60, average: 60, forgetting: 1),
                 "r10": matrix(rows, final: 70, average: 70, forgetting: 1), "forgetting": 1.0]
            }
            recall = ["image_to_text": direction(imageToText), "text_to_image": direction(textToImage)]
        }
        let summary: [String: Any] = [
            "format": "promptcl-run-summary", "version": 1, "method": method, "dataset": dataset, "kind": kind,
            "task_count": tasks, "ranks": ranks, "seed": 0, "global_batch": 32, "wall_seconds": seconds,
            "average_accuracy": average, "final_accuracy": final, "forgetting": forgetting ?? NSNull(),
            "forgetting_variant": variant, "accuracy_curve": Array(repeating: final, count: tasks),
            "forgetting_curve": [NSNull()] + Array(repeating: forgetting ?? 0, count: tasks - 1),
            "accuracy_matrix": rows, "recall": recall, "task_identity": NSNull(),
            "final_tasks": (0..<tasks).map { ["task": $0, "samples": 10, "accuracy": final] },
            "evaluation_seconds": Array(repeating: 1.5, count: tasks),
            "settings": [["key": "method.name", "value": method]],
        ]
        try JSONSerialization.data(withJSONObject: summary).write(to: run.appendingPathComponent("summary.json"))
        return run
    }

    private func twoRuns() throws -> (URL, URL) {
        (try writeSummary("runs/lpi-m", method: "lpi-m", dataset: "coco", kind: "retrieval", tasks: 12, ranks: 4,
                          final: 41.5, average: 48.25, forgetting: 3.25, recallR1: (44.5, 38.5), seconds: 3723),
         try writeSummary("runs/vpt", method: "vpt-seq", dataset: "cifar100", kind: "classification", tasks: 10,
                          ranks: 2, final: 61, average: 70.5, forgetting: -8.75, variant: "signed", seconds: 59.6))
    }

    func testTablePutsRunsSideBySideInTheOrderGiven() throws {
        let (lpi, vpt) = try twoRuns()
        let result = try report([vpt.path, lpi.path], logs: "table")
        XCTAssertEqual(result.status, 0, "exit status; stderr: \(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, "header and two rows:\n\(result.stdout)")
        guard lines.count == 3 else { return }
        let cells = lines.map { $0.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty } }
        XCTAssertEqual(cells[0], ["run", "method", "dataset", "tasks", "ranks", "final", "average", "forgetting",
                                  "image→text R@1", "text→image R@1", "wall time"], "header")
        XCTAssertEqual(cells[1], [vpt.path, "vpt-seq", "cifar100", "10", "2", "61.00", "70.50", "-8.75 (signed)", "–", "–",
                                  "1:00"], "the first run given first")
        XCTAssertEqual(cells[2], [lpi.path, "lpi-m", "coco", "12", "4", "41.50", "48.25", "3.25", "44.50", "38.50",
                                  "1:02:03"], "retrieval: final R@1 of both directions")
        // Right-aligned numbers: each row's average accuracy ends under the end of the header's "average".
        let header = Array(lines[0])
        let end = (0..<(header.count - 7)).first { String(header[$0..<($0 + 7)]) == "average" }! + 7
        for (row, average) in zip(lines.dropFirst().map(Array.init), ["70.50", "48.25"]) {
            XCTAssertEqual(String(row[(end - 5)..<end]), average, "under \"average\":\n\(result.stdout)")
        }
    }

    func testJSONAndMarkdown() throws {
        let (lpi, vpt) = try twoRuns()
        let json = try report([lpi.path, vpt.path, "--json"], logs: "json")
        XCTAssertEqual(json.status, 0, "exit status; stderr: \(json.stderr)")
        let objects = json.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        XCTAssertEqual(objects.count, 2, "one JSON object per run:\n\(json.stdout)")
        XCTAssertEqual(objects.map { $0["run"] as? String }, [lpi.path, vpt.path], "in the order given")
        XCTAssertEqual(objects.first?["image_to_text_r1"] as? Double, 44.5, "image→text R@1")
        XCTAssertEqual(objects.first?["forgetting"] as? Double, 3.25, "forgetting")
        XCTAssertEqual(objects.last?["forgetting_variant"] as? String, "signed", "variant")
        XCTAssertTrue(objects.last?["text_to_image_r1"] is NSNull, "classification: null R@1")
        XCTAssertEqual(objects.last?["wall_seconds"] as? Double, 59.6, "wall seconds")

        let markdown = try report([lpi.path, vpt.path, "--markdown"], logs: "markdown")
        XCTAssertEqual(markdown.status, 0, "exit status; stderr: \(markdown.stderr)")
        let lines = markdown.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "| run | method | dataset | tasks | ranks | final | average | forgetting | image→text R@1 | "
                       + "text→image R@1 | wall time |", "Markdown header")
        XCTAssertEqual(lines.dropFirst(2).first, "| \(lpi.path) | lpi-m | coco | 12 | 4 | 41.50 | 48.25 | 3.25 | 44.50 | 38.50 | "
                       + "1:02:03 |", "first row")
        XCTAssertEqual(lines.count, 4, "header, alignment, two rows")

        let both = try report([lpi.path, "--json", "--markdown"], logs: "both")
        XCTAssertEqual(both.status, 64, "usage error; stderr: \(both.stderr)")
        XCTAssertTrue(both.stderr.contains("--json and --markdown exclude each other"), "says why: \(both.stderr)")
    }

    func testMissingOrForeignSummaryExits2NamingTheFile() throws {
        let (lpi, _) = try twoRuns()
        let empty = scratch.appendingPathComponent("runs/empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let foreign = scratch.appendingPathComponent("runs/foreign")
        try FileManager.default.createDirectory(at: foreign, withIntermediateDirectories: true)
        try Data(#"{"event": "run", "ranks": 2}"#.utf8).write(to: foreign.appendingPathComponent("summary.json"))
        let result = try report([lpi.path, empty.path, foreign.path], logs: "missing")
        XCTAssertEqual(result.status, 2, "exit status; stderr: \(result.stderr)")
        XCTAssertEqual(result.stdout, "", "no table when a run cannot be read")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines, [
            "promptcl report: \(empty.path)/summary.json: no such file (not a finished promptcl run?)",
            "promptcl report: \(foreign.path)/summary.json: not a promptcl run summary (no \"format\": \"promptcl-run-summary\")",
        ], "every bad run named, one line each")
    }
}
