import Prompting

/// `[method.lpi]`: LPI's settings for `lpi-m`, `lpi-p` (LPI-M with cross-modal prompt fusion: `fusion_*`) and the
/// ablations `dp` (decomposed prompts, no alignment losses) and `cp` (full prompts, no alignment losses);
/// `LPISettings`. Defaults are the paper's (section 5.1.4).
public struct LPISection: Codable, Equatable, Sendable {
    /// D: prompted layers from the first, in both towers (lpi-p: 2 or more, it fuses before layers 2..D).
    public var depth = 9
    /// L: prompt tokens per layer, in each tower.
    public var tokens = 16
    /// r: the prompt rank (and lpi-p's interaction rank, of the fusion maps' factors).
    public var rank = 4
    /// lambda_1, lambda_2, lambda_3 of eq. 12 (the base objective, HPA, CPA); dp and cp use lambda_1 alone.
    public var baseWeight = 0.8
    public var modalWeight = 0.1
    public var taskWeight = 0.1
    /// tau_modal and tau_task.
    public var modalTemperature = 0.01
    public var taskTemperature = 0.01
    /// "paper" (the equations) or "official" (the retrieval code's form), for HPA and CPA.
    public var modalAlignment = HierarchicalPromptAlignment.Variant.paper
    public var taskAlignment = CrossTaskPromptAlignment.Variant.paper
    /// Task names with cosine similarity at least this are CPA positives.
    public var taskThreshold = 0.4
    /// The task-name similarity, (tasks x tasks) row-major; [] embeds the task names with the frozen text encoder.
    public var taskSimilarity: [Double] = []
    /// N(0, std) initialisation of the factors (decomposed) and of the full prompts (cp).
    public var factorStd = 0.5
    public var fullStd = 0.02
    /// lpi-p: lambda_v = lambda_l of the fusion (eq. 6), the weight of a tower's own prompt rows.
    public var fusionMomentum = 0.9
    /// lpi-p: "none" (eq. 6 as written, the default) or "layer_norm" (the grounding code's learnable LayerNorm on the mix).
    public var fusionNormalization = CrossModalPromptFusion.Normalization.none

    public init() {}

    enum CodingKeys: String, CodingKey {
        case depth, tokens, rank
        case baseWeight = "base_weight", modalWeight = "modal_weight", taskWeight = "task_weight"
        case modalTemperature = "modal_temperature", taskTemperature = "task_temperature"
        case modalAlignment = "modal_alignment", taskAlignment = "task_alignment"
        case taskThreshold = "task_threshold", taskSimilarity = "task_similarity"
        case factorStd = "factor_std", fullStd = "full_std"
        case fusionMomentum = "fusion_momentum", fusionNormalization = "fusion_normalization"
    }

    /// The settings of `method`: "lpi-m" and "lpi-p" (everything), "dp" or "cp" (the base objective alone).
    func settings(decomposed: Bool, aligned: Bool) -> LPISettings {
        var settings = LPISettings()
        settings.depth = depth
        settings.tokens = tokens
        settings.rank = rank
        settings.decomposed = decomposed
        settings.baseWeight = Float(baseWeight)
        settings.modalWeight = aligned ? Float(modalWeight) : 0
        settings.taskWeight = aligned ? Float(taskWeight) : 0
        settings.modalAlignment = HierarchicalPromptAlignment(temperature: modalTemperature, variant: modalAlignment)
        settings.taskAlignment = CrossTaskPromptAlignment(temperature: taskTemperature, variant: taskAlignment)
        settings.taskThreshold = Float(taskThreshold)
        settings.factorStd = Float(factorStd)
        settings.fullStd = Float(fullStd)
        settings.fusionMomentum = Float(fusionMomentum)
        settings.fusionNormalization = fusionNormalization
        return settings
    }

    func validate() throws {
        try ConfigCheck.that(depth > 0, "method.lpi.depth", "must be > 0, got \(depth)")
        try ConfigCheck.that(tokens > 0, "method.lpi.tokens", "must be > 0, got \(tokens)")
        try ConfigCheck.that(rank > 0, "method.lpi.rank", "must be > 0, got \(rank)")
        for (key, value) in [("base_weight", baseWeight), ("modal_weight", modalWeight), ("task_weight", taskWeight),
                             ("factor_std", factorStd), ("full_std", fullStd)] {
            try ConfigCheck.that(value.isFinite && value >= 0, "method.lpi.\(key)", "must be >= 0, got \(value)")
        }
        try ConfigCheck.that(baseWeight > 0, "method.lpi.base_weight", "must be > 0, got \(baseWeight)")
        for (key, value) in [("modal_temperature", modalTemperature), ("task_temperature", taskTemperature)] {
            try ConfigCheck.that(value.isFinite && value > 0, "method.lpi.\(key)", "must be > 0, got \(value)")
        }
        try ConfigCheck.that(fusionMomentum.isFinite && fusionMomentum >= 0 && fusionMomentum <= 1,
                             "method.lpi.fusion_momentum", "must be in [0, 1], got \(fusionMomentum)")
        try ConfigCheck.that(taskSimilarity.allSatisfy { $0.isFinite && abs($0) <= 1 }, "method.lpi.task_similarity",
                             "must hold cosine similarities in [-1, 1]")
    }
}
