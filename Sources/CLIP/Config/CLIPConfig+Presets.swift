import Numerics

extension CLIPConfig {
    /// ViT-B/16's vision tower (openai/clip-vit-base-patch16: 12 layers x 768, 12 heads, MLP 3072, patch 16,
    /// 224 px, quick_gelu, projection 512) with a one-layer text tower, for vision-step benchmarks.
    public static let vitBase16VisionBenchmark = CLIPConfig(
        vision: CLIPVisionConfig(
            encoder: CLIPEncoderConfig(hiddenSize: 768, intermediateSize: 3072, attentionHeads: 12, layers: 12,
                                       layerNormEps: 1e-5, activation: .quickGELU),
            imageSize: 224, patchSize: 16, channels: 3),
        text: CLIPTextConfig(
            encoder: CLIPEncoderConfig(hiddenSize: 64, intermediateSize: 256, attentionHeads: 1, layers: 1,
                                       layerNormEps: 1e-5, activation: .quickGELU),
            vocabularySize: 1000, contextLength: 77, bosTokenID: 998, eosTokenID: 999, padTokenID: 999),
        projectionDim: 512, logitScaleInit: 2.6592)

    /// openai/clip-vit-base-patch16 whole: the vision tower of `vitBase16VisionBenchmark` and the text tower
    /// (12 layers x 512, 8 heads, MLP 2048, quick_gelu, vocabulary 49408, context 77), projection 512, for
    /// benchmarks of both towers.
    public static let vitBase16 = CLIPConfig(
        vision: vitBase16VisionBenchmark.vision,
        text: CLIPTextConfig(
            encoder: CLIPEncoderConfig(hiddenSize: 512, intermediateSize: 2048, attentionHeads: 8, layers: 12,
                                       layerNormEps: 1e-5, activation: .quickGELU),
            vocabularySize: 49408, contextLength: 77, bosTokenID: 49406, eosTokenID: 49407, padTokenID: 49407),
        projectionDim: 512, logitScaleInit: 2.6592)
}
