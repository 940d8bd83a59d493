import CLIP

/// LPI-P's towers on one rank (`LowRankPromptFusion.makeCoupledTowers`): stage A (`CrossModalLockStep`) for a batch
/// of images, stage B (`ConditionedTextTower`) for any texts against one of them, and the way back to the trainable
/// tensors.
///
/// ```
/// forwardImages:  LPI-M's prompts of each image's task (`LowRankPromptInteraction.prepare`: composed, per-sample
///                 sites for mixed tasks), each task's fusion maps composed (`prepareMaps`), stage A
/// forwardTexts:   stage B of image b, P^l_0 of b's task at layer 0
/// backwardTexts:  stage B's backward: the fused rows' gradient into stage A's rows of b, dP^l_0 into its site
/// backwardImages: stage A's backward; prompt sites -> LPI-M's factors (CP backward, D1 shared), map gradients ->
///                 fusion factors (CP backward), LayerNorm gradients straight into their tensors
/// ```
final class LowRankFusionTowers: CoupledTowers {
    let method: LowRankPromptFusion
    let stage: CrossModalLockStep
    let captions: ConditionedTextTower
    let startOfText: Int32
    let capacity: Int
    private var tasks: [Int] = []
    private var textSites: [PromptValues] = []
    /// The image of the last `forwardTexts`.
    private var image = 0

    init(method: LowRankPromptFusion, model: CLIPModel, startOfText: Int32, capacity: Int) throws {
        let settings = method.settings
        self.method = method
        self.startOfText = startOfText
        self.capacity = capacity
        stage = try CrossModalLockStep(model: model, depth: settings.depth, tokens: settings.tokens,
                                       momentum: settings.fusionMomentum, normalization: settings.fusionNormalization,
                                       capacity: capacity)
        captions = try ConditionedTextTower(model: model, depth: settings.depth, tokens: settings.tokens, capacity: capacity)
    }

    func forwardImages(pixels: UnsafePointer<Float>, tasks: [Int], values: ParameterBuffer) -> UnsafePointer<Float> {
        precondition(!tasks.isEmpty && tasks.count <= capacity, "stage A of \(tasks.count) images (capacity \(capacity))")
        self.tasks = tasks
        method.prepare(values: values, batch: PromptBatch(count: tasks.count, tasks: tasks))
        let maps = method.prepareMaps(values: values, tasks: tasks)
        textSites = method.textPrompts(values)
        return stage.forward(pixels: pixels, startOfText: startOfText, visionPrompts: method.visionPrompts(values),
                             textPrompts: textSites, maps: maps, batch: tasks.count)
    }

    func forwardTexts(ids: UnsafePointer<Int32>, count: Int, image: Int) -> UnsafePointer<Float> {
        precondition(image >= 0 && image < tasks.count, "image \(image) of a batch of \(tasks.count)")
        self.image = image
        let first = textSites[0]
        return captions.forward(ids: ids, count: count, stage: stage, image: image,
                                firstPrompt: PromptValues(first.pointer + image * first.batchStride))
    }

    func backwardTexts(dEmbeds: UnsafePointer<Float>, gradients: ParameterBuffer) {
        guard let first = method.textPromptGradients(gradients)[0] else {
            preconditionFailure("LPI-P's first text site has no gradient")
        }
        captions.backward(dEmbeds: dEmbeds, stage: stage,
                          firstPromptGradient: PromptGradient(first.pointer + image * first.batchStride))
    }

    func backwardImages(dEmbeds: UnsafePointer<Float>, values: ParameterBuffer, gradients: ParameterBuffer) {
        stage.backward(dEmbeds: dEmbeds, visionPromptGradients: method.visionPromptGradients(gradients),
                       textPromptGradients: method.textPromptGradients(gradients),
                       mapGradients: method.mapGradients(gradients, tasks: tasks))
        _ = method.finishBackward(values: values, gradients: gradients, batch: PromptBatch(count: tasks.count, tasks: tasks),
                                  globalCount: tasks.count)
        method.backpropagateMaps(values: values, gradients: gradients, tasks: tasks)
    }
}
