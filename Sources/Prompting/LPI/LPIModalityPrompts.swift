import CLIP

/// One modality's prompts of `LowRankPromptInteraction`, for every task: the tensors it declares, the prompts
/// composed from them (cached per task), the prompt sites fed to the tower, and the way back from prompt
/// gradients to the tensors.
///
/// ```
/// decomposed:  lpi.task{t}.{m}.d2 (L, r), lpi.task{t}.{m}.d3 (width, r);  P_t = CP(D1_t, D2, D3)   (D, L, width)
/// full (CP):   lpi.task{t}.{m} = P_t                                                              (D, L, width)
/// composed[t] = P_t;   site i of the tower reads composed[task of the sample][i] (L, width)
/// gradient:    dP_t (per-task slot) -> dD1_t, dD2, dD3 += CP backward  |  dlpi.task{t}.{m} += dP_t
/// ```
final class LPIModalityPrompts {
    let modality: String
    let width: Int
    let settings: LPISettings
    let taskCount: Int
    /// D * L * width: one task's prompts.
    let size: Int
    private let composed: PromptScratch
    private let gradientSlots: PromptScratch
    private let alignmentGradients: PromptScratch
    private let sites: [TaskPromptSite]

    init(modality: String, width: Int, settings: LPISettings, taskCount: Int) {
        self.modality = modality
        self.width = width
        self.settings = settings
        self.taskCount = taskCount
        size = settings.depth * settings.tokens * width
        composed = PromptScratch(capacity: taskCount * size)
        gradientSlots = PromptScratch(capacity: taskCount * size)
        alignmentGradients = PromptScratch(capacity: taskCount * size)
        sites = (0..<settings.depth).map { _ in TaskPromptSite(tokens: settings.tokens, width: width) }
    }

    private var siteSize: Int { settings.tokens * width }
    private var shape: CPComposition.Shape {
        CPComposition.Shape(i: settings.depth, j: settings.tokens, k: width, rank: settings.rank)
    }

    /// The tensor names of `task` in this modality, in layout order.
    func names(task: Int) -> [String] {
        settings.decomposed ? ["lpi.task\(task).\(modality).d2", "lpi.task\(task).\(modality).d3"]
                            : ["lpi.task\(task).\(modality)"]
    }

    func declare(task: Int, into layout: inout ParameterLayout) {
        if settings.decomposed {
            layout.append(names(task: task)[0], [settings.tokens, settings.rank])
            layout.append(names(task: task)[1], [width, settings.rank])
        } else {
            layout.append(names(task: task)[0], [settings.depth, settings.tokens, width])
        }
    }

    /// composed[task] = P_task from the current values (`shared` = D1_task when decomposed).
    func compose(task: Int, shared: UnsafePointer<Float>?, values: ParameterBuffer) {
        let slot = composed.pointer + task * size
        let tensors = names(task: task)
        if let shared {
            CPComposition.forward(a: shared, b: values[tensors[0]], c: values[tensors[1]], shape: shape, into: slot)
        } else {
            slot.update(from: values[tensors[0]], count: size)
        }
    }

    /// P_task (D, L, width), as last composed.
    func prompts(task: Int, values: ParameterBuffer) -> UnsafePointer<Float> { UnsafePointer(composed.pointer + task * size) }

    /// P_0 ... P_{tasks-1} as rows (tasks, D * L * width), as last composed.
    func allPrompts(tasks: Int, values: ParameterBuffer) -> UnsafePointer<Float> { UnsafePointer(composed.pointer) }

    /// Points every site at the batch's tasks' composed prompts; clears those tasks' gradient slots.
    func prepareSites(batch: PromptBatch, tasks: [Int], values: ParameterBuffer) {
        for task in tasks { (gradientSlots.pointer + task * size).update(repeating: 0, count: size) }
        for (layer, site) in sites.enumerated() {
            site.prepare(batch: batch) { UnsafePointer(self.composed.pointer + $0 * self.size + layer * self.siteSize) }
        }
    }

    func sitePrompts(_ values: ParameterBuffer) -> [PromptValues] {
        sites.enumerated().map { layer, site in
            site.prompts { UnsafePointer(self.composed.pointer + $0 * self.size + layer * self.siteSize) }
        }
    }

    func siteGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] {
        sites.enumerated().map { layer, site in
            site.gradients { self.gradientSlots.pointer + $0 * self.size + layer * self.siteSize }
        }
    }

    /// Gathers the towers' per-sample gradients of a mixed batch into the task slots (nothing for one task).
    func scatterSiteGradients() {
        for (layer, site) in sites.enumerated() {
            site.scatterGradients { self.gradientSlots.pointer + $0 * self.size + layer * self.siteSize }
        }
    }

    /// task's slot of the towers' gradient back to its tensors.
    func backpropagateSlot(task: Int, shared: UnsafePointer<Float>?, dShared: UnsafeMutablePointer<Float>?,
                           values: ParameterBuffer, gradients: ParameterBuffer) {
        backpropagate(UnsafePointer(gradientSlots.pointer + task * size), task: task, shared: shared, dShared: dShared,
                      values: values, gradients: gradients)
    }

    /// (tasks, D * L * width) zeros for the alignment losses' gradient rows.
    func alignmentGradient(tasks: Int) -> UnsafeMutablePointer<Float> { alignmentGradients.zeroed(tasks * size) }

    /// task's row of the alignment gradient back to its tensors (the other rows belong to frozen tasks).
    func addAlignmentGradient(task: Int, shared: UnsafePointer<Float>?, dShared: UnsafeMutablePointer<Float>?,
                              values: ParameterBuffer, gradients: ParameterBuffer) {
        backpropagate(UnsafePointer(alignmentGradients.pointer + task * size), task: task, shared: shared,
                      dShared: dShared, values: values, gradients: gradients)
    }

    /// In the forward this was P_t = CP(D1, D2, D3) (decomposed) or P_t = lpi.task{t}.{m}: dP_t -> `+=` tensors.
    private func backpropagate(_ dP: UnsafePointer<Float>, task: Int, shared: UnsafePointer<Float>?,
                               dShared: UnsafeMutablePointer<Float>?, values: ParameterBuffer, gradients: ParameterBuffer) {
        let tensors = names(task: task)
        if let shared, let dShared {
            CPComposition.backward(dP: dP, a: shared, b: values[tensors[0]], c: values[tensors[1]], shape: shape,
                                   dA: dShared, dB: gradients[tensors[0]], dC: gradients[tensors[1]])
        } else {
            let destination = gradients[tensors[0]]
            for i in 0..<size { destination[i] += dP[i] }
        }
    }
}
