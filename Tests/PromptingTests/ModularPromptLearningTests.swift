import XCTest
import CLIP
import Numerics
import Prompting
import TestSupport

/// MPL through its hooks and end to end through both towers: the vision block grows by added c - removed per
/// layer up to the depth and is carried above it, the deeper vision prompts are the `added` couplings of the
/// layer's text prompts, the couplings' chain rule matches central differences, and so does the gradient of
/// the contrastive loss through the towers' remove-then-insert sites.
final class ModularPromptLearningTests: XCTestCase {
    /// Vision 16 wide, text 8 wide, 3 layers each; 8 px images in 4 px patches (4 patches + CLS).
    private let model = CLIPConfig(
        vision: CLIPVisionConfig(
            encoder: CLIPEncoderConfig(hiddenSize: 16, intermediateSize: 32, attentionHeads: 2, layers: 3,
                                       layerNormEps: 1e-5, activation: .quickGELU),
            imageSize: 8, patchSize: 4, channels: 3),
        text: CLIPTextConfig(
            encoder: CLIPEncoderConfig(hiddenSize: 8, intermediateSize: 16, attentionHeads: 2, layers: 3,
                                       layerNormEps: 1e-5, activation: .quickGELU),
            vocabularySize: 10, contextLength: 8, bosTokenID: 8, eosTokenID: 9, padTokenID: 9),
        projectionDim: 12, logitScaleInit: 2.6592)

    private func method(tokens: Int = 2, added: Int = 2, removed: Int = 1, depth: Int = 3,
                        cloned: Bool = false) throws -> (ModularPromptLearning, TrainableParameters) {
        let method = try ModularPromptLearning(model: model, tokens: tokens, added: added, removed: removed, depth: depth,
                                               clonedCouplings: cloned)
        var layout = ParameterLayout()
        method.declare(into: &layout)
        let parameters = TrainableParameters(layout: layout)
        method.initialize(parameters.values, seed: 11)
        return (method, parameters)
    }

    func testPlansAddRemoveAndCarryAsTheOfficialCode() throws {
        let (defaults, parameters) = try method(tokens: 1, added: 2, removed: 1, depth: 3)
        XCTAssertEqual(defaults.name, "mpl")
        XCTAssertEqual(defaults.visionPlan.placement, .afterPatches, "appended after the patches, as the code")
        XCTAssertEqual(defaults.visionPlan.sites, [.init(layer: 0, tokens: 1, mode: .insert),
                                                   .init(layer: 1, tokens: 2, mode: .insert, removed: 1),
                                                   .init(layer: 2, tokens: 2, mode: .insert, removed: 1)])
        XCTAssertEqual(defaults.visionPlan.promptCounts(layers: 3), [1, 2, 3], "c_l = 1 + l (2 - 1)")
        XCTAssertEqual(defaults.textPlan.sites.map(\.mode), [.insert, .replace, .replace], "the text branch is MaPLe's")
        XCTAssertEqual(defaults.textPlan.promptCounts(layers: 3), [1, 1, 1])
        XCTAssertEqual(parameters.layout.entries.map(\.name), [
            "mpl.layer0.text", "mpl.layer0.coupling0.weight", "mpl.layer0.coupling0.bias",
            "mpl.layer1.text", "mpl.layer1.coupling0.weight", "mpl.layer1.coupling0.bias",
            "mpl.layer1.coupling1.weight", "mpl.layer1.coupling1.bias",
            "mpl.layer2.text", "mpl.layer2.coupling0.weight", "mpl.layer2.coupling0.bias",
            "mpl.layer2.coupling1.weight", "mpl.layer2.coupling1.bias"])
        XCTAssertEqual(parameters.layout.entry("mpl.layer1.coupling1.weight")?.shape, [16, 8], "(Dv, Dt)")

        let (shallow, _) = try method(tokens: 2, added: 3, removed: 2, depth: 2)
        XCTAssertEqual(shallow.visionPlan.promptCounts(layers: 3), [2, 6, 6], "carried unchanged above the depth")
        XCTAssertThrowsError(try method(tokens: 1, added: 2, removed: 2, depth: 2),
                             "layer 1 has only c = 1 prompt to remove")
        XCTAssertThrowsError(try method(depth: 4), "deeper than the towers")
    }

    func testClonedCouplingsStartAsOneDrawAsTheOfficialCode() throws {
        let (_, parameters) = try method(cloned: true)
        let first = parameters.values.values("mpl.layer1.coupling0.weight")
        for (layer, map) in [(1, 1), (2, 0), (2, 1)] {
            XCTAssertEqual(parameters.values.values("mpl.layer\(layer).coupling\(map).weight"), first)
            XCTAssertEqual(parameters.values.values("mpl.layer\(layer).coupling\(map).bias"),
                           parameters.values.values("mpl.layer1.coupling0.bias"))
        }
        XCTAssertNotEqual(parameters.values.values("mpl.layer0.coupling0.weight"), first, "the shallow map is its own")
        let (_, independent) = try method()
        XCTAssertNotEqual(independent.values.values("mpl.layer2.coupling1.weight"),
                          independent.values.values("mpl.layer1.coupling0.weight"))
    }

    func testDeeperVisionPromptsAreTheCouplingsOfTheTextPromptsMapAfterMap() throws {
        let (method, parameters) = try method()
        method.prepare(values: parameters.values, batch: PromptBatch(count: 2, task: 0))
        let prompts = method.visionPrompts(parameters.values)
        for layer in 0..<3 {
            let maps = layer == 0 ? 1 : 2
            let text = parameters.values.values("mpl.layer\(layer).text")
            var expected: [Float] = []
            for map in 0..<maps {
                let weight = parameters.values.values("mpl.layer\(layer).coupling\(map).weight")
                let bias = parameters.values.values("mpl.layer\(layer).coupling\(map).bias")
                for row in 0..<2 {
                    for o in 0..<16 {
                        var sum = bias[o]
                        for i in 0..<8 { sum += text[row * 8 + i] * weight[o * 8 + i] }
                        expected.append(sum)
                    }
                }
            }
            XCTAssertEqual(prompts[layer].batchStride, 0, "shared by the batch")
            let actual = Array(UnsafeBufferPointer(start: prompts[layer].pointer, count: expected.count))
            let error = relativeError(actual, expected)
            XCTAssertLessThan(error, 1e-6, "layer \(layer): V_l = [F_{l,0}(T_l) ; F_{l,1}(T_l)] off by \(error)")
        }
        XCTAssertEqual(method.textPrompts(parameters.values)[2].pointer, parameters.values["mpl.layer2.text"],
                       "the text sites read the tensors themselves")
    }

    /// The hooks' gradient (couplings' chain rule, dT_l from the text site and every map) against central
    /// differences; MPL has no loss of its own.
    func testHookGradientsMatchFiniteDifferences() throws {
        let (method, parameters) = try method()
        let batch = PromptBatch(count: 2, task: 0)
        try assertHookGradient("mpl hooks", method: method, parameters: parameters, batch: batch, model: model)
        method.prepare(values: parameters.values, batch: batch)
        XCTAssertEqual(method.finishBackward(values: parameters.values, gradients: parameters.gradients, batch: batch,
                                             globalCount: 2), 0, "no loss of its own")
    }

    /// The contrastive loss of both towers with MPL's prompts (remove-then-insert in the vision tower): the
    /// gradient of every MPL tensor against central differences of the Float32 loss.
    func testGradientsThroughBothTowersMatchFiniteDifferences() throws {
        let clip = CLIPModel.random(config: model, seed: 12)
        let (method, parameters) = try method(tokens: 1, added: 2, removed: 1, depth: 3)
        // Text prompts of unit scale: at the std-0.02 start, LayerNorm on such small rows is too curved for
        // central differences.
        for layer in 0..<3 {
            parameters.values["mpl.layer\(layer).text"].update(from: randomNormal(8, seed: UInt64(20 + layer)), count: 8)
        }
        let count = 3
        let batch = PromptBatch(count: count, task: 0)
        let pixels = OwnedFloats(randomNormal(count * 3 * 8 * 8, seed: 13))
        let ids: [Int32] = [8, 1, 2, 9, 9, 9, 9, 9,
                            8, 3, 9, 9, 9, 9, 9, 9,
                            8, 4, 5, 6, 9, 9, 9, 9]
        let vision = VisionTower(model: clip, capacity: count, plan: method.visionPlan)
        let text = TextTower(model: clip, capacity: count, plan: method.textPlan)
        let objective = ContrastiveObjective(capacity: count, width: model.projectionDim)

        func loss(_ values: ParameterBuffer) -> Float {
            method.prepare(values: values, batch: batch)
            let image = vision.forward(pixels: pixels.pointer, prompts: method.visionPrompts(values), batch: count)
            let caption = ids.withUnsafeBufferPointer {
                text.forward(ids: $0.baseAddress!, prompts: method.textPrompts(values), batch: count)
            }
            return objective.forward(image: image, text: caption, count: count, logScale: clip.logitScale)
        }
        _ = loss(parameters.values)
        let (dImage, dText, _) = objective.backward()
        vision.backward(dEmbeds: dImage, promptGradients: method.visionPromptGradients(parameters.gradients), batch: count)
        text.backward(dEmbeds: dText, promptGradients: method.textPromptGradients(parameters.gradients), batch: count)
        _ = method.finishBackward(values: parameters.values, gradients: parameters.gradients, batch: batch, globalCount: count)
        let analytic = Array(UnsafeBufferPointer(start: parameters.gradients.storage, count: parameters.count))
        let initial = Array(UnsafeBufferPointer(start: parameters.values.storage, count: parameters.count))
        // The loss is Float32 (rounding ~1e-7) and the couplings' gradients are ~5e-4: steps of 1e-2 leave 5-10%
        // noise in them, 3e-1 curvature; 1e-1 puts every tensor within about 1%.
        let numerical = numericalGradient(initial, step: 1e-1) { input in
            let probe = ParameterBuffer(layout: parameters.layout)
            probe.storage.update(from: input, count: input.count)
            return Double(loss(probe))
        }
        for entry in parameters.layout.entries {
            let range = entry.offset..<(entry.offset + entry.count)
            let error = gradientError(Array(analytic[range]), Array(numerical[range]))
            print("mpl through both towers, \(entry.name) against central differences (step 1e-1): \(error)")
            XCTAssertLessThan(error, 3e-2, "\(entry.name): gradient through the towers off finite differences by \(error)")
        }
        XCTAssertGreaterThan(analytic.map(abs).max()!, 1e-3, "the prompts must influence the loss")
    }
}
