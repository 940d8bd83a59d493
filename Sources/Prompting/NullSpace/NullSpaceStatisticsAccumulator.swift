import CLIP

/// The statistics of one prompted layer over a task's data on this rank, reduced at the end to two factors
/// F1 (r1 x D) and F2 (r2 x L) with F1^T F1 = Omega1^T Omega1 and F2^T F2 = Omega2^T Omega2
/// (`LayerNullSpaceStatistics` for Omega1 and Omega2's definitions). Ranks' factors and the previous tasks'
/// merged factor stack by rows: their SVD is Omega's.
public protocol NullSpaceStatisticsAccumulator: Sendable {
    /// Rows of Omega1 seen (samples x image tokens x heads); Omega2 has as many.
    var rowsSeen: Int { get }
    /// Adds one (eval) forward's rows of the layer, `keyWeight` being its W_k (D x D, `k_proj.weight`).
    mutating func accumulate(_ record: VisionTower.AttentionRecord, keyWeight: UnsafePointer<Float>) throws
    /// F1, (rows, D) row-major.
    func channelFactor(keyWeight: UnsafePointer<Float>) throws -> (values: [Double], rows: Int)
    /// F2, (rows, L) row-major.
    func tokenFactor() throws -> (values: [Double], rows: Int)
}

/// How the statistics of a layer are kept.
public enum NullSpaceStatisticsRoute: String, Codable, Sendable, CaseIterable {
    /// Per-head R factors of the queries (`LayerNullSpaceStatistics`): DESIGN.md's, the default.
    case factored
    /// The D x D Gram matrix of Omega1, as the official code accumulates it (`GramNullSpaceStatistics`).
    case gram

    /// An empty accumulator of this route for a layer of `heads` x `headSize` with `promptTokens` prompts.
    public func makeAccumulator(heads: Int, headSize: Int, promptTokens: Int) -> any NullSpaceStatisticsAccumulator {
        switch self {
        case .factored: return LayerNullSpaceStatistics(heads: heads, headSize: headSize, promptTokens: promptTokens)
        case .gram: return GramNullSpaceStatistics(heads: heads, headSize: headSize, promptTokens: promptTokens)
        }
    }
}
