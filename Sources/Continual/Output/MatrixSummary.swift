/// One accuracy matrix and its averages, as summary.json holds it for every matrix of a run.
/// ```
/// {"final": A_K, "average": A, "forgetting": F or null, "matrix": [[a00], [a10, a11], ...]}
/// ```
public struct MatrixSummary: Codable, Equatable, Sendable {
    /// `AccuracyMatrix.finalAccuracy`, `averageAccuracy` and `forgetting(variant)` (nil with one task).
    public var final: Double
    public var average: Double
    public var forgetting: Double?
    public var matrix: AccuracyMatrix

    public init(_ matrix: AccuracyMatrix, variant: ForgettingVariant) {
        final = matrix.finalAccuracy
        average = matrix.averageAccuracy
        forgetting = matrix.forgetting(variant)
        self.matrix = matrix
    }

    enum CodingKeys: String, CodingKey { case final, average, forgetting, matrix }

    /// Writes `"forgetting": null` rather than leaving the key out.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(final, forKey: .final)
        try container.encode(average, forKey: .average)
        try container.encode(forgetting, forKey: .forgetting)
        try container.encode(matrix, forKey: .matrix)
    }
}
