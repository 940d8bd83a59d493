import Foundation
import XCTest
import CLIP
import Continual
import Numerics
@testable import promptcl

/// `bench step --breakdown`: the kernel profile counts exactly the GEMM FLOPs `VisionStepFlops` predicts for a
/// prompt-tuning step, and its rows add up to the step.
final class StepBreakdownTests: XCTestCase {
    func testTheProfileCountsTheStepsGemmFlopsAndItsRowsAddUpToTheStep() throws {
        var section = ModelSection()
        section.random.imageSize = 32
        section.random.patchSize = 8
        let config = try section.clipConfig()
        let model = CLIPModel.random(config: config, seed: 3)
        let layers = config.vision.encoder.layers, width = config.vision.encoder.hiddenSize, batch = 3, tokens = 2
        let plan = try PromptPlan(sites: [PromptPlan.Site(layer: 0, tokens: tokens, mode: .insert)]
                                    + (1..<layers).map { PromptPlan.Site(layer: $0, tokens: tokens, mode: .replace) },
                                  placement: .afterClassToken, layers: layers)
        let pixels = [Float](repeating: 0.25, count: batch * 3 * 32 * 32)
        var prompts = [Float](repeating: 0.1, count: layers * tokens * width)
        var gradients = [Float](repeating: 0, count: layers * tokens * width)
        let dEmbeds = [Float](repeating: 0.01, count: batch * config.projectionDim)
        let tower = VisionTower(model: model, capacity: batch, plan: plan)
        let profile = KernelProfile()
        KernelProfile.active = profile
        defer { KernelProfile.active = nil }
        prompts.withUnsafeMutableBufferPointer { values in
            gradients.withUnsafeMutableBufferPointer { grads in
                let sites = (0..<layers).map { PromptValues(values.baseAddress! + $0 * tokens * width) }
                let gradientSites: [PromptGradient?] = (0..<layers).map { PromptGradient(grads.baseAddress! + $0 * tokens * width) }
                _ = tower.forward(pixels: pixels, prompts: sites, batch: batch)
                tower.backward(dEmbeds: dEmbeds, promptGradients: gradientSites, batch: batch)
            }
        }
        let expected = VisionStepFlops(config: config.vision, plan: plan, batch: batch)
        let patchEmbedding = 2 * Double(batch * config.vision.patchCount * 3 * 8 * 8 * width)
        let counted = profile.flops[KernelProfile.Kind.gemm.rawValue] + profile.flops[KernelProfile.Kind.attention.rawValue]
        XCTAssertEqual(counted, expected.total - patchEmbedding, accuracy: 1e-6 * counted,
                       "the profiled GEMM FLOPs are those of the step's encoder layers")
        XCTAssertTrue(KernelProfile.Kind.allCases.allSatisfy { profile.calls[$0.rawValue] > 0 },
                      "every kind is measured: \(profile.calls)")

        let rows = StepBreakdown.rows(profile: profile, steps: 1, stepSeconds: 2 * profile.seconds.reduce(0, +),
                                      sgemmGflops: 10)
        XCTAssertEqual(rows.map(\.kind).suffix(2), ["other", "step"], "the last rows")
        XCTAssertEqual(rows.dropLast().map(\.share).reduce(0, +), 1, accuracy: 1e-9, "the kinds and other make the step")
        XCTAssertEqual(rows.first { $0.kind == "other" }?.share ?? 0, 0.5, accuracy: 1e-9, "other is the unmeasured rest")
    }
}
