import Numerics

/// A stack of CLIP encoder layers with prompt sites between them, planned once for a batch capacity and
/// a maximum sequence length. Sites at layers >= 1 are applied here; the site at layer 0 belongs to the
/// tower (it acts on the embeddings).
///
/// ```
/// T_l = base + c_l   (c_l: prompt tokens in layer l's input, PromptPlan.promptCounts)
/// X_0 (written by the tower) -> layer 0 -> [site 1] -> X_1 -> ... -> layer L-1 -> Y (B, T_{L-1}, D)
/// ```
/// It runs whole (`forward`, `backward`) or one layer at a time, so that a caller can read and change the
/// rows between layers (LPI-P's cross-modal fusion runs two towers in lock-step):
/// ```
/// forward step l:    X_l -> layer l -> [site l+1] -> X_{l+1}          (Y for the last layer)
/// backward step l:   dX_{l+1} -> [site l+1 backward] -> layer l backward -> dX_l
/// ```
/// `forward` and `backward` are these steps in a loop: the same kernels in the same order. Between steps,
/// `input(layer:)` is X_l as layer l reads it and `inputGradient` is dX_l of the last backward step, before
/// the site at l is back-propagated (a caller that replaced rows of X_l changes those rows of dX_l to match).
///
/// What the arena keeps depends on `use` (`TowerUse`):
/// ```
/// training:   saved[l] for every layer l (X_l and layer l's intermediates at T_l), Y, transit (B, T_max, D),
///             the backward's scratch: dX in two buffers, dResidual .. dActivated at T_max, dP blocks;
///             without weight gradients (`keepsWeightInputs` false: prompt tuning), the linear layers' inputs
///             (`EncoderLayer.WeightInputs`, 3D + F floats a row) are one set at T_max shared by every layer
/// inference:  one set of intermediates at T_max shared by every layer; X_l in pingPong[l % 2] (Y in
///             pingPong[L % 2]); transit only when a site at a layer >= 1 inserts; no gradient buffer
/// ```
/// Inference gives the same results bit for bit (the same kernels on the same values), but X_l and layer l's
/// intermediates are overwritten by the next steps: only the forward and the input of the layer about to run
/// can be read; everything that reads a layer's activations later (the backward, `activations(layer:)`) refuses.
final class PromptedEncoder {
    let config: CLIPEncoderConfig
    let plan: PromptPlan
    let use: TowerUse
    /// Whether every layer keeps its linear layers' inputs, which only weight gradients read.
    let keepsWeightInputs: Bool
    let counts: [Int]
    let promptStart: Int
    private let layer: EncoderLayer
    /// Training: layer l's activations at T_l. Inference: one set at T_max (its input is pingPong[0]).
    private let saved: [EncoderLayer.Activations]
    /// Inference: the two buffers that hold X_l in turn; empty in training.
    private let pingPong: [ArenaSlice]
    private let output, transit, gradientA, gradientB: ArenaSlice
    private let dResidual, dNormed, dAttention, dQKV, dHidden, dActivated, dScores: ArenaSlice
    /// The backward's state: dX_l of the last step in `current` (l = `gradientLayer`; `layers` with dY in
    /// `pendingOutput` before the first step), the other gradient buffer in `spare`.
    private var current: UnsafeMutablePointer<Float>?
    private var spare: UnsafeMutablePointer<Float>?
    private var pendingOutput: UnsafeMutablePointer<Float>?
    private(set) var gradientLayer: Int

    /// Reserves every buffer `use` needs in `arenaPlan` for `batch` sequences of at most `maxBase` base tokens,
    /// with every layer's linear inputs when `keepsWeightInputs` (a backward will accumulate weight gradients).
    /// Attention's backward gets a dP block per thread of `ComputeThreads.kernelThreads` as set now (set it
    /// first: with more threads later, attention still runs on this many).
    init(config: CLIPEncoderConfig, plan: PromptPlan, causal: Bool, promptStart: Int,
         batch: Int, maxBase: Int, use: TowerUse, keepsWeightInputs: Bool, arenaPlan: inout ArenaPlan) {
        precondition(!keepsWeightInputs || use == .training, "weight gradients need a tower built with use: .training")
        self.config = config
        self.plan = plan
        self.use = use
        self.keepsWeightInputs = keepsWeightInputs
        self.promptStart = promptStart
        let counts = plan.promptCounts(layers: config.layers)
        self.counts = counts
        layer = EncoderLayer(config: config, causal: causal)
        gradientLayer = config.layers
        let d = config.hiddenSize, f = config.intermediateSize
        let maxTokens = maxBase + (counts.max() ?? 0)
        let maxRows = batch * maxTokens
        let training = use == .training
        if training {
            let shared = keepsWeightInputs ? nil : EncoderLayer.WeightInputs.plan(&arenaPlan, config: config, rows: maxRows)
            saved = (0..<config.layers).map { l in
                let tokens = maxBase + counts[l]
                return EncoderLayer.plan(&arenaPlan, config: config, rows: batch * tokens, batch: batch, tokens: tokens,
                                         shared: shared)
            }
            pingPong = []
            output = arenaPlan.reserve(batch * (maxBase + (counts.last ?? 0)) * d)
        } else {
            let shared = EncoderLayer.plan(&arenaPlan, config: config, rows: maxRows, batch: batch, tokens: maxTokens)
            saved = [shared]
            pingPong = [shared.input, arenaPlan.reserve(maxRows * d)]
            output = pingPong[config.layers % 2]
        }
        let inserts = plan.sites.contains { $0.layer >= 1 && $0.mode == .insert }
        transit = arenaPlan.reserve(training || inserts ? maxRows * d : 0)
        let scratch = training ? maxRows : 0
        gradientA = arenaPlan.reserve(scratch * d)
        gradientB = arenaPlan.reserve(scratch * d)
        dResidual = arenaPlan.reserve(scratch * d)
        dNormed = arenaPlan.reserve(scratch * d)
        dAttention = arenaPlan.reserve(scratch * d)
        dQKV = arenaPlan.reserve(scratch * 3 * d)
        dHidden = arenaPlan.reserve(scratch * f)
        dActivated = arenaPlan.reserve(scratch * f)
        // one (T, T) dP block per attention worker: the kernel threads set now, at most one per (b, h) pair
        dScores = arenaPlan.reserve(training ? Attention.scratchCount(
            tokens: maxTokens, workers: min(ComputeThreads.kernelThreads, batch * config.attentionHeads)) : 0)
    }

    /// The buffers layer l reads and writes in its forward: saved[l] in training; in inference the shared set
    /// with X_l in pingPong[l % 2].
    private func buffers(_ l: Int) -> EncoderLayer.Activations {
        guard use == .inference else { return saved[l] }
        var shared = saved[0]
        shared.input = pingPong[l % 2]
        return shared
    }

    /// Layer l's activations of the last forward (NSP2's attention records read them): training only.
    func activations(layer l: Int) -> EncoderLayer.Activations {
        precondition(use == .training, "layer \(l)'s activations of a tower built for inference (TowerUse.inference "
                     + "keeps one layer's intermediates, overwritten by the next layer): build it with use: .training")
        return saved[l]
    }

    /// Refuses a backward of an inference encoder, naming `what` was asked.
    private func requireTraining(_ what: String) {
        precondition(use == .training, "\(what) of a tower built for inference (TowerUse.inference keeps no "
                     + "activations for a backward and no gradient buffers): build it with use: .training")
    }

    /// Where the tower writes X_0, (B, base + c_0, D).
    func input(_ arena: Arena) -> UnsafeMutablePointer<Float> { arena[buffers(0).input] }

    /// X_l, (B, base + c_l, D): the input of layer l, after the site at l. In inference it holds X_l only from
    /// forward step l - 1 (or the tower's embedding for l = 0) until step l + 1 writes there: the tower lets a
    /// caller read the layer about to run alone.
    func input(_ arena: Arena, layer l: Int) -> UnsafeMutablePointer<Float> { arena[buffers(l).input] }

    /// Y, (B, base + c_{L-1}, D): the last layer's output.
    func output(_ arena: Arena) -> UnsafeMutablePointer<Float> { arena[output] }

    /// Runs the stack; `prompts[i]` holds the values of `plan.sites[i]` (entries for layer 0 are ignored here).
    /// Returns Y, (B, base + c_{L-1}, D).
    func forward(_ arena: Arena, weights: [EncoderLayerWeights], prompts: [PromptValues],
                 batch: Int, base: Int) -> UnsafeMutablePointer<Float> {
        for l in 0..<config.layers {
            forwardLayer(l, arena, weights: weights, prompts: prompts, batch: batch, base: base)
        }
        return arena[output]
    }

    /// Forward step l: runs layer l on X_l and applies the site at l + 1, writing X_{l+1} (Y for the last layer).
    func forwardLayer(_ l: Int, _ arena: Arena, weights: [EncoderLayerWeights], prompts: [PromptValues],
                      batch: Int, base: Int) {
        let layers = config.layers
        let tokens = base + counts[l]
        let next = l + 1 < layers ? siteIndex(at: l + 1) : nil
        let destination: UnsafeMutablePointer<Float>
        if l == layers - 1 {
            destination = arena[output]
        } else if let next, plan.sites[next].mode == .insert {
            destination = arena[transit]
        } else {
            destination = input(arena, layer: l + 1)
        }
        layer.forward(arena, buffers(l), weights: weights[l], output: destination, batch: batch, tokens: tokens)
        guard let next else { return }
        let site = plan.sites[next]
        if site.mode == .insert {
            block(existing: counts[l]).insert(into: input(arena, layer: l + 1), from: arena[transit],
                                              values: prompts[next], count: site.tokens, removing: site.removed,
                                              batch: batch, tokens: tokens)
        } else {
            block(existing: counts[l + 1]).apply(site.mode, to: input(arena, layer: l + 1), values: prompts[next],
                                                 batch: batch, tokens: tokens)
        }
    }

    /// Back-propagates dY through layers L-1 down to `lowest`, accumulating prompt gradients of the sites
    /// at layers >= max(lowest, 1) into `promptGradients[i]` (for `plan.sites[i]`) and weight gradients
    /// into `gradients` when given. Returns dX_lowest (valid until the next call).
    func backward(_ arena: Arena, weights: [EncoderLayerWeights], gradients: [EncoderLayerWeights]?,
                  promptGradients: [PromptGradient?], dOutput: UnsafePointer<Float>,
                  batch: Int, base: Int, downTo lowest: Int) -> UnsafeMutablePointer<Float> {
        beginBackward(arena, dOutput: dOutput)
        for l in (lowest..<config.layers).reversed() {
            backwardLayer(l, arena, weights: weights, gradients: gradients, promptGradients: promptGradients,
                          batch: batch, base: base)
        }
        return finishBackward(promptGradients: promptGradients, batch: batch, base: base)
    }

    /// Starts a backward from dY (B, base + c_{L-1}, D), which must stay valid until the first step.
    func beginBackward(_ arena: Arena, dOutput: UnsafePointer<Float>) {
        requireTraining("a backward")
        current = arena[gradientA]
        spare = arena[gradientB]
        pendingOutput = UnsafeMutablePointer(mutating: dOutput)
        gradientLayer = config.layers
    }

    /// Starts a backward at the input of layer `l` (< L) with dX_l = 0: the computation being differentiated
    /// ends with X_l (it never ran layer l). The caller adds its gradient into `inputGradient`.
    func beginBackward(_ arena: Arena, zeroAt l: Int, batch: Int, base: Int) {
        requireTraining("a backward from layer \(l)")
        precondition(l < config.layers, "a backward starting at layer \(l) of \(config.layers)")
        current = arena[gradientA]
        spare = arena[gradientB]
        pendingOutput = nil
        current!.update(repeating: 0, count: batch * (base + counts[l]) * config.hiddenSize)
        gradientLayer = l
    }

    /// dX_l of the last backward step (l = `gradientLayer`), (B, base + c_l, D); the site at l is not yet
    /// back-propagated.
    var inputGradient: UnsafeMutablePointer<Float> {
        precondition(gradientLayer < config.layers, "no backward step has run")
        return current!
    }

    /// Backward step l: back-propagates the site at l + 1 (from dX_{l+1}) and layer l, leaving dX_l in
    /// `inputGradient`. Steps run from the top down, one layer at a time.
    func backwardLayer(_ l: Int, _ arena: Arena, weights: [EncoderLayerWeights], gradients: [EncoderLayerWeights]?,
                       promptGradients: [PromptGradient?], batch: Int, base: Int) {
        requireTraining("backward step \(l)")
        precondition(l == gradientLayer - 1, "backward step \(l) after step \(gradientLayer)")
        precondition(gradients == nil || keepsWeightInputs,
                     "weight gradients from an encoder planned without its layers' linear inputs")
        let dy: UnsafeMutablePointer<Float>
        if let pendingOutput {
            dy = pendingOutput
            self.pendingOutput = nil
        } else {
            dy = backwardSite(promptGradients: promptGradients, batch: batch, base: base)
        }
        let scratch = EncoderLayer.GradientScratch(
            dResidual: arena[dResidual], dNormed: arena[dNormed], dAttention: arena[dAttention], dQKV: arena[dQKV],
            dHidden: arena[dHidden], dActivated: arena[dActivated],
            dScores: UnsafeMutableBufferPointer(start: arena[dScores], count: dScores.count))
        layer.backward(arena, saved[l], weights: weights[l], gradients: gradients?[l], scratch: scratch,
                       dy: dy, dx: current!, batch: batch, tokens: base + counts[l])
        gradientLayer = l
    }

    /// Ends a backward: back-propagates the site at `gradientLayer` if it is >= 1 and has one, and returns the
    /// gradient below it (dX_0 when the last step was layer 0).
    func finishBackward(promptGradients: [PromptGradient?], batch: Int, base: Int) -> UnsafeMutablePointer<Float> {
        precondition(gradientLayer < config.layers, "no backward step has run")
        return gradientLayer == 0 ? current! : backwardSite(promptGradients: promptGradients, batch: batch, base: base)
    }

    /// The site at `gradientLayer` (>= 1) back-propagated from dX there: returns the gradient of the output of
    /// the layer below, and leaves `current` on a buffer other than it, for that layer's dX.
    private func backwardSite(promptGradients: [PromptGradient?], batch: Int, base: Int) -> UnsafeMutablePointer<Float> {
        let l = gradientLayer
        guard let index = siteIndex(at: l) else {
            let dy = current!
            swap(&current, &spare)
            return dy
        }
        let site = plan.sites[index]
        if site.mode == .insert {
            block(existing: counts[l - 1]).insertBackward(dSource: spare!, dDestination: current!,
                                                          gradient: promptGradients[index], count: site.tokens,
                                                          removing: site.removed, batch: batch,
                                                          tokens: base + counts[l - 1])
            return spare!
        }
        block(existing: counts[l]).applyBackward(site.mode, dSequence: current!, gradient: promptGradients[index],
                                                 batch: batch, tokens: base + counts[l])
        let dy = current!
        swap(&current, &spare)
        return dy
    }

    private func siteIndex(at layer: Int) -> Int? { plan.sites.firstIndex { $0.layer == layer } }

    private func block(existing: Int) -> PromptBlock {
        PromptBlock(width: config.hiddenSize, start: promptStart, existing: existing)
    }
}
