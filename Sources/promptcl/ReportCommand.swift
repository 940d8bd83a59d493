import ArgumentParser
import Continual
import Foundation

/// `promptcl report RUN_DIR... [--json | --markdown]`: the runs side by side, one row per run in the order given
/// (`RunComparison`), from each RUN_DIR/summary.json that `promptcl train --out RUN_DIR` wrote at its end.
///
/// Exit status: 0 printed; 2 a summary is missing or unreadable: every bad one is named on stderr, one line each,
/// and nothing is printed on stdout.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Compare finished runs: final and average accuracy, forgetting, R@1 and wall time, one row per run.",
        discussion: """
        Reads RUN_DIR/summary.json of each run (promptcl train --out RUN_DIR). Accuracy is the run's matrix score: \
        class-incremental top-1 for classification, the mean R@1 of both directions for retrieval. Final: mean over \
        all tasks after the last; average: mean over the evaluations of the mean over the tasks seen; forgetting: \
        best earlier score minus the last, mean over all tasks but the last ("(signed)": last minus best earlier, \
        as LPI's code reports it). Each run's report.md has the full matrices. \
        Example: promptcl report runs/lpi-m runs/maple --markdown
        """)

    @Argument(help: ArgumentHelp("Output directories of finished runs.", valueName: "RUN_DIR"))
    var runs: [String]

    @Flag(help: "Print one JSON object per run instead of the table.")
    var json = false

    @Flag(help: "Print a Markdown table.")
    var markdown = false

    func validate() throws {
        guard !(json && markdown) else { throw ValidationError("--json and --markdown exclude each other") }
    }

    func run() throws {
        var summaries: [(run: String, summary: RunSummary)] = []
        var problems: [String] = []
        for run in runs {
            do {
                summaries.append((run, try RunReport.readSummary(in: URL(fileURLWithPath: run))))
            } catch {
                problems.append("promptcl report: \(error)")
            }
        }
        guard problems.isEmpty else {
            fputs(problems.joined(separator: "\n") + "\n", stderr)
            Foundation.exit(2)
        }
        let comparison = RunComparison(summaries)
        if json {
            for row in comparison.rows { print(try jsonLine(row)) }
        } else {
            print(markdown ? comparison.markdown : comparison.table, terminator: "")
        }
    }
}
