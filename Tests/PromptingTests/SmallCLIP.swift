import CLIP

/// A small CLIP for the prompting tests: vision 16 wide, 2 heads of 8, 3 layers, 8 px images in 4 px patches
/// (4 patches + CLS); a 1-layer text tower that the vision tests never run.
let smallCLIPConfig = CLIPConfig(
    vision: CLIPVisionConfig(
        encoder: CLIPEncoderConfig(hiddenSize: 16, intermediateSize: 32, attentionHeads: 2, layers: 3,
                                   layerNormEps: 1e-5, activation: .quickGELU),
        imageSize: 8, patchSize: 4, channels: 3),
    text: CLIPTextConfig(
        encoder: CLIPEncoderConfig(hiddenSize: 8, intermediateSize: 16, attentionHeads: 1, layers: 1,
                                   layerNormEps: 1e-5, activation: .quickGELU),
        vocabularySize: 10, contextLength: 6, bosTokenID: 8, eosTokenID: 9, padTokenID: 9),
    projectionDim: 12, logitScaleInit: 2.6592)

/// Shapes for the tests of two-tower methods' hooks (no tower runs): vision 16 wide and text 8 wide, 3 layers
/// each, projection 12.
let twoTowerCLIPConfig = CLIPConfig(
    vision: CLIPVisionConfig(
        encoder: CLIPEncoderConfig(hiddenSize: 16, intermediateSize: 32, attentionHeads: 2, layers: 3,
                                   layerNormEps: 1e-5, activation: .quickGELU),
        imageSize: 8, patchSize: 4, channels: 3),
    text: CLIPTextConfig(
        encoder: CLIPEncoderConfig(hiddenSize: 8, intermediateSize: 16, attentionHeads: 1, layers: 3,
                                   layerNormEps: 1e-5, activation: .quickGELU),
        vocabularySize: 10, contextLength: 12, bosTokenID: 8, eosTokenID: 9, padTokenID: 9),
    projectionDim: 12, logitScaleInit: 2.6592)
