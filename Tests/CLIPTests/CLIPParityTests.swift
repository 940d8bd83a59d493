import Foundation
import XCTest
import CLIP
import Numerics
import TestSupport

/// PromptCL's CLIP against transformers' (Tests/Fixtures/make_model_fixtures.py): embeddings within 1e-4
/// relative, gradients of the contrastive loss with respect to every prompt (and, for tiny-a, every weight)
/// within 1e-3 relative.
final class CLIPParityTests: XCTestCase {
    func testTinyAQuickGELUPromptsAfterClassTokenWithWeightGradients() throws {
        try checkParity(model: "tiny-a")
    }

    func testTinyBGELUFloat16PromptsAfterPatchesDeeperInsertsPerSample() throws {
        try checkParity(model: "tiny-b")
    }

    /// MPL's remove-then-insert sites (Tests/Fixtures/make_mpl_fixtures.py): the last rows of the block dropped
    /// before a deeper insert, after the class token (tiny-a) and after the patches (tiny-b, as MPL).
    func testTinyARemoveThenInsertAfterClassTokenPerSample() throws {
        try checkParity(model: "tiny-a", fixture: "mpl-parity.safetensors")
    }

    func testTinyBRemoveThenInsertAfterPatchesAsMPL() throws {
        try checkParity(model: "tiny-b", fixture: "mpl-parity.safetensors")
    }

    func testPlainEmbeddingsMatchTransformers() throws {
        for name in ["tiny-a", "tiny-b"] {
            let folder = fixturesDirectory.appendingPathComponent("models/\(name)")
            let model = try CLIPModel.load(directory: folder)
            let images = try SafetensorsFile(contentsOf: folder.appendingPathComponent("images.safetensors"))
            let expected = try SafetensorsFile(contentsOf: folder.appendingPathComponent("embeddings.safetensors"))
            let pixels = OwnedFloats(try images.floats("pixel_values"))
            let count = images.info("pixel_values")!.shape[0]
            let vision = VisionTower(model: model, capacity: count)
            let image = Array(UnsafeBufferPointer(start: vision.forward(pixels: pixels.pointer, batch: count),
                                                  count: count * model.config.projectionDim))
            let imageError = relativeError(image, try expected.floats("image_embeds"))
            XCTAssertLessThan(imageError, 1e-4, "\(name): image embeddings off by \(imageError)")

            let ids = try expected.int64s("input_ids").map(Int32.init)
            let rows = expected.info("input_ids")!.shape[0]
            let text = TextTower(model: model, capacity: rows)
            let embeds = ids.withUnsafeBufferPointer { text.forward(ids: $0.baseAddress!, batch: rows) }
            let textError = relativeError(Array(UnsafeBufferPointer(start: embeds, count: rows * model.config.projectionDim)),
                                          try expected.floats("text_embeds"))
            XCTAssertLessThan(textError, 1e-4, "\(name): text embeddings off by \(textError)")
        }
    }

    private func checkParity(model name: String, fixture file: String = "parity.safetensors") throws {
        let folder = fixturesDirectory.appendingPathComponent("models/\(name)")
        let model = try CLIPModel.load(directory: folder)
        let fixture = try SafetensorsFile(contentsOf: folder.appendingPathComponent(file))
        let label = "\(name) \(file)"
        let plans = try JSONDecoder().decode(FixturePlans.self, from: Data(fixture.metadata["plans"]!.utf8))
        let withWeightGradients = fixture.metadata["weight_gradients"] == "true"
        let batch = fixture.info("pixel_values")!.shape[0]
        let e = model.config.projectionDim

        let visionPlan = try plans.vision.plan(layers: model.config.vision.encoder.layers)
        let textPlan = try plans.text.plan(layers: model.config.text.encoder.layers)
        let gradients = withWeightGradients ? model.makeGradientBuffer() : nil
        let vision = VisionTower(model: model, capacity: batch, plan: visionPlan, weightGradients: gradients)
        let text = TextTower(model: model, capacity: batch, plan: textPlan, weightGradients: gradients)

        let visionPrompts = try plans.vision.sites.indices.map { OwnedFloats(try fixture.floats("vision.site\($0)")) }
        let textPrompts = try plans.text.sites.indices.map { OwnedFloats(try fixture.floats("text.site\($0)")) }
        let visionGradients = visionPrompts.map { OwnedFloats(zeros: $0.count) }
        let textGradients = textPrompts.map { OwnedFloats(zeros: $0.count) }
        let dv = model.config.vision.encoder.hiddenSize, dt = model.config.text.encoder.hiddenSize

        let pixels = OwnedFloats(try fixture.floats("pixel_values"))
        let ids = try fixture.int64s("input_ids").map(Int32.init)
        let image = vision.forward(pixels: pixels.pointer, prompts: plans.vision.values(visionPrompts, width: dv), batch: batch)
        let caption = ids.withUnsafeBufferPointer {
            text.forward(ids: $0.baseAddress!, prompts: plans.text.values(textPrompts, width: dt), batch: batch)
        }
        let imageError = relativeError(Array(UnsafeBufferPointer(start: image, count: batch * e)),
                                       try fixture.floats("image_embeds"))
        let textError = relativeError(Array(UnsafeBufferPointer(start: caption, count: batch * e)),
                                      try fixture.floats("text_embeds"))
        print("\(label): prompted image embeddings \(imageError), text embeddings \(textError) (max abs error / max abs)")
        XCTAssertLessThan(imageError, 1e-4, "\(label): prompted image embeddings off by \(imageError)")
        XCTAssertLessThan(textError, 1e-4, "\(label): prompted text embeddings off by \(textError)")

        let objective = ContrastiveObjective(capacity: batch, width: e)
        let loss = objective.forward(image: image, text: caption, count: batch, logScale: model.logitScale)
        let expectedLoss = try fixture.floats("loss")[0]
        XCTAssertLessThan(abs(loss - expectedLoss) / abs(expectedLoss), 1e-4, "\(label): loss \(loss) against \(expectedLoss)")

        let (dImage, dText, dLogScale) = objective.backward()
        vision.backward(dEmbeds: dImage, promptGradients: plans.vision.gradients(visionGradients, width: dv), batch: batch)
        text.backward(dEmbeds: dText, promptGradients: plans.text.gradients(textGradients, width: dt), batch: batch)
        for (tower, owned) in [("vision", visionGradients), ("text", textGradients)] {
            for (index, gradient) in owned.enumerated() {
                let expected = try fixture.floats("grad.\(tower).site\(index)")
                let error = relativeError(gradient.values, expected)
                print("\(label): gradient of \(tower) site \(index): \(error)")
                XCTAssertLessThan(error, 1e-3, "\(label): gradient of \(tower) site \(index) off by \(error)")
            }
        }
        guard let gradients else { return }
        gradients["logit_scale"].pointee += dLogScale
        // The key bias adds one constant to every score of a softmax row, so its true gradient is 0 and both
        // sides hold rounding noise: errors are relative to at least 1e-4 of the model's largest gradient.
        let expected = try gradients.layout.entries.map { try fixture.floats("grad.\($0.name)") }
        let largest = expected.map { $0.map(abs).max() ?? 0 }.max() ?? 0
        var worst: (String, Float) = ("", 0)
        for (entry, reference) in zip(gradients.layout.entries, expected) {
            let actual = gradients.values(entry.name)
            let scale = max(reference.map(abs).max() ?? 0, 1e-4 * largest)
            let error = zip(actual, reference).map { abs($0 - $1) }.max()! / scale
            XCTAssertLessThan(error, 1e-3, "\(label): weight gradient \(entry.name) off by \(error)")
            if entry.name.hasSuffix("k_proj.bias") {
                XCTAssertLessThan(actual.map(abs).max()!, 1e-6 * largest, "\(label): \(entry.name) should be 0")
            }
            if error > worst.1 { worst = (entry.name, error) }
        }
        print("\(label): worst weight gradient \(worst.0) at \(worst.1)")
    }
}

/// The prompt plans stored in parity.safetensors' metadata.
private struct FixturePlans: Decodable {
    struct Site: Decodable {
        let layer: Int
        let tokens: Int
        let mode: PromptPlan.Mode
        let removed: Int?
        let per_sample: Bool?
    }

    struct Tower: Decodable {
        let placement: PromptPlan.Placement?
        let sites: [Site]

        func plan(layers: Int) throws -> PromptPlan {
            try PromptPlan(sites: sites.map { PromptPlan.Site(layer: $0.layer, tokens: $0.tokens, mode: $0.mode,
                                                                  removed: $0.removed ?? 0) },
                           placement: placement ?? .afterClassToken, layers: layers)
        }

        func values(_ owned: [OwnedFloats], width: Int) -> [PromptValues] {
            zip(sites, owned).map { PromptValues($1.pointer, batchStride: $0.per_sample == true ? $0.tokens * width : 0) }
        }

        func gradients(_ owned: [OwnedFloats], width: Int) -> [PromptGradient?] {
            zip(sites, owned).map { PromptGradient($1.pointer, batchStride: $0.per_sample == true ? $0.tokens * width : 0) }
        }
    }

    let vision: Tower
    let text: Tower
}
