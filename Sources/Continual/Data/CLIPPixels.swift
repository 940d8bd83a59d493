/// CLIP's per-channel pixel normalisation (RGB), from OpenAI CLIP's preprocessing:
/// ```
/// normalised = (value - mean[c]) / std[c]        value in [0, 1]
/// ```
public enum CLIPPixels {
    public static let mean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let std: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// Planar uint8 pixels (3, H, W) (e.g. `CLIPImagePreprocessing.resizeAndCrop`'s output, or a prepared
    /// shard's image) to CLIP-normalised floats (3, H, W) in `destination`:
    /// ```
    /// destination[c, y, x] = (planar[c, y, x] / 255 - mean[c]) / std[c]
    /// ```
    public static func normalise(_ planar: UnsafeBufferPointer<UInt8>, into destination: UnsafeMutablePointer<Float>) {
        precondition(planar.count % 3 == 0, "\(planar.count) bytes are not 3 planes")
        let plane = planar.count / 3
        for c in 0..<3 {
            let m = mean[c], s = std[c]
            for i in c * plane..<(c + 1) * plane { destination[i] = (Float(planar[i]) / 255 - m) / s }
        }
    }
}
