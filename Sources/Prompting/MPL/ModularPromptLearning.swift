import CLIP
import Numerics

/// MPL, "Modular Prompt Learning Improves Vision-Language Models" (Huang et al.): MaPLe's coupled deep prompts,
/// but the vision prompts of a layer no longer replace those of the layer below. Three operations act on the
/// vision block between layers: O_add appends new prompts (coupled to the layer's text prompts by `added`
/// linear maps), O_rm drops the last `removed` rows of the block arriving from the layer below, and O_cr
/// carries the rest up. In the continual benchmarks it is trained task after task with one shared set, as MaPLe.
///
/// ```
/// parameters: mpl.layer0.text                  (c, Dt)
///             mpl.layer0.coupling0.weight      (Dv, Dt)   F_0, the shallow coupling (the code's `proj`)
///             mpl.layer0.coupling0.bias        (Dv)
///             mpl.layer{l}.text                (c, Dt)    1 <= l < depth
///             mpl.layer{l}.coupling{a}.weight  (Dv, Dt)   F_{l,a}, a < added (the code's txt2img_proj[a][l-1])
///             mpl.layer{l}.coupling{a}.bias    (Dv)
/// text   layer l:  T_l = mpl.layer{l}.text                            (insert at 0, replace at 1 ..< depth: MaPLe)
/// vision layer 0:  V_0 = F_0(T_0) = T_0 W_0^T + b_0                   (insert c, after the patches)
/// vision layer l:  V_l = [F_{l,0}(T_l) ; .. ; F_{l,added-1}(T_l)]     (added * c rows)
///                  X_l = [X_{l-1}^out[..<n-r] ; V_l]                  (O_rm: the last r = removed rows go; O_cr; O_add)
/// above depth:     the block is carried unchanged
/// block:           c_0 = c,  c_l = c + l (added c - removed)  for l < depth
/// backward:        dT_l += sum_a dV_{l,a} W_{l,a},  dW_{l,a} += dV_{l,a}^T T_l,  db_{l,a} += sum_rows dV_{l,a}
/// ```
/// As the official code (Zhenhan-Huang/Modular-Prompt-Learning, clip/model.py `ResidualAttentionBlock_MPL`,
/// trainers/mpl.py `ModularPromptLearner`): removal and addition happen at the input of every layer
/// 1 ..< depth (0-based; the paper's "from the second layer on", on the output of the layer below), the removed
/// rows are the last ones of the sequence (the block sits after the patches, so the newest prompts' outputs go
/// first), and the added rows are the maps' outputs concatenated map after map. Defaults are the code's config
/// `vit_b4_c1_add2_rm1`: c = 1, added 2, removed 1, depth 9 (blocks of 1, 2, ..., 9 vision prompts).
/// `removed` is at most c: layer 1 has only layer 0's c prompts (the code would cut into the patch tokens).
///
/// Initialisation: text prompts N(0, 0.02); couplings as torch's nn.Linear (U(-1/sqrt(Dt), 1/sqrt(Dt))), each drawn
/// on its own, or, with `clonedCouplings`, every deeper map a copy of one draw (the code deep-copies one
/// nn.Linear into all of them). The official code starts T_0 from the word embedding of "X" and keeps the
/// words "a photo of a" in the template; here T_0 starts random and the captions are the dataset's.
public final class ModularPromptLearning: PromptMethod {
    public let tokens: Int
    public let added: Int
    public let removed: Int
    public let depth: Int
    public let clonedCouplings: Bool
    public let visionWidth: Int
    public let textWidth: Int
    public let visionPlan: PromptPlan
    public let textPlan: PromptPlan
    /// V_l for every layer, built in `prepare`: c rows at layer 0, added * c rows above, (rows, Dv) each.
    private let vision = PromptScratch()
    /// dV_l in the same layout, filled by the vision tower's backward.
    private let visionGradients = PromptScratch()

    public init(model: CLIPConfig, tokens: Int = 1, added: Int = 2, removed: Int = 1, depth: Int = 9,
                clonedCouplings: Bool = false) throws {
        let layers = min(model.vision.encoder.layers, model.text.encoder.layers)
        guard depth >= 1, depth <= layers else {
            throw PromptPlanError.depth(depth, layers: layers)
        }
        precondition(tokens > 0 && added > 0 && removed >= 0, "mpl: tokens \(tokens), added \(added), removed \(removed)")
        self.tokens = tokens
        self.added = added
        self.removed = removed
        self.depth = depth
        self.clonedCouplings = clonedCouplings
        visionWidth = model.vision.encoder.hiddenSize
        textWidth = model.text.encoder.hiddenSize
        let visionSites = [PromptPlan.Site(layer: 0, tokens: tokens, mode: .insert)]
            + (1..<depth).map { PromptPlan.Site(layer: $0, tokens: added * tokens, mode: .insert, removed: removed) }
        let textSites = (0..<depth).map { PromptPlan.Site(layer: $0, tokens: tokens, mode: $0 == 0 ? .insert : .replace) }
        visionPlan = try PromptPlan(sites: visionSites, placement: .afterPatches, layers: model.vision.encoder.layers)
        textPlan = try PromptPlan(sites: textSites, layers: model.text.encoder.layers)
        vision.reserve(visionOffset(depth))
        visionGradients.reserve(visionOffset(depth))
    }

    public var name: String { "mpl" }

    /// Coupling maps at `layer`: the shallow one at layer 0, `added` above.
    private func maps(_ layer: Int) -> Int { layer == 0 ? 1 : added }
    private func textName(_ layer: Int) -> String { "mpl.layer\(layer).text" }
    private func weightName(_ layer: Int, _ map: Int) -> String { "mpl.layer\(layer).coupling\(map).weight" }
    private func biasName(_ layer: Int, _ map: Int) -> String { "mpl.layer\(layer).coupling\(map).bias" }
    /// Where V_layer starts in the scratch (the floats of the layers below it).
    private func visionOffset(_ layer: Int) -> Int { (0..<layer).reduce(0) { $0 + maps($1) * tokens * visionWidth } }

    public func declare(into layout: inout ParameterLayout) {
        for layer in 0..<depth {
            layout.append(textName(layer), [tokens, textWidth])
            for map in 0..<maps(layer) {
                layout.append(weightName(layer, map), [visionWidth, textWidth])
                layout.append(biasName(layer, map), [visionWidth])
            }
        }
    }

    public func initialize(_ values: ParameterBuffer, seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        let bound = 1 / Float(textWidth).squareRoot()
        for layer in 0..<depth {
            generator.fillNormal(values[textName(layer)], count: tokens * textWidth, std: 0.02)
            for map in 0..<maps(layer) {
                if clonedCouplings && (layer > 1 || map > 0) {
                    values[weightName(layer, map)].update(from: values[weightName(1, 0)], count: visionWidth * textWidth)
                    values[biasName(layer, map)].update(from: values[biasName(1, 0)], count: visionWidth)
                } else {
                    generator.fillUniform(values[weightName(layer, map)], count: visionWidth * textWidth, low: -bound, high: bound)
                    generator.fillUniform(values[biasName(layer, map)], count: visionWidth, low: -bound, high: bound)
                }
            }
        }
    }

    /// V_{l,a} = T_l W_{l,a}^T + b_{l,a} for every layer and map; the coupling gradients start at zero.
    public func prepare(values: ParameterBuffer, batch: PromptBatch) {
        let block = tokens * visionWidth
        for layer in 0..<depth {
            for map in 0..<maps(layer) {
                Linear.forward(y: vision.pointer + visionOffset(layer) + map * block, x: values[textName(layer)],
                               weight: values[weightName(layer, map)], bias: values[biasName(layer, map)],
                               rows: tokens, inFeatures: textWidth, outFeatures: visionWidth)
            }
        }
        visionGradients.zeroed(visionOffset(depth))
    }

    public func visionPrompts(_ values: ParameterBuffer) -> [PromptValues] {
        (0..<depth).map { PromptValues(vision.pointer + visionOffset($0)) }
    }

    public func visionPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] {
        (0..<depth).map { PromptGradient(visionGradients.pointer + visionOffset($0)) }
    }

    public func textPrompts(_ values: ParameterBuffer) -> [PromptValues] {
        (0..<depth).map { PromptValues(values[textName($0)]) }
    }

    public func textPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] {
        (0..<depth).map { PromptGradient(gradients[textName($0)]) }
    }

    /// In the forward this was V_{l,a} = T_l W_{l,a}^T + b_{l,a}: dT_l, dW_{l,a}, db_{l,a} += from dV_{l,a}
    /// (dT_l also holds the text tower's gradient of the site).
    public func finishBackward(values: ParameterBuffer, gradients: ParameterBuffer, batch: PromptBatch,
                               globalCount: Int) -> Float {
        let block = tokens * visionWidth
        for layer in 0..<depth {
            for map in 0..<maps(layer) {
                Linear.backward(dx: gradients[textName(layer)], dWeight: gradients[weightName(layer, map)],
                                dBias: gradients[biasName(layer, map)],
                                dy: visionGradients.pointer + visionOffset(layer) + map * block,
                                x: values[textName(layer)], weight: values[weightName(layer, map)],
                                rows: tokens, inFeatures: textWidth, outFeatures: visionWidth)
            }
        }
        return 0
    }
}
