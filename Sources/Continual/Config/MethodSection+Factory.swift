import CLIP
import Prompting

extension MethodSection {
    /// The method `name` names, with its sub-table's settings, for `context`'s model and schedule. Throws a
    /// `ConfigError` naming the key when a setting does not fit the model, and for a method this release
    /// does not implement yet.
    public func makeMethod(_ context: MethodContext) throws -> any PromptMethod {
        let vision = context.model.vision
        switch name {
        case .zeroShot:
            return ZeroShotCLIP()
        case .vptSeq:
            return try vptPrompts(vision: vision)
        case .vptNSP2:
            return try nullSpaceMethod(.vpt, vision: vision)
        case .clipNSP2:
            return try nullSpaceMethod(.clip, vision: vision)
        case .sPrompts:
            return try SPrompts(model: context.model, taskCount: context.taskCount,
                                visionTokens: sprompts.visionTokens, textTokens: sprompts.textTokens)
        case .maple:
            do {
                return try MaPLe(model: context.model, tokens: maple.tokens, depth: maple.depth)
            } catch let error as PromptPlanError {
                throw ConfigError.invalid(key: "method.maple.depth", problem: error.description)
            }
        case .mpl:
            do {
                return try ModularPromptLearning(model: context.model, tokens: mpl.tokens, added: mpl.add,
                                                 removed: mpl.remove, depth: mpl.depth,
                                                 clonedCouplings: mpl.clonedCouplings)
            } catch let error as PromptPlanError {
                throw ConfigError.invalid(key: "method.mpl.depth", problem: error.description)
            }
        case .dcp:
            do {
                return try DeeplyCoupledPrompts(model: context.model, tokens: dcp.tokens, depth: dcp.depth,
                                                sharedAttention: dcp.sharedAttention)
            } catch let error as PromptPlanError {
                throw ConfigError.invalid(key: "method.dcp.depth", problem: error.description)
            }
        case .l2p:
            return try LearningToPrompt(model: context.model, poolSize: l2p.poolSize, length: l2p.length,
                                        topK: l2p.topK, pullCoefficient: l2p.pullCoefficient)
        case .lpiM, .dp, .cp:
            return try lowRankMethod(context)
        case .lpiP:
            return try lowRankMethod(context)
        }
    }

    /// The methods `makeMethod` builds in this release.
    public static let implemented: [Name] = [.zeroShot, .vptSeq, .l2p, .sPrompts, .maple, .mpl, .dcp, .lpiM, .lpiP, .dp, .cp,
                                          .vptNSP2, .clipNSP2]

    /// Whether building the method needs the task-name similarity and `[method.lpi]` does not give it (the
    /// trainer then embeds the task names with the frozen text encoder).
    public var needsTaskNameSimilarity: Bool { (name == .lpiM || name == .lpiP) && lpi.taskSimilarity.isEmpty }

    /// LPI-M, LPI-P, DP or CP with `[method.lpi]`'s settings.
    private func lowRankMethod(_ context: MethodContext) throws -> any PromptMethod {
        let tasks = context.taskCount
        var similarity: [Float]
        if !lpi.taskSimilarity.isEmpty {
            guard lpi.taskSimilarity.count == tasks * tasks else {
                throw ConfigError.invalid(key: "method.lpi.task_similarity",
                                          problem: "has \(lpi.taskSimilarity.count) values; \(tasks) tasks need \(tasks * tasks) "
                                          + "(tasks x tasks, row-major)")
            }
            similarity = lpi.taskSimilarity.map(Float.init)
        } else if let computed = context.taskNameSimilarity {
            similarity = computed
        } else {
            // DP and CP do not align tasks: the similarity is never read.
            similarity = [Float](repeating: 0, count: tasks * tasks)
            for t in 0..<tasks { similarity[t * tasks + t] = 1 }
        }
        let settings = lpi.settings(decomposed: name != .cp, aligned: name == .lpiM || name == .lpiP)
        do {
            if name == .lpiP {
                return try LowRankPromptFusion(name: name.rawValue, model: context.model, taskCount: tasks,
                                               settings: settings, taskNameSimilarity: similarity)
            }
            return try LowRankPromptInteraction(name: name.rawValue, model: context.model, taskCount: tasks,
                                                settings: settings, taskNameSimilarity: similarity)
        } catch let error as PromptPlanError {
            throw ConfigError.invalid(key: "method.lpi.depth", problem: error.description)
        }
    }

    /// NSP2 on `[method.vpt]`'s prompts. The adaptive rule needs 3 singular values in each spectrum, and
    /// Omega2's has one per prompt token: fewer tokens are refused here rather than after the first task.
    private func nullSpaceMethod(_ variant: NullSpacePromptTuning.Variant, vision: CLIPVisionConfig) throws -> NullSpacePromptTuning {
        if nsp2.threshold == .adaptive && vpt.tokens < 3 {
            throw ConfigError.invalid(key: "method.vpt.tokens",
                                      problem: "\(vpt.tokens) prompt tokens are too few for \(name.rawValue)'s adaptive "
                                      + "null-space threshold (it needs 3 or more; or set method.nsp2.threshold = \"adam-nscl\")")
        }
        return NullSpacePromptTuning(variant: variant, prompts: try vptPrompts(vision: vision), settings: nsp2.settings)
    }

    /// `[method.vpt]`'s prompts on this vision tower.
    private func vptPrompts(vision: CLIPVisionConfig) throws -> VPTDeep {
        guard vpt.layers.allSatisfy({ $0 < vision.encoder.layers }) else {
            throw ConfigError.invalid(key: "method.vpt.layers",
                                      problem: "\(vpt.layers) has a layer outside the model's 0..<\(vision.encoder.layers)")
        }
        return try VPTDeep(config: vision, tokens: vpt.tokens, layers: vpt.layers.isEmpty ? nil : vpt.layers,
                           initialization: vpt.initialization)
    }
}
