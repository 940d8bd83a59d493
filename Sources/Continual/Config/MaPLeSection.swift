/// `[method.maple]`: MaPLe's coupled prompts (`MaPLe`).
public struct MaPLeSection: Codable, Equatable, Sendable {
    /// Prompt tokens per prompted layer, in each tower.
    public var tokens = 2
    /// Prompted layers from the first, in both towers.
    public var depth = 9

    public init() {}

    func validate() throws {
        try ConfigCheck.that(tokens > 0, "method.maple.tokens", "must be > 0, got \(tokens)")
        try ConfigCheck.that(depth > 0, "method.maple.depth", "must be > 0, got \(depth)")
    }
}
