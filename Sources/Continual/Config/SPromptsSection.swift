/// `[method.sprompts]`: S-Prompts' per-task prompts (`SPrompts`).
public struct SPromptsSection: Codable, Equatable, Sendable {
    /// Image prompt tokens at the input of the vision tower, per task.
    public var visionTokens = 10
    /// Learned context tokens after SOT in the text tower, per task.
    public var textTokens = 16

    public init() {}

    enum CodingKeys: String, CodingKey {
        case visionTokens = "vision_tokens", textTokens = "text_tokens"
    }

    func validate() throws {
        try ConfigCheck.that(visionTokens > 0, "method.sprompts.vision_tokens", "must be > 0, got \(visionTokens)")
        try ConfigCheck.that(textTokens > 0, "method.sprompts.text_tokens", "must be > 0, got \(textTokens)")
    }
}
