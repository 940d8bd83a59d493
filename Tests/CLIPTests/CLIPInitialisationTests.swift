import Foundation
import XCTest
import CLIP
import Numerics

/// `CLIPModel.initialised` draws each tensor with the scale transformers 5.23's `CLIPPreTrainedModel._init_weights`
/// gives it (initializer_factor 1), read here from that function: the sample standard deviation of every tensor
/// of at least 2000 values is within 5% of it; biases are 0, LayerNorms 1 and 0, logit_scale the config's.
final class CLIPInitialisationTests: XCTestCase {
    func testEveryTensorHasTransformersScale() {
        let encoder = { (width: Int, heads: Int, layers: Int) in
            CLIPEncoderConfig(hiddenSize: width, intermediateSize: 4 * width, attentionHeads: heads, layers: layers,
                              layerNormEps: 1e-5, activation: .quickGELU)
        }
        let config = CLIPConfig(
            vision: CLIPVisionConfig(encoder: encoder(64, 4, 4), imageSize: 32, patchSize: 4, channels: 3),
            text: CLIPTextConfig(encoder: encoder(48, 4, 2), vocabularySize: 3000, contextLength: 32, bosTokenID: 2998,
                                 eosTokenID: 2999, padTokenID: 2999),
            projectionDim: 40, logitScaleInit: 2.6592)
        let model = CLIPModel.initialised(config: config, seed: 4)
        func expectedStd(_ name: String) -> Float? {
            let vision = name.hasPrefix("vision_model") || name == "visual_projection.weight"
            let (d, l): (Float, Float) = vision ? (64, 4) : (48, 2)
            switch true {
            case name.hasSuffix("token_embedding.weight"), name.hasSuffix("position_embedding.weight"),
                 name.hasSuffix("patch_embedding.weight"):
                return 0.02                                  // factor * 0.02, initializer_range * factor
            case name.hasSuffix("class_embedding"), name.hasSuffix("out_proj.weight"),
                 name.hasSuffix("projection.weight"):
                return pow(d, -0.5)                          // embed_dim ** -0.5, text/vision_embed_dim ** -0.5
            case name.hasSuffix("q_proj.weight"), name.hasSuffix("k_proj.weight"), name.hasSuffix("v_proj.weight"),
                 name.hasSuffix("fc2.weight"):
                return pow(d, -0.5) * pow(2 * l, -0.5)       // in_proj_std
            case name.hasSuffix("fc1.weight"):
                return pow(2 * d, -0.5)                      // fc_std
            default:
                return nil
            }
        }
        var checked = 0
        for entry in model.weights.layout.entries {
            let values = model.weights.values(entry.name)
            if entry.name == "logit_scale" {
                XCTAssertEqual(values, [2.6592], "logit_scale starts at the config's value")
            } else if entry.name.contains("layer_norm") || entry.name.contains("layrnorm") || entry.name.contains("layernorm") {
                XCTAssertTrue(values.allSatisfy { $0 == (entry.name.hasSuffix(".weight") ? 1 : 0) }, "\(entry.name)")
            } else if entry.name.hasSuffix(".bias") {
                XCTAssertTrue(values.allSatisfy { $0 == 0 }, "\(entry.name) starts at 0")
            } else {
                guard let expected = expectedStd(entry.name) else {
                    XCTFail("\(entry.name): no scale in transformers' table")
                    continue
                }
                guard values.count >= 2000 else { continue }
                let mean = values.reduce(0, +) / Float(values.count)
                let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)).squareRoot()
                XCTAssertEqual(std, expected, accuracy: 0.05 * expected, "\(entry.name): std \(std), expected \(expected)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 30, "the large tensors were checked")
        XCTAssertNotEqual(CLIPModel.initialised(config: config, seed: 5).weights.values("visual_projection.weight"),
                          model.weights.values("visual_projection.weight"), "the seed matters")
    }
}
