import Foundation
import XCTest
import CLIP
import TestSupport
@testable import promptcl

/// `promptcl embed` on model folders written by transformers' save_pretrained gives transformers' features
/// (get_image_features / get_text_features, computed from its own tokenizer's ids) within 1e-4 relative.
final class EmbedCommandTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-embed-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func testEmbeddingsMatchTransformersForBothFixtureModels() throws {
        for name in ["tiny-a", "tiny-b"] {
            let folder = fixturesDirectory.appendingPathComponent("models/\(name)")
            let out = scratch.appendingPathComponent("\(name).safetensors")
            let command = try EmbedCommand.parse([
                "--model", folder.path, "--images", folder.appendingPathComponent("images.safetensors").path,
                "--texts", folder.appendingPathComponent("captions.txt").path, "--out", out.path, "--batch-size", "2",
            ])
            try command.run()
            let result = try SafetensorsFile(contentsOf: out)
            let expected = try SafetensorsFile(contentsOf: folder.appendingPathComponent("embeddings.safetensors"))
            for key in ["image_embeds", "text_embeds"] {
                XCTAssertEqual(result.info(key)?.shape, expected.info(key)?.shape, "\(name): shape of \(key)")
                let error = relativeError(try result.floats(key), try expected.floats(key))
                XCTAssertLessThan(error, 1e-4, "\(name): \(key) off by \(error)")
            }
        }
    }

    func testPromptFileChangesTheEmbeddingsAndIsChecked() throws {
        let folder = fixturesDirectory.appendingPathComponent("models/tiny-a")
        let config = try CLIPConfig(contentsOf: folder.appendingPathComponent("config.json"))
        let vision = try PromptPlan(sites: [.init(layer: 0, tokens: 2, mode: .insert), .init(layer: 1, tokens: 2, mode: .replace)],
                                    layers: config.vision.encoder.layers)
        let text = try PromptPlan(sites: [.init(layer: 0, tokens: 1, mode: .insert)], layers: config.text.encoder.layers)
        let d = config.vision.encoder.hiddenSize, dt = config.text.encoder.hiddenSize
        let prompts = PromptSet(vision: vision, text: text,
                                visionValues: [randomNormal(2 * d, seed: 1), randomNormal(2 * d, seed: 2)],
                                textValues: [randomNormal(dt, seed: 3)])
        let promptFile = scratch.appendingPathComponent("prompts.safetensors")
        try prompts.write(to: promptFile)
        let roundTrip = try PromptSet(contentsOf: promptFile, config: config)
        XCTAssertEqual(roundTrip.vision, vision, "vision plan survives the file")
        XCTAssertEqual(roundTrip.textValues, prompts.textValues, "text values survive the file")

        func embed(_ extra: [String]) throws -> [Float] {
            let out = scratch.appendingPathComponent("out-\(extra.count).safetensors")
            let command = try EmbedCommand.parse([
                "--model", folder.path, "--images", folder.appendingPathComponent("images.safetensors").path,
                "--out", out.path] + extra)
            try command.run()
            return try SafetensorsFile(contentsOf: out).floats("image_embeds")
        }
        let plain = try embed([])
        let prompted = try embed(["--prompts", promptFile.path])
        XCTAssertGreaterThan(relativeError(prompted, plain), 1e-2, "prompts must change the image embeddings")

        // The same file against a model of another width is refused, naming the file and the tensor.
        let other = fixturesDirectory.appendingPathComponent("models/tiny-b")
        let otherConfig = try CLIPConfig(contentsOf: other.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try PromptSet(contentsOf: promptFile, config: otherConfig)) { error in
            XCTAssertTrue("\(error)".contains(promptFile.path) && "\(error)".contains("vision.site0 has shape [2, 32], expected [2, 48]"),
                          "\(error)")
        }
    }

    func testImagesOfTheWrongSizeAreRefusedNamingTheFile() throws {
        let folder = fixturesDirectory.appendingPathComponent("models/tiny-a")
        let images = fixturesDirectory.appendingPathComponent("models/tiny-b/images.safetensors")
        let command = try EmbedCommand.parse([
            "--model", folder.path, "--images", images.path, "--out", scratch.appendingPathComponent("x.safetensors").path,
        ])
        XCTAssertThrowsError(try command.run()) { error in
            XCTAssertTrue("\(error)".contains(images.path) && "\(error)".contains("[5, 3, 24, 24]")
                          && "\(error)".contains("[N, 3, 32, 32]"), "\(error)")
        }
    }
}
