import XCTest
import CLIP
import Numerics
import Prompting
import TestSupport

/// VPT-deep end to end through a small random CLIP vision tower: the prompt gradients in the flat
/// gradient buffer equal central differences of the contrastive loss against fixed text embeddings.
final class VPTDeepTests: XCTestCase {
    private let config = smallCLIPConfig

    func testPlanInsertsAtTheFirstLayerAndReplacesAbove() throws {
        let method = try VPTDeep(config: config.vision, tokens: 2, layers: [1, 2])
        XCTAssertEqual(method.plan.sites.map(\.mode), [.insert, .replace], "insert once, then replace")
        XCTAssertEqual(method.plan.promptCounts(layers: 3), [0, 2, 2], "no prompts below the first prompted layer")
        XCTAssertEqual(method.parameterNames, ["vpt.layer1", "vpt.layer2"])
        XCTAssertThrowsError(try VPTDeep(config: config.vision, tokens: 2, layers: []), "no layers is an error")
    }

    func testXavierInitialisationBound() throws {
        let method = try VPTDeep(config: config.vision, tokens: 2)
        var layout = ParameterLayout()
        method.declare(into: &layout)
        let parameters = TrainableParameters(layout: layout)
        method.initialize(parameters.values, seed: 3)
        let bound = (6 / Float(3 * 4 * 4 + 16)).squareRoot()
        let values = (0..<parameters.count).map { parameters.values.storage[$0] }
        XCTAssertLessThanOrEqual(values.map(abs).max()!, bound, "within the Xavier bound")
        XCTAssertGreaterThan(values.map(abs).max()!, 0.8 * bound, "spread over the bound")
    }

    func testPromptGradientsMatchFiniteDifferencesOfTheLoss() throws {
        let model = CLIPModel.random(config: config, seed: 5)
        let method = try VPTDeep(config: config.vision, tokens: 2)
        var layout = ParameterLayout()
        method.declare(into: &layout)
        let parameters = TrainableParameters(layout: layout)
        method.initialize(parameters.values, seed: 6)
        let batch = 3
        let pixels = OwnedFloats(randomNormal(batch * 3 * 8 * 8, seed: 7))
        let texts = OwnedFloats(randomNormal(batch * config.projectionDim, seed: 8))
        let tower = VisionTower(model: model, capacity: batch, plan: method.plan)
        let objective = ContrastiveObjective(capacity: batch, width: config.projectionDim)

        func loss() -> Float {
            let image = tower.forward(pixels: pixels.pointer, prompts: method.visionPrompts(parameters.values), batch: batch)
            return objective.forward(image: image, text: texts.pointer, count: batch, logScale: model.logitScale)
        }
        _ = loss()
        tower.backward(dEmbeds: objective.backward().dImage, promptGradients: method.visionPromptGradients(parameters.gradients),
                       batch: batch)
        let analytic = (0..<parameters.count).map { parameters.gradients.storage[$0] }
        let initial = (0..<parameters.count).map { parameters.values.storage[$0] }
        // The loss is Float32 and the prompts of a std-0.02 random tower move it little: smaller steps are
        // drowned by rounding (the error grows as the step shrinks: 8% at 3e-3), so the step is 3e-2.
        let numerical = numericalGradient(initial, step: 3e-2) { perturbed in
            parameters.values.storage.update(from: perturbed, count: perturbed.count)
            return Double(loss())
        }
        let error = gradientError(analytic, numerical)
        print("VPT-deep prompt gradient against central differences (step 3e-2): \(error)")
        XCTAssertLessThan(error, 2e-2, "VPT-deep prompt gradients against finite differences of a Float32 loss: \(error)")
        XCTAssertGreaterThan(analytic.map(abs).max()!, 1e-4, "the prompts must influence the loss")
    }

    /// What `visionGradientsFinal` names after backward step l is final then: the gradient there equals the one
    /// after the whole backward. Every prompted tensor but the first is named once, right after the step below
    /// its layer; the first goes with the last reduce. With weight gradients the backward runs down to layer 0, and
    /// the first site (an insert at layer 1) is named after step 0.
    func testGradientsNamedFinalDoNotChangeLaterInTheBackward() throws {
        let model = CLIPModel.random(config: config, seed: 5)
        let batch = 2
        let pixels = OwnedFloats(randomNormal(batch * 3 * 8 * 8, seed: 7))
        let texts = OwnedFloats(randomNormal(batch * config.projectionDim, seed: 8))
        let cases: [(layers: [Int]?, weights: Bool, named: [String])] = [
            (nil, false, ["vpt.layer2", "vpt.layer1"]),
            ([1, 2], false, ["vpt.layer2"]),
            ([1, 2], true, ["vpt.layer2", "vpt.layer1"]),
        ]
        for (layers, weights, expected) in cases {
            let method = try VPTDeep(config: config.vision, tokens: 2, layers: layers)
            var layout = ParameterLayout()
            method.declare(into: &layout)
            let parameters = TrainableParameters(layout: layout)
            method.initialize(parameters.values, seed: 6)
            let weightGradients = weights ? model.makeGradientBuffer() : nil
            let tower = VisionTower(model: model, capacity: batch, plan: method.plan, weightGradients: weightGradients)
            let objective = ContrastiveObjective(capacity: batch, width: config.projectionDim)
            let image = tower.forward(pixels: pixels.pointer, prompts: method.visionPrompts(parameters.values), batch: batch)
            _ = objective.forward(image: image, text: texts.pointer, count: batch, logScale: model.logitScale)
            tower.beginBackward(dEmbeds: objective.backward().dImage,
                                promptGradients: method.visionPromptGradients(parameters.gradients))
            var named: [String] = [], snapshots: [(range: Range<Int>, values: [Float])] = []
            for l in (tower.lowestBackwardLayer..<config.vision.encoder.layers).reversed() {
                tower.backwardLayer(l)
                for range in method.visionGradientsFinal(afterBackwardLayer: l, in: layout) {
                    named += layout.entries.filter { $0.offset == range.lowerBound && $0.count == range.count }.map(\.name)
                    snapshots.append((range, range.map { parameters.gradients.storage[$0] }))
                }
            }
            tower.finishBackward()
            let what = "layers \(layers ?? [0, 1, 2]), weight gradients \(weights)"
            XCTAssertEqual(named, expected, "\(what): the tensors named final, in order")
            for (range, values) in snapshots {
                XCTAssertGreaterThan(values.map(abs).max()!, 0, "\(what): a gradient at \(range) when it is named")
                XCTAssertEqual(range.map { parameters.gradients.storage[$0] }, values,
                               "\(what): the gradient at \(range) is the same after the whole backward")
            }
        }
    }
}
