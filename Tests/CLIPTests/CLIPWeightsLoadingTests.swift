import Foundation
import XCTest
import CLIP
import TestSupport

/// A weights file that does not hold the model its config describes gets one error naming the file,
/// every missing tensor and every shape mismatch (expected from the config against found in the file).
final class CLIPWeightsLoadingTests: XCTestCase {
    private let tinyA = fixturesDirectory.appendingPathComponent("models/tiny-a")
    private let tinyB = fixturesDirectory.appendingPathComponent("models/tiny-b")

    func testShapeMismatchesListExpectedAgainstFound() throws {
        let config = try CLIPConfig(contentsOf: tinyA.appendingPathComponent("config.json"))
        let wrongWeights = tinyB.appendingPathComponent("model.safetensors")
        let file = try SafetensorsFile(contentsOf: wrongWeights)
        XCTAssertThrowsError(try CLIPModel.load(config: config, from: file)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(wrongWeights.path), "names the file: \(message)")
            XCTAssertTrue(message.contains("vision_model.embeddings.class_embedding: expected [32], found [48]"),
                          "lists a mismatch with both shapes: \(message)")
            XCTAssertFalse(message.contains("missing"), "tiny-b holds every tensor name tiny-a's config asks for: \(message)")
        }
    }

    func testMissingTensorsAreListed() throws {
        let source = try SafetensorsFile(contentsOf: tinyA.appendingPathComponent("model.safetensors"))
        var writer = SafetensorsWriter()
        for name in source.tensorNames where !name.hasPrefix("text_model.encoder.layers.1.") && name != "logit_scale" {
            try writer.add(name, shape: source.info(name)!.shape, floats: try source.floats(name))
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-missing-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: tinyA.appendingPathComponent("config.json"),
                                         to: folder.appendingPathComponent("config.json"))
        try writer.write(to: folder.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try CLIPModel.load(directory: folder)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("model.safetensors"), "names the file: \(message)")
            XCTAssertTrue(message.contains("missing 17 tensor(s)"), "16 tensors of one text layer and logit_scale: \(message)")
            XCTAssertTrue(message.contains("text_model.encoder.layers.1.mlp.fc1.weight"), "lists a missing name: \(message)")
            XCTAssertTrue(message.contains("logit_scale"), "lists logit_scale: \(message)")
        }
    }

    func testMissingConfigNamesTheFile() {
        let folder = fixturesDirectory.appendingPathComponent("no-such-model")
        XCTAssertThrowsError(try CLIPModel.load(directory: folder)) { error in
            XCTAssertTrue("\(error)".contains("no-such-model/config.json"), "names the missing file: \(error)")
        }
    }
}
