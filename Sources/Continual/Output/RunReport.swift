import Foundation

/// The report files of a finished run, written by rank 0 into its output directory at the end:
/// ```
/// DIR/summary.json   RunSummary: scores, averages, forgetting, every matrix (pretty-printed, keys sorted)
/// DIR/report.md      ReportMarkdown: settings, final per-task table, accuracy matrix, averages, forgetting, time
/// DIR/recall.svg     RecallPlot of the accuracy matrix (R@1 of both directions, or accuracy)
/// ```
/// Each file is written to a temporary file beside it and renamed into place (`Data.write(options: .atomic)`),
/// so a reader never sees half a file and a failed write leaves any earlier version whole. `promptcl report`
/// reads summary.json back with `readSummary(in:)`.
public enum RunReport {
    public static let summaryFile = "summary.json"
    public static let markdownFile = "report.md"
    public static let plotFile = "recall.svg"

    /// Builds the summary of `records` (`RunSummary(records:info:)`) and writes the three files into `directory`
    /// (created if needed); returns the summary.
    @discardableResult
    public static func write(records: [EvaluationRecord], info: RunInfo, to directory: URL) throws -> RunSummary {
        let summary: RunSummary
        do {
            summary = try RunSummary(records: records, info: info)
        } catch let error as EvaluationError {
            throw ReportError("\(directory.appendingPathComponent(summaryFile).path): cannot summarise the run: \(error)")
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw ReportError("\(directory.path): cannot create the output directory: \(error.localizedDescription)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let json: Data
        do {
            json = try encoder.encode(summary)
        } catch {
            throw ReportError("\(directory.appendingPathComponent(summaryFile).path): cannot encode the summary: \(error)")
        }
        try write(json + Data("\n".utf8), to: directory.appendingPathComponent(summaryFile))
        try write(Data(ReportMarkdown.render(summary).utf8), to: directory.appendingPathComponent(markdownFile))
        let score = summary.kind == .retrieval ? "R@1" : "accuracy"
        let title = "\(summary.method) on \(summary.dataset): \(score) of each task after each task"
        let plot = RecallPlot.svg(summary.accuracyMatrix, title: title, axisLabel: summary.kind.scoreLabel)
        try write(Data(plot.utf8), to: directory.appendingPathComponent(plotFile))
        return summary
    }

    /// Reads `directory/summary.json`; the error names the file: missing, unreadable, not JSON, not a run
    /// summary (no `"format": "promptcl-run-summary"`), of another version, or with a bad field.
    public static func readSummary(in directory: URL) throws -> RunSummary {
        let url = directory.appendingPathComponent(summaryFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ReportError("\(url.path): no such file (not a finished promptcl run?)")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ReportError("\(url.path): cannot read: \(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        guard (try? JSONSerialization.jsonObject(with: data)) != nil else {
            throw ReportError("\(url.path): not JSON")
        }
        let header = try? decoder.decode(Header.self, from: data)
        guard header?.format == RunSummary.formatName else {
            throw ReportError("\(url.path): not a promptcl run summary (no \"format\": \"\(RunSummary.formatName)\")")
        }
        guard header?.version == RunSummary.currentVersion else {
            throw ReportError("\(url.path): summary version \(header?.version.map(String.init) ?? "missing"), "
                              + "this promptcl reads version \(RunSummary.currentVersion)")
        }
        do {
            return try decoder.decode(RunSummary.self, from: data)
        } catch let error as DecodingError {
            throw ReportError("\(url.path): \(describe(error))")
        }
    }

    private struct Header: Decodable {
        let format: String?
        let version: Int?
    }

    private static func write(_ data: Data, to url: URL) throws {
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw ReportError("\(url.path): cannot write: \(error.localizedDescription)")
        }
    }

    /// "key final_accuracy: missing", "key accuracy_matrix: the row after task 1 has 1 entries, expected 2".
    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [CodingKey]) -> String {
            codingPath.isEmpty ? "the top level" : "key " + codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
                .joined(separator: ".")
        }
        switch error {
        case let .keyNotFound(key, context): return "\(path(context.codingPath + [key])): missing"
        case let .valueNotFound(_, context): return "\(path(context.codingPath)): null where a value is needed"
        case let .typeMismatch(type, context): return "\(path(context.codingPath)): not a \(type)"
        case let .dataCorrupted(context): return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
