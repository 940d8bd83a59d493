/// The settings of LPI and its ablations (`LowRankPromptInteraction`), defaults from the paper (section 5.1.4)
/// for CLIP ViT-B/16 retrieval.
public struct LPISettings: Sendable, Equatable {
    /// D: prompted layers from the first, in both towers (the official code's D1 has 9 rows).
    public var depth = 9
    /// L = L_v = L_l: prompt tokens per layer (HPA needs them equal).
    public var tokens = 16
    /// r: the prompt rank of the low-rank interaction decomposition.
    public var rank = 4
    /// Low-rank decomposed prompts (LPI, DP); false: full prompt tensors (the CP ablation).
    public var decomposed = true
    /// lambda_1, lambda_2, lambda_3 of eq. 12: the weights of the base objective, HPA and CPA.
    public var baseWeight: Float = 0.8
    public var modalWeight: Float = 0.1
    public var taskWeight: Float = 0.1
    /// HPA (tau_modal 0.01) and CPA (tau_task 0.01), each in the paper's form by default.
    public var modalAlignment = HierarchicalPromptAlignment()
    public var taskAlignment = CrossTaskPromptAlignment()
    /// Task names at least this similar are positives of each other in CPA (eq. 7).
    public var taskThreshold: Float = 0.4
    /// The std of the N(0, std) initialisation: of each factor (decomposed; the official code's 0.5), or of the
    /// full prompts (CP; CoOp's 0.02).
    public var factorStd: Float = 0.5
    public var fullStd: Float = 0.02
    /// LPI-P's cross-modal prompt fusion (`CrossModalPromptFusion`): lambda_v = lambda_l (section 5.1.4: 0.9), and
    /// whether the mix is normalised (the paper: not; the grounding code: a learnable LayerNorm).
    public var fusionMomentum: Float = 0.9
    public var fusionNormalization = CrossModalPromptFusion.Normalization.none

    public init() {}
}
