import Numerics

/// A stack of CLIP encoder layers with prompt sites between them, planned once for a batch capacity and
/// a maximum sequence length. Sites at layers >= 1 are applied here; the site at layer 0 belongs to the
/// tower (it acts on the embeddings).
///
/// ```
/// T_l = base + c_l   (c_l: prompt tokens in layer l's input, PromptPlan.promptCounts)
/// X_0 (written by the tower) -> layer 0 -> [site 1] -> X_1 -> ... -> layer L-1 -> Y (B, T_{L-1}, D)
/// ```
final class PromptedEncoder {
    let config: CLIPEncoderConfig
    let plan: PromptPlan
    let counts: [Int]
    let promptStart: Int
    private let layer: EncoderLayer
    private(set) var saved: [EncoderLayer.Activations] = []
    private let output, transit, gradientA, gradientB: ArenaSlice
    private let dResidual, dNormed, dAttention, dQKV, dHidden, dActivated, dScores: ArenaSlice

    /// Reserves every buffer in `arenaPlan` for `batch` sequences of at most `maxBase` base tokens.
    init(config: CLIPEncoderConfig, plan: PromptPlan, causal: Bool, promptStart: Int,
         batch: Int, maxBase: Int, arenaPlan: inout ArenaPlan) {
        self.config = config
        self.plan = plan
        self.promptStart = promptStart
        counts = plan.promptCounts(layers: config.layers)
        layer = EncoderLayer(config: config, causal: causal)
        let d = config.hiddenSize, f = config.intermediateSize
        let maxTokens = maxBase + (counts.max() ?? 0)
        let maxRows = batch * maxTokens
        for l in 0..<config.layers {
            let tokens = maxBase + counts[l]
            saved.append(EncoderLayer.plan(&arenaPlan, config: config, rows: batch * tokens, batch: batch, tokens: tokens))
        }
        output = arenaPlan.reserve(batch * (maxBase + (counts.last ?? 0)) * d)
        transit = arenaPlan.reserve(maxRows * d)
        gradientA = arenaPlan.reserve(maxRows * d)
        gradientB = arenaPlan.reserve(maxRows * d)
        dResidual = arenaPlan.reserve(maxRows * d)
        dNormed = arenaPlan.reserve(maxRows * d)
        dAttention = arenaPlan.reserve(maxRows * d)
        dQKV = arenaPlan.reserve(maxRows * 3 * d)
        dHidden = arenaPlan.reserve(maxRows * f)
        dActivated = arenaPlan.reserve(maxRows * f)
        dScores = arenaPlan.reserve(maxTokens * maxTokens)
    }

    /// Where the tower writes X_0, (B, base + c_0, D).
    func input(_ arena: Arena) -> UnsafeMutablePointer<Float> { arena[saved[0].input] }

    /// Runs the stack; `prompts[i]` holds the values of `plan.sites[i]` (entries for layer 0 are ignored here).
    /// Returns Y, (B, base + c_{L-1}, D).
    func forward(_ arena: Arena, weights: [EncoderLayerWeights], prompts: [PromptValues],
                 batch: Int, base: Int) -> UnsafeMutablePointer<Float> {
        let layers = config.layers
        for l in 0..<layers {
            let tokens = base + counts[l]
            let next = l + 1 < layers ? siteIndex(at: l + 1) : nil
            let destination: UnsafeMutablePointer<Float>
            if l == layers - 1 {
                destination = arena[output]
            } else if let next, plan.sites[next].mode == .insert {
                destination = arena[transit]
            } else {
                destination = arena[saved[l + 1].input]
            }
            layer.forward(arena, saved[l], weights: weights[l], output: destination, batch: batch, tokens: tokens)
            if let next {
                let site = plan.sites[next]
                if site.mode == .insert {
                    block(existing: counts[l]).insert(into: arena[saved[l + 1].input], from: arena[transit],
                                                      values: prompts[next], count: site.tokens, removing: site.removed,
                                                      batch: batch, tokens: tokens)
                } else {
                    block(existing: counts[l + 1]).apply(site.mode, to: arena[saved[l + 1].input], values: prompts[next],
                                                         batch: batch, tokens: tokens)
                }
            }
        }
        return arena[output]
    }

    /// Back-propagates dY through layers L-1 down to `lowest`, accumulating prompt gradients of the sites
    /// at layers >= max(lowest, 1) into `promptGradients[i]` (for `plan.sites[i]`) and weight gradients
    /// into `gradients` when given. Returns dX_lowest (valid until the next call).
    func backward(_ arena: Arena, weights: [EncoderLayerWeights], gradients: [EncoderLayerWeights]?,
                  promptGradients: [PromptGradient?], dOutput: UnsafePointer<Float>,
                  batch: Int, base: Int, downTo lowest: Int) -> UnsafeMutablePointer<Float> {
        let scratch = EncoderLayer.GradientScratch(
            dResidual: arena[dResidual], dNormed: arena[dNormed], dAttention: arena[dAttention], dQKV: arena[dQKV],
            dHidden: arena[dHidden], dActivated: arena[dActivated], dScores: arena[dScores])
        var dy = UnsafeMutablePointer(mutating: dOutput)
        var current = arena[gradientA], spare = arena[gradientB]
        for l in (lowest..<config.layers).reversed() {
            let tokens = base + counts[l]
            layer.backward(arena, saved[l], weights: weights[l], gradients: gradients?[l], scratch: scratch,
                           dy: dy, dx: current, batch: batch, tokens: tokens)
            guard l > 0, let index = siteIndex(at: l) else {
                dy = current
                swap(&current, &spare)
                continue
            }
            let site = plan.sites[index]
            if site.mode == .insert {
                block(existing: counts[l - 1]).insertBackward(dSource: spare, dDestination: current,
                                                              gradient: promptGradients[index], count: site.tokens,
                                                              removing: site.removed, batch: batch,
                                                              tokens: base + counts[l - 1])
                dy = spare
            } else {
                block(existing: counts[l]).applyBackward(site.mode, dSequence: current, gradient: promptGradients[index],
                                                         batch: batch, tokens: tokens)
                dy = current
                swap(&current, &spare)
            }
        }
        return dy
    }

    private func siteIndex(at layer: Int) -> Int? { plan.sites.firstIndex { $0.layer == layer } }

    private func block(existing: Int) -> PromptBlock {
        PromptBlock(width: config.hiddenSize, start: promptStart, existing: existing)
    }
}
