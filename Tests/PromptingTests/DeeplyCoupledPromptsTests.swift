import CLIP
import Foundation
import Numerics
import Prompting
import TestSupport
import XCTest

/// DCP (`DeeplyCoupledPrompts`, `PromptAttentionBranch`): the prompt chain and every tensor's gradient against torch
/// autograd in float64 (Tests/Fixtures/dcp/dcp.safetensors, written by Tests/Fixtures/make_dcp_fixtures.py), on the
/// GEMM path and on the naive reference; the hooks against central differences; the plans and the tensor count.
final class DeeplyCoupledPromptsTests: XCTestCase {
    /// The fixture's shapes: vision 16 wide with 2 heads, text 12 wide with 3 heads, 4 layers each.
    private let fixtureModel = CLIPConfig(
        vision: CLIPVisionConfig(
            encoder: CLIPEncoderConfig(hiddenSize: 16, intermediateSize: 64, attentionHeads: 2, layers: 4,
                                       layerNormEps: 1e-5, activation: .quickGELU),
            imageSize: 8, patchSize: 4, channels: 3),
        text: CLIPTextConfig(
            encoder: CLIPEncoderConfig(hiddenSize: 12, intermediateSize: 48, attentionHeads: 3, layers: 4,
                                       layerNormEps: 1e-5, activation: .quickGELU),
            vocabularySize: 10, contextLength: 12, bosTokenID: 8, eosTokenID: 9, padTokenID: 9),
        projectionDim: 12, logitScaleInit: 2.6592)

    private func fixtures() throws -> SafetensorsFile {
        try SafetensorsFile(contentsOf: fixtureURL("dcp/dcp.safetensors"))
    }

    /// Asserts `actual` within `tolerance` (max-normalised) of `expected`, printing the error.
    @discardableResult
    private func assertClose(_ name: String, _ actual: [Float], _ expected: [Float], tolerance: Float,
                             file: StaticString = #filePath, line: UInt = #line) -> Float {
        XCTAssertEqual(actual.count, expected.count, "\(name): length", file: file, line: line)
        guard actual.count == expected.count else { return .infinity }
        let error = relativeError(actual, expected)
        XCTAssertLessThan(error, tolerance, "\(name): relative error \(error)", file: file, line: line)
        return error
    }

    // MARK: Against torch

    func testPromptChainAndGradientsMatchTorch() throws {
        let file = try fixtures()
        for (label, depth, shared) in [("chain", 4, false), ("shared", 3, true)] {
            for backend in [Gemm.Backend.blas, .naive] {
                try assertMatchesTorch(file, label: label, depth: depth, shared: shared, backend: backend)
            }
        }
    }

    private func assertMatchesTorch(_ file: SafetensorsFile, label: String, depth: Int, shared: Bool,
                                    backend: Gemm.Backend) throws {
        let method = try DeeplyCoupledPrompts(model: fixtureModel, tokens: 3, depth: depth, sharedAttention: shared,
                                              backend: backend)
        let parameters = declared(method)
        let fixtureTensors = Set(file.tensorNames.filter { $0.hasPrefix("\(label).dcp.") })
        XCTAssertEqual(fixtureTensors, Set(parameters.layout.entries.map { "\(label).\($0.name)" }),
                       "\(label): the fixture has every tensor the method declares, and no other")
        for entry in parameters.layout.entries {
            try file.copyFloats("\(label).\(entry.name)",
                                into: UnsafeMutableBufferPointer(start: parameters.values[entry.name], count: entry.count))
        }
        let path = "\(label) \(backend)"

        method.prepare(values: parameters.values, batch: PromptBatch(count: 2, task: 0))
        var worstPrompt: Float = 0
        for (tower, sites, width) in [("vision", method.visionPrompts(parameters.values), 16),
                                      ("text", method.textPrompts(parameters.values), 12)] {
            XCTAssertEqual(sites.count, depth, "\(path): a site per prompted layer")
            for (layer, site) in sites.enumerated() {
                XCTAssertEqual(site.batchStride, 0, "\(path): DCP's prompts are shared by the batch")
                let actual = Array(UnsafeBufferPointer(start: site.pointer, count: 3 * width))
                worstPrompt = max(worstPrompt, assertClose("\(path) \(tower) prompts of layer \(layer)", actual,
                                                           try file.floats("\(label).prompts.\(tower).layer\(layer)"),
                                                           tolerance: 1e-4))
            }
        }

        // Gradients from a random start (an overwriting backward fails), the upstream added as the towers would.
        let initial = randomNormal(parameters.count, seed: 41, std: 0.01)
        parameters.gradients.storage.update(from: initial, count: parameters.count)
        for (tower, sites, width) in [("vision", method.visionPromptGradients(parameters.gradients), 16),
                                      ("text", method.textPromptGradients(parameters.gradients), 12)] {
            for (layer, site) in sites.enumerated() {
                let gradient = try XCTUnwrap(site, "\(path): \(tower) site \(layer) takes a gradient")
                let upstream = try file.floats("\(label).upstream.\(tower).layer\(layer)")
                for i in 0..<(3 * width) { gradient.pointer[i] += upstream[i] }
            }
        }
        let loss = method.finishBackward(values: parameters.values, gradients: parameters.gradients,
                                         batch: PromptBatch(count: 2, task: 0), globalCount: 2)
        XCTAssertEqual(loss, 0, "\(path): DCP adds no loss of its own")
        let accumulated = Array(UnsafeBufferPointer(start: parameters.gradients.storage, count: parameters.count))
        var worstGradient: (Float, String) = (0, "")
        for entry in parameters.layout.entries {
            let range = entry.offset..<(entry.offset + entry.count)
            let error = assertClose("\(path) d\(entry.name)", added(Array(accumulated[range]), to: Array(initial[range])),
                                    try file.floats("\(label).grad.\(entry.name)"), tolerance: 1e-3)
            if error > worstGradient.0 { worstGradient = (error, entry.name) }
        }
        print("\(path): prompts within \(worstPrompt) of torch; \(parameters.layout.entries.count) gradients within "
              + "\(worstGradient.0) (worst: \(worstGradient.1))")
    }

    // MARK: Hooks against central differences

    func testHooksMatchCentralDifferences() throws {
        let model = twoTowerCLIPConfig
        for shared in [false, true] {
            let method = try DeeplyCoupledPrompts(model: model, tokens: 2, depth: 3, sharedAttention: shared)
            let parameters = declared(method)
            // Layer-0 prompts of std 1 rather than 0.02: a step of 1e-2 then stays small against the scale that
            // LN_1 normalises, so central differences measure the gradient and not LN's curvature.
            for name in ["dcp.layer0.vision", "dcp.layer0.text"] {
                let count = parameters.layout.entry(name)!.count
                parameters.values[name].update(from: randomNormal(count, seed: 17), count: count)
            }
            try assertHookGradient("dcp\(shared ? ", shared CMPA" : "")", method: method, parameters: parameters,
                                   batch: PromptBatch(count: 2, task: 0), model: model)
        }
    }

    // MARK: Plans and tensors

    func testPlansCoupleBothTowersFromLayerOne() throws {
        let method = try DeeplyCoupledPrompts(model: twoTowerCLIPConfig, tokens: 2, depth: 3)
        for plan in [method.visionPlan, method.textPlan] {
            XCTAssertEqual(plan.sites.map(\.mode), [.insert, .replace, .replace], "insert at layer 0, replace above")
            XCTAssertEqual(plan.sites.map(\.tokens), [2, 2, 2], "n tokens at every prompted layer")
        }
        XCTAssertEqual(method.visionPlan.placement, .afterPatches, "the official code appends the vision prompts")
        XCTAssertThrowsError(try DeeplyCoupledPrompts(model: twoTowerCLIPConfig, tokens: 2, depth: 4),
                             "3-layer towers have no 4 prompted layers") { error in
            XCTAssertTrue("\(error)".contains("prompt depth 4"), "names the depth: \(error)")
        }
        let single = try DeeplyCoupledPrompts(model: twoTowerCLIPConfig, tokens: 2, depth: 1)
        XCTAssertEqual(declared(single).layout.entries.map(\.name), ["dcp.layer0.vision", "dcp.layer0.text"],
                       "depth 1: no coupled layer, no CMPA tensors")
    }

    func testViTB16CountsMatchTheOfficialModules() throws {
        // openai/clip-vit-base-patch16's widths and heads; 12 layers in both towers.
        let vision = CLIPEncoderConfig(hiddenSize: 768, intermediateSize: 3072, attentionHeads: 12, layers: 12,
                                       layerNormEps: 1e-5, activation: .quickGELU)
        let text = CLIPEncoderConfig(hiddenSize: 512, intermediateSize: 2048, attentionHeads: 8, layers: 12,
                                     layerNormEps: 1e-5, activation: .quickGELU)
        let model = CLIPConfig(vision: CLIPVisionConfig(encoder: vision, imageSize: 224, patchSize: 16, channels: 3),
                               text: CLIPTextConfig(encoder: text, vocabularySize: 49408, contextLength: 77,
                                                    bosTokenID: 49406, eosTokenID: 49407, padTokenID: 49407),
                               projectionDim: 512, logitScaleInit: 2.6592)
        // torch's count of the official PromptAttention(768, 12, 512, 8): the vision side with proj_t2v 7,481,856,
        // the text side with proj_v2t 3,546,112.
        let module = 11_027_968
        for (shared, modules) in [(false, 8), (true, 1)] {
            var layout = ParameterLayout()
            try DeeplyCoupledPrompts(model: model, sharedAttention: shared).declare(into: &layout)
            XCTAssertEqual(layout.count, 16 * (768 + 512) + modules * module,
                           "16 tokens per tower and \(modules) CMPA module(s) of \(module)")
            let vision = layout.entries.filter { $0.name.hasPrefix(shared ? "dcp.cmpa.vision." : "dcp.layer1.cmpa.vision.") }
            XCTAssertEqual(vision.reduce(0) { $0 + $1.count }, 7_481_856, "the vision branch of one module")
        }
    }
}
