import CLIP
import Continual
import Prompting

/// One row of `promptcl inspect`: what a method trains and computes on a model, in the terms of LPI's
/// Table 4 ("Low-rank Prompt Interaction for Continual Vision-Language Retrieval", ACM MM 2024).
///
/// ```
/// parameters           layout.count after method.declare(into:)        every task's tensors: the whole run
/// parameters_per_task  method.trainedRange(task: 0, in: layout).count  what one task trains
/// percent_*            100 * those / ParameterLayout.clip(model).count  of the frozen backbone
/// gflops               PairForwardFlops(...).total / 1e9                one image-caption pair, forward
/// ```
/// A method this release does not build (`MethodSection.implemented`) has no numbers; nor has one whose
/// settings do not fit the model (`problem`, the `ConfigError` of `makeMethod`).
struct MethodFootprint: Encodable {
    let method: MethodSection.Name
    let selected: Bool
    let implemented: Bool
    let backboneParameters: Int
    let parameters: Int?
    let parametersPerTask: Int?
    let gflops: Double?
    let problem: String?

    var percentOfBackbone: Double? { parameters.map(percent) }
    var percentPerTask: Double? { parametersPerTask.map(percent) }
    private func percent(_ count: Int) -> Double { 100 * Double(count) / Double(backboneParameters) }

    /// The row of `section`'s method (`section.name`, with `section`'s settings) on `model` for `taskCount`
    /// tasks. Rethrows `makeMethod`'s error for the `selected` method (the config is wrong); keeps it as
    /// `problem` for the others.
    init(_ section: MethodSection, model: CLIPConfig, taskCount: Int, selected: Bool) throws {
        method = section.name
        self.selected = selected
        implemented = MethodSection.implemented.contains(section.name)
        backboneParameters = ParameterLayout.clip(model).count
        var built: (any PromptMethod)?
        var problem: String?
        if implemented {
            do {
                built = try section.makeMethod(MethodContext(model: model, taskCount: taskCount))
            } catch let error as ConfigError where !selected {
                problem = error.description
            }
        }
        self.problem = problem
        guard let built else {
            (parameters, parametersPerTask, gflops) = (nil, nil, nil)
            return
        }
        var layout = ParameterLayout()
        built.declare(into: &layout)
        parameters = layout.count
        parametersPerTask = built.trainedRange(task: 0, in: layout).count
        let fusion = (built as? LowRankPromptFusion).map { (layers: $0.fusedLayers, tokens: $0.settings.tokens) }
        gflops = PairForwardFlops(config: model, visionPlan: built.visionPlan, textPlan: built.textPlan,
                                  frozenImageQueries: built.needsImageQueries, fusion: fusion).total / 1e9
    }

    enum CodingKeys: String, CodingKey {
        case method, selected, implemented, parameters, gflops, problem
        case backboneParameters = "backbone_parameters", parametersPerTask = "parameters_per_task"
        case percentOfBackbone = "percent_of_backbone", percentPerTask = "percent_per_task"
    }

    /// Every key but `problem` is always there, null where there is no number.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(method.rawValue, forKey: .method)
        try container.encode(selected, forKey: .selected)
        try container.encode(implemented, forKey: .implemented)
        try container.encode(backboneParameters, forKey: .backboneParameters)
        try container.encode(parameters, forKey: .parameters)
        try container.encode(parametersPerTask, forKey: .parametersPerTask)
        try container.encode(percentOfBackbone, forKey: .percentOfBackbone)
        try container.encode(percentPerTask, forKey: .percentPerTask)
        try container.encode(gflops, forKey: .gflops)
        try container.encodeIfPresent(problem, forKey: .problem)
    }
}
