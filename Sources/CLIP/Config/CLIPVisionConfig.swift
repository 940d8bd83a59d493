/// The vision tower's shape: a ViT over square images cut into square patches.
///
/// An image (channels, imageSize, imageSize) becomes patchCount = (imageSize / patchSize)^2 patch tokens
/// plus one class token: tokenCount rows of width `encoder.hiddenSize`.
public struct CLIPVisionConfig: Equatable, Sendable {
    public var encoder: CLIPEncoderConfig
    /// Side of the square input image in pixels (`image_size`).
    public var imageSize: Int
    /// Side of a square patch in pixels (`patch_size`); divides `imageSize`.
    public var patchSize: Int
    /// Input channels (`num_channels`), 3 for RGB.
    public var channels: Int

    /// imageSize / patchSize.
    public var patchesPerSide: Int { imageSize / patchSize }
    /// patchesPerSide^2.
    public var patchCount: Int { patchesPerSide * patchesPerSide }
    /// patchCount + 1 (the class token).
    public var tokenCount: Int { patchCount + 1 }

    public init(encoder: CLIPEncoderConfig, imageSize: Int, patchSize: Int, channels: Int) {
        self.encoder = encoder
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.channels = channels
    }
}
