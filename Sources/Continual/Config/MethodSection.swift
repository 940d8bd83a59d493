import Prompting

/// `[method]`: which prompt method trains, with each method's settings in its own sub-table.
public struct MethodSection: Codable, Equatable, Sendable {
    /// The methods, as `method.name` takes them.
    public enum Name: String, Codable, Sendable, CaseIterable {
        /// The frozen CLIP, nothing trained (`ZeroShotCLIP`).
        case zeroShot = "zero-shot"
        /// VPT-deep trained task after task with nothing against forgetting (the sequential baseline).
        case vptSeq = "vpt-seq"
        /// L2P: a shared prompt pool with keys, top-k per sample.
        case l2p
        /// S-Prompts: one prompt set per task in both towers, chosen at inference by k-means keys (`SPrompts`).
        case sPrompts = "s-prompts"
        /// MaPLe: deep text prompts coupled linearly to the vision prompts (`MaPLe`).
        case maple
        /// DCP: deep prompts of both towers, each layer's from the layer below's of both through a cross-modal
        /// prompt attention (`DeeplyCoupledPrompts`).
        case dcp
        /// LPI-M: low-rank decomposed cross-modal prompts with hierarchical and cross-task alignment.
        case lpiM = "lpi-m"
        /// LPI-P: LPI-M with cross-modal prompt fusion.
        case lpiP = "lpi-p"
        /// LPI's ablation: decomposed prompts alone.
        case dp
        /// LPI's ablation: full (not decomposed) prompts.
        case cp
        /// MPL: MaPLe's coupled prompts with vision prompts added, removed and carried between layers
        /// (`ModularPromptLearning`).
        case mpl
        /// NSP2 with VPT-deep prompts in every vision layer (`NullSpacePromptTuning`).
        case vptNSP2 = "vpt-nsp2"
        /// NSP2 with prompts in the first vision blocks and the frozen text encoder as classifier.
        case clipNSP2 = "clip-nsp2"
    }

    public var name = Name.vptSeq
    /// The prompts of `vpt-seq`, `vpt-nsp2` and `clip-nsp2`.
    public var vpt = VPTSection()
    /// The null space of `vpt-nsp2` and `clip-nsp2`.
    public var nsp2 = NullSpaceSection()
    /// The per-task prompts of `s-prompts`.
    public var sprompts = SPromptsSection()
    /// The coupled prompts of `maple`.
    public var maple = MaPLeSection()
    /// The modular prompts of `mpl`.
    public var mpl = MPLSection()
    /// The deeply coupled prompts of `dcp`.
    public var dcp = DCPSection()
    /// The prompt pool of `l2p`.
    public var l2p = L2PSection()
    /// LPI's settings, for `lpi-m`, `lpi-p`, `dp` and `cp`.
    public var lpi = LPISection()
    /// The task keys of the per-task methods.
    public var taskIdentity = TaskIdentitySection()

    enum CodingKeys: String, CodingKey {
        case name, vpt, nsp2, sprompts, maple, mpl, dcp, l2p, lpi
        case taskIdentity = "task_identity"
    }

    public init() {}

    func validate() throws {
        try vpt.validate()
        try nsp2.validate()
        try sprompts.validate()
        try maple.validate()
        try mpl.validate()
        try dcp.validate()
        try l2p.validate()
        try lpi.validate()
        try taskIdentity.validate()
    }
}

/// `[method.vpt]`: VPT-deep's prompts (`VPTDeep`).
public struct VPTSection: Codable, Equatable, Sendable {
    /// Prompt tokens per prompted layer.
    public var tokens = 4
    /// The prompted vision layers, increasing; [] for every layer.
    public var layers: [Int] = []
    /// "xavier-uniform" (VPT's) or "uniform-unit" (U(-1, 1), NSP2's official code).
    public var initialization = VPTDeep.Initialization.xavierUniform

    public init() {}

    func validate() throws {
        try ConfigCheck.that(tokens > 0, "method.vpt.tokens", "must be > 0, got \(tokens)")
        try ConfigCheck.that(layers.allSatisfy { $0 >= 0 }, "method.vpt.layers", "must be >= 0, got \(layers)")
        try ConfigCheck.that(zip(layers, layers.dropFirst()).allSatisfy { $0 < $1 }, "method.vpt.layers",
                             "must be increasing, got \(layers)")
    }
}
