import CLIP
import Foundation
import Numerics

/// VPT-deep on CLIP's vision tower (Jia et al., "Visual Prompt Tuning", ECCV 2022): `tokens` learned
/// prompt tokens in the input of each prompted layer, inserted at the first and replaced at every other
/// one; the backbone stays frozen. Trained task after task with nothing against forgetting, it is the
/// sequential baseline of the continual-learning papers (VPT-Seq in NSP2).
///
/// ```
/// parameters: vpt.layer{l}: (tokens, D) for every prompted layer l
/// layer l_0: X <- [X ; P_{l_0}]   (insert)      layers l > l_0: X <- P_l on the prompt rows (replace)
/// ```
/// Initialisation: VPT's Xavier-uniform, U(-a, a) with a = sqrt(6 / (3 p^2 + D)) (p: patch size), by
/// default; NSP2's official code uses U(-1, 1) (`.uniformUnit`).
public struct VPTDeep: PromptMethod, Sendable {
    public enum Initialization: String, Codable, Sendable, CaseIterable {
        case xavierUniform = "xavier-uniform", uniformUnit = "uniform-unit"
    }

    public let tokens: Int
    public let layers: [Int]
    public let width: Int
    public let patchSize: Int
    public let plan: PromptPlan
    public let initialization: Initialization

    /// Prompts in `layers` (default: every layer) of `config`'s vision tower.
    public init(config: CLIPVisionConfig, tokens: Int, layers: [Int]? = nil,
                placement: PromptPlan.Placement = .afterClassToken, initialization: Initialization = .xavierUniform) throws {
        let prompted = layers ?? Array(0..<config.encoder.layers)
        guard !prompted.isEmpty else { throw PromptPlanError.noLayers }
        self.tokens = tokens
        self.layers = prompted
        width = config.encoder.hiddenSize
        patchSize = config.patchSize
        self.initialization = initialization
        plan = try PromptPlan(
            sites: prompted.enumerated().map { index, layer in
                PromptPlan.Site(layer: layer, tokens: tokens, mode: index == 0 ? .insert : .replace)
            },
            placement: placement, layers: config.encoder.layers)
    }

    /// Trained task after task with nothing else, VPT-deep is the sequential baseline `vpt-seq`.
    public var name: String { "vpt-seq" }
    public var visionPlan: PromptPlan { plan }
    /// VPT prompts the vision tower only.
    public var textPlan: PromptPlan { .none }

    /// The tensor names this method trains, in site order.
    public var parameterNames: [String] { layers.map(Self.parameterName) }

    /// The tensor of the site at `layer`: `vpt.layer{layer}`.
    static func parameterName(layer: Int) -> String { "vpt.layer\(layer)" }

    /// Declares `vpt.layer{l}` (tokens, D) for each prompted layer.
    public func declare(into layout: inout ParameterLayout) {
        for name in parameterNames { layout.append(name, [tokens, width]) }
    }

    /// Fills the prompts with their initial values, seeded.
    public func initialize(_ values: ParameterBuffer, seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        let bound: Float = initialization == .uniformUnit ? 1 : (6 / Float(3 * patchSize * patchSize + width)).squareRoot()
        for name in parameterNames { generator.fillUniform(values[name], count: tokens * width, low: -bound, high: bound) }
    }

    /// The prompt values of every site (shared by the batch), read from the trainable buffer.
    public func visionPrompts(_ values: ParameterBuffer) -> [PromptValues] {
        parameterNames.map { PromptValues(values[$0]) }
    }

    /// Where each site's gradient accumulates in the gradient buffer.
    public func visionPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] {
        parameterNames.map { PromptGradient(gradients[$0]) }
    }

    /// `vpt.layer{l+1}` after backward step l. Only the site at layer s adds to `vpt.layer{s}`'s gradient, and
    /// the tower back-propagates that site at the start of step s - 1 (`PromptedEncoder.backwardLayer`: the
    /// site at l + 1, then layer l); the first prompted layer's site, which no step below back-propagates when the
    /// backbone is frozen, is finished by the tower's `finishBackward` and goes with the trainer's last reduce.
    /// VPT-deep has no `finishBackward` of its own.
    public func visionGradientsFinal(afterBackwardLayer l: Int, in layout: ParameterLayout) -> [Range<Int>] {
        guard layers.contains(l + 1), let entry = layout.entry(Self.parameterName(layer: l + 1)) else { return [] }
        return [entry.offset..<entry.offset + entry.count]
    }

    public func textPrompts(_ values: ParameterBuffer) -> [PromptValues] { [] }
    public func textPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] { [] }
}
