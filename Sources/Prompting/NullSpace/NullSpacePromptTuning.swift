import CLIP
import Numerics

/// NSP2, "Visual Prompt Tuning in Null Space for Continual Learning" (Lu et al., NeurIPS 2024): VPT-deep
/// prompts whose updates, from the second task on, are projected onto the null space of the previous tasks'
/// attention statistics, with the prompt-distribution loss L_LN (DESIGN.md, "Null space").
///
/// ```
/// task 0:       plain VPT-deep training
/// after task t: statistics of every prompted layer over task t's data -> merged factors (all tasks <= t)
///               -> P1 (D x D) and P2 (L x L) per layer (`adopt`); L_LN's reference = the prompts now
/// task t + 1:   loss += L_LN(prompts; reference)                          (`addPromptLoss`)
///               Adam's final update dP <- P2 . dP . P1 per prompted layer  (`updateTransform`); moments
///               keep the raw gradient
/// ```
/// The variants differ in their settings only (configs under `configs/`): VPT-NSP2 prompts every vision
/// layer and trains with a linear or text-embedding head; CLIP-NSP2 prompts blocks 0-3 and classifies with the
/// frozen text encoder. Both use 4 prompts, U(-1, 1) initialisation, Adam (lr 0.01 VPT / 0.001 CLIP).
/// The statistics pass and the distributed SVD run in the trainer (Continual); this type holds what they
/// produce, which is all the state NSP2 adds: `factors` (rank-independent, checkpointable) and L_LN's reference.
public final class NullSpacePromptTuning: PromptMethod {
    public enum Variant: String, Codable, Sendable, CaseIterable {
        case vpt = "vpt-nsp2", clip = "clip-nsp2"
    }

    public let variant: Variant
    /// The prompts: VPT-deep's (`vpt.layer{l}`: (L, D) per prompted layer).
    public let prompts: VPTDeep
    public let settings: NullSpaceSettings
    /// The merged statistics of every task collected so far, one entry per prompted layer in site order;
    /// empty before the first collection.
    public private(set) var factors: [LayerNullSpaceFactors] = []
    /// P1 and P2 per prompted layer, built from `factors`.
    public private(set) var projectors: [(channel: NullSpaceProjector, token: NullSpaceProjector)] = []
    /// L_LN's reference: the whole trainable buffer as `adopt` last saw it (a checkpoint keeps it, so that a run
    /// resumed mid-task rebuilds the same loss); empty before the first collection.
    public private(set) var referenceValues: [Float] = []
    private var projection: PromptUpdateProjection?
    private var distributionLoss: PromptStatisticsLoss?

    public init(variant: Variant, prompts: VPTDeep, settings: NullSpaceSettings) {
        self.variant = variant
        self.prompts = prompts
        self.settings = settings
    }

    public var name: String { variant.rawValue }
    public var visionPlan: PromptPlan { prompts.visionPlan }
    public var textPlan: PromptPlan { .none }
    /// The prompted vision layers, in site order.
    public var layers: [Int] { prompts.layers }

    public func declare(into layout: inout ParameterLayout) { prompts.declare(into: &layout) }
    public func initialize(_ values: ParameterBuffer, seed: UInt64) { prompts.initialize(values, seed: seed) }
    public func visionPrompts(_ values: ParameterBuffer) -> [PromptValues] { prompts.visionPrompts(values) }
    public func visionPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] {
        prompts.visionPromptGradients(gradients)
    }
    /// VPT-deep's buckets: the projection (`updateTransform`) and L_LN (`addPromptLoss`) act after the all-reduce.
    public func visionGradientsFinal(afterBackwardLayer l: Int, in layout: ParameterLayout) -> [Range<Int>] {
        prompts.visionGradientsFinal(afterBackwardLayer: l, in: layout)
    }
    public func textPrompts(_ values: ParameterBuffer) -> [PromptValues] { [] }
    public func textPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] { [] }

    /// Where each prompted layer's (L, D) prompt lies in the flat buffers of `layout`.
    public func slices(in layout: ParameterLayout) -> [PromptSlice] {
        prompts.parameterNames.map { name in
            guard let entry = layout.entry(name) else { preconditionFailure("\(name) is not in the trainable layout") }
            return PromptSlice(entry)
        }
    }

    /// Takes the merged statistics of every task so far (one entry per prompted layer, in site order): builds
    /// P1 and P2 of each layer, and makes the prompts in `values` L_LN's reference for the next task.
    public func adopt(_ merged: [LayerNullSpaceFactors], values: ParameterBuffer) throws {
        guard merged.map(\.layer) == layers else {
            throw NullSpaceError("null-space factors of layers \(merged.map(\.layer)) for a method prompting \(layers)")
        }
        let slices = self.slices(in: values.layout)
        var built: [(channel: NullSpaceProjector, token: NullSpaceProjector)] = []
        var projectionLayers: [PromptUpdateProjection.Layer] = []
        for (factor, slice) in zip(merged, slices) {
            let channel = try factor.channel.projector(selection: settings.channelSelection, eta: settings.channelEta,
                                                       scaling: settings.scaling)
            let token = try factor.token.projector(selection: settings.tokenSelection, eta: settings.tokenEta,
                                                   scaling: settings.scaling)
            built.append((channel, token))
            projectionLayers.append(try PromptUpdateProjection.Layer(slice: slice, tokenProjector: token,
                                                                     channelProjector: channel))
        }
        factors = merged
        projectors = built
        referenceValues = Array(UnsafeBufferPointer(start: values.storage, count: values.layout.count))
        projection = PromptUpdateProjection(layers: projectionLayers)
        distributionLoss = PromptStatisticsLoss(previous: values.storage, slices: slices,
                                                weight: settings.distributionLossWeight,
                                                reduction: settings.distributionLossReduction)
    }

    /// L_LN once a previous task's prompts exist, else 0.
    public func addPromptLoss(values: ParameterBuffer, gradients: ParameterBuffer, task: Int) -> Float {
        guard let loss = distributionLoss, loss.weight != 0 else { return 0 }
        loss.backward(values.storage, gradients: gradients.storage)
        return Float(loss.forward(values.storage))
    }

    /// dP <- P2 . dP . P1 per prompted layer once projectors exist.
    public var updateTransform: ((UnsafeMutablePointer<Float>, Int) -> Void)? {
        guard let projection else { return nil }
        return { update, count in projection.apply(.blas, to: update, count: count) }
    }
}
