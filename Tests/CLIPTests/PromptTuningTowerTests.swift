import CLIP
import Foundation
import Numerics
import TestSupport
import XCTest

/// A training tower without weight gradients (prompt tuning) shares one set of its layers' linear inputs: its
/// embeddings and prompt gradients equal those of a tower that keeps every layer's (and accumulates weight
/// gradients) bit for bit, in a workspace smaller by at least (L - 1) rows (3D + F) floats.
final class PromptTuningTowerTests: XCTestCase {
    private func model(_ name: String) throws -> CLIPModel {
        try CLIPModel.load(directory: fixturesDirectory.appendingPathComponent("models/\(name)"))
    }

    private func site(_ layer: Int, _ tokens: Int, _ mode: PromptPlan.Mode) -> PromptPlan.Site {
        PromptPlan.Site(layer: layer, tokens: tokens, mode: mode)
    }

    /// What sharing saves at least: every layer but one of the fewest rows, 3D + F floats a row.
    private func minimumSaving(_ encoder: CLIPEncoderConfig, batch: Int, fewestTokens: Int) -> Int {
        (encoder.layers - 1) * batch * fewestTokens * (3 * encoder.hiddenSize + encoder.intermediateSize)
            * MemoryLayout<Float>.stride
    }

    func testPromptGradientsEqualThoseOfATowerThatKeepsWeightInputs() throws {
        let model = try model("tiny-a")
        let fixture = try SafetensorsFile(contentsOf: fixtureURL("models/tiny-a/parity.safetensors"))
        let pixels = OwnedFloats(try fixture.floats("pixel_values"))
        let ids = try fixture.int64s("input_ids").map(Int32.init)
        let batch = try XCTUnwrap(fixture.info("pixel_values")).shape[0]
        let config = model.config
        let (dv, dt, e) = (config.vision.encoder.hiddenSize, config.text.encoder.hiddenSize, config.projectionDim)
        let visionLayers = config.vision.encoder.layers, textLayers = config.text.encoder.layers
        let visionPlan = try PromptPlan(sites: [site(0, 3, .insert)] + (1..<visionLayers).map { site($0, 3, .replace) },
                                        placement: .afterClassToken, layers: visionLayers)
        let textPlan = try PromptPlan(sites: [site(0, 2, .insert), site(1, 2, .add)], layers: textLayers)
        let visionValues = visionPlan.sites.enumerated().map { OwnedFloats(randomNormal($1.tokens * dv, seed: 10 + UInt64($0))) }
        let textValues = textPlan.sites.enumerated().map { OwnedFloats(randomNormal($1.tokens * dt, seed: 20 + UInt64($0))) }
        let dEmbeds = OwnedFloats(randomNormal(batch * e, seed: 30))

        var results: [[[Float]]] = []
        var workspaces: [(vision: Int, text: Int)] = []
        for keepsWeightInputs in [true, false] {
            let weightGradients = keepsWeightInputs ? model.makeGradientBuffer() : nil
            let vision = VisionTower(model: model, capacity: batch, plan: visionPlan, weightGradients: weightGradients)
            let text = TextTower(model: model, capacity: batch, plan: textPlan, weightGradients: weightGradients)
            let visionGradients = visionValues.map { OwnedFloats(zeros: $0.count) }
            let textGradients = textValues.map { OwnedFloats(zeros: $0.count) }
            let image = Array(UnsafeBufferPointer(
                start: vision.forward(pixels: pixels.pointer, prompts: visionValues.map { PromptValues($0.pointer) },
                                      batch: batch), count: batch * e))
            let caption = ids.withUnsafeBufferPointer {
                Array(UnsafeBufferPointer(start: text.forward(ids: $0.baseAddress!, prompts: textValues.map { PromptValues($0.pointer) },
                                                              batch: batch), count: batch * e))
            }
            vision.backward(dEmbeds: dEmbeds.pointer, promptGradients: visionGradients.map { PromptGradient($0.pointer) },
                            batch: batch)
            text.backward(dEmbeds: dEmbeds.pointer, promptGradients: textGradients.map { PromptGradient($0.pointer) },
                          batch: batch)
            results.append([image, caption] + visionGradients.map(\.values) + textGradients.map(\.values))
            workspaces.append((vision.workspaceBytes, text.workspaceBytes))
        }
        for (index, (kept, shared)) in zip(results[0], results[1]).enumerated() {
            XCTAssertTrue(kept.contains { $0 != 0 }, "result \(index) is all zeros")
            XCTAssertEqual(shared, kept, "result \(index) (embeddings, then prompt gradients) differs when the inputs are shared")
        }
        let visionSaving = minimumSaving(config.vision.encoder, batch: batch, fewestTokens: config.vision.tokenCount + 3)
        let textSaving = minimumSaving(config.text.encoder, batch: batch, fewestTokens: config.text.contextLength)
        XCTAssertLessThanOrEqual(workspaces[1].vision + visionSaving, workspaces[0].vision,
                                 "vision: \(workspaces[1].vision) B shared against \(workspaces[0].vision) B kept")
        XCTAssertLessThanOrEqual(workspaces[1].text + textSaving, workspaces[0].text,
                                 "text: \(workspaces[1].text) B shared against \(workspaces[0].text) B kept")
    }
}
