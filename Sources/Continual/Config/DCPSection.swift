/// `[method.dcp]`: DCP's deeply coupled prompts (`DeeplyCoupledPrompts`). Defaults are the released script's
/// (GingL/CMPA scripts/cmpa/main.sh: N_CTX 16, PROMPT_DEPTH 9) with one CMPA module per coupled layer, the count
/// LPI's Table 4 reports; `shared_attention = true` is the script's PS True.
public struct DCPSection: Codable, Equatable, Sendable {
    /// n: prompt tokens per prompted layer, in each tower (N_CTX).
    public var tokens = 16
    /// Prompted layers from the first, in both towers: depth - 1 CMPA maps (the code's PROMPT_DEPTH couples one
    /// layer more: its 9 is depth 10 here).
    public var depth = 9
    /// One CMPA module for every coupled layer (the code's PS) instead of one per layer.
    public var sharedAttention = false

    public init() {}

    enum CodingKeys: String, CodingKey {
        case tokens, depth
        case sharedAttention = "shared_attention"
    }

    func validate() throws {
        try ConfigCheck.that(tokens > 0, "method.dcp.tokens", "must be > 0, got \(tokens)")
        try ConfigCheck.that(depth > 0, "method.dcp.depth", "must be > 0, got \(depth)")
    }
}
