import XCTest
import CLIP
@testable import promptcl

/// `bench step --shape`: each shape's prompt plans on ViT-B/16.
final class BenchShapeTests: XCTestCase {
    func testEachShapePromptsWhatItSays() throws {
        let config = CLIPConfig.vitBase16
        let modes = { (plan: PromptPlan) in plan.sites.map(\.mode) }

        let vpt = try BenchShape.vpt.visionPlan(tokens: BenchShape.vpt.defaultTokens, config: config.vision)
        XCTAssertEqual(vpt.sites.map(\.layer), Array(0..<12), "vpt prompts every vision layer")
        XCTAssertEqual(modes(vpt), [.insert] + Array(repeating: .replace, count: 11), "vpt inserts, then replaces")
        XCTAssertEqual(vpt.sites.map(\.tokens), Array(repeating: 4, count: 12), "4 tokens by default")
        XCTAssertNil(try BenchShape.vpt.textPlan(tokens: 4, config: config.text), "vpt leaves the text tower out")

        let lpi = try BenchShape.lpi.visionPlan(tokens: BenchShape.lpi.defaultTokens, config: config.vision)
        XCTAssertEqual(lpi.sites.map(\.layer), Array(0..<9), "lpi prompts the first 9 layers")
        XCTAssertEqual(modes(lpi), [.insert] + Array(repeating: .add, count: 8), "lpi inserts, then adds (eq. 1)")
        XCTAssertEqual(lpi.sites.map(\.tokens), Array(repeating: 16, count: 9), "16 tokens by default")
        XCTAssertEqual(lpi.placement, .afterClassToken, "after CLS, as LowRankPromptInteraction's plan")
        XCTAssertNil(try BenchShape.lpi.textPlan(tokens: 16, config: config.text), "lpi's step leaves the text tower out")

        let text = try XCTUnwrap(try BenchShape.clip.textPlan(tokens: 4, config: config.text), "clip prompts the text tower")
        XCTAssertEqual(text.sites.map(\.layer), Array(0..<12), "clip prompts every text layer")
        XCTAssertEqual(modes(text), [.insert] + Array(repeating: .replace, count: 11), "text: inserted, then replaced")
        XCTAssertEqual(try BenchShape.clip.visionPlan(tokens: 4, config: config.vision), vpt, "clip's vision prompts are vpt's")
        XCTAssertEqual(BenchShape.clip.stepConfig, .vitBase16, "clip steps the whole ViT-B/16")
        let textEncoder = config.text.encoder
        XCTAssertEqual([textEncoder.layers, textEncoder.hiddenSize, textEncoder.attentionHeads, textEncoder.intermediateSize,
                        config.text.vocabularySize, config.text.contextLength, config.projectionDim],
                       [12, 512, 8, 2048, 49408, 77, 512], "ViT-B/16's text tower and projection")
    }
}
