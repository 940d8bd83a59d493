import CLIP
import Numerics

/// LPI, "Low-rank Prompt Interaction for Continual Vision-Language Retrieval" (ACM MM 2024): per task, deep
/// prompts in both towers built from low-rank factors that the two modalities share (LID, eq. 3), aligned
/// across layers (HPA, eq. 4-5) and across tasks (CPA, eq. 7-11); LPI-M in the paper's terms, and the
/// ablations DP (decomposed prompts alone) and CP (full prompt tensors).
///
/// ```
/// parameters of task t (decomposed):  lpi.task{t}.d1 (D, r)   lpi.task{t}.vision.d2 (L, r)  lpi.task{t}.vision.d3 (Dv, r)
///                                                             lpi.task{t}.text.d2   (L, r)  lpi.task{t}.text.d3   (Dt, r)
///             PV_t = CP(D1, D2v, D3v) (D, L, Dv)    PL_t = CP(D1, D2l, D3l) (D, L, Dt)        (`CPComposition`)
/// parameters of task t (full, CP):    lpi.task{t}.vision = PV_t (D, L, Dv)    lpi.task{t}.text = PL_t (D, L, Dt)
/// layer i < D of each tower (eq. 1):  i = 0: X <- [X ; P_0]  (insert)      i > 0: X <- X + P_i on the prompt rows (add)
/// loss = lambda_1 L_base + lambda_2 HPA(PV_t, PL_t) + lambda_3 CPA(PV_0..t, PL_0..t)                           (eq. 12)
/// ```
/// Task t trains its own tensors only (`trainedRange`); at inference each sample takes the prompts of the task
/// its frozen features predict (task keys), images and captions separately. The paper's deep prompts at every
/// prompted layer are implemented (the official retrieval code only uses layer 0).
public final class LowRankPromptInteraction: PromptMethod {
    public let name: String
    public let settings: LPISettings
    public let taskCount: Int
    public let visionWidth: Int
    public let textWidth: Int
    public let visionPlan: PromptPlan
    public let textPlan: PromptPlan
    /// z (taskCount, taskCount): CPA's positives, from the task-name similarity.
    public let taskTargets: [Float]
    private let vision: LPIModalityPrompts
    private let text: LPIModalityPrompts

    /// - Parameter taskNameSimilarity: (taskCount, taskCount) cosine similarities of the task names.
    public init(name: String, model: CLIPConfig, taskCount: Int, settings: LPISettings, taskNameSimilarity: [Float]) throws {
        let layers = min(model.vision.encoder.layers, model.text.encoder.layers)
        guard settings.depth >= 1, settings.depth <= layers else { throw PromptPlanError.depth(settings.depth, layers: layers) }
        self.name = name
        self.settings = settings
        self.taskCount = taskCount
        visionWidth = model.vision.encoder.hiddenSize
        textWidth = model.text.encoder.hiddenSize
        let sites = (0..<settings.depth).map {
            PromptPlan.Site(layer: $0, tokens: settings.tokens, mode: $0 == 0 ? .insert : .add)
        }
        visionPlan = try PromptPlan(sites: sites, layers: model.vision.encoder.layers)
        textPlan = try PromptPlan(sites: sites, layers: model.text.encoder.layers)
        taskTargets = CrossTaskPromptAlignment.targets(similarity: taskNameSimilarity, taskCount: taskCount,
                                                       threshold: settings.taskThreshold)
        vision = LPIModalityPrompts(modality: "vision", width: visionWidth, settings: settings, taskCount: taskCount)
        text = LPIModalityPrompts(modality: "text", width: textWidth, settings: settings, taskCount: taskCount)
    }

    public var selectsByTask: Bool { true }
    /// lambda_1: the trainer weighs the objective (loss and gradient) by it.
    public var objectiveWeight: Float { settings.baseWeight }

    private func sharedName(_ task: Int) -> String { "lpi.task\(task).d1" }

    /// Per task, in order: d1 and both modalities' factors (decomposed), or the two full prompt tensors.
    public func declare(into layout: inout ParameterLayout) {
        for task in 0..<taskCount { declare(task: task, into: &layout) }
    }

    /// Task `task`'s tensors, next to each other (LPI-P appends its fusion factors after each task's).
    func declare(task: Int, into layout: inout ParameterLayout) {
        if settings.decomposed { layout.append(sharedName(task), [settings.depth, settings.rank]) }
        vision.declare(task: task, into: &layout)
        text.declare(task: task, into: &layout)
    }

    public func initialize(_ values: ParameterBuffer, seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        for entry in values.layout.entries where entry.name.hasPrefix("lpi.") {
            generator.fillNormal(values[entry.name], count: entry.count,
                                 std: settings.decomposed ? settings.factorStd : settings.fullStd)
        }
    }

    /// Task t's tensors, which lie next to each other.
    public func trainedRange(task: Int, in layout: ParameterLayout) -> Range<Int> {
        let first = settings.decomposed ? sharedName(task) : vision.names(task: task)[0]
        let last = text.names(task: task).last!
        guard let start = layout.entry(first), let end = layout.entry(last) else {
            preconditionFailure("task \(task)'s LPI tensors are not in the trainable layout")
        }
        return start.offset..<(end.offset + end.count)
    }

    public func prepare(values: ParameterBuffer, batch: PromptBatch) {
        let tasks = Array(Set(batch.tasks)).sorted()
        for task in tasks {
            vision.compose(task: task, shared: shared(values, task), values: values)
            text.compose(task: task, shared: shared(values, task), values: values)
        }
        vision.prepareSites(batch: batch, tasks: tasks, values: values)
        text.prepareSites(batch: batch, tasks: tasks, values: values)
    }

    private func shared(_ values: ParameterBuffer, _ task: Int) -> UnsafePointer<Float>? {
        settings.decomposed ? UnsafePointer(values[sharedName(task)]) : nil
    }

    public func visionPrompts(_ values: ParameterBuffer) -> [PromptValues] { vision.sitePrompts(values) }
    public func visionPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] { vision.siteGradients(gradients) }
    public func textPrompts(_ values: ParameterBuffer) -> [PromptValues] { text.sitePrompts(values) }
    public func textPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] { text.siteGradients(gradients) }

    /// The prompt gradients of the batch's tasks back to their tensors (decomposed: D1 takes both modalities').
    public func finishBackward(values: ParameterBuffer, gradients: ParameterBuffer, batch: PromptBatch,
                               globalCount: Int) -> Float {
        vision.scatterSiteGradients()
        text.scatterSiteGradients()
        for task in Array(Set(batch.tasks)).sorted() {
            let dShared = settings.decomposed ? gradients[sharedName(task)] : nil
            vision.backpropagateSlot(task: task, shared: shared(values, task), dShared: dShared, values: values,
                                     gradients: gradients)
            text.backpropagateSlot(task: task, shared: shared(values, task), dShared: dShared, values: values,
                                   gradients: gradients)
        }
        return 0
    }

    /// lambda_2 HPA(PV_t, PL_t) + lambda_3 CPA over tasks 0...t, with their gradients into task t's tensors.
    public func addPromptLoss(values: ParameterBuffer, gradients: ParameterBuffer, task: Int) -> Float {
        guard settings.modalWeight != 0 || settings.taskWeight != 0 else { return 0 }
        for seen in 0...task {
            vision.compose(task: seen, shared: shared(values, seen), values: values)
            text.compose(task: seen, shared: shared(values, seen), values: values)
        }
        let dVision = vision.alignmentGradient(tasks: task + 1), dText = text.alignmentGradient(tasks: task + 1)
        var loss: Float = 0
        if settings.modalWeight != 0 {
            loss += settings.modalWeight * settings.modalAlignment.loss(
                visual: vision.prompts(task: task, values: values), textual: text.prompts(task: task, values: values),
                layers: settings.depth, tokens: settings.tokens, visualWidth: visionWidth, textualWidth: textWidth,
                dVisual: dVision + task * vision.size, dTextual: dText + task * text.size, weight: settings.modalWeight)
        }
        if settings.taskWeight != 0 {
            let k = task + 1
            let targets = (0..<k).flatMap { i in (0..<k).map { j in taskTargets[i * taskCount + j] } }
            loss += settings.taskWeight * settings.taskAlignment.loss(
                visual: vision.allPrompts(tasks: k, values: values), visualWidth: vision.size,
                textual: text.allPrompts(tasks: k, values: values), textualWidth: text.size, taskCount: k,
                targets: targets, dVisual: dVision, dTextual: dText, weight: settings.taskWeight)
        }
        let dShared = settings.decomposed ? gradients[sharedName(task)] : nil
        vision.addAlignmentGradient(task: task, shared: shared(values, task), dShared: dShared, values: values,
                                    gradients: gradients)
        text.addAlignmentGradient(task: task, shared: shared(values, task), dShared: dShared, values: values,
                                  gradients: gradients)
        return loss
    }
}
