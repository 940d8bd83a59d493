import XCTest
import CLIP
import Numerics
import Prompting
import TestSupport

/// NSP2's factored statistics of a prompted vision layer against Omega1 and Omega2 formed explicitly from
/// the same forward passes (the explicit route exists only here), and the attention record they read
/// against the layer's own weights.
final class NullSpaceStatisticsTests: XCTestCase {
    private let config = smallCLIPConfig
    private let d = 16, heads = 2, headSize = 8, prompts = 2

    private struct Explicit {
        var omega1: [Double] = []
        var omega2: [Double] = []
    }

    /// Runs two batches through a VPT-prompted tower; returns the factored statistics of `layer` and the
    /// explicit Omega1 (rows q_h W_k,h) and Omega2 (rows of prompt-key attention) of the same passes.
    private func collect(layer: Int) throws -> (LayerNullSpaceStatistics, Explicit, CLIPModel) {
        let model = CLIPModel.random(config: config, seed: 21)
        let method = try VPTDeep(config: config.vision, tokens: prompts, initialization: .uniformUnit)
        var layout = ParameterLayout()
        method.declare(into: &layout)
        let parameters = TrainableParameters(layout: layout)
        method.initialize(parameters.values, seed: 22)
        let tower = VisionTower(model: model, capacity: 3, plan: method.visionPlan)
        let keyWeight = model.weights["vision_model.encoder.layers.\(layer).self_attn.k_proj.weight"]
        var statistics = LayerNullSpaceStatistics(heads: heads, headSize: headSize, promptTokens: prompts)
        var explicit = Explicit()
        for (batch, seed) in [(3, UInt64(23)), (2, 24)] {
            let pixels = OwnedFloats(randomNormal(batch * 3 * 8 * 8, seed: seed))
            tower.forward(pixels: pixels.pointer, prompts: method.visionPrompts(parameters.values), batch: batch)
            let record = tower.attentionRecord(layer: layer, batch: batch)
            try statistics.accumulate(record)
            for b in 0..<batch {
                for h in 0..<heads {
                    for token in record.imageRows {
                        let q = record.qkv + (b * record.tokens + token) * 3 * d + h * headSize
                        explicit.omega1 += (0..<d).map { j in
                            (0..<headSize).reduce(0.0) { $0 + Double(q[$1]) * Double(keyWeight[(h * headSize + $1) * d + j]) }
                        }
                        let p = record.probabilities + ((b * heads + h) * record.tokens + token) * record.tokens
                        explicit.omega2 += record.promptRows.map { Double(p[$0]) }
                    }
                }
            }
        }
        return (statistics, explicit, model)
    }

    func testFactoredStatisticsEqualTheExplicitOmegas() throws {
        for layer in 0..<3 {
            let (statistics, explicit, model) = try collect(layer: layer)
            let keyWeight = model.weights["vision_model.encoder.layers.\(layer).self_attn.k_proj.weight"]
            let m = statistics.channelFactor(keyWeight: keyWeight)
            XCTAssertEqual(m.rows, heads * headSize, "layer \(layer): M has d_h rows per head")
            let omega1Rows = explicit.omega1.count / d
            XCTAssertEqual(omega1Rows, 5 * heads * 5, "layer \(layer): 5 images x 2 heads x 5 image tokens")
            let error1 = maxRelativeDifference(singularValues(m.values, rows: m.rows, columns: d),
                                            singularValues(explicit.omega1, rows: omega1Rows, columns: d))
            XCTAssertLessThan(error1, 1e-9, "layer \(layer): Omega1's singular values, factored against explicit: \(error1)")
            XCTAssertLessThan(maxRelativeDifference(gram(m.values, columns: d), gram(explicit.omega1, columns: d)), 1e-9,
                              "layer \(layer): M^T M against Omega1^T Omega1 (same right singular vectors)")
            let r2 = statistics.promptAttention
            let error2 = maxRelativeDifference(gram(r2.factor, columns: prompts), gram(explicit.omega2, columns: prompts))
            XCTAssertLessThan(error2, 1e-9, "layer \(layer): R_2^T R_2 against Omega2^T Omega2: \(error2)")
            XCTAssertEqual(r2.rowsSeen, omega1Rows, "layer \(layer): one Omega2 row per image query and head")
        }
    }

    /// At a replace layer the prompt rows of the layer's input are the prompt values, so their keys are
    /// LN1(P) W_k^T + b_k; and every attention row sums to 1.
    func testAttentionRecordHoldsTheLayersKeysAndProbabilities() throws {
        let model = CLIPModel.random(config: config, seed: 31)
        let method = try VPTDeep(config: config.vision, tokens: prompts)
        var layout = ParameterLayout()
        method.declare(into: &layout)
        let parameters = TrainableParameters(layout: layout)
        method.initialize(parameters.values, seed: 32)
        let tower = VisionTower(model: model, capacity: 2, plan: method.visionPlan)
        let pixels = OwnedFloats(randomNormal(2 * 3 * 8 * 8, seed: 33))
        tower.forward(pixels: pixels.pointer, prompts: method.visionPrompts(parameters.values), batch: 2)
        let record = tower.attentionRecord(layer: 1, batch: 2)
        XCTAssertEqual(record.promptRows, 1..<3, "prompts follow the class token")
        XCTAssertEqual(record.imageRows, [0, 3, 4, 5, 6], "CLS and the 4 patches")

        let prefix = "vision_model.encoder.layers.1."
        let normed = OwnedFloats(zeros: prompts * d), mean = OwnedFloats(zeros: prompts), rstd = OwnedFloats(zeros: prompts)
        LayerNorm.forward(y: normed.pointer, mean: mean.pointer, rstd: rstd.pointer, x: parameters.values["vpt.layer1"],
                          weight: model.weights[prefix + "layer_norm1.weight"], bias: model.weights[prefix + "layer_norm1.bias"],
                          rows: prompts, columns: d, eps: 1e-5)
        let keys = OwnedFloats(zeros: prompts * d)
        Linear.forward(y: keys.pointer, x: normed.pointer, weight: model.weights[prefix + "self_attn.k_proj.weight"],
                       bias: model.weights[prefix + "self_attn.k_proj.bias"], rows: prompts, inFeatures: d, outFeatures: d)
        for b in 0..<2 {
            for (i, token) in record.promptRows.enumerated() {
                let recorded = Array(UnsafeBufferPointer(start: record.qkv + (b * record.tokens + token) * 3 * d + d, count: d))
                let expected = Array(keys.values[(i * d)..<((i + 1) * d)])
                XCTAssertLessThan(relativeError(recorded, expected), 1e-5, "sample \(b), prompt \(i): recorded key")
            }
        }
        for row in 0..<(2 * heads * record.tokens) {
            let sum = (0..<record.tokens).reduce(Float(0)) { $0 + record.probabilities[row * record.tokens + $1] }
            XCTAssertEqual(sum, 1, accuracy: 1e-5, "attention row \(row) sums to 1")
        }
    }
}
