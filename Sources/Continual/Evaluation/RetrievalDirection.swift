/// Which side queries in retrieval: images against captions (`imageToText`) or captions against images.
public enum RetrievalDirection: String, Codable, Sendable, CaseIterable {
    case imageToText = "image_to_text", textToImage = "text_to_image"

    /// "image→text" or "text→image", as tables print it.
    public var label: String { self == .imageToText ? "image→text" : "text→image" }
}
