import CLIP
import Numerics

/// The inputs of one measured step or evaluation, seeded: B images of N(0, 1) pixels, B captions of a fixed
/// length, each site's prompt values (U(-1, 1)) and their gradients (zero, accumulated into), and fixed text
/// embeddings for a step that leaves the text tower out.
/// ```
/// pixels        (B, C, H, W)
/// ids           (B, context)   [SOT, w_1 .. w_k, EOT, pad ..], k + 2 = caption tokens   (with a text tower)
/// textEmbeds    (B, E)         N(0, 1)                                                     (without one)
/// prompts       per site: (c, D) of its tower, shared by the batch
/// ```
final class BenchBatch {
    let batch: Int
    let pixels: UnsafeMutablePointer<Float>
    let textEmbeds: UnsafeMutablePointer<Float>?
    let ids: [Int32]
    let visionPrompts: [PromptValues]
    let visionGradients: [PromptGradient?]
    let textPrompts: [PromptValues]
    let textGradients: [PromptGradient?]
    /// Bytes of everything above (for memory reports).
    let byteCount: Int
    private let buffers: [UnsafeMutablePointer<Float>]

    /// `textPlan`: the text tower's plan (`.none`: unprompted), nil where the text tower does not run.
    init(config: CLIPConfig, visionPlan: PromptPlan, textPlan: PromptPlan?, batch: Int, captionTokens: Int) {
        precondition(captionTokens >= 2 && captionTokens <= config.text.contextLength,
                     "bench batch: \(captionTokens) caption tokens outside 2...\(config.text.contextLength)")
        self.batch = batch
        var generator = SplitMix64(seed: 7)
        var buffers: [UnsafeMutablePointer<Float>] = []
        var floats = 0
        func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
            floats += max(count, 1)
            let pointer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            pointer.initialize(repeating: 0, count: max(count, 1))
            buffers.append(pointer)
            return pointer
        }
        let vision = config.vision
        let pixelCount = batch * vision.channels * vision.imageSize * vision.imageSize
        pixels = allocate(pixelCount)
        generator.fillNormal(pixels, count: pixelCount, std: 1)
        if textPlan == nil {
            let embeds = allocate(batch * config.projectionDim)
            generator.fillNormal(embeds, count: batch * config.projectionDim, std: 1)
            textEmbeds = embeds
        } else {
            textEmbeds = nil
        }
        let text = config.text
        if textPlan != nil {
            var ids = [Int32](repeating: Int32(text.padTokenID), count: batch * text.contextLength)
            let words = min(text.bosTokenID, text.eosTokenID)
            for b in 0..<batch {
                let row = b * text.contextLength
                ids[row] = Int32(text.bosTokenID)
                for t in 1..<(captionTokens - 1) { ids[row + t] = Int32((b * 31 + t * 7) % words) }
                ids[row + captionTokens - 1] = Int32(text.eosTokenID)
            }
            self.ids = ids
        } else {
            ids = []
        }
        func prompts(_ plan: PromptPlan, width: Int) -> ([PromptValues], [PromptGradient?]) {
            guard !plan.sites.isEmpty else { return ([], []) }
            let count = plan.sites.reduce(0) { $0 + $1.tokens } * width
            let values = allocate(count), gradients = allocate(count)
            generator.fillUniform(values, count: count, low: -1, high: 1)
            var offset = 0
            var sites: [(PromptValues, PromptGradient?)] = []
            for site in plan.sites {
                sites.append((PromptValues(values + offset), PromptGradient(gradients + offset)))
                offset += site.tokens * width
            }
            return (sites.map(\.0), sites.map(\.1))
        }
        (visionPrompts, visionGradients) = prompts(visionPlan, width: vision.encoder.hiddenSize)
        (textPrompts, textGradients) = textPlan.map { prompts($0, width: text.encoder.hiddenSize) } ?? ([], [])
        self.buffers = buffers
        byteCount = floats * MemoryLayout<Float>.stride + ids.count * MemoryLayout<Int32>.stride
    }

    deinit { buffers.forEach { $0.deallocate() } }
}
