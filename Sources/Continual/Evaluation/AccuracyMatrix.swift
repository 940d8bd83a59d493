/// The accuracy matrix of a continual run, in percent: row i is the evaluation after training task i, entry j
/// (j <= i) the score on task j then. Metrics are pure functions of it (K tasks, rows and columns from 0):
/// ```
/// row mean            m_i = mean_{j <= i} a[i][j]                  the accuracy curve (`rowMeans`)
/// average accuracy    A   = mean_{i < K} m_i                       "average incremental accuracy"
/// final accuracy      A_K = m_{K-1}
/// forgetting          F   = mean_{j < K-1} ( max_{j <= i < K-1} a[i][j] - a[K-1][j] )   (`ForgettingVariant`)
/// ```
/// For retrieval LPI's F@K is this F over the R@K matrix, with the signed variant, and its "Forgetting" the
/// mean of F@1, F@5 and F@10 (`recallForgetting`). With one task nothing can be forgotten yet and forgetting is
/// nil (JSON null), not 0: a one-task run has no forgetting to report.
///
/// Encodes as the array of rows (`[[a00], [a10, a11], ...]`); decoding checks the shape like `init(rows:)`.
public struct AccuracyMatrix: Codable, Equatable, Sendable {
    /// `rows[i]` has i + 1 entries, each finite and in 0...100.
    public let rows: [[Double]]

    /// Checks the lower-triangular shape and that every entry is a percent.
    public init(rows: [[Double]]) throws {
        guard !rows.isEmpty else { throw EvaluationError("accuracy matrix: no rows (no evaluation)") }
        for (i, row) in rows.enumerated() {
            guard row.count == i + 1 else {
                throw EvaluationError("accuracy matrix: the row after task \(i) has \(row.count) entries, expected \(i + 1)")
            }
            for (j, value) in row.enumerated() where !(value.isFinite && (0...100).contains(value)) {
                throw EvaluationError("accuracy matrix: after task \(i), task \(j): \(value) is not a percent in 0...100")
            }
        }
        self.rows = rows
    }

    /// The `selector`'s number of every record: `records[i]` must be the evaluation after task i over tasks
    /// 0...i in order, all of one kind.
    public init(records: [EvaluationRecord], selecting selector: ScoreSelector = .score) throws {
        guard let kind = records.first?.kind else { throw EvaluationError("accuracy matrix: no evaluation records") }
        let rows = try records.enumerated().map { i, record -> [Double] in
            guard record.task == i else {
                throw EvaluationError("evaluation \(i) is after task \(record.task), expected after task \(i) "
                                      + "(one evaluation after each task, in order)")
            }
            guard record.kind == kind else {
                throw EvaluationError("evaluation after task \(i) is \(record.kind.rawValue), the first was \(kind.rawValue)")
            }
            guard record.tasks.map(\.task) == Array(0...i) else {
                throw EvaluationError("evaluation after task \(i) scores tasks \(record.tasks.map(\.task)), expected 0...\(i)")
            }
            return try record.tasks.map { scores in
                guard let value = selector.value(in: scores) else {
                    throw EvaluationError("evaluation after task \(i), task \(scores.task): no \(selector)")
                }
                return value
            }
        }
        try self.init(rows: rows)
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        do {
            try self.init(rows: container.decode([[Double]].self))
        } catch let error as EvaluationError {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rows)
    }

    /// K, the tasks trained.
    public var taskCount: Int { rows.count }

    /// a[i][j], j <= i.
    public subscript(after i: Int, task j: Int) -> Double { rows[i][j] }

    /// m_i = mean_{j <= i} a[i][j]: the mean over the seen tasks after each task.
    public var rowMeans: [Double] { rows.map { $0.reduce(0, +) / Double($0.count) } }

    /// A = mean_i m_i, the average incremental accuracy.
    public var averageAccuracy: Double { rowMeans.reduce(0, +) / Double(taskCount) }

    /// A_K = m_{K-1}, the mean over all tasks after the last.
    public var finalAccuracy: Double { rowMeans[taskCount - 1] }

    /// f_j = max_{j <= i < t} a[i][j] - a[t][j] for j < t, after task t (default the last, K-1); negated for
    /// `.signed`. Empty after task 0.
    public func forgettingPerTask(_ variant: ForgettingVariant = .positive, afterTask t: Int? = nil) -> [Double] {
        let last = t ?? taskCount - 1
        precondition((0..<taskCount).contains(last), "after task \(last): the matrix has \(taskCount) rows")
        return (0..<last).map { j in
            let best = (j..<last).map { rows[$0][j] }.max()!
            let drop = best - rows[last][j]
            return variant == .positive ? drop : -drop
        }
    }

    /// F = mean_{j < t} f_j after task t (default the last); nil after task 0.
    public func forgetting(_ variant: ForgettingVariant = .positive, afterTask t: Int? = nil) -> Double? {
        let perTask = forgettingPerTask(variant, afterTask: t)
        return perTask.isEmpty ? nil : perTask.reduce(0, +) / Double(perTask.count)
    }

    /// The forgetting after each task: the curve a report draws; nil after task 0.
    public func forgettingCurve(_ variant: ForgettingVariant = .positive) -> [Double?] {
        (0..<taskCount).map { forgetting(variant, afterTask: $0) }
    }

    /// LPI's "Forgetting" of one retrieval direction: the mean of F@1, F@5 and F@10, each the forgetting of
    /// that R@K matrix; nil with one task.
    /// ```
    /// Forgetting = (F@1 + F@5 + F@10) / 3
    /// ```
    public static func recallForgetting(_ records: [EvaluationRecord], direction: RetrievalDirection,
                                        variant: ForgettingVariant = .positive) throws -> Double? {
        let values = try RecallCutoff.allCases.map {
            try AccuracyMatrix(records: records, selecting: .recall(direction, $0)).forgetting(variant)
        }
        guard let f1 = values[0], let f5 = values[1], let f10 = values[2] else { return nil }
        return (f1 + f5 + f10) / 3
    }
}
