import CLIP
import Numerics

/// LPI-P, "Low-rank Prompt Interaction for Continual Vision-Language Retrieval" (ACM MM 2024, section 5.1.1): LPI-M
/// (`LowRankPromptInteraction`: LID prompts, HPA, CPA, per-task prompts chosen by task keys) plus Cross-modal Prompt
/// Fusion (CPF, section 4.3, eq. 6) before every prompted layer but the first, with per-task fusion maps that are
/// themselves CP-decomposed.
///
/// ```
/// parameters of task t:  LPI-M's  lpi.task{t}.d1 (D, r), lpi.task{t}.{vision,text}.d2 (L, r), .d3 (d_m, r)
///                        then     cpf.task{t}.vision.d1 (D-1, r)  cpf.task{t}.vision.d2 (d_l + 1, r)  cpf.task{t}.vision.d3 (d_v, r)
///                                 cpf.task{t}.text.d1   (D-1, r)  cpf.task{t}.text.d2   (d_v + 1, r)  cpf.task{t}.text.d3   (d_l, r)
///                        .layerNorm also cpf.task{t}.vision.norm.{weight,bias} (d_v), cpf.task{t}.text.norm.{weight,bias} (d_l)
/// p^vis_t  = CP(cpf.vision.d1, d2, d3)  (D-1, d_l + 1, d_v)      p^text_t = CP(cpf.text.d1, d2, d3)  (D-1, d_v + 1, d_l)
/// step:    stage A (`CrossModalLockStep`): vision tower and text prefix [SOT ; P^l_0] in lock-step, CPF with p_t
///          stage B (`ConditionedTextTower`): each text through the text tower with one image's fused rows
/// loss = lambda_1 L_base(image, text | image) + lambda_2 HPA + lambda_3 CPA                  (eq. 12, as LPI-M)
/// ```
/// The paper sets the prompt rank and the interaction rank to 4 (section 5.1.4); one setting, `rank`, sets both.
/// Initialisation: LPI-M's factors as LPI-M (N(0, factor_std)); every CPF factor U(-1/sqrt(r), 1/sqrt(r)), which is
/// U(-0.5, 0.5) at r = 4: the grounding code's `InteractModule.reset_parameters` (Kelvin-ywc/LPI,
/// grounding/maskrcnn_benchmark/modeling/bert/modeling_bert.py) draws each factor (rows, r) with torch's
/// `kaiming_uniform_(a=sqrt(5))`, whose bound is gain * sqrt(3 / fan_in) = sqrt(2 / 6) * sqrt(3 / r) = 1 / sqrt(r);
/// its LayerNorms start as torch's (weight 1, bias 0).
///
/// Task t trains LPI-M's tensors of t and its own fusion factors (`trainedRange`), which lie next to each other.
/// The step is not `PromptMethod`'s (the text side depends on the image): the trainer runs it through
/// `makeCoupledTowers` (`CoupledStepMethod`). As a `PromptMethod` it gives LPI-M's prompts without fusion, what
/// retrieval ranks the gallery with before re-scoring the best candidates with fusion.
public final class LowRankPromptFusion: CoupledStepMethod {
    /// LPI-M: the prompts, their alignment losses and their plans.
    public let base: LowRankPromptInteraction
    /// D - 1: the fused layers.
    public let fusedLayers: Int
    public let visionMapShape: CPComposition.Shape
    public let textMapShape: CPComposition.Shape
    private let maps: PromptScratch
    private let mapGradientSlots: PromptScratch

    /// - Throws: `PromptPlanError` when the depth is not in 2 ... the layers of the shallower tower (fusion needs two
    ///   prompted layers), or as `LowRankPromptInteraction`.
    public init(name: String, model: CLIPConfig, taskCount: Int, settings: LPISettings, taskNameSimilarity: [Float]) throws {
        let layers = min(model.vision.encoder.layers, model.text.encoder.layers)
        guard settings.depth >= 2, settings.depth <= layers else {
            throw PromptPlanError.fusionDepth(settings.depth, layers: layers)
        }
        precondition(settings.decomposed, "LPI-P composes its prompts from low-rank factors")
        base = try LowRankPromptInteraction(name: name, model: model, taskCount: taskCount, settings: settings,
                                            taskNameSimilarity: taskNameSimilarity)
        fusedLayers = settings.depth - 1
        let (dv, dl) = (model.vision.encoder.hiddenSize, model.text.encoder.hiddenSize)
        visionMapShape = CrossModalPromptFusion.visionMapShape(fusedLayers: fusedLayers, visionWidth: dv, textWidth: dl,
                                                               rank: settings.rank)
        textMapShape = CrossModalPromptFusion.textMapShape(fusedLayers: fusedLayers, visionWidth: dv, textWidth: dl,
                                                           rank: settings.rank)
        let size = visionMapShape.count + textMapShape.count
        maps = PromptScratch(capacity: taskCount * size)
        mapGradientSlots = PromptScratch(capacity: taskCount * size)
    }

    public var name: String { base.name }
    public var settings: LPISettings { base.settings }
    public var taskCount: Int { base.taskCount }
    public var visionPlan: PromptPlan { base.visionPlan }
    public var textPlan: PromptPlan { base.textPlan }
    public var selectsByTask: Bool { true }
    /// lambda_1.
    public var objectiveWeight: Float { base.objectiveWeight }
    private var normed: Bool { settings.fusionNormalization == .layerNorm }
    /// One task's p^vis and p^text, one after the other.
    private var mapSize: Int { visionMapShape.count + textMapShape.count }

    /// The names of task t's fusion tensors, in layout order.
    public func fusionNames(task: Int) -> [String] {
        let factors = ["vision", "text"].flatMap { m in ["d1", "d2", "d3"].map { "cpf.task\(task).\(m).\($0)" } }
        let norms = ["vision", "text"].flatMap { m in ["weight", "bias"].map { "cpf.task\(task).\(m).norm.\($0)" } }
        return factors + (normed ? norms : [])
    }

    /// Per task: LPI-M's tensors, then the fusion factors (and LayerNorms).
    public func declare(into layout: inout ParameterLayout) {
        let (dv, dl, r) = (visionMapShape.k, textMapShape.k, settings.rank)
        let shapes = [[fusedLayers, r], [dl + 1, r], [dv, r], [fusedLayers, r], [dv + 1, r], [dl, r], [dv], [dv], [dl], [dl]]
        for task in 0..<taskCount {
            base.declare(task: task, into: &layout)
            for (name, shape) in zip(fusionNames(task: task), shapes) { layout.append(name, shape) }
        }
    }

    /// LPI-M's initialisation of its tensors; the fusion factors U(-1/sqrt(r), 1/sqrt(r)) from a generator of their
    /// own (so LPI-M's tensors start as `lpi-m`'s with the same seed), the LayerNorms at weight 1, bias 0.
    public func initialize(_ values: ParameterBuffer, seed: UInt64) {
        base.initialize(values, seed: seed)
        var generator = SplitMix64(seed: seed ^ 0x4350_4621)
        let bound = 1 / Float(settings.rank).squareRoot()
        for task in 0..<taskCount {
            for name in fusionNames(task: task) {
                let count = values.layout.entry(name)!.count
                if name.hasSuffix(".norm.weight") {
                    values[name].update(repeating: 1, count: count)
                } else if name.hasSuffix(".norm.bias") {
                    values[name].update(repeating: 0, count: count)
                } else {
                    generator.fillUniform(values[name], count: count, low: -bound, high: bound)
                }
            }
        }
    }

    /// Task t's LPI-M tensors and its fusion tensors.
    public func trainedRange(task: Int, in layout: ParameterLayout) -> Range<Int> {
        let prompts = base.trainedRange(task: task, in: layout)
        guard let last = layout.entry(fusionNames(task: task).last!) else {
            preconditionFailure("task \(task)'s CPF tensors are not in the trainable layout")
        }
        return prompts.lowerBound..<(last.offset + last.count)
    }

    // MARK: LPI-M's prompts (no fusion)

    public func prepare(values: ParameterBuffer, batch: PromptBatch) { base.prepare(values: values, batch: batch) }
    public func visionPrompts(_ values: ParameterBuffer) -> [PromptValues] { base.visionPrompts(values) }
    public func visionPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] { base.visionPromptGradients(gradients) }
    public func textPrompts(_ values: ParameterBuffer) -> [PromptValues] { base.textPrompts(values) }
    public func textPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] { base.textPromptGradients(gradients) }
    public func finishBackward(values: ParameterBuffer, gradients: ParameterBuffer, batch: PromptBatch,
                               globalCount: Int) -> Float {
        base.finishBackward(values: values, gradients: gradients, batch: batch, globalCount: globalCount)
    }

    /// HPA and CPA over LPI-M's prompts, as `lpi-m` adds them; the fusion maps have no loss of their own.
    public func addPromptLoss(values: ParameterBuffer, gradients: ParameterBuffer, task: Int) -> Float {
        base.addPromptLoss(values: values, gradients: gradients, task: task)
    }

    // MARK: The fusion maps

    /// Composes p^vis_t and p^text_t of the tasks in `tasks` from `values` and clears their gradient slots; returns
    /// sample b's maps for each entry `tasks[b]`.
    func prepareMaps(values: ParameterBuffer, tasks: [Int]) -> [CrossModalPromptFusion.Maps] {
        for task in Array(Set(tasks)).sorted() {
            let names = fusionNames(task: task)
            let slot = maps.pointer + task * mapSize
            CPComposition.forward(a: values[names[0]], b: values[names[1]], c: values[names[2]], shape: visionMapShape,
                                  into: slot)
            CPComposition.forward(a: values[names[3]], b: values[names[4]], c: values[names[5]], shape: textMapShape,
                                  into: slot + visionMapShape.count)
            (mapGradientSlots.pointer + task * mapSize).update(repeating: 0, count: mapSize)
        }
        return tasks.map { task in
            let slot = UnsafePointer(maps.pointer + task * mapSize)
            func norm(_ m: String) -> CrossModalPromptFusion.LayerNormWeights? {
                normed ? .init(weight: values["cpf.task\(task).\(m).norm.weight"], bias: values["cpf.task\(task).\(m).norm.bias"]) : nil
            }
            return CrossModalPromptFusion.Maps(vision: slot, text: slot + visionMapShape.count, visionNorm: norm("vision"),
                                               textNorm: norm("text"))
        }
    }

    /// Where sample b's map gradients accumulate: the gradient slots of task `tasks[b]`'s composed maps, and its
    /// LayerNorms' gradients in `gradients`.
    func mapGradients(_ gradients: ParameterBuffer, tasks: [Int]) -> [CrossModalPromptFusion.MapGradients] {
        tasks.map { task in
            let slot = mapGradientSlots.pointer + task * mapSize
            func norm(_ m: String) -> CrossModalPromptFusion.LayerNormGradients? {
                normed ? .init(weight: gradients["cpf.task\(task).\(m).norm.weight"],
                               bias: gradients["cpf.task\(task).\(m).norm.bias"]) : nil
            }
            return CrossModalPromptFusion.MapGradients(vision: slot, text: slot + visionMapShape.count,
                                                       visionNorm: norm("vision"), textNorm: norm("text"))
        }
    }

    /// In the forward this was p^vis_t = CP(d1, d2, d3), p^text_t likewise: the gradient slots of the tasks in
    /// `tasks` back to their factors (`+=`).
    func backpropagateMaps(values: ParameterBuffer, gradients: ParameterBuffer, tasks: [Int]) {
        for task in Array(Set(tasks)).sorted() {
            let names = fusionNames(task: task), slot = mapGradientSlots.pointer + task * mapSize
            CPComposition.backward(dP: slot, a: values[names[0]], b: values[names[1]], c: values[names[2]],
                                   shape: visionMapShape, dA: gradients[names[0]], dB: gradients[names[1]],
                                   dC: gradients[names[2]])
            CPComposition.backward(dP: slot + visionMapShape.count, a: values[names[3]], b: values[names[4]],
                                   c: values[names[5]], shape: textMapShape, dA: gradients[names[3]],
                                   dB: gradients[names[4]], dC: gradients[names[5]])
        }
    }

    // MARK: The coupled step

    public func makeCoupledTowers(model: CLIPModel, startOfText: Int32, capacity: Int) throws -> any CoupledTowers {
        try LowRankFusionTowers(method: self, model: model, startOfText: startOfText, capacity: capacity)
    }
}
