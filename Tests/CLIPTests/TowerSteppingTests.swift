import CLIP
import Foundation
import Numerics
import TestSupport
import XCTest

/// The towers run one encoder layer at a time (what LPI-P's lock-step needs): the steps equal the whole
/// forward and backward bit for bit; overwriting the prompt rows between layers (and their gradient rows in the
/// backward) equals `.replace` sites bit for bit; and the text prefix [SOT ; prompts] gives the prompt rows of
/// any caption's sequence, forward and backward.
final class TowerSteppingTests: XCTestCase {
    private func model(_ name: String) throws -> CLIPModel {
        try CLIPModel.load(directory: fixturesDirectory.appendingPathComponent("models/\(name)"))
    }

    /// The pixels and ids of a model's parity fixture, (B, C, H, W) and (B, context).
    private func inputs(_ name: String) throws -> (pixels: OwnedFloats, ids: [Int32], batch: Int) {
        let fixture = try SafetensorsFile(contentsOf: fixtureURL("models/\(name)/parity.safetensors"))
        let ids = try fixture.int64s("input_ids").map(Int32.init)
        return (OwnedFloats(try fixture.floats("pixel_values")), ids, try XCTUnwrap(fixture.info("pixel_values")).shape[0])
    }

    private func site(_ layer: Int, _ tokens: Int, _ mode: PromptPlan.Mode) -> PromptPlan.Site {
        PromptPlan.Site(layer: layer, tokens: tokens, mode: mode)
    }

    /// Random values for each site, (B, tokens, D) where `perSample` says so, else (tokens, D).
    private func values(_ plan: PromptPlan, width: Int, batch: Int, perSample: Set<Int>, seed: UInt64) -> [OwnedFloats] {
        plan.sites.enumerated().map { index, site in
            OwnedFloats(randomNormal((perSample.contains(index) ? batch : 1) * site.tokens * width,
                                     seed: seed + UInt64(index)))
        }
    }

    private func floats(_ pointer: UnsafePointer<Float>, _ count: Int) -> [Float] {
        Array(UnsafeBufferPointer(start: pointer, count: count))
    }

    private func packed(_ rows: PromptRows) -> [Float] {
        let buffer = OwnedFloats(zeros: rows.batch * rows.count * rows.width)
        rows.copy(to: buffer.pointer)
        return buffer.values
    }

    // MARK: Steps against the whole towers

    func testStepsEqualWholeForwardAndBackwardBitForBit() throws {
        let cases: [(String, PromptPlan.Placement, [PromptPlan.Site], Set<Int>, [PromptPlan.Site], Bool)] = [
            ("tiny-a", .afterClassToken, [site(0, 3, .insert), site(1, 3, .replace)], [],
             [site(0, 2, .insert), site(1, 2, .add)], true),
            ("tiny-b", .afterPatches, [site(0, 2, .insert), site(1, 1, .insert), site(2, 3, .add)], [2],
             [site(1, 3, .insert), site(2, 3, .replace)], false),
        ]
        for (name, placement, visionSites, perSample, textSites, withWeights) in cases {
            let model = try model(name)
            let (pixels, ids, batch) = try inputs(name)
            let config = model.config
            let (dv, dt, e) = (config.vision.encoder.hiddenSize, config.text.encoder.hiddenSize, config.projectionDim)
            let visionPlan = try PromptPlan(sites: visionSites, placement: placement, layers: config.vision.encoder.layers)
            let textPlan = try PromptPlan(sites: textSites, layers: config.text.encoder.layers)
            let visionValues = values(visionPlan, width: dv, batch: batch, perSample: perSample, seed: 10)
            let textValues = values(textPlan, width: dt, batch: batch, perSample: [], seed: 20)
            let visionPrompts = zip(visionPlan.sites, visionValues).enumerated().map { index, pair in
                PromptValues(pair.1.pointer, batchStride: perSample.contains(index) ? pair.0.tokens * dv : 0)
            }
            let textPrompts = textValues.map { PromptValues($0.pointer) }
            let dEmbeds = OwnedFloats(randomNormal(batch * e, seed: 30))

            var results: [[[Float]]] = []
            for stepped in [false, true] {
                let weightGradients = withWeights ? model.makeGradientBuffer() : nil
                let vision = VisionTower(model: model, capacity: batch, plan: visionPlan, weightGradients: weightGradients)
                let text = TextTower(model: model, capacity: batch, plan: textPlan, weightGradients: weightGradients)
                let visionGradients = visionValues.map { OwnedFloats(zeros: $0.count) }
                let textGradients = textValues.map { OwnedFloats(zeros: $0.count) }
                let visionSlots = zip(visionPlan.sites, visionGradients).enumerated().map { index, pair in
                    PromptGradient(pair.1.pointer, batchStride: perSample.contains(index) ? pair.0.tokens * dv : 0)
                } as [PromptGradient?]
                let textSlots = textGradients.map { PromptGradient($0.pointer) } as [PromptGradient?]
                var image: [Float], caption: [Float]
                if stepped {
                    vision.beginForward(pixels: pixels.pointer, prompts: visionPrompts, batch: batch)
                    for l in 0..<config.vision.encoder.layers { vision.forwardLayer(l) }
                    image = floats(vision.finishForward(), batch * e)
                    ids.withUnsafeBufferPointer { text.beginForward(ids: $0.baseAddress!, prompts: textPrompts, batch: batch) }
                    for l in 0..<config.text.encoder.layers { text.forwardLayer(l) }
                    caption = floats(text.finishForward(), batch * e)
                    vision.beginBackward(dEmbeds: dEmbeds.pointer, promptGradients: visionSlots)
                    for l in (vision.lowestBackwardLayer..<config.vision.encoder.layers).reversed() { vision.backwardLayer(l) }
                    vision.finishBackward()
                    text.beginBackward(dEmbeds: dEmbeds.pointer, promptGradients: textSlots)
                    for l in (text.lowestBackwardLayer..<config.text.encoder.layers).reversed() { text.backwardLayer(l) }
                    text.finishBackward()
                } else {
                    image = floats(vision.forward(pixels: pixels.pointer, prompts: visionPrompts, batch: batch), batch * e)
                    caption = ids.withUnsafeBufferPointer {
                        floats(text.forward(ids: $0.baseAddress!, prompts: textPrompts, batch: batch), batch * e)
                    }
                    vision.backward(dEmbeds: dEmbeds.pointer, promptGradients: visionSlots, batch: batch)
                    text.backward(dEmbeds: dEmbeds.pointer, promptGradients: textSlots, batch: batch)
                }
                results.append([image, caption] + visionGradients.map(\.values) + textGradients.map(\.values)
                               + [weightGradients.map { Array(UnsafeBufferPointer(start: $0.storage, count: $0.layout.count)) } ?? []])
            }
            XCTAssertEqual(results[0].count, results[1].count, "\(name): as many results")
            for (index, (whole, stepped)) in zip(results[0], results[1]).enumerated() {
                XCTAssertTrue(whole.contains { $0 != 0 } || whole.isEmpty, "\(name): result \(index) is all zeros")
                XCTAssertEqual(whole, stepped, "\(name): result \(index) (embeddings, prompt gradients, weight gradients) differs")
            }
        }
    }

    // MARK: Rows between layers

    /// Tower A has a layer-0 insert only and gets its rows overwritten between layers; tower B has `.replace`
    /// sites with the same values. Forward and backward must agree bit for bit.
    func testOverwritingPromptRowsEqualsReplaceSites() throws {
        let model = try model("tiny-b")
        let (pixels, ids, batch) = try inputs("tiny-b")
        let config = model.config
        let (dv, dt, e) = (config.vision.encoder.hiddenSize, config.text.encoder.hiddenSize, config.projectionDim)
        let tokens = 2
        for tower in ["vision", "text"] {
            let width = tower == "vision" ? dv : dt
            let layers = tower == "vision" ? config.vision.encoder.layers : config.text.encoder.layers
            let plain = try PromptPlan(sites: [site(0, tokens, .insert)], placement: .afterPatches, layers: layers)
            let replaced = try PromptPlan(sites: [site(0, tokens, .insert)] + (1..<layers).map { site($0, tokens, .replace) },
                                          placement: .afterPatches, layers: layers)
            // Site 0 shared, deeper ones per sample: (B, tokens, width).
            let first = OwnedFloats(randomNormal(tokens * width, seed: 40))
            let deeper = (1..<layers).map { OwnedFloats(randomNormal(batch * tokens * width, seed: 40 + UInt64($0))) }
            let dEmbeds = OwnedFloats(randomNormal(batch * e, seed: 50))

            // B: the replace sites.
            let gradientsB = [OwnedFloats(zeros: first.count)] + deeper.map { OwnedFloats(zeros: $0.count) }
            let promptsB = [PromptValues(first.pointer)] + deeper.map { PromptValues($0.pointer, batchStride: tokens * width) }
            let slotsB = [PromptGradient(gradientsB[0].pointer)]
                + gradientsB.dropFirst().map { PromptGradient($0.pointer, batchStride: tokens * width) } as [PromptGradient?]
            let embedsB: [Float]
            if tower == "vision" {
                let vision = VisionTower(model: model, capacity: batch, plan: replaced)
                embedsB = floats(vision.forward(pixels: pixels.pointer, prompts: promptsB, batch: batch), batch * e)
                vision.backward(dEmbeds: dEmbeds.pointer, promptGradients: slotsB, batch: batch)
            } else {
                let text = TextTower(model: model, capacity: batch, plan: replaced)
                embedsB = ids.withUnsafeBufferPointer { floats(text.forward(ids: $0.baseAddress!, prompts: promptsB, batch: batch), batch * e) }
                text.backward(dEmbeds: dEmbeds.pointer, promptGradients: slotsB, batch: batch)
            }

            // A: the plain plan, rows overwritten before each deeper layer, their gradient rows taken and zeroed.
            let gradientA = OwnedFloats(zeros: first.count)
            let rowGradients = (1..<layers).map { _ in OwnedFloats(zeros: batch * tokens * width) }
            let zeros = OwnedFloats(zeros: batch * tokens * width)
            let embedsA: [Float]
            if tower == "vision" {
                let vision = VisionTower(model: model, capacity: batch, plan: plain)
                vision.beginForward(pixels: pixels.pointer, prompts: [PromptValues(first.pointer)], batch: batch)
                for l in 0..<layers {
                    if l > 0 { vision.promptRows(layer: l).assign(from: deeper[l - 1].pointer) }
                    vision.forwardLayer(l)
                }
                embedsA = floats(vision.finishForward(), batch * e)
                vision.beginBackward(dEmbeds: dEmbeds.pointer, promptGradients: [PromptGradient(gradientA.pointer)])
                for l in (0..<layers).reversed() {
                    vision.backwardLayer(l)
                    guard l > 0 else { continue }
                    let rows = vision.promptRowGradients(layer: l)
                    rows.copy(to: rowGradients[l - 1].pointer)
                    rows.assign(from: zeros.pointer)
                }
                vision.finishBackward()
            } else {
                let text = TextTower(model: model, capacity: batch, plan: plain)
                ids.withUnsafeBufferPointer { text.beginForward(ids: $0.baseAddress!, prompts: [PromptValues(first.pointer)], batch: batch) }
                for l in 0..<layers {
                    if l > 0 { text.promptRows(layer: l).assign(from: deeper[l - 1].pointer) }
                    text.forwardLayer(l)
                }
                embedsA = floats(text.finishForward(), batch * e)
                text.beginBackward(dEmbeds: dEmbeds.pointer, promptGradients: [PromptGradient(gradientA.pointer)])
                for l in (0..<layers).reversed() {
                    text.backwardLayer(l)
                    guard l > 0 else { continue }
                    let rows = text.promptRowGradients(layer: l)
                    rows.copy(to: rowGradients[l - 1].pointer)
                    rows.assign(from: zeros.pointer)
                }
                text.finishBackward()
            }
            withExtendedLifetime((zeros, first, deeper)) {}
            XCTAssertEqual(embedsA, embedsB, "\(tower): overwritten rows against replace sites, embeddings")
            XCTAssertEqual(gradientA.values, gradientsB[0].values, "\(tower): layer-0 prompt gradient")
            XCTAssertTrue(gradientA.values.contains { $0 != 0 }, "\(tower): layer-0 prompt gradient is all zeros")
            for l in 1..<layers {
                XCTAssertEqual(rowGradients[l - 1].values, gradientsB[l].values, "\(tower): gradient of the rows before layer \(l)")
                XCTAssertTrue(rowGradients[l - 1].values.contains { $0 != 0 }, "\(tower): row gradient \(l) is all zeros")
            }
        }
    }

    // MARK: The text prefix

    /// [SOT ; prompts] alone (a tower planned for 1 token) against full captions: the prompt rows of every layer
    /// input agree, and so do the prompt gradients of a loss on the rows before layer 2 (the backward starting
    /// there with `beginBackward(zeroAt:)`).
    func testTextPrefixGivesTheCaptionsPromptRows() throws {
        let model = try model("tiny-b")
        let (_, ids, batch) = try inputs("tiny-b")
        let config = model.config
        let dt = config.text.encoder.hiddenSize, layers = config.text.encoder.layers, context = config.text.contextLength
        let tokens = 3
        let plan = try PromptPlan(sites: [site(0, tokens, .insert), site(1, tokens, .add), site(2, tokens, .add)], layers: layers)
        let prompts = (0..<layers).map { OwnedFloats(randomNormal(tokens * dt, seed: 60 + UInt64($0))) }
        let upstream = OwnedFloats(randomNormal(batch * tokens * dt, seed: 70))
        let startOfText = ids[0]
        for b in 0..<batch { XCTAssertEqual(ids[b * context], startOfText, "caption \(b) starts with SOT") }

        var rows: [[[Float]]] = [], gradients: [[[Float]]] = []
        for prefix in [false, true] {
            let text = TextTower(model: model, capacity: batch, plan: plan, maxTokens: prefix ? 1 : nil)
            let values = prompts.map { PromptValues($0.pointer) }
            if prefix {
                text.beginPrefixForward(startOfText: startOfText, prompts: values, batch: batch)
            } else {
                ids.withUnsafeBufferPointer { text.beginForward(ids: $0.baseAddress!, prompts: values, batch: batch) }
            }
            var layerRows: [[Float]] = [packed(text.promptRows(layer: 0))]
            for l in 0..<(layers - 1) {
                text.forwardLayer(l)
                layerRows.append(packed(text.promptRows(layer: l + 1)))
            }
            rows.append(layerRows)
            let owned = prompts.map { OwnedFloats(zeros: $0.count) }
            text.beginBackward(zeroAt: layers - 1, promptGradients: owned.map { PromptGradient($0.pointer) })
            text.promptRowGradients(layer: layers - 1).add(upstream.pointer)
            for l in (0..<(layers - 1)).reversed() { text.backwardLayer(l) }
            text.finishBackward()
            gradients.append(owned.map(\.values))
        }
        for l in 0..<layers {
            let error = relativeError(rows[1][l], rows[0][l])
            XCTAssertLessThan(error, 1e-5, "prompt rows before layer \(l): prefix against captions off by \(error)")
        }
        for (index, (prefix, full)) in zip(gradients[1], gradients[0]).enumerated() {
            let error = relativeError(prefix, full)
            XCTAssertTrue(full.contains { $0 != 0 }, "site \(index): gradient is all zeros")
            XCTAssertLessThan(error, 1e-5, "gradient of site \(index): prefix against captions off by \(error)")
        }
    }
}
