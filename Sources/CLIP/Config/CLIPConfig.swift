/// A CLIP model's shape: both towers, the shared embedding width, and the initial logit scale.
///
/// Image and text features are projected to `projectionDim` (visual_projection: (projectionDim,
/// vision.encoder.hiddenSize), text_projection: (projectionDim, text.encoder.hiddenSize)); the
/// similarity logits are exp(logit_scale) * cos, logit_scale starting at `logitScaleInit` (ln(1/0.07)).
/// Read from a Hugging Face `config.json` with `init(contentsOf:)` (CLIPConfig+JSON.swift).
public struct CLIPConfig: Equatable, Sendable {
    public var vision: CLIPVisionConfig
    public var text: CLIPTextConfig
    /// Width of the shared embedding space (`projection_dim`).
    public var projectionDim: Int
    /// Initial value of the learnable log temperature (`logit_scale_init_value`).
    public var logitScaleInit: Float

    /// For models built in code (random weights for tests and the demo); not validated.
    public init(vision: CLIPVisionConfig, text: CLIPTextConfig, projectionDim: Int, logitScaleInit: Float) {
        self.vision = vision
        self.text = text
        self.projectionDim = projectionDim
        self.logitScaleInit = logitScaleInit
    }
}
