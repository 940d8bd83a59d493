import CLIP
import Numerics

/// S-Prompts (S-liPrompts; Wang et al., "S-Prompts Learning with Pre-trained Transformers", NeurIPS 2022):
/// one independent prompt set per task, in both towers, learned on that task alone; at inference each sample
/// takes the set of the task its frozen features predict (k-means keys, nearest centroid by L1, per sample).
///
/// ```
/// parameters, per task t:  sprompts.task{t}.vision (Lv, Dv)   image prompts at the input of the vision tower
///                          sprompts.task{t}.text   (Lt, Dt)   learned context after SOT in the text tower
/// task t trains task t's two tensors only (`trainedRange`); the earlier tasks' stay as they were
/// ```
/// Defaults: Lv = 10, Lt = 16 (the paper's image prompt length and CoOp's context length), N(0, 0.02)
/// initialisation, as the official code does.
public final class SPrompts: PromptMethod {
    public let visionTokens: Int
    public let textTokens: Int
    public let taskCount: Int
    public let visionWidth: Int
    public let textWidth: Int
    public let visionPlan: PromptPlan
    public let textPlan: PromptPlan
    private let visionSite: TaskPromptSite
    private let textSite: TaskPromptSite

    public init(model: CLIPConfig, taskCount: Int, visionTokens: Int = 10, textTokens: Int = 16) throws {
        self.visionTokens = visionTokens
        self.textTokens = textTokens
        self.taskCount = taskCount
        visionWidth = model.vision.encoder.hiddenSize
        textWidth = model.text.encoder.hiddenSize
        visionPlan = try PromptPlan(sites: [.init(layer: 0, tokens: visionTokens, mode: .insert)],
                                    layers: model.vision.encoder.layers)
        textPlan = try PromptPlan(sites: [.init(layer: 0, tokens: textTokens, mode: .insert)],
                                  layers: model.text.encoder.layers)
        visionSite = TaskPromptSite(tokens: visionTokens, width: visionWidth)
        textSite = TaskPromptSite(tokens: textTokens, width: textWidth)
    }

    public var name: String { "s-prompts" }
    public var selectsByTask: Bool { true }

    private func visionName(_ task: Int) -> String { "sprompts.task\(task).vision" }
    private func textName(_ task: Int) -> String { "sprompts.task\(task).text" }

    /// Task after task: `sprompts.task{t}.vision` (Lv, Dv) then `sprompts.task{t}.text` (Lt, Dt).
    public func declare(into layout: inout ParameterLayout) {
        for task in 0..<taskCount {
            layout.append(visionName(task), [visionTokens, visionWidth])
            layout.append(textName(task), [textTokens, textWidth])
        }
    }

    public func initialize(_ values: ParameterBuffer, seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        for task in 0..<taskCount {
            generator.fillNormal(values[visionName(task)], count: visionTokens * visionWidth, std: 0.02)
            generator.fillNormal(values[textName(task)], count: textTokens * textWidth, std: 0.02)
        }
    }

    /// Task t's two tensors, which lie next to each other.
    public func trainedRange(task: Int, in layout: ParameterLayout) -> Range<Int> {
        let start = layout.offset(visionName(task))
        return start..<(layout.offset(textName(task)) + textTokens * textWidth)
    }

    public func prepare(values: ParameterBuffer, batch: PromptBatch) {
        visionSite.prepare(batch: batch) { UnsafePointer(values[self.visionName($0)]) }
        textSite.prepare(batch: batch) { UnsafePointer(values[self.textName($0)]) }
    }

    public func visionPrompts(_ values: ParameterBuffer) -> [PromptValues] {
        [visionSite.prompts { UnsafePointer(values[self.visionName($0)]) }]
    }

    public func visionPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] {
        [visionSite.gradients { gradients[self.visionName($0)] }]
    }

    public func textPrompts(_ values: ParameterBuffer) -> [PromptValues] {
        [textSite.prompts { UnsafePointer(values[self.textName($0)]) }]
    }

    public func textPromptGradients(_ gradients: ParameterBuffer) -> [PromptGradient?] {
        [textSite.gradients { gradients[self.textName($0)] }]
    }

    public func finishBackward(values: ParameterBuffer, gradients: ParameterBuffer, batch: PromptBatch,
                               globalCount: Int) -> Float {
        visionSite.scatterGradients { gradients[self.visionName($0)] }
        textSite.scatterGradients { gradients[self.textName($0)] }
        return 0
    }
}
