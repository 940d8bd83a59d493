import XCTest
import CLIP
import Prompting
import TestSupport

/// MaPLe, S-Prompts and L2P through their hooks: the prompts the towers see and the way back to the tensors.
final class MethodHookTests: XCTestCase {
    private let model = twoTowerCLIPConfig

    func testMaPLeVisionPromptsAreTheCoupledTextPrompts() throws {
        let method = try MaPLe(model: model, tokens: 2, depth: 3)
        let parameters = declared(method)
        method.prepare(values: parameters.values, batch: PromptBatch(count: 2, task: 0))
        for layer in 0..<3 {
            let text = parameters.values.values("maple.layer\(layer).text")                 // (2, 8)
            let weight = parameters.values.values("maple.layer\(layer).coupling.weight")    // (16, 8)
            let bias = parameters.values.values("maple.layer\(layer).coupling.bias")
            var expected = [Float](repeating: 0, count: 2 * 16)
            for t in 0..<2 {
                for o in 0..<16 {
                    var sum = Double(bias[o])
                    for i in 0..<8 { sum += Double(text[t * 8 + i]) * Double(weight[o * 8 + i]) }
                    expected[t * 16 + o] = Float(sum)
                }
            }
            let site = method.visionPrompts(parameters.values)[layer]
            XCTAssertEqual(site.batchStride, 0, "MaPLe's prompts are shared by the batch")
            let error = relativeError(Array(UnsafeBufferPointer(start: site.pointer, count: 32)), expected)
            XCTAssertLessThan(error, 1e-6, "layer \(layer): V = T W^T + b off by \(error)")
        }
        XCTAssertEqual(method.visionPlan.placement, .afterPatches, "MaPLe appends the vision prompts after the patches")
    }

    func testMaPLeGradientsReachTheTextPromptsAndTheCouplings() throws {
        let method = try MaPLe(model: model, tokens: 2, depth: 3)
        try assertHookGradient("maple", method: method, parameters: declared(method),
                               batch: PromptBatch(count: 2, task: 0), model: model)
    }

    func testSPromptsGiveEachSampleItsTasksPromptsAndGradients() throws {
        let method = try SPrompts(model: model, taskCount: 3, visionTokens: 2, textTokens: 3)
        let parameters = declared(method)
        let batch = PromptBatch(count: 4, tasks: [2, 0, 2, 1])
        method.prepare(values: parameters.values, batch: batch)
        let vision = method.visionPrompts(parameters.values)[0]
        for (b, task) in batch.tasks.enumerated() {
            XCTAssertEqual(Array(UnsafeBufferPointer(start: vision.pointer + b * vision.batchStride, count: 32)),
                           parameters.values.values("sprompts.task\(task).vision"), "sample \(b) takes task \(task)'s prompts")
        }
        try assertHookGradient("s-prompts, mixed batch", method: method, parameters: parameters, batch: batch, model: model)
        let trained = method.trainedRange(task: 1, in: parameters.layout)
        XCTAssertEqual(trained.count, 2 * 16 + 3 * 8, "task 1 trains its two tensors")
        XCTAssertEqual(parameters.layout.entries.filter { trained.contains($0.offset) }.map(\.name),
                       ["sprompts.task1.vision", "sprompts.task1.text"])
    }

    func testL2PSelectsPerSampleAndItsPullConstraintReachesTheKeys() throws {
        let method = try LearningToPrompt(model: model, poolSize: 5, length: 2, topK: 2, pullCoefficient: 0.3)
        let parameters = declared(method)
        // Two queries, each equal to one key: each sample selects its own key first.
        let keys = parameters.values.values("l2p.keys")
        let queries = OwnedFloats(Array(keys[(3 * 12)..<(4 * 12)]) + Array(keys[(1 * 12)..<(2 * 12)]))
        let batch = PromptBatch(count: 2, task: 0, imageQueries: UnsafePointer(queries.pointer))
        method.prepare(values: parameters.values, batch: batch)
        let site = method.visionPrompts(parameters.values)[0]
        let prompts = parameters.values.values("l2p.prompts")
        XCTAssertEqual(Array(UnsafeBufferPointer(start: site.pointer, count: 2 * 16)), Array(prompts[(3 * 32)..<(4 * 32)]),
                       "sample 0 starts with prompt 3 (its query is key 3)")
        XCTAssertEqual(Array(UnsafeBufferPointer(start: site.pointer + site.batchStride, count: 2 * 16)),
                       Array(prompts[(1 * 32)..<(2 * 32)]), "sample 1 starts with prompt 1: per sample, not a vote")
        try assertHookGradient("l2p, prompts and pull constraint", method: method, parameters: parameters, batch: batch,
                               model: model, step: 1e-3)
    }
}
