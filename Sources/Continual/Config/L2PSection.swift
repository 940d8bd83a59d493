/// `[method.l2p]`: L2P's prompt pool (`LearningToPrompt`).
public struct L2PSection: Codable, Equatable, Sendable {
    /// Prompts (and keys) in the pool.
    public var poolSize = 10
    /// Tokens per prompt.
    public var length = 5
    /// Prompts each sample selects.
    public var topK = 5
    /// Weight of the pull constraint between the selected keys and the queries.
    public var pullCoefficient = 0.1

    public init() {}

    enum CodingKeys: String, CodingKey {
        case poolSize = "pool_size", length, topK = "top_k", pullCoefficient = "pull_coefficient"
    }

    func validate() throws {
        try ConfigCheck.that(poolSize > 0, "method.l2p.pool_size", "must be > 0, got \(poolSize)")
        try ConfigCheck.that(length > 0, "method.l2p.length", "must be > 0, got \(length)")
        try ConfigCheck.that(topK > 0 && topK <= poolSize, "method.l2p.top_k",
                             "must be in 1...pool_size (\(poolSize)), got \(topK)")
        try ConfigCheck.that(pullCoefficient >= 0, "method.l2p.pull_coefficient", "must be >= 0, got \(pullCoefficient)")
    }
}
