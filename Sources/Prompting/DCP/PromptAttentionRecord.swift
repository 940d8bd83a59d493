/// What `PromptAttentionBranch.forward` keeps for its backward, cut from one block of floats
/// (`PromptAttentionBranch.recordCount`), for n tokens of width D and H heads:
/// ```
/// projected      (n, D)      a = X_o W_p^T + b_p
/// queryInput     (n, D)      LN_1(a), with queryMean, queryRstd (n)
/// keyInput       (n, D)      LN_1(X), with keyMean, keyRstd (n)
/// qkv            (n, 3D)     rows [q | k | v]
/// probabilities  (H, n, n)   softmax(q_h k_h^T / sqrt(d_h))
/// attended       (n, D)      the heads' outputs before out_proj
/// residual       (n, D)      X + attention
/// normalized     (n, D)      LN_2(residual), with normalizedMean, normalizedRstd (n)
/// hidden         (n, 4D)     LN_2(residual) W_fc^T + b_fc
/// activated      (n, 4D)     QuickGELU(hidden)
/// ```
public struct PromptAttentionRecord {
    public let projected: UnsafeMutablePointer<Float>
    public let queryInput: UnsafeMutablePointer<Float>
    public let queryMean: UnsafeMutablePointer<Float>
    public let queryRstd: UnsafeMutablePointer<Float>
    public let keyInput: UnsafeMutablePointer<Float>
    public let keyMean: UnsafeMutablePointer<Float>
    public let keyRstd: UnsafeMutablePointer<Float>
    public let qkv: UnsafeMutablePointer<Float>
    public let probabilities: UnsafeMutablePointer<Float>
    public let attended: UnsafeMutablePointer<Float>
    public let residual: UnsafeMutablePointer<Float>
    public let normalized: UnsafeMutablePointer<Float>
    public let normalizedMean: UnsafeMutablePointer<Float>
    public let normalizedRstd: UnsafeMutablePointer<Float>
    public let hidden: UnsafeMutablePointer<Float>
    public let activated: UnsafeMutablePointer<Float>

    /// Floats of a record for n `tokens` of width D (`width`) and H `heads`: 17 n D + 6 n + H n^2.
    public static func count(tokens n: Int, width d: Int, heads h: Int) -> Int { 17 * n * d + 6 * n + h * n * n }

    /// The record laid out from `base`, which holds `count(tokens:width:heads:)` floats.
    public init(_ base: UnsafeMutablePointer<Float>, tokens n: Int, width d: Int, heads h: Int) {
        var next = base
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { next += count }
            return next
        }
        projected = take(n * d)
        queryInput = take(n * d)
        queryMean = take(n)
        queryRstd = take(n)
        keyInput = take(n * d)
        keyMean = take(n)
        keyRstd = take(n)
        qkv = take(3 * n * d)
        probabilities = take(h * n * n)
        attended = take(n * d)
        residual = take(n * d)
        normalized = take(n * d)
        normalizedMean = take(n)
        normalizedRstd = take(n)
        hidden = take(4 * n * d)
        activated = take(4 * n * d)
    }
}
