import Foundation
import XCTest
import CLIP
import Numerics
import TestSupport

/// `CLIPModel.save` writes a Hugging Face folder that `CLIPModel.load` and `CLIPTokenizer(directory:)` read
/// back bit for bit, with a config.json whose every key holds what transformers' own save_pretrained writes.
/// (That transformers loads the folder and computes the same embeddings is checked by hand:
/// Tests/Fixtures/check_saved_model.py.)
final class CLIPSavingTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("promptcl-saving-\(UUID())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    /// A small model of the bundled vocabulary with settings away from the defaults (gelu, eps 1e-6, a
    /// non-default logit scale, patch 4, context 24).
    private func smallConfig(vocabularySize: Int, startOfText: Int, endOfText: Int) -> CLIPConfig {
        CLIPConfig(
            vision: CLIPVisionConfig(
                encoder: CLIPEncoderConfig(hiddenSize: 24, intermediateSize: 40, attentionHeads: 3, layers: 2,
                                           layerNormEps: 1e-6, activation: .gelu),
                imageSize: 16, patchSize: 4, channels: 3),
            text: CLIPTextConfig(
                encoder: CLIPEncoderConfig(hiddenSize: 16, intermediateSize: 64, attentionHeads: 2, layers: 1,
                                           layerNormEps: 1e-5, activation: .quickGELU),
                vocabularySize: vocabularySize, contextLength: 24, bosTokenID: startOfText, eosTokenID: endOfText,
                padTokenID: endOfText),
            projectionDim: 12, logitScaleInit: 3.1)
    }

    func testSavedModelLoadsBackBitForBitWithItsTokenizer() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        let config = smallConfig(vocabularySize: tokenizer.vocabularySize, startOfText: Int(tokenizer.startOfText),
                                 endOfText: Int(tokenizer.endOfText))
        let model = CLIPModel.random(config: config, seed: 11)
        // A logit scale that is not the config's initial value: the weight, not the config, must be saved.
        model.weights["logit_scale"].pointee = 4.25
        let folder = scratch.appendingPathComponent("saved/model")
        try model.save(to: folder, tokenizer: tokenizer)

        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        XCTAssertEqual(names, ["config.json", "merges.txt", "model.safetensors", "vocab.json"], "the folder's files")
        let loaded = try CLIPModel.load(directory: folder)
        XCTAssertEqual(loaded.config, config, "config.json reads back to the same config")
        XCTAssertEqual(loaded.weights.layout.count, model.weights.layout.count, "parameter count")
        var differing = 0
        for i in 0..<model.weights.layout.count where loaded.weights.storage[i].bitPattern != model.weights.storage[i].bitPattern {
            differing += 1
        }
        XCTAssertEqual(differing, 0, "every weight reads back with the same bits")
        XCTAssertEqual(loaded.logitScale, 4.25, "the logit scale weight is saved")

        for name in ["vocab.json", "merges.txt"] {
            let copied = try Data(contentsOf: folder.appendingPathComponent(name))
            let original = try Data(contentsOf: CLIPTokenizer.bundledVocabularyDirectory.appendingPathComponent(name))
            XCTAssertEqual(copied, original, "\(name) is the bundled file")
        }
        let reloaded = try CLIPTokenizer(directory: folder)
        let caption = "a large red circle in the upper left"
        XCTAssertEqual(reloaded.tokenize(caption, contextLength: 24, padding: reloaded.endOfText),
                       tokenizer.tokenize(caption, contextLength: 24, padding: tokenizer.endOfText),
                       "the saved tokenizer gives the same ids")

        let file = try SafetensorsFile(contentsOf: folder.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(file.metadata["format"], "pt", "transformers reads only safetensors files of format pt")
        XCTAssertEqual(file.info("logit_scale")?.shape, [], "logit_scale is a scalar, as transformers saves it")

        // Saving again over the folder replaces the weights.
        model.weights["logit_scale"].pointee = 1.5
        try model.save(to: folder, tokenizer: tokenizer)
        XCTAssertEqual(try CLIPModel.load(directory: folder).logitScale, 1.5, "a second save replaces the weights")
    }

    /// Every key that `config.jsonText` writes holds the value transformers' save_pretrained wrote for the
    /// same model (the fixtures' config.json files, one quick_gelu and one gelu), but `dtype`: ours are always
    /// float32 weights, tiny-b's were stored as float16.
    func testConfigJSONAgreesWithTransformersFiles() throws {
        for name in ["tiny-a", "tiny-b"] {
            let url = fixturesDirectory.appendingPathComponent("models/\(name)/config.json")
            let config = try CLIPConfig(contentsOf: url)
            let ours = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(config.jsonText.utf8)) as? [String: Any])
            let theirs = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            func compare(_ ours: [String: Any], _ theirs: [String: Any], path: String) {
                for (key, value) in ours where key != "dtype" {
                    let where_ = path.isEmpty ? key : "\(path).\(key)"
                    guard let expected = theirs[key] else {
                        XCTFail("\(name): \(where_) is not in transformers' file")
                        continue
                    }
                    if let nested = value as? [String: Any] {
                        compare(nested, expected as? [String: Any] ?? [:], path: where_)
                    } else {
                        XCTAssertEqual("\(value)", "\(expected)", "\(name): \(where_)")
                    }
                }
            }
            compare(ours, theirs, path: "")
            XCTAssertEqual(ours["dtype"] as? String, "float32", "\(name): dtype")
            XCTAssertEqual(ours.keys.count, 8, "\(name): top-level keys")
            let written = scratch.appendingPathComponent("\(name).json")
            try Data(config.jsonText.utf8).write(to: written)
            XCTAssertEqual(try CLIPConfig(contentsOf: written), config, "\(name): reads back to the same config")
        }
    }

    func testATokenizerLargerThanTheVocabularyIsRefused() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        let model = CLIPModel.random(config: smallConfig(vocabularySize: 1000, startOfText: 998, endOfText: 999), seed: 1)
        let folder = scratch.appendingPathComponent("too-small")
        XCTAssertThrowsError(try model.save(to: folder, tokenizer: tokenizer)) { error in
            XCTAssertTrue("\(error)".contains("vocab.json") && "\(error)".contains("vocab_size is 1000"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path), "nothing written")
    }

    func testAFileInTheWayNamesThePath() throws {
        let tokenizer = try CLIPTokenizer.bundled()
        let config = smallConfig(vocabularySize: tokenizer.vocabularySize, startOfText: Int(tokenizer.startOfText),
                                 endOfText: Int(tokenizer.endOfText))
        let blocker = scratch.appendingPathComponent("blocker")
        try Data("not a folder".utf8).write(to: blocker)
        XCTAssertThrowsError(try CLIPModel.random(config: config, seed: 1).save(to: blocker, tokenizer: tokenizer)) { error in
            XCTAssertTrue("\(error)".contains(blocker.path) && "\(error)".contains("cannot create the folder"), "\(error)")
        }
    }
}
