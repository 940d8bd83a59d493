import Foundation

/// `report.md`: a run's results for people, rendered from its summary alone (so `summary.json` can rebuild it):
/// the run line and plot, the settings, the final evaluation task by task, the accuracy matrix, the averages and
/// forgetting, retrieval's R@K in both directions, task identity, and the time. Scores with two decimals.
public enum ReportMarkdown {
    public static func render(_ summary: RunSummary) -> String {
        var lines = [
            "# promptcl run: \(summary.method) on \(summary.dataset)",
            "",
            "\(summary.kind.rawValue), \(summary.taskCount) task\(summary.taskCount == 1 ? "" : "s"), "
                + "\(summary.ranks) rank\(summary.ranks == 1 ? "" : "s"), seed \(summary.seed), "
                + "global batch \(summary.globalBatch), wall time \(duration(summary.wallSeconds))",
            "",
            "![\(summary.kind.scoreLabel) of each task after each task](\(RunReport.plotFile))",
        ]
        lines += section("Settings", settings(summary))
        lines += section("Final evaluation (after task \(summary.taskCount))", finalTable(summary))
        lines += section("Accuracy matrix", matrixTable(summary))
        lines += section("Averages", averages(summary))
        if let recall = summary.recall { lines += section("Recall", recallTable(recall)) }
        if let identity = summary.taskIdentity { lines += section("Task identity", identityTable(identity)) }
        lines += section("Time", [
            "- run: \(duration(summary.wallSeconds)) on \(summary.ranks) rank\(summary.ranks == 1 ? "" : "s")",
            "- evaluations: \(duration(summary.evaluationSeconds.reduce(0, +))) in all ("
                + summary.evaluationSeconds.map { String(format: "%.1f s", $0) }.joined(separator: ", ") + ")",
        ])
        return lines.joined(separator: "\n") + "\n"
    }

    private static func section(_ title: String, _ body: [String]) -> [String] { ["", "## \(title)", ""] + body }

    private static func settings(_ summary: RunSummary) -> [String] {
        guard !summary.settings.isEmpty else { return ["(none recorded)"] }
        return ["| setting | value |", "|---|---|"]
            + summary.settings.map { "| `\(cell($0.key))` | `\(cell($0.value))` |" }
    }

    private static func finalTable(_ summary: RunSummary) -> [String] {
        let identity = summary.taskIdentity != nil
        var header = ["task", summary.kind == .retrieval ? "images" : "samples"]
        header += summary.kind == .retrieval
            ? RetrievalDirection.allCases.flatMap { d in RecallCutoff.allCases.map { "\(d.label) R@\($0.rawValue)" } }
            : ["accuracy"]
        if identity { header.append("task identity") }
        var rows = [row(header), row(header.map { _ in "---:" })]
        for scores in summary.finalTasks {
            var cells = ["\(scores.task + 1)", "\(scores.samples)"]
            if summary.kind == .retrieval {
                for recall in [scores.imageToText, scores.textToImage] {
                    cells += RecallCutoff.allCases.map { percent(recall?[$0]) }
                }
            } else {
                cells.append(percent(scores.accuracy))
            }
            if identity { cells.append(percent(scores.taskIdentity)) }
            rows.append(row(cells))
        }
        return rows
    }

    private static func matrixTable(_ summary: RunSummary) -> [String] {
        let matrix = summary.accuracyMatrix
        let k = matrix.taskCount
        var rows = ["Entry (i, j): \(summary.kind.scoreLabel) on task j after training task i; the last column is "
                    + "the mean over the tasks seen.", ""]
        rows.append(row(["after task"] + (0..<k).map { "task \($0 + 1)" } + ["mean"]))
        rows.append(row(Array(repeating: "---:", count: k + 2)))
        for i in 0..<k {
            rows.append(row(["\(i + 1)"] + (0..<k).map { $0 <= i ? percent(matrix[after: i, task: $0]) : "" }
                            + [percent(matrix.rowMeans[i])]))
        }
        return rows
    }

    private static func averages(_ summary: RunSummary) -> [String] {
        let tasks = switch summary.taskCount {
        case 1: "no earlier task"
        case 2: "mean over task 1"
        default: "mean over tasks 1–\(summary.taskCount - 1)"
        }
        let rule = summary.forgettingVariant == .positive ? "best earlier score minus the last" : "last score minus the best earlier"
        return [
            "| metric | value |", "|---|---:|",
            "| average accuracy (mean over the evaluations of the mean over the tasks seen) | \(percent(summary.averageAccuracy)) |",
            "| final accuracy (mean over all tasks after the last) | \(percent(summary.finalAccuracy)) |",
            "| forgetting, \(summary.forgettingVariant.rawValue) (\(rule), \(tasks)) | "
                + "\(forgetting(summary.forgetting)) |",
        ]
    }

    private static func recallTable(_ recall: RetrievalSummary) -> [String] {
        var rows = ["LPI's F@K is the forgetting of the R@K matrix; its Forgetting the mean of F@1, F@5 and F@10.", "",
                    row(["direction", "K", "final", "average", "forgetting"]), row(["---", "---:", "---:", "---:", "---:"])]
        for direction in RetrievalDirection.allCases {
            let summary = recall[direction]
            for cutoff in RecallCutoff.allCases {
                let m = summary[cutoff]
                rows.append(row([direction.label, "R@\(cutoff.rawValue)", percent(m.final), percent(m.average),
                                 forgetting(m.forgetting)]))
            }
            rows.append(row([direction.label, "mean of F@1, F@5, F@10", "", "", forgetting(summary.forgetting)]))
        }
        return rows
    }

    private static func identityTable(_ identity: TaskIdentitySummary) -> [String] {
        ["Percent of the test images whose task was predicted right, over all tasks seen.", "",
         row(["after task", "task identity"]), row(["---:", "---:"])]
            + identity.overall.enumerated().map { row(["\($0 + 1)", percent($1)]) }
    }

    private static func row(_ cells: [String]) -> String { "| " + cells.joined(separator: " | ") + " |" }

    private static func percent(_ value: Double?) -> String { value.map { String(format: "%.2f", $0) } ?? "–" }

    private static func forgetting(_ value: Double?) -> String { value.map { String(format: "%.2f", $0) } ?? "n/a (one task)" }

    /// A table cell: pipes escaped, backticks dropped, on one line.
    private static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "`", with: "'")
            .replacingOccurrences(of: "\n", with: " ")
    }

    /// "1:02:03 (3723.0 s)".
    static func duration(_ seconds: Double) -> String {
        "\(ProgressLine.duration(seconds)) (\(String(format: "%.1f", seconds)) s)"
    }
}
