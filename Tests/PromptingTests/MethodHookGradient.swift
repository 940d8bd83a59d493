import XCTest
import CLIP
import Prompting
import TestSupport

/// A method's hooks as the trainer chains them, against central differences of
/// ```
/// f(values) = sum over the sites of both towers and the batch's samples of <R_site,b, prompts_site,b>
///             + the per-sample loss finishBackward returns
/// ```
/// Analytic: prepare, add R into each site's gradient (as a tower's backward would), finishBackward, from a
/// random gradient buffer (so a hook that overwrites instead of accumulating fails). This checks the way from
/// prompt gradients back to the method's tensors (composition, coupling, gathering per sample) and the
/// per-sample losses. Returns the gradient buffer the hooks started from.
@discardableResult
func assertHookGradient(_ name: String, method: any PromptMethod, parameters: TrainableParameters, batch: PromptBatch,
                        model: CLIPConfig, step: Float = 1e-2, tolerance: Double = 1e-3,
                        file: StaticString = #filePath, line: UInt = #line) throws -> [Float] {
    let plans = [(method.visionPlan, model.vision.encoder.hiddenSize), (method.textPlan, model.text.encoder.hiddenSize)]
    let sizes = plans.flatMap { plan, width in plan.sites.map { $0.tokens * width } }
    let weights = sizes.enumerated().map { randomNormal(batch.count * $1, seed: UInt64(70 + $0)) }
    let globalCount = batch.count + 2

    func f(_ values: ParameterBuffer) -> Double {
        method.prepare(values: values, batch: batch)
        var total = 0.0
        for (s, site) in (method.visionPrompts(values) + method.textPrompts(values)).enumerated() {
            for b in 0..<batch.count {
                for i in 0..<sizes[s] { total += Double(weights[s][b * sizes[s] + i] * site.pointer[b * site.batchStride + i]) }
            }
        }
        let scratch = ParameterBuffer(layout: values.layout)
        scratch.zero()
        return total + Double(method.finishBackward(values: values, gradients: scratch, batch: batch, globalCount: globalCount))
    }

    let initialGradient = randomNormal(parameters.count, seed: 60)
    parameters.gradients.storage.update(from: initialGradient, count: parameters.count)
    method.prepare(values: parameters.values, batch: batch)
    for (s, gradient) in (method.visionPromptGradients(parameters.gradients)
                          + method.textPromptGradients(parameters.gradients)).enumerated() {
        let site = try XCTUnwrap(gradient, "\(name): site \(s) has no gradient", file: file, line: line)
        for b in 0..<batch.count {
            for i in 0..<sizes[s] { site.pointer[b * site.batchStride + i] += weights[s][b * sizes[s] + i] }
        }
    }
    _ = method.finishBackward(values: parameters.values, gradients: parameters.gradients, batch: batch,
                              globalCount: globalCount)
    let analytic = Array(UnsafeBufferPointer(start: parameters.gradients.storage, count: parameters.count))
    let initial = Array(UnsafeBufferPointer(start: parameters.values.storage, count: parameters.count))
    let numerical = numericalGradient(initial, step: step) { input in
        let probe = ParameterBuffer(layout: parameters.layout)
        probe.storage.update(from: input, count: input.count)
        return f(probe)
    }
    assertGradient(name, accumulated: analytic, initial: initialGradient, numerical: numerical, tolerance: tolerance,
                   file: file, line: line)
    return initialGradient
}

/// The method's tensors, declared and initialised (seed 3).
func declared(_ method: any PromptMethod) -> TrainableParameters {
    var layout = ParameterLayout()
    method.declare(into: &layout)
    let parameters = TrainableParameters(layout: layout)
    method.initialize(parameters.values, seed: 3)
    return parameters
}
