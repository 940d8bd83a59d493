import XCTest
import CLIP
import Numerics
import Prompting
import TestSupport

/// LPI-M, DP and CP through the method's hooks (no towers): the sites carry each task's CP-composed prompts,
/// the prompt gradients reach the factors (D1 from both modalities), a mixed batch gets each sample's own
/// task, HPA + CPA's gradient matches finite differences and touches the current task only, and the trained
/// range is exactly the task's tensors.
final class LowRankPromptInteractionTests: XCTestCase {
    private let model = twoTowerCLIPConfig
    /// Tasks 0 and 2 similar, 1 apart.
    private let similarity: [Float] = [1, 0.1, 0.7, 0.1, 1, 0.2, 0.7, 0.2, 1]

    private func method(decomposed: Bool = true, aligned: Bool = true) throws -> (LowRankPromptInteraction, TrainableParameters) {
        var settings = LPISettings()
        settings.depth = 3
        settings.tokens = 2
        settings.rank = 3
        settings.decomposed = decomposed
        // Weights 1 rather than 0.1: gradients well above the Float rounding of the loss that finite differences see.
        settings.modalWeight = aligned ? 1 : 0
        settings.taskWeight = aligned ? 1 : 0
        // Temperatures that keep the losses away from saturation, so finite differences see them.
        settings.modalAlignment = HierarchicalPromptAlignment(temperature: 0.5)
        settings.taskAlignment = CrossTaskPromptAlignment(temperature: 2)
        let method = try LowRankPromptInteraction(name: "lpi-m", model: model, taskCount: 3, settings: settings,
                                                  taskNameSimilarity: similarity)
        var layout = ParameterLayout()
        method.declare(into: &layout)
        let parameters = TrainableParameters(layout: layout)
        method.initialize(parameters.values, seed: 5)
        return (method, parameters)
    }

    private func composed(_ parameters: TrainableParameters, task: Int, modality: String, width: Int) -> [Float] {
        let shape = CPComposition.Shape(i: 3, j: 2, k: width, rank: 3)
        var p = [Float](repeating: 0, count: shape.count)
        p.withUnsafeMutableBufferPointer { out in CPComposition.forwardNaive(a: parameters.values["lpi.task\(task).d1"],
                                   b: parameters.values["lpi.task\(task).\(modality).d2"],
                                   c: parameters.values["lpi.task\(task).\(modality).d3"], shape: shape, into: out.baseAddress!) }
        return p
    }

    func testSitesCarryEachTasksComposedPromptsPerSample() throws {
        let (method, parameters) = try method()
        XCTAssertEqual(method.visionPlan.sites.map(\.mode), [.insert, .add, .add], "eq. 1: insert, then add")
        let batch = PromptBatch(count: 3, tasks: [2, 0, 2])
        method.prepare(values: parameters.values, batch: batch)
        for (modality, width, prompts) in [("vision", 16, method.visionPrompts(parameters.values)),
                                           ("text", 8, method.textPrompts(parameters.values))] {
            for (b, task) in batch.tasks.enumerated() {
                let expected = composed(parameters, task: task, modality: modality, width: width)
                for layer in 0..<3 {
                    let site = prompts[layer]
                    XCTAssertEqual(site.batchStride, 2 * width, "\(modality): a mixed batch has per-sample prompts")
                    let actual = Array(UnsafeBufferPointer(start: site.pointer + b * site.batchStride, count: 2 * width))
                    let error = relativeError(actual, Array(expected[(layer * 2 * width)..<((layer + 1) * 2 * width)]))
                    XCTAssertLessThan(error, 1e-6, "\(modality) sample \(b) (task \(task)) layer \(layer): \(error)")
                }
            }
        }
        method.prepare(values: parameters.values, batch: PromptBatch(count: 4, task: 1))
        XCTAssertEqual(method.visionPrompts(parameters.values)[0].batchStride, 0, "one task: shared prompts")
    }

    /// The hooks' gradient (sites -> factors) against central differences; tasks without samples get none.
    private func assertSiteGradient(decomposed: Bool, tasks: [Int]) throws {
        let (method, parameters) = try method(decomposed: decomposed, aligned: false)
        let initial = try assertHookGradient("\(decomposed ? "dp" : "cp") sites, tasks \(tasks)", method: method,
                                             parameters: parameters, batch: PromptBatch(count: tasks.count, tasks: tasks),
                                             model: model)
        for task in Set(0..<3).subtracting(tasks) {
            let range = method.trainedRange(task: task, in: parameters.layout)
            XCTAssertEqual(Array(UnsafeBufferPointer(start: parameters.gradients.storage + range.lowerBound, count: range.count)),
                           Array(initial[range]), "task \(task) had no sample: no gradient added")
        }
    }

    func testSiteGradientsReachTheFactorsOfEachSamplesTask() throws {
        try assertSiteGradient(decomposed: true, tasks: [1, 1])
        try assertSiteGradient(decomposed: true, tasks: [2, 0, 2])
        try assertSiteGradient(decomposed: false, tasks: [0, 1])
    }

    func testAlignmentLossGradientMatchesFiniteDifferencesAndTrainsTheCurrentTaskOnly() throws {
        let (method, parameters) = try method()
        let task = 2
        func loss(_ values: ParameterBuffer) -> Double {
            let scratch = ParameterBuffer(layout: values.layout)
            scratch.zero()
            return Double(method.addPromptLoss(values: values, gradients: scratch, task: task))
        }
        parameters.gradients.zero()
        let value = method.addPromptLoss(values: parameters.values, gradients: parameters.gradients, task: task)
        XCTAssertGreaterThan(value, 0, "HPA + CPA are positive")
        let initial = Array(UnsafeBufferPointer(start: parameters.values.storage, count: parameters.count))
        let numerical = numericalGradient(initial, step: 1e-2) { input in
            let probe = ParameterBuffer(layout: parameters.layout)
            probe.storage.update(from: input, count: input.count)
            return loss(probe)
        }
        let analytic = Array(UnsafeBufferPointer(start: parameters.gradients.storage, count: parameters.count))
        let range = method.trainedRange(task: task, in: parameters.layout)
        // The earlier tasks' prompts enter CPA but are frozen: only the current task's gradient is written.
        // 5e-3: the loss comes back as a Float (about 1e-6 of rounding on differences of 1e-4); the kernels
        // themselves match PyTorch's float64 autograd to 1e-6 (LPIKernelTests). A wiring error is O(1).
        var masked = numerical
        for i in masked.indices where !range.contains(i) { masked[i] = 0 }
        assertGradient("lpi-m HPA + CPA, task \(task)", accumulated: analytic,
                       initial: [Float](repeating: 0, count: analytic.count), numerical: masked, tolerance: 5e-3)
        XCTAssertTrue(analytic.indices.filter { !range.contains($0) }.allSatisfy { analytic[$0] == 0 },
                      "nothing outside task \(task)'s tensors")
        XCTAssertTrue(numerical.indices.filter { !range.contains($0) }.contains { abs(numerical[$0]) > 1e-4 },
                      "the earlier tasks do enter the loss (CPA)")
    }

    func testTrainedRangeIsExactlyTheTasksTensors() throws {
        for decomposed in [true, false] {
            let (method, parameters) = try method(decomposed: decomposed)
            var covered = 0
            for task in 0..<3 {
                let range = method.trainedRange(task: task, in: parameters.layout)
                let names = parameters.layout.entries.filter { range.contains($0.offset) }.map(\.name)
                XCTAssertTrue(names.allSatisfy { $0.hasPrefix("lpi.task\(task).") }, "task \(task): \(names)")
                XCTAssertEqual(names.count, decomposed ? 5 : 2, "task \(task): \(names)")
                covered += range.count
            }
            XCTAssertEqual(covered, parameters.count, "the tasks' ranges tile the buffer")
        }
    }
}
