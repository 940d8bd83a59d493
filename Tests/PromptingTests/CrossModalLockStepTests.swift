import CLIP
import Foundation
import Numerics
import Prompting
import TestSupport
import XCTest

/// LPI-P's stage A (`CrossModalLockStep`) against torch autograd (Tests/Fixtures/lpi/lock-step/, written by
/// Tests/Fixtures/make_lpip_fixtures.py on a random 4-layer CLIP): image embeddings, the fused text rows of every
/// fused layer, and the gradients into LPI's prompt factors (D1 shared by the two towers) and the CPF factors (and
/// LayerNorms), for D = 3 with the paper's mix and D = 4 with the grounding code's LayerNorm; then a whole training
/// step over every (image, caption) pair (stage A, `ConditionedTextTower` per image, `ConditionedContrastiveObjective`)
/// against LPI-P as the paper writes it, each pair's two towers in lock-step without the prefix.
final class CrossModalLockStepTests: XCTestCase {
    private let folder = fixturesDirectory.appendingPathComponent("lpi/lock-step")

    private func assertClose(_ name: String, _ actual: [Float], _ expected: [Float], tolerance: Float,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, "\(name): length", file: file, line: line)
        guard actual.count == expected.count else { return }
        let error = relativeError(actual, expected)
        print("\(name): relative error \(error)")
        XCTAssertLessThan(error, tolerance, "\(name): relative error \(error)", file: file, line: line)
    }

    func testStageAMatchesTorch() throws {
        let model = try CLIPModel.load(directory: folder)
        let file = try SafetensorsFile(contentsOf: folder.appendingPathComponent("lock-step.safetensors"))
        let (dv, dl, e) = (model.config.vision.encoder.hiddenSize, model.config.text.encoder.hiddenSize,
                           model.config.projectionDim)
        for (label, normalization) in [("paper", CrossModalPromptFusion.Normalization.none), ("norm", .layerNorm)] {
            let depth = Int(try file.floats("\(label).depth")[0])
            let momentum = try file.floats("\(label).momentum")[0]
            let batch = try XCTUnwrap(file.info("\(label).pixel_values")).shape[0]
            let (tokens, rank) = (try XCTUnwrap(file.info("\(label).vision.d2")).shape[0], try XCTUnwrap(file.info("\(label).d1")).shape[1])
            let names = ["d1", "vision.d2", "vision.d3", "text.d2", "text.d3",
                         "cpf.vision.a", "cpf.vision.b", "cpf.vision.c", "cpf.text.a", "cpf.text.b", "cpf.text.c"]
                + (normalization == .layerNorm
                   ? ["cpf.vision.norm.weight", "cpf.vision.norm.bias", "cpf.text.norm.weight", "cpf.text.norm.bias"] : [])
            var factors: [String: OwnedFloats] = [:]
            for name in names { factors[name] = OwnedFloats(try file.floats("\(label).\(name)")) }
            func p(_ name: String) -> UnsafeMutablePointer<Float> { factors[name]!.pointer }

            // Compose LPI's prompts (eq. 3) and CPF's maps.
            let visionShape = CPComposition.Shape(i: depth, j: tokens, k: dv, rank: rank)
            let textShape = CPComposition.Shape(i: depth, j: tokens, k: dl, rank: rank)
            let visMapShape = CrossModalPromptFusion.visionMapShape(fusedLayers: depth - 1, visionWidth: dv, textWidth: dl, rank: rank)
            let textMapShape = CrossModalPromptFusion.textMapShape(fusedLayers: depth - 1, visionWidth: dv, textWidth: dl, rank: rank)
            let pv = OwnedFloats(zeros: visionShape.count), pl = OwnedFloats(zeros: textShape.count)
            let visMap = OwnedFloats(zeros: visMapShape.count), textMap = OwnedFloats(zeros: textMapShape.count)
            CPComposition.forward(a: p("d1"), b: p("vision.d2"), c: p("vision.d3"), shape: visionShape, into: pv.pointer)
            CPComposition.forward(a: p("d1"), b: p("text.d2"), c: p("text.d3"), shape: textShape, into: pl.pointer)
            CPComposition.forward(a: p("cpf.vision.a"), b: p("cpf.vision.b"), c: p("cpf.vision.c"), shape: visMapShape, into: visMap.pointer)
            CPComposition.forward(a: p("cpf.text.a"), b: p("cpf.text.b"), c: p("cpf.text.c"), shape: textMapShape, into: textMap.pointer)
            let normed = normalization == .layerNorm
            let maps = CrossModalPromptFusion.Maps(
                vision: visMap.pointer, text: textMap.pointer,
                visionNorm: normed ? .init(weight: p("cpf.vision.norm.weight"), bias: p("cpf.vision.norm.bias")) : nil,
                textNorm: normed ? .init(weight: p("cpf.text.norm.weight"), bias: p("cpf.text.norm.bias")) : nil)

            let stage = try CrossModalLockStep(model: model, depth: depth, tokens: tokens, momentum: momentum,
                                               normalization: normalization, capacity: batch + 1)
            let pixels = OwnedFloats(try file.floats("\(label).pixel_values"))
            let startOfText = Int32(try file.floats("\(label).start_of_text")[0])
            let image = stage.forward(pixels: pixels.pointer, startOfText: startOfText,
                                      visionPrompts: (0..<depth).map { PromptValues(pv.pointer + $0 * tokens * dv) },
                                      textPrompts: (0..<depth).map { PromptValues(pl.pointer + $0 * tokens * dl) },
                                      maps: Array(repeating: maps, count: batch), batch: batch)
            assertClose("\(label) image embeddings", Array(UnsafeBufferPointer(start: image, count: batch * e)),
                        try file.floats("\(label).image_embeds"), tolerance: 1e-4)
            var fused: [Float] = []
            for l in 1..<depth {
                let rows = stage.fusedText(layer: l)
                let packed = OwnedFloats(zeros: batch * tokens * dl)
                rows.copy(to: packed.pointer)
                fused += packed.values
            }
            assertClose("\(label) fused text rows", fused, try file.floats("\(label).fused_text"), tolerance: 1e-4)

            // Stage B's gradient of the fused rows, then the backward.
            let upText = try file.floats("\(label).up_text"), block = batch * tokens * dl
            for l in 1..<depth {
                let slot = stage.fusedTextGradient(layer: l)
                XCTAssertTrue((0..<block).allSatisfy { slot[$0] == 0 }, "\(label): fused-row gradient \(l) zeroed by the forward")
                for i in 0..<block { slot[i] += upText[(l - 1) * block + i] }
            }
            let dPV = OwnedFloats(zeros: pv.count), dPL = OwnedFloats(zeros: pl.count)
            let dVisMap = OwnedFloats(zeros: visMap.count), dTextMap = OwnedFloats(zeros: textMap.count)
            var gradients: [String: OwnedFloats] = [:]
            for name in names { gradients[name] = OwnedFloats(zeros: factors[name]!.count) }
            func g(_ name: String) -> UnsafeMutablePointer<Float> { gradients[name]!.pointer }
            let mapGradients = CrossModalPromptFusion.MapGradients(
                vision: dVisMap.pointer, text: dTextMap.pointer,
                visionNorm: normed ? .init(weight: g("cpf.vision.norm.weight"), bias: g("cpf.vision.norm.bias")) : nil,
                textNorm: normed ? .init(weight: g("cpf.text.norm.weight"), bias: g("cpf.text.norm.bias")) : nil)
            let upImage = OwnedFloats(try file.floats("\(label).up_image"))
            stage.backward(dEmbeds: upImage.pointer,
                           visionPromptGradients: (0..<depth).map { PromptGradient(dPV.pointer + $0 * tokens * dv) },
                           textPromptGradients: (0..<depth).map { PromptGradient(dPL.pointer + $0 * tokens * dl) },
                           mapGradients: Array(repeating: mapGradients, count: batch))
            CPComposition.backward(dP: dPV.pointer, a: p("d1"), b: p("vision.d2"), c: p("vision.d3"), shape: visionShape,
                                   dA: g("d1"), dB: g("vision.d2"), dC: g("vision.d3"))
            CPComposition.backward(dP: dPL.pointer, a: p("d1"), b: p("text.d2"), c: p("text.d3"), shape: textShape,
                                   dA: g("d1"), dB: g("text.d2"), dC: g("text.d3"))
            CPComposition.backward(dP: dVisMap.pointer, a: p("cpf.vision.a"), b: p("cpf.vision.b"), c: p("cpf.vision.c"),
                                   shape: visMapShape, dA: g("cpf.vision.a"), dB: g("cpf.vision.b"), dC: g("cpf.vision.c"))
            CPComposition.backward(dP: dTextMap.pointer, a: p("cpf.text.a"), b: p("cpf.text.b"), c: p("cpf.text.c"),
                                   shape: textMapShape, dA: g("cpf.text.a"), dB: g("cpf.text.b"), dC: g("cpf.text.c"))
            for name in names {
                assertClose("\(label) d\(name)", gradients[name]!.values, try file.floats("\(label).d_\(name)"), tolerance: 1e-3)
            }
            withExtendedLifetime((factors, gradients, pv, pl, visMap, textMap, dPV, dPL, dVisMap, dTextMap, pixels, upImage)) {}
        }
    }

    func testTrainingStepOverEveryPairMatchesTheDirectLockStep() throws {
        let model = try CLIPModel.load(directory: folder)
        let file = try SafetensorsFile(contentsOf: folder.appendingPathComponent("lock-step.safetensors"))
        let (dv, dl, e) = (model.config.vision.encoder.hiddenSize, model.config.text.encoder.hiddenSize,
                           model.config.projectionDim)
        let depth = Int(try file.floats("pairs.depth")[0])
        let momentum = try file.floats("pairs.momentum")[0]
        let n = try XCTUnwrap(file.info("pairs.pixel_values")).shape[0]
        let (tokens, rank) = (try XCTUnwrap(file.info("pairs.vision.d2")).shape[0], try XCTUnwrap(file.info("pairs.d1")).shape[1])
        let names = ["d1", "vision.d2", "vision.d3", "text.d2", "text.d3",
                     "cpf.vision.a", "cpf.vision.b", "cpf.vision.c", "cpf.text.a", "cpf.text.b", "cpf.text.c"]
        var factors: [String: OwnedFloats] = [:], gradients: [String: OwnedFloats] = [:]
        for name in names {
            factors[name] = OwnedFloats(try file.floats("pairs.\(name)"))
            gradients[name] = OwnedFloats(zeros: factors[name]!.count)
        }
        func p(_ name: String) -> UnsafeMutablePointer<Float> { factors[name]!.pointer }
        func g(_ name: String) -> UnsafeMutablePointer<Float> { gradients[name]!.pointer }
        let shapes = [CPComposition.Shape(i: depth, j: tokens, k: dv, rank: rank),
                      CPComposition.Shape(i: depth, j: tokens, k: dl, rank: rank),
                      CrossModalPromptFusion.visionMapShape(fusedLayers: depth - 1, visionWidth: dv, textWidth: dl, rank: rank),
                      CrossModalPromptFusion.textMapShape(fusedLayers: depth - 1, visionWidth: dv, textWidth: dl, rank: rank)]
        let triples = [("d1", "vision.d2", "vision.d3"), ("d1", "text.d2", "text.d3"),
                       ("cpf.vision.a", "cpf.vision.b", "cpf.vision.c"), ("cpf.text.a", "cpf.text.b", "cpf.text.c")]
        let composed = shapes.map { OwnedFloats(zeros: $0.count) }, dComposed = shapes.map { OwnedFloats(zeros: $0.count) }
        for (k, (a, b, c)) in triples.enumerated() {
            CPComposition.forward(a: p(a), b: p(b), c: p(c), shape: shapes[k], into: composed[k].pointer)
        }
        let (pv, pl) = (composed[0].pointer, composed[1].pointer)
        let maps = CrossModalPromptFusion.Maps(vision: composed[2].pointer, text: composed[3].pointer)

        // Forward: stage A, then each image's captions through stage B.
        let stage = try CrossModalLockStep(model: model, depth: depth, tokens: tokens, momentum: momentum,
                                           normalization: .none, capacity: n)
        let captions = try ConditionedTextTower(model: model, depth: depth, tokens: tokens, capacity: n)
        let pixels = OwnedFloats(try file.floats("pairs.pixel_values"))
        let ids = try file.floats("pairs.input_ids").map { Int32($0) }
        let image = OwnedFloats(Array(UnsafeBufferPointer(
            start: stage.forward(pixels: pixels.pointer, startOfText: ids[0],
                                 visionPrompts: (0..<depth).map { PromptValues(pv + $0 * tokens * dv) },
                                 textPrompts: (0..<depth).map { PromptValues(pl + $0 * tokens * dl) },
                                 maps: Array(repeating: maps, count: n), batch: n),
            count: n * e)))
        let texts = OwnedFloats(zeros: n * n * e)
        func textsOf(_ i: Int) -> UnsafePointer<Float> {
            ids.withUnsafeBufferPointer {
                captions.forward(ids: $0.baseAddress!, count: n, stage: stage, image: i, firstPrompt: PromptValues(pl))
            }
        }
        for i in 0..<n { (texts.pointer + i * n * e).update(from: textsOf(i), count: n * e) }
        assertClose("pairs image embeddings", image.values, try file.floats("pairs.image_embeds"), tolerance: 1e-4)
        assertClose("pairs text embeddings f_t(caption j | image i)", texts.values, try file.floats("pairs.text_embeds"),
                    tolerance: 1e-4)
        let objective = ConditionedContrastiveObjective(capacity: n, width: e)
        let loss = objective.forward(image: image.pointer, texts: texts.pointer, count: n, logScale: model.logitScale)
        assertClose("pairs loss", [loss], try file.floats("pairs.loss"), tolerance: 1e-4)

        // Backward: each image's captions again (stage B keeps one image's activations), then stage A.
        let (dImage, dTexts, _) = objective.backward()
        for i in 0..<n {
            _ = textsOf(i)
            captions.backward(dEmbeds: dTexts + i * n * e, stage: stage, firstPromptGradient: PromptGradient(dComposed[1].pointer))
        }
        stage.backward(dEmbeds: dImage,
                       visionPromptGradients: (0..<depth).map { PromptGradient(dComposed[0].pointer + $0 * tokens * dv) },
                       textPromptGradients: (0..<depth).map { PromptGradient(dComposed[1].pointer + $0 * tokens * dl) },
                       mapGradients: Array(repeating: .init(vision: dComposed[2].pointer, text: dComposed[3].pointer), count: n))
        for (k, (a, b, c)) in triples.enumerated() {
            CPComposition.backward(dP: dComposed[k].pointer, a: p(a), b: p(b), c: p(c), shape: shapes[k],
                                   dA: g(a), dB: g(b), dC: g(c))
        }
        for name in names {
            assertClose("pairs d\(name)", gradients[name]!.values, try file.floats("pairs.d_\(name)"), tolerance: 1e-3)
        }
        withExtendedLifetime((factors, gradients, composed, dComposed, pixels, image, texts)) {}
    }

    func testFusionNeedsTwoPromptedLayers() throws {
        let model = try CLIPModel.load(directory: folder)
        for depth in [1, 5] {
            XCTAssertThrowsError(try CrossModalLockStep(model: model, depth: depth, tokens: 2, momentum: 0.9,
                                                        normalization: .none, capacity: 2),
                                 "depth \(depth) of 4 layers") { error in
                XCTAssertTrue("\(error)".contains("outside 2...4"), "depth \(depth): \(error)")
            }
        }
        XCTAssertThrowsError(try CrossModalLockStep(model: model, depth: 2, tokens: 11, momentum: 0.9, normalization: .none,
                                                    capacity: 2), "11 prompts in a context of 12") { error in
            XCTAssertTrue("\(error)".contains("no room for SOT and EOT"), "\(error)")
        }
    }
}
