import CLIP
import Foundation
import Numerics
import TestSupport
import XCTest

/// Towers built with `use: .inference` (`TowerUse`) give the training towers' embeddings bit for bit, whole and
/// layer by layer (prompt rows of the layer about to run overwritten in between), batch after batch (no stale
/// ping-pong state), in a workspace smaller by at least what the shapes say inference drops.
final class ForwardOnlyTowerTests: XCTestCase {
    /// Vision: 4 layers 16 wide, 8 px images in 4 px patches (5 tokens). Text: 3 causal layers 16 wide, context 12.
    /// Odd and even depths, so that Y lands in either ping-pong buffer.
    private let config = CLIPConfig(
        vision: CLIPVisionConfig(
            encoder: CLIPEncoderConfig(hiddenSize: 16, intermediateSize: 32, attentionHeads: 2, layers: 4,
                                       layerNormEps: 1e-5, activation: .quickGELU),
            imageSize: 8, patchSize: 4, channels: 3),
        text: CLIPTextConfig(
            encoder: CLIPEncoderConfig(hiddenSize: 16, intermediateSize: 48, attentionHeads: 2, layers: 3,
                                       layerNormEps: 1e-5, activation: .quickGELU),
            vocabularySize: 30, contextLength: 12, bosTokenID: 28, eosTokenID: 29, padTokenID: 29),
        projectionDim: 12, logitScaleInit: 2.6592)

    private func site(_ layer: Int, _ tokens: Int, _ mode: PromptPlan.Mode, removing removed: Int = 0) -> PromptPlan.Site {
        PromptPlan.Site(layer: layer, tokens: tokens, mode: mode, removed: removed)
    }

    /// VPT-deep (insert at layer 0, replace above, per-sample values at layer 2), and inserts at layers >= 1
    /// (through the encoder's transit buffer; the second removes a row first) around an add.
    private func visionPlans() throws -> [(name: String, plan: PromptPlan, perSample: Set<Int>)] {
        let layers = config.vision.encoder.layers
        return [
            ("unprompted", .none, []),
            ("vpt-deep", try PromptPlan(sites: [site(0, 2, .insert), site(1, 2, .replace), site(2, 2, .replace),
                                                site(3, 2, .replace)], placement: .afterClassToken, layers: layers), [2]),
            ("deep inserts", try PromptPlan(sites: [site(1, 3, .insert), site(2, 3, .add), site(3, 2, .insert, removing: 1)],
                                            placement: .afterPatches, layers: layers), [1]),
        ]
    }

    /// Unprompted, and prompted (insert at layer 0, replace, then an insert at layer 2 through transit).
    private func textPlans() throws -> [(name: String, plan: PromptPlan, perSample: Set<Int>)] {
        let layers = config.text.encoder.layers
        return [
            ("unprompted", .none, []),
            ("prompted", try PromptPlan(sites: [site(0, 2, .insert), site(1, 2, .replace), site(2, 1, .insert)],
                                        layers: layers), [1]),
        ]
    }

    /// Random values for each site, (B, tokens, D) where `perSample` says so, else (tokens, D), and their views.
    private func prompts(_ plan: PromptPlan, width: Int, batch: Int, perSample: Set<Int>,
                         seed: UInt64) -> (owned: [OwnedFloats], values: [PromptValues]) {
        let owned = plan.sites.enumerated().map { index, site in
            OwnedFloats(randomNormal((perSample.contains(index) ? batch : 1) * site.tokens * width, seed: seed + UInt64(index)))
        }
        let values = zip(plan.sites, owned).enumerated().map { index, pair in
            PromptValues(pair.1.pointer, batchStride: perSample.contains(index) ? pair.0.tokens * width : 0)
        }
        return (owned, values)
    }

    /// `batch` rows of ids (B, context): [SOT, words, EOT, pad ..] with `lengths[b]` words.
    private func ids(lengths: [Int], seed: UInt64) -> [Int32] {
        let text = config.text
        var generator = SplitMix64(seed: seed)
        return lengths.flatMap { length in
            var row = [Int32](repeating: Int32(text.padTokenID), count: text.contextLength)
            row[0] = Int32(text.bosTokenID)
            for t in 1...length { row[t] = Int32(generator.next() % UInt64(text.bosTokenID)) }
            row[length + 1] = Int32(text.eosTokenID)
            return row
        }
    }

    private func floats(_ pointer: UnsafePointer<Float>, _ count: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    /// A lower bound, in bytes, on what an inference encoder of `layers` layers leaves out of the training one's
    /// arena, for `batch` sequences of `base` tokens with `counts` prompts per layer. Training without weight
    /// gradients keeps every layer's activations that its backward reads, at least rows_l (5D + F) floats each (X,
    /// residual: D each; qkv 3D; fc1's output F), one set of the linear layers' inputs (LN1, attention, LN2: D
    /// each; the activation F) at T_max, and the backward's scratch, (B T_max)(8D + 2F) (dX twice, dResidual,
    /// dNormed, dAttention: D each; dQKV 3D; dHidden and dActivated F each). Inference keeps the largest layer's
    /// set, which training has too, and adds one (B T_max, D) buffer, rounded up to the arena's 16-float alignment.
    /// Unrounded sizes bound the training side from below (slices round up, never down).
    private func minimumSaving(encoder: CLIPEncoderConfig, batch: Int, base: Int, counts: [Int]) -> Int {
        let d = encoder.hiddenSize, f = encoder.intermediateSize
        let perRow = 5 * d + f
        let fewestRows = batch * (base + counts.min()!), mostRows = batch * (base + counts.max()!)
        let otherLayers = (encoder.layers - 1) * fewestRows * perRow
        let scratch = mostRows * (8 * d + 2 * f)
        let secondInput = (mostRows * d + 15) / 16 * 16
        return (otherLayers + scratch - secondInput) * MemoryLayout<Float>.stride
    }

    // MARK: Vision

    func testVisionInferenceEqualsTrainingBitForBitInLessMemory() throws {
        let model = CLIPModel.random(config: config, seed: 1)
        let vision = config.vision, d = vision.encoder.hiddenSize, e = config.projectionDim
        let capacity = 3
        let perImage = vision.channels * vision.imageSize * vision.imageSize
        for (name, plan, perSample) in try visionPlans() {
            let training = VisionTower(model: model, capacity: capacity, plan: plan)
            let inference = VisionTower(model: model, capacity: capacity, plan: plan, use: .inference)
            XCTAssertEqual(inference.use, .inference, "\(name): the mode asked for")
            // Two batches in a row, the second smaller: nothing of the first may leak into the second.
            for (batch, seed) in [(capacity, UInt64(10)), (2, 20)] {
                let pixels = OwnedFloats(randomNormal(batch * perImage, seed: seed))
                let (owned, values) = prompts(plan, width: d, batch: batch, perSample: perSample, seed: seed + 1)
                let expected = floats(training.forward(pixels: pixels.pointer, prompts: values, batch: batch), batch * e)
                let got = floats(inference.forward(pixels: pixels.pointer, prompts: values, batch: batch), batch * e)
                XCTAssertTrue(expected.contains { $0 != 0 }, "\(name), batch \(batch): the training embeddings are all zeros")
                XCTAssertEqual(got, expected, "\(name), batch \(batch): inference embeddings differ from training's")
                withExtendedLifetime(owned) {}
            }
            let saving = minimumSaving(encoder: vision.encoder, batch: capacity, base: vision.tokenCount,
                                       counts: plan.promptCounts(layers: vision.encoder.layers))
            XCTAssertLessThanOrEqual(inference.workspaceBytes + saving, training.workspaceBytes,
                                     "\(name): inference workspace \(inference.workspaceBytes) B is not at least "
                                     + "\(saving) B below training's \(training.workspaceBytes) B")
        }
    }

    /// Layer by layer, with the prompt rows of the layer about to run overwritten (as LPI-P's fusion does): the
    /// inference tower follows the training tower bit for bit, and a second batch after it too.
    func testVisionInferenceStepsWithPromptRowsOfTheLayerAboutToRun() throws {
        let model = CLIPModel.random(config: config, seed: 2)
        let vision = config.vision, d = vision.encoder.hiddenSize, e = config.projectionDim
        let layers = vision.encoder.layers
        let batch = 2
        let plan = try PromptPlan(sites: [site(0, 2, .insert), site(2, 1, .insert)], placement: .afterPatches,
                                  layers: layers)
        let counts = plan.promptCounts(layers: layers)
        let towers = [VisionTower(model: model, capacity: batch, plan: plan),
                      VisionTower(model: model, capacity: batch, plan: plan, use: .inference)]
        for seed in [UInt64(30), 40] {
            let pixels = OwnedFloats(randomNormal(batch * vision.channels * vision.imageSize * vision.imageSize, seed: seed))
            let (owned, values) = prompts(plan, width: d, batch: batch, perSample: [], seed: seed + 1)
            let replacements = (0..<layers).map { OwnedFloats(randomNormal(batch * counts[$0] * d, seed: seed + 10 + UInt64($0))) }
            var results: [[Float]] = []
            for tower in towers {
                tower.beginForward(pixels: pixels.pointer, prompts: values, batch: batch)
                for l in 0..<layers {
                    tower.promptRows(layer: l).assign(from: replacements[l].pointer)
                    tower.forwardLayer(l)
                }
                results.append(floats(tower.finishForward(), batch * e))
            }
            XCTAssertTrue(results[0].contains { $0 != 0 }, "seed \(seed): the training embeddings are all zeros")
            XCTAssertEqual(results[1], results[0], "seed \(seed): stepped inference embeddings differ from training's")
            withExtendedLifetime(owned) {}
        }
    }

    // MARK: Text

    func testTextInferenceEqualsTrainingBitForBitInLessMemory() throws {
        let model = CLIPModel.random(config: config, seed: 3)
        let text = config.text, d = text.encoder.hiddenSize, e = config.projectionDim
        let capacity = 3
        for (name, plan, perSample) in try textPlans() {
            let training = TextTower(model: model, capacity: capacity, plan: plan)
            let inference = TextTower(model: model, capacity: capacity, plan: plan, use: .inference)
            // Two batches in a row: the second is smaller and its captions shorter (fewer positions computed).
            for (lengths, seed) in [([3, 7, 5], UInt64(50)), ([2, 1], 60)] {
                let batch = lengths.count
                let rows = ids(lengths: lengths, seed: seed)
                let (owned, values) = prompts(plan, width: d, batch: batch, perSample: perSample, seed: seed + 1)
                let (expected, got) = rows.withUnsafeBufferPointer { ids in
                    (floats(training.forward(ids: ids.baseAddress!, prompts: values, batch: batch), batch * e),
                     floats(inference.forward(ids: ids.baseAddress!, prompts: values, batch: batch), batch * e))
                }
                XCTAssertTrue(expected.contains { $0 != 0 }, "\(name), batch \(batch): the training embeddings are all zeros")
                XCTAssertEqual(got, expected, "\(name), batch \(batch): inference embeddings differ from training's")
                withExtendedLifetime(owned) {}
            }
            let saving = minimumSaving(encoder: text.encoder, batch: capacity,
                                       base: text.contextLength - plan.tokensAtFirstLayer,
                                       counts: plan.promptCounts(layers: text.encoder.layers))
            XCTAssertLessThanOrEqual(inference.workspaceBytes + saving, training.workspaceBytes,
                                     "\(name): inference workspace \(inference.workspaceBytes) B is not at least "
                                     + "\(saving) B below training's \(training.workspaceBytes) B")
        }
    }

    /// The text prefix [SOT ; prompts] layer by layer (LPI-P's text side), rows of the layer about to run overwritten.
    func testTextPrefixInferenceStepsWithPromptRowsOfTheLayerAboutToRun() throws {
        let model = CLIPModel.random(config: config, seed: 4)
        let text = config.text, d = text.encoder.hiddenSize
        let layers = text.encoder.layers
        let batch = 2
        let plan = try PromptPlan(sites: [site(0, 2, .insert), site(1, 2, .replace), site(2, 2, .add)], layers: layers)
        let towers = [TextTower(model: model, capacity: batch, plan: plan, maxTokens: 1),
                      TextTower(model: model, capacity: batch, plan: plan, maxTokens: 1, use: .inference)]
        let (owned, values) = prompts(plan, width: d, batch: batch, perSample: [], seed: 70)
        let replacements = (0..<layers).map { OwnedFloats(randomNormal(batch * 2 * d, seed: 80 + UInt64($0))) }
        var results: [[[Float]]] = []
        for tower in towers {
            tower.beginPrefixForward(startOfText: Int32(text.bosTokenID), prompts: values, batch: batch)
            var rows: [[Float]] = []
            for l in 0..<layers {
                let current = tower.promptRows(layer: l)
                let read = OwnedFloats(zeros: batch * 2 * d)
                current.copy(to: read.pointer)
                rows.append(read.values)
                if l == 1 { current.assign(from: replacements[l].pointer) }
                tower.forwardLayer(l)
            }
            results.append(rows)
        }
        for l in 0..<layers {
            XCTAssertTrue(results[0][l].contains { $0 != 0 }, "layer \(l): the training prompt rows are all zeros")
            XCTAssertEqual(results[1][l], results[0][l], "layer \(l): inference prompt rows differ from training's")
        }
        withExtendedLifetime(owned) {}
    }
}
