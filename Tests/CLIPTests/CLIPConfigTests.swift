import XCTest
import CLIP
import Numerics
import TestSupport

final class CLIPConfigTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("CLIPConfigTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: folder)
    }

    // MARK: Reading config.json as transformers does

    /// `Tests/Fixtures/configs/expected.json`: how transformers 5.23 reads each config fixture.
    private struct Expected: Decodable {
        struct Encoder: Decodable {
            let hidden_size, intermediate_size, num_attention_heads, num_hidden_layers: Int
            let layer_norm_eps: Float
            let hidden_act: String
        }
        struct Text: Decodable {
            let vocab_size, max_position_embeddings, bos_token_id, eos_token_id, pad_token_id: Int
        }
        struct Vision: Decodable {
            let image_size, patch_size, num_channels: Int
        }
        struct Tower<Specific: Decodable>: Decodable {
            let encoder: Encoder
            let specific: Specific
            init(from decoder: Decoder) throws {
                encoder = try Encoder(from: decoder)
                specific = try Specific(from: decoder)
            }
        }
        let text: Tower<Text>
        let vision: Tower<Vision>
        let projection_dim: Int
        let logit_scale_init_value: Float
    }

    /// The two save_pretrained configs and the hand-written hub layout read as transformers reads them.
    func testFixturesReadAsTransformersReadsThem() throws {
        let expected = try JSONDecoder().decode([String: Expected].self,
                                                from: Data(contentsOf: fixtureURL("configs/expected.json")))
        XCTAssertEqual(expected.keys.sorted(), ["clip-vit-base-patch32", "tiny_gelu", "tiny_quick_gelu"], "fixtures")
        for (name, want) in expected {
            let config = try CLIPConfig(contentsOf: fixtureURL("configs/\(name).json"))
            func check(_ encoder: CLIPEncoderConfig, _ want: Expected.Encoder, _ tower: String) {
                let actual = [encoder.hiddenSize, encoder.intermediateSize, encoder.attentionHeads, encoder.layers]
                let wanted = [want.hidden_size, want.intermediate_size, want.num_attention_heads, want.num_hidden_layers]
                XCTAssertEqual(actual, wanted, "\(name) \(tower): hidden, intermediate, heads, layers")
                XCTAssertEqual(encoder.layerNormEps, want.layer_norm_eps, "\(name) \(tower): layer_norm_eps")
                XCTAssertEqual(encoder.activation.rawValue, want.hidden_act, "\(name) \(tower): hidden_act")
            }
            check(config.text.encoder, want.text.encoder, "text")
            check(config.vision.encoder, want.vision.encoder, "vision")
            let text = want.text.specific
            XCTAssertEqual([config.text.vocabularySize, config.text.contextLength, config.text.bosTokenID,
                            config.text.eosTokenID, config.text.padTokenID],
                           [text.vocab_size, text.max_position_embeddings, text.bos_token_id, text.eos_token_id,
                            text.pad_token_id], "\(name) text: vocab, context, bos, eos, pad")
            let vision = want.vision.specific
            XCTAssertEqual([config.vision.imageSize, config.vision.patchSize, config.vision.channels],
                           [vision.image_size, vision.patch_size, vision.num_channels],
                           "\(name) vision: image, patch, channels")
            XCTAssertEqual(config.projectionDim, want.projection_dim, "\(name): projection_dim")
            XCTAssertEqual(config.logitScaleInit, want.logit_scale_init_value, "\(name): logit_scale_init_value")
        }
    }

    func testGELUFixtureAndDerivedSizes() throws {
        let config = try CLIPConfig(contentsOf: fixtureURL("configs/tiny_gelu.json"))
        XCTAssertEqual(config.text.encoder.activation, .gelu, "text hidden_act")
        XCTAssertEqual(config.vision.encoder.activation, .gelu, "vision hidden_act")
        XCTAssertEqual(config.vision.encoder.headSize, 4, "vision head size 20 / 5")
        XCTAssertEqual(config.text.encoder.headSize, 8, "text head size 16 / 2")
        XCTAssertEqual(config.vision.patchesPerSide, 4, "32 / 8 patches per side")
        XCTAssertEqual(config.vision.patchCount, 16, "4 x 4 patches")
        XCTAssertEqual(config.vision.tokenCount, 17, "patches + class token")
    }

    /// An empty object takes every transformers default: the shape of openai/clip-vit-base-patch32.
    func testMissingKeysTakeTransformersDefaults() throws {
        let defaults = CLIPConfig(
            vision: CLIPVisionConfig(
                encoder: CLIPEncoderConfig(hiddenSize: 768, intermediateSize: 3072, attentionHeads: 12, layers: 12,
                                           layerNormEps: 1e-5, activation: .quickGELU),
                imageSize: 224, patchSize: 32, channels: 3),
            text: CLIPTextConfig(
                encoder: CLIPEncoderConfig(hiddenSize: 512, intermediateSize: 2048, attentionHeads: 8, layers: 12,
                                           layerNormEps: 1e-5, activation: .quickGELU),
                vocabularySize: 49408, contextLength: 77, bosTokenID: 49406, eosTokenID: 49407, padTokenID: 1),
            projectionDim: 512, logitScaleInit: 2.6592)
        XCTAssertEqual(try CLIPConfig(contentsOf: write("empty", "{}")), defaults, "{} gives the defaults")
        let nulls = #"{"model_type": "clip", "text_config": null, "vision_config_dict": null}"#
        XCTAssertEqual(try CLIPConfig(contentsOf: write("nulls", nulls)), defaults, "null sections count as absent")
        XCTAssertEqual(try CLIPConfig(contentsOf: fixtureURL("configs/clip-vit-base-patch32.json")), defaults,
                       "the hub layout of openai/clip-vit-base-patch32")
        XCTAssertEqual(defaults.vision.tokenCount, 50, "7 x 7 patches + class token")
        XCTAssertEqual(defaults.text.encoder.headSize, 64, "512 / 8")
    }

    /// `text_config` wins over `text_config_dict`; a key only in the legacy object is taken from it.
    func testLegacyDictKeysFillInWhatTheConfigLacks() throws {
        let json = """
        {"text_config": {"hidden_size": 32, "num_attention_heads": 4},
         "text_config_dict": {"hidden_size": 64, "num_hidden_layers": 3},
         "vision_config_dict": {"image_size": 64, "patch_size": 16, "hidden_act": "gelu"}}
        """
        let config = try CLIPConfig(contentsOf: write("legacy", json))
        XCTAssertEqual(config.text.encoder.hiddenSize, 32, "text_config.hidden_size preferred")
        XCTAssertEqual(config.text.encoder.layers, 3, "num_hidden_layers from text_config_dict")
        XCTAssertEqual(config.text.encoder.attentionHeads, 4, "num_attention_heads from text_config")
        XCTAssertEqual([config.vision.imageSize, config.vision.patchSize], [64, 16], "vision_config_dict alone")
        XCTAssertEqual(config.vision.encoder.activation, .gelu, "vision hidden_act from vision_config_dict")
    }

    /// transformers also accepts [side, side] for image_size and patch_size.
    func testSquarePairsForImageAndPatchSize() throws {
        let config = try CLIPConfig(contentsOf: write("pairs", #"{"vision_config": {"image_size": [96, 96], "patch_size": [16, 16]}}"#))
        XCTAssertEqual([config.vision.imageSize, config.vision.patchSize], [96, 16], "sides from pairs")
    }

    // MARK: Bad input: each error names the file and the key

    func testNotJSON() throws {
        assertRejected(try write("broken", #"{"projection_dim": 512,"#), key: nil, "not JSON: invalid JSON at byte 23")
        assertRejected(try write("list", "[1, 2]"), key: nil, "expected a JSON object, found an array")
        assertRejected(try write("twice", #"{"projection_dim": 512, "projection_dim": 256}"#), key: nil,
                       "duplicate key \"projection_dim\"")
        assertRejected(folder.appendingPathComponent("absent.json"), key: nil, "cannot read the file")
    }

    func testModelTypeOtherThanCLIP() throws {
        assertRejected(try write("siglip", #"{"model_type": "siglip"}"#), key: "model_type",
                       "is \"siglip\", expected \"clip\"")
    }

    func testHiddenSizeNotDivisibleByHeads() throws {
        assertRejected(try write("heads", #"{"text_config": {"hidden_size": 30, "num_attention_heads": 4}}"#),
                       key: "text_config.hidden_size", "30 is not divisible by text_config.num_attention_heads 4")
        assertRejected(try write("heads-legacy", #"{"vision_config_dict": {"hidden_size": 100}}"#),
                       key: "vision_config_dict.hidden_size", "100 is not divisible by vision_config_dict.num_attention_heads 12")
    }

    func testImageSizeNotDivisibleByPatchSize() throws {
        assertRejected(try write("patches", #"{"vision_config": {"image_size": 225}}"#),
                       key: "vision_config.image_size", "225 is not divisible by vision_config.patch_size 32")
        assertRejected(try write("oblong", #"{"vision_config": {"image_size": [224, 160]}}"#),
                       key: "vision_config.image_size", "non-square 224 x 160 is not supported")
    }

    func testUnsupportedActivation() throws {
        assertRejected(try write("relu", #"{"vision_config": {"hidden_act": "relu"}}"#), key: "vision_config.hidden_act",
                       "\"relu\" is not supported (supported: \"quick_gelu\", \"gelu\")")
    }

    func testNonPositiveSizes() throws {
        assertRejected(try write("layers", #"{"vision_config": {"num_hidden_layers": 0}}"#),
                       key: "vision_config.num_hidden_layers", "must be positive, found 0")
        assertRejected(try write("projection", #"{"projection_dim": -1}"#), key: "projection_dim",
                       "must be positive, found -1")
        assertRejected(try write("eps", #"{"text_config": {"layer_norm_eps": 0}}"#), key: "text_config.layer_norm_eps",
                       "must be positive, found 0.0")
        assertRejected(try write("patch", #"{"vision_config": {"patch_size": 0}}"#), key: "vision_config.patch_size",
                       "must be positive, found 0")
    }

    func testWrongJSONTypes() throws {
        let cases: [(String, String, String)] = [
            (#"{"text_config": {"hidden_size": "512"}}"#, "text_config.hidden_size", "expected an integer, found a string"),
            (#"{"text_config": {"vocab_size": true}}"#, "text_config.vocab_size", "expected an integer, found a boolean"),
            (#"{"vision_config": {"num_channels": 3.0}}"#, "vision_config.num_channels",
             "expected an integer, found a non-integer"),
            (#"{"text_config": {"eos_token_id": [2, 49407]}}"#, "text_config.eos_token_id", "expected an integer, found an array"),
            (#"{"text_config": {"hidden_act": 1}}"#, "text_config.hidden_act", "expected a string, found an integer"),
            (#"{"vision_config": {"layer_norm_eps": "1e-5"}}"#, "vision_config.layer_norm_eps", "expected a number, found a string"),
            (#"{"logit_scale_init_value": null}"#, "logit_scale_init_value", "expected a number, found null"),
            (#"{"model_type": 7}"#, "model_type", "expected a string, found an integer"),
            (#"{"text_config": [512]}"#, "text_config", "expected an object, found an array"),
            (#"{"vision_config": {"patch_size": ["32", "32"]}}"#, "vision_config.patch_size",
             "expected an integer or a pair of integers"),
        ]
        for (index, (json, key, problem)) in cases.enumerated() {
            assertRejected(try write("types-\(index)", json), key: key, problem)
        }
    }

    // MARK: Helpers

    /// Writes `json` to `<name>.json` in the test's folder.
    private func write(_ name: String, _ json: String) throws -> URL {
        let url = folder.appendingPathComponent("\(name).json")
        try Data(json.utf8).write(to: url)
        return url
    }

    /// Reading `url` fails with a `CLIPConfigError` for `key` whose message names the file, the key and `problem`.
    private func assertRejected(_ url: URL, key: String?, _ problem: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try CLIPConfig(contentsOf: url)
            XCTFail("\(url.lastPathComponent): expected an error about \(key ?? "the file"), none thrown",
                    file: file, line: line)
        } catch let error as CLIPConfigError {
            XCTAssertEqual(error.key, key, "\(url.lastPathComponent): the key named", file: file, line: line)
            for part in [url.path, problem] + (key.map { [$0] } ?? []) {
                XCTAssertTrue(error.description.contains(part), "\"\(error)\" should contain \"\(part)\"",
                              file: file, line: line)
            }
        } catch {
            XCTFail("\(url.lastPathComponent): expected a CLIPConfigError, got \(error)", file: file, line: line)
        }
    }
}
