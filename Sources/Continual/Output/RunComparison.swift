import Foundation

/// Several runs side by side (`promptcl report`): one row per run, in the order given, with the headline numbers
/// of its summary.json; as an aligned text table, a Markdown table, or JSON rows.
/// ```
/// run  method  dataset  tasks  ranks  final  average  forgetting  image→text R@1  text→image R@1  wall time
/// ```
/// final, average and forgetting are those of the accuracy matrix (`RunSummary`); forgetting is marked
/// "(signed)" for a run with the signed variant; the R@1 columns are the final R@1 of retrieval runs ("–" for
/// classification); "n/a" forgetting: a one-task run.
public struct RunComparison: Sendable {
    /// One run's row; encodes with snake_case keys, null where a value does not apply.
    public struct Row: Encodable, Equatable, Sendable {
        public var run: String
        public var method: String
        public var dataset: String
        public var kind: EvaluationKind
        public var tasks: Int
        public var ranks: Int
        public var finalAccuracy: Double
        public var averageAccuracy: Double
        public var forgetting: Double?
        public var forgettingVariant: ForgettingVariant
        public var imageToTextR1: Double?
        public var textToImageR1: Double?
        public var wallSeconds: Double

        public init(run: String, summary: RunSummary) {
            self.run = run
            method = summary.method
            dataset = summary.dataset
            kind = summary.kind
            tasks = summary.taskCount
            ranks = summary.ranks
            finalAccuracy = summary.finalAccuracy
            averageAccuracy = summary.averageAccuracy
            forgetting = summary.forgetting
            forgettingVariant = summary.forgettingVariant
            imageToTextR1 = summary.recall?.imageToText.r1.final
            textToImageR1 = summary.recall?.textToImage.r1.final
            wallSeconds = summary.wallSeconds
        }

        enum CodingKeys: String, CodingKey {
            case run, method, dataset, kind, tasks, ranks, forgetting
            case finalAccuracy = "final_accuracy", averageAccuracy = "average_accuracy"
            case forgettingVariant = "forgetting_variant", imageToTextR1 = "image_to_text_r1"
            case textToImageR1 = "text_to_image_r1", wallSeconds = "wall_seconds"
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(run, forKey: .run)
            try container.encode(method, forKey: .method)
            try container.encode(dataset, forKey: .dataset)
            try container.encode(kind, forKey: .kind)
            try container.encode(tasks, forKey: .tasks)
            try container.encode(ranks, forKey: .ranks)
            try container.encode(finalAccuracy, forKey: .finalAccuracy)
            try container.encode(averageAccuracy, forKey: .averageAccuracy)
            try container.encode(forgetting, forKey: .forgetting)
            try container.encode(forgettingVariant, forKey: .forgettingVariant)
            try container.encode(imageToTextR1, forKey: .imageToTextR1)
            try container.encode(textToImageR1, forKey: .textToImageR1)
            try container.encode(wallSeconds, forKey: .wallSeconds)
        }

        /// The row's cells, as both tables print them.
        var cells: [String] {
            [run, method, dataset, "\(tasks)", "\(ranks)", Self.percent(finalAccuracy), Self.percent(averageAccuracy),
             forgetting.map { Self.percent($0) + (forgettingVariant == .signed ? " (signed)" : "") } ?? "n/a",
             imageToTextR1.map(Self.percent) ?? "–", textToImageR1.map(Self.percent) ?? "–",
             ProgressLine.duration(wallSeconds)]
        }

        private static func percent(_ value: Double) -> String { String(format: "%.2f", value) }
    }

    public static let header = ["run", "method", "dataset", "tasks", "ranks", "final", "average", "forgetting",
                                "image→text R@1", "text→image R@1", "wall time"]
    /// The first three columns are text (left-aligned), the others numbers (right-aligned).
    static let textColumns = 3

    public let rows: [Row]

    public init(_ runs: [(run: String, summary: RunSummary)]) {
        rows = runs.map { Row(run: $0.run, summary: $0.summary) }
    }

    /// Columns padded to their widest cell, two spaces apart.
    public var table: String {
        let lines = [Self.header] + rows.map(\.cells)
        let widths = Self.header.indices.map { column in lines.map { $0[column].count }.max()! }
        return lines.map { cells in
            cells.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column < Self.textColumns ? cell + pad : pad + cell
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }.joined(separator: "\n") + "\n"
    }

    /// A GitHub-flavoured Markdown table (pipes in cells escaped).
    public var markdown: String {
        let alignment = Self.header.indices.map { $0 < Self.textColumns ? "---" : "---:" }
        return ([Self.header, alignment] + rows.map(\.cells)).map { cells in
            "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |"
        }.joined(separator: "\n") + "\n"
    }
}
