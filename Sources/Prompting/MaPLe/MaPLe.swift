import CLIP
import Numerics

/// MaPLe, "Multi-modal Prompt Learning" (Khattak et al., CVPR 2023): deep text prompts in the first `depth`
/// layers of the text tower, and the vision prompts of the same layers coupled to them by a linear map per
/// layer (language-to-vision coupling), so that both branches learn together. In the continual benchmarks
/// it is trained task after task with one shared set (as LPI compares it).
///
/// ```
/// parameters: maple.layer{l}.text             (c, Dt)      l < depth
///             maple.layer{l}.coupling.weight  (Dv, Dt)     F_l
///             maple.layer{l}.coupling.bias    (Dv)
/// text  layer l:  T_l = maple.layer{l}.text          (insert at layer 0, replace at 1 ..< depth)
/// vision layer l: V_l = F_l(T_l) = T_l W_l^T + b_l   (insert at layer 0, replace at 1 ..< depth; after the patches)
/// backward:       dT_l += dV_l W_l,  dW_l += dV_l^T T_l,  db_l += sum_rows dV_l
/// ```
/// Defaults: c = 2, depth 9 (the paper's). Initialisation: text prompts N(0, 0.02), couplings as torch's
/// nn.Linear (U(-1/sqrt(Dt), 1/sqrt(Dt))). The official code starts layer 0's text prompt from the word
/// embeddings of "a photo of a"; here every layer starts random.
public final class MaPLe: PromptMethod {
    public let tokens: Int
    public let depth: Int
    public let visionWidth: Int
    public let textWidth: Int
    public let visionPlan: PromptPlan
    public let textPlan: PromptPlan
    /// V_l for every layer, (depth, c, Dv), built in `prepare`.
    private let vision = PromptScratch()
    /// dV_l, (depth, c, Dv), filled by the vision tower's backward.
    private let visionGradients = PromptScratch()

    public init(model: CLIPConfig, tokens: Int = 2, depth: Int = 9) throws {
        let layers = min(model.vision.encoder.layers, model.text.encoder.layers)
        guard depth >= 1, depth <= layers else {
            throw PromptPlanError.depth(depth, layers: layers)
        }
        self.tokens = tokens
        self.depth = depth
        visionWidth = model.vision.encoder.hiddenSize
        textWidth = model.text.encoder.hiddenSize
        let sites = (0..<depth).map { PromptPlan.Site(layer: $0, tokens: tokens, mode: $0 == 0 ? .insert : .replace) }
        visionPlan = try PromptPlan(sites: sites, placement: .afterPatches, layers: model.vision.encoder.layers)
        textPlan = try PromptPlan(sites: sites, layers: model.text.encoder.layers)
        vision.reserve(depth * tokens * visionWidth)
        visionGradients.reserve(depth * tokens * visionWidth)
    }

    public var name: String { "maple" }

    private func textName(_ layer: Int) -> String { "maple.layer\(layer).text" }
    private func weightName(_ layer: Int) -> String { "maple.layer\(layer).coupling.weight" }
    private func biasName(_ layer: Int) -> String { "maple.layer\(layer).coupling.bias" }
    private var promptSize: Int { tokens * visionWidth }

    public func declare(into layout: inout ParameterLayout) {
        for layer in 0..<depth {
            layout.append(textName(layer), [tokens, textWidth])
            layout.append(weightName(layer), [visionWidth, textWidth])
            layout.append(biasName(layer), [visionWidth])
        }
    }

    public func initialize(_ values: ParameterBuffer, seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        let bound = 1 / Float(textWidth).squareRoot()
        for layer in 0..<depth {
            generator.fillNormal(values[textName(layer)], count: tokens * textWidth, std: 0.02)
            generator.fillUniform(values[weightName(layer)], count: visionWidth * textWidth, low: -bound, high: bound)
            generator.fillUniform(values[biasName(layer)], count: visionWidth, low: -bound, high: bound)
        }
    }

    /// V_l = T_l W_l^T + b_l for every layer; the coupling gradients start at zero.
    public func prepare(values: ParameterBuffer, batch: PromptBatch) {
        for layer in 0..<depth {
            Linear.forward(y: vision.pointer + layer * promptSize, x: values[textName(layer)],
                           weight: values[weightName(layer)], bias: values[biasName(layer)],
                           rows: tokens, inFeatures: textWidth, outFeatures: visionWidth)
        }
        visionGradients.zeroed(depth * promptSize)
    }

    public func visionPrompts(_ values: ParameterBuffer) -> [PromptValues] {
        (0..<depth).map { PromptValues(vision.pointer + $0 * promptSize) }
    }

    public func visionPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] {
        (0..<depth).map { PromptGradient(visionGradients.pointer + $0 * promptSize) }
    }

    public func textPrompts(_ values: ParameterBuffer) -> [PromptValues] {
        (0..<depth).map { PromptValues(values[textName($0)]) }
    }

    public func textPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] {
        (0..<depth).map { PromptGradient(gradients[textName($0)]) }
    }

    /// In the forward this was V_l = T_l W_l^T + b_l: dT_l, dW_l, db_l += from dV_l.
    public func finishBackward(values: ParameterBuffer, gradients: ParameterBuffer, batch: PromptBatch,
                               globalCount: Int) -> Float {
        for layer in 0..<depth {
            Linear.backward(dx: gradients[textName(layer)], dWeight: gradients[weightName(layer)],
                            dBias: gradients[biasName(layer)], dy: visionGradients.pointer + layer * promptSize,
                            x: values[textName(layer)], weight: values[weightName(layer)],
                            rows: tokens, inFeatures: textWidth, outFeatures: visionWidth)
        }
        return 0
    }
}
