import XCTest
import CLIP
import Numerics
@testable import promptcl

/// `bench step --shape clip` and `bench eval`: the text tower's GEMM FLOPs (`TextStepFlops`) against a count by
/// hand, and against what the kernel profile counts while the tower runs.
final class TextStepFlopsTests: XCTestCase {
    /// Vision: 16 px, patch 8, width 8; text: width 8, MLP 16, 2 heads of 4, 3 layers, context 12.
    static let config = CLIPConfig(
        vision: CLIPVisionConfig(encoder: CLIPEncoderConfig(hiddenSize: 8, intermediateSize: 16, attentionHeads: 2, layers: 2,
                                                            layerNormEps: 1e-5, activation: .quickGELU),
                                 imageSize: 16, patchSize: 8, channels: 3),
        text: CLIPTextConfig(encoder: CLIPEncoderConfig(hiddenSize: 8, intermediateSize: 16, attentionHeads: 2, layers: 3,
                                                        layerNormEps: 1e-5, activation: .quickGELU),
                             vocabularySize: 50, contextLength: 12, bosTokenID: 48, eosTokenID: 49, padTokenID: 49),
        projectionDim: 8, logitScaleInit: 2.6592)

    func testTheTextCountMatchesAHandCount() throws {
        let text = Self.config.text
        // Per layer of T rows, batch B, D 8, F 16, H 2, d_h 4:
        //   linear    = 2 B T (4 D^2 + 2 D F) = 2 B T (256 + 256) = 1024 B T
        //   attention = 4 B H T^2 d_h         = 32 B T^2
        // Prompts at every layer (2 inserted after SOT, then replaced), B 3, captions of 5 tokens: T = 7 everywhere.
        //   linear 21504, attention 4704; forward 3 (21504 + 4704) = 78624, backward 3 (21504 + 2 * 4704) = 92736.
        let deep = try PromptPlan(sites: [PromptPlan.Site(layer: 0, tokens: 2, mode: .insert),
                                          PromptPlan.Site(layer: 1, tokens: 2, mode: .replace),
                                          PromptPlan.Site(layer: 2, tokens: 2, mode: .replace)], layers: 3)
        let counted = TextStepFlops(config: text, plan: deep, batch: 3, captionTokens: 5)
        XCTAssertEqual(counted.forward, 78624, "forward of three layers of 7 rows")
        XCTAssertEqual(counted.backward, 92736, "backward to the inputs of three layers of 7 rows")
        XCTAssertEqual(counted.total, 78624 + 92736, "total")

        // Captions filling the context (12) with 2 prompts at layer 0: the tower cuts them to 10, T = 12 everywhere.
        //   linear 1024 * 3 * 12 = 36864, attention 32 * 3 * 144 = 13824; forward 3 * 50688 = 152064.
        let cut = TextStepFlops(config: text, plan: deep, batch: 3, captionTokens: 12)
        XCTAssertEqual(cut.forward, 152064, "a caption longer than the room left by the layer-0 prompts is cut")

        // Prompts from layer 1 only (2 inserted, then added), B 1, captions of 12: layer 0 has 12 rows, layers 1 and 2
        // have 14; the backward stops at layer 1.
        //   T 12: linear 12288, attention 4608;  T 14: linear 14336, attention 6272
        //   forward 16896 + 2 * 20608 = 58112, backward 2 * (14336 + 2 * 6272) = 53760.
        let upper = try PromptPlan(sites: [PromptPlan.Site(layer: 1, tokens: 2, mode: .insert),
                                           PromptPlan.Site(layer: 2, tokens: 2, mode: .add)], layers: 3)
        let shallow = TextStepFlops(config: text, plan: upper, batch: 1, captionTokens: 12)
        XCTAssertEqual(shallow.forward, 58112, "forward: 12 rows below the first prompted layer, 14 above")
        XCTAssertEqual(shallow.backward, 53760, "backward: from the top down to the first prompted layer only")

        let unprompted = TextStepFlops(config: text, plan: .none, batch: 2, captionTokens: 4)
        XCTAssertEqual(unprompted.backward, 0, "nothing to train, no backward")
        XCTAssertEqual(unprompted.forward, 3 * (1024 * 2 * 4 + 32 * 2 * 16), "an unprompted forward of 4 rows")
    }

    func testTheProfileOfATextStepCountsTheTextFlops() throws {
        let config = Self.config
        let model = CLIPModel.random(config: config, seed: 5)
        let batch = 3, tokens = 4
        let plan = try XCTUnwrap(try BenchShape.clip.textPlan(tokens: tokens, config: config.text), "clip prompts the text")
        let visionPlan = try BenchShape.clip.visionPlan(tokens: tokens, config: config.vision)
        // Captions of the whole context: the 4 prompts at layer 0 cut them to 8, so every layer has 12 rows.
        let inputs = BenchBatch(config: config, visionPlan: visionPlan, textPlan: plan, batch: batch,
                                captionTokens: config.text.contextLength)
        let tower = TextTower(model: model, capacity: batch, plan: plan)
        let dEmbeds = [Float](repeating: 0.01, count: batch * config.projectionDim)
        let profile = KernelProfile()
        KernelProfile.active = profile
        defer { KernelProfile.active = nil }
        inputs.ids.withUnsafeBufferPointer {
            _ = tower.forward(ids: $0.baseAddress!, prompts: inputs.textPrompts, batch: batch)
        }
        tower.backward(dEmbeds: dEmbeds, promptGradients: inputs.textGradients, batch: batch)
        let expected = TextStepFlops(config: config.text, plan: plan, batch: batch, captionTokens: config.text.contextLength)
        let counted = profile.flops[KernelProfile.Kind.gemm.rawValue] + profile.flops[KernelProfile.Kind.attention.rawValue]
        XCTAssertEqual(counted, expected.total, accuracy: 1e-9 * counted, "the profiled GEMM FLOPs are those counted")
        let perLayer = EncoderLayerFlops(config.text.encoder, tokens: config.text.contextLength, batch: batch)
        XCTAssertEqual(expected.forward, 3 * perLayer.total, "12 rows (8 caption tokens, 4 prompts) in every layer")
        XCTAssertTrue(inputs.textGradients.allSatisfy { gradient in
            (0..<tokens * config.text.encoder.hiddenSize).contains { gradient!.pointer[$0] != 0 }
        }, "every text site got a gradient")
    }
}
