import CLIP
import Numerics

/// L2P, "Learning to Prompt for Continual Learning" (Wang et al., CVPR 2022), on CLIP's vision tower: one
/// pool of prompts with learned keys shared by all tasks; each sample prepends the k prompts whose keys best
/// match its frozen image feature, and a pull constraint draws the chosen keys towards the queries.
///
/// ```
/// parameters: l2p.prompts (M, length, Dv)    l2p.keys (M, E)
/// query q_b   = frozen image embedding of sample b (the tower without prompts), (E)
/// idx[b]      = top-k of cos(q_b, keys), per sample          (`PromptPool.select`; never a batch vote)
/// layer 0:    X_b <- [CLS, prompts[idx[b][0]] ; ... ; prompts[idx[b][k-1]], patches]   (k * length tokens)
/// loss       += c / N sum_b sum_j (1 - cos(q_b, key_{idx[b][j]}))                       (`pullLoss`, N = global batch)
/// ```
/// Defaults as the paper's: M = 10, length 5, k = 5, c = 0.1; U(-1, 1) initialisation of prompts and keys (the
/// official code's). Differences from the official ViT code, where CLIP replaces the classifier: the query is
/// CLIP's projected image embedding (E) rather than the ViT's pre-logits [CLS] (Dv), and the image embedding
/// is CLIP's (class token through the projection) rather than the mean of the prompt tokens' outputs.
public final class LearningToPrompt: PromptMethod {
    public let pool: PromptPool
    public let pullCoefficient: Double
    public let visionPlan: PromptPlan
    private let block = PromptScratch()
    private let blockGradients = PromptScratch()
    private var selection: PromptPoolSelection?
    private var queries: UnsafePointer<Float>?

    public init(model: CLIPConfig, poolSize: Int = 10, length: Int = 5, topK: Int = 5, pullCoefficient: Double = 0.1) throws {
        pool = PromptPool(size: poolSize, length: length, width: model.vision.encoder.hiddenSize,
                          keyWidth: model.projectionDim, topK: topK)
        self.pullCoefficient = pullCoefficient
        visionPlan = try PromptPlan(sites: [.init(layer: 0, tokens: pool.blockTokens, mode: .insert)],
                                    layers: model.vision.encoder.layers)
    }

    public var name: String { "l2p" }
    public var textPlan: PromptPlan { .none }
    public var needsImageQueries: Bool { true }

    /// `l2p.prompts` (M, length, Dv) then `l2p.keys` (M, E).
    public func declare(into layout: inout ParameterLayout) {
        layout.append("l2p.prompts", [pool.size, pool.length, pool.width])
        layout.append("l2p.keys", [pool.size, pool.keyWidth])
    }

    public func initialize(_ values: ParameterBuffer, seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        generator.fillUniform(values["l2p.prompts"], count: pool.valueCount, low: -1, high: 1)
        generator.fillUniform(values["l2p.keys"], count: pool.keyCount, low: -1, high: 1)
    }

    /// Selects each sample's prompts from its query and gathers them into the batch's block.
    public func prepare(values: ParameterBuffer, batch: PromptBatch) {
        guard let imageQueries = batch.imageQueries else {
            preconditionFailure("l2p needs the batch's frozen image features (PromptBatch.imageQueries)")
        }
        let chosen = pool.select(queries: imageQueries, keys: values["l2p.keys"], count: batch.count)
        let size = batch.count * pool.blockTokens * pool.width
        pool.gather(values: values["l2p.prompts"], selection: chosen, into: block.reserve(size))
        blockGradients.zeroed(size)
        selection = chosen
        queries = imageQueries
    }

    public func visionPrompts(_ values: ParameterBuffer) -> [PromptValues] {
        [PromptValues(block.pointer, batchStride: pool.blockTokens * pool.width)]
    }

    public func visionPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] {
        [PromptGradient(blockGradients.pointer, batchStride: pool.blockTokens * pool.width)]
    }

    public func textPrompts(_ values: ParameterBuffer) -> [PromptValues] { [] }
    public func textPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] { [] }

    /// The block's gradient back to the chosen prompts; the pull constraint's value and key gradient.
    public func finishBackward(values: ParameterBuffer, gradients: ParameterBuffer, batch: PromptBatch,
                               globalCount: Int) -> Float {
        guard let selection, let queries else { preconditionFailure("l2p: finishBackward before prepare") }
        pool.scatterGradients(blockGradients.pointer, selection: selection, into: gradients["l2p.prompts"])
        return Float(pool.pullLoss(queries: queries, keys: values["l2p.keys"], selection: selection,
                                   coefficient: pullCoefficient, normalizer: globalCount,
                                   keyGradients: gradients["l2p.keys"]))
    }
}
