/// `[method.mpl]`: MPL's modular prompts (`ModularPromptLearning`). Defaults are the official code's config
/// `vit_b4_c1_add2_rm1` (the paper's setting): 1 token, add 2, remove 1, depth 9.
public struct MPLSection: Codable, Equatable, Sendable {
    /// c: text prompt tokens per prompted layer (the code's N_CTX), and the vision prompts at layer 0.
    public var tokens = 1
    /// Coupling maps per deeper layer, each adding c vision prompts (N_ADD_OP).
    public var add = 2
    /// Vision prompts removed from the end of the block at each layer 1 ..< depth (N_RM_OP); at most `tokens`.
    public var remove = 1
    /// Prompted layers from the first, in both towers (PROMPT_DEPTH).
    public var depth = 9
    /// Every deeper coupling starts as a copy of one draw, as the official code's deep copies (false: each its own).
    public var clonedCouplings = false

    public init() {}

    enum CodingKeys: String, CodingKey {
        case tokens, add, remove, depth
        case clonedCouplings = "cloned_couplings"
    }

    func validate() throws {
        try ConfigCheck.that(tokens > 0, "method.mpl.tokens", "must be > 0, got \(tokens)")
        try ConfigCheck.that(add > 0, "method.mpl.add", "must be > 0, got \(add)")
        try ConfigCheck.that(remove >= 0 && remove <= tokens, "method.mpl.remove",
                             "must be in 0...tokens (\(tokens): layer 1 holds only layer 0's prompts), got \(remove)")
        try ConfigCheck.that(depth > 0, "method.mpl.depth", "must be > 0, got \(depth)")
    }
}
