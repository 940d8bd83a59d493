import Prompting

/// `[method]`: which prompt method trains, with each method's settings in its own sub-table.
public struct MethodSection: Codable, Equatable, Sendable {
    public enum Name: String, Codable, Sendable, CaseIterable {
        /// VPT-deep trained task after task with nothing against forgetting (the sequential baseline).
        case vptDeep = "vpt-deep"
        /// NSP2 with VPT-deep prompts in every vision layer (`NullSpacePromptTuning`).
        case vptNSP2 = "vpt-nsp2"
        /// NSP2 with prompts in the first vision blocks and the frozen text encoder as classifier.
        case clipNSP2 = "clip-nsp2"
    }

    public var name = Name.vptDeep
    /// The prompts of `vpt-deep`, `vpt-nsp2` and `clip-nsp2`.
    public var vpt = VPTSection()
    /// The null space of `vpt-nsp2` and `clip-nsp2`.
    public var nsp2 = NullSpaceSection()

    public init() {}

    func validate() throws {
        try vpt.validate()
        try nsp2.validate()
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
