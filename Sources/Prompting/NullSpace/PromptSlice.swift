import CLIP

/// Where one prompt tensor (L tokens x D channels, row-major) lies in the flat trainable buffer: the unit
/// NSP2's projection and its statistics loss work on, one per prompted layer.
public struct PromptSlice: Sendable, Equatable {
    /// Index of the tensor's first float in the flat buffer.
    public let offset: Int
    /// L: prompt tokens (rows).
    public let tokens: Int
    /// D: channels (columns).
    public let width: Int

    public init(offset: Int, tokens: Int, width: Int) {
        precondition(offset >= 0 && tokens > 0 && width > 0, "prompt slice at \(offset) of (\(tokens), \(width))")
        self.offset = offset
        self.tokens = tokens
        self.width = width
    }

    /// The slice of a (L, D) tensor of a `ParameterLayout` (`vpt.layer3`, ...).
    public init(_ entry: ParameterLayout.Entry) {
        precondition(entry.shape.count == 2, "\(entry.name) has shape \(entry.shape), a prompt is (tokens, width)")
        self.init(offset: entry.offset, tokens: entry.shape[0], width: entry.shape[1])
    }

    /// L * D.
    public var count: Int { tokens * width }
}
