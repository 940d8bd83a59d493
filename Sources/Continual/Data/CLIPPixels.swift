/// CLIP's per-channel pixel normalisation (RGB), from OpenAI CLIP's preprocessing:
/// ```
/// normalised = (value - mean[c]) / std[c]        value in [0, 1]
/// ```
public enum CLIPPixels {
    public static let mean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let std: [Float] = [0.26862954, 0.26130258, 0.27577711]
}
