/// A retrieval run's recall in both directions (summary.json's `"recall"`).
public struct RetrievalSummary: Codable, Equatable, Sendable {
    public var imageToText: DirectionRecall
    public var textToImage: DirectionRecall

    public init(_ records: [EvaluationRecord], variant: ForgettingVariant) throws {
        imageToText = try DirectionRecall(records, direction: .imageToText, variant: variant)
        textToImage = try DirectionRecall(records, direction: .textToImage, variant: variant)
    }

    public subscript(direction: RetrievalDirection) -> DirectionRecall {
        direction == .imageToText ? imageToText : textToImage
    }

    enum CodingKeys: String, CodingKey {
        case imageToText = "image_to_text", textToImage = "text_to_image"
    }
}
