/// What one shard file holds; also its file name extension (`train-00000.images`) and the `kind` field of its
/// header (`ShardHeader`).
public enum ShardKind: String, Codable, CaseIterable, Sendable {
    /// uint8 (count, 3, S, S): RGB planes at the model's input size.
    case images
    /// int32 (count): class indices.
    case labels
    /// One or more UTF-8 captions per sample (`ShardCaptions`).
    case captions

    /// The header's `kind` code.
    var code: UInt32 {
        switch self {
        case .images: return 1
        case .labels: return 2
        case .captions: return 3
        }
    }

    init?(code: UInt32) {
        guard let kind = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = kind
    }
}
