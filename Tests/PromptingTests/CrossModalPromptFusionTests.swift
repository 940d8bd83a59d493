import CLIP
import Foundation
import Numerics
import Prompting
import TestSupport
import XCTest

/// LPI-P's cross-modal prompt fusion (`CrossModalPromptFusion`) against torch autograd (Tests/Fixtures/lpi/
/// lpi.safetensors, cases cpf.paper and cpf.norm of make_lpi_fixtures.py): the CP-composed VIS and TEXT maps, the
/// fused rows of three layers, and the gradients into the rows, every CP factor and the LayerNorms, on both GEMM
/// backends; plus per-sample maps (samples of different tasks) against one sample at a time.
final class CrossModalPromptFusionTests: XCTestCase {
    private func fixtures() throws -> SafetensorsFile {
        try SafetensorsFile(contentsOf: fixtureURL("lpi/lpi.safetensors"))
    }

    private func assertClose(_ name: String, _ actual: [Float], _ expected: [Float], tolerance: Float,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, "\(name): length", file: file, line: line)
        guard actual.count == expected.count else { return }
        let error = relativeError(actual, expected)
        print("\(name): relative error \(error)")
        XCTAssertLessThan(error, tolerance, "\(name): relative error \(error)", file: file, line: line)
    }

    /// `batch` sequences of `stride` rows with a `count`-row prompt block from row 1, as a tower holds them.
    private final class Sequences {
        let storage: OwnedFloats
        let rows: PromptRows
        init(batch: Int, count: Int, width: Int, stride: Int, fill: Float) {
            storage = OwnedFloats(Array(repeating: fill, count: batch * stride * width))
            rows = PromptRows(pointer: storage.pointer + width, batch: batch, count: count, width: width,
                              sequenceStride: stride * width)
        }
        var packed: [Float] {
            let buffer = OwnedFloats(zeros: rows.batch * rows.count * rows.width)
            rows.copy(to: buffer.pointer)
            return buffer.values
        }
        /// Every float outside the prompt blocks.
        var outside: [Float] {
            let block = rows.count * rows.width
            return (0..<rows.batch).flatMap { b -> [Float] in
                let start = b * rows.sequenceStride
                let all = Array(storage.values[start ..< start + rows.sequenceStride])
                return Array(all[..<rows.width]) + Array(all[(rows.width + block)...])
            }
        }
    }

    /// Overwrites the prompt blocks with `values`, (batch, count, width).
    private func assign(_ rows: PromptRows, _ values: [Float]) {
        values.withUnsafeBufferPointer { rows.assign(from: $0.baseAddress!) }
    }

    func testFusionMatchesTorchWithAndWithoutLayerNorm() throws {
        let file = try fixtures()
        for (label, normalization) in [("paper", CrossModalPromptFusion.Normalization.none), ("norm", .layerNorm)] {
            let prefix = "cpf.\(label)"
            let shape = try XCTUnwrap(file.info("\(prefix).visual")).shape          // (F, B, L, dv)
            let (fused, batch, tokens, dv) = (shape[0], shape[1], shape[2], shape[3])
            let dl = try XCTUnwrap(file.info("\(prefix).textual")).shape[3]
            let rank = try XCTUnwrap(file.info("\(prefix).vision.a")).shape[1]
            let momentum = try file.floats("\(prefix).momentum")[0]
            let visionShape = CrossModalPromptFusion.visionMapShape(fusedLayers: fused, visionWidth: dv, textWidth: dl, rank: rank)
            let textShape = CrossModalPromptFusion.textMapShape(fusedLayers: fused, visionWidth: dv, textWidth: dl, rank: rank)
            let factorNames = ["vision.a", "vision.b", "vision.c", "text.a", "text.b", "text.c"]
            let factors = try factorNames.map { OwnedFloats(try file.floats("\(prefix).\($0)")) }
            let normNames = normalization == .layerNorm
                ? ["vision.norm.weight", "vision.norm.bias", "text.norm.weight", "text.norm.bias"] : []
            let norms = try normNames.map { OwnedFloats(try file.floats("\(prefix).\($0)")) }

            for backend in [Gemm.Backend.blas, .naive] {
                let tag = "\(prefix) \(backend)"
                let visionMap = OwnedFloats(zeros: visionShape.count), textMap = OwnedFloats(zeros: textShape.count)
                CPComposition.forward(a: factors[0].pointer, b: factors[1].pointer, c: factors[2].pointer,
                                      shape: visionShape, into: visionMap.pointer)
                CPComposition.forward(a: factors[3].pointer, b: factors[4].pointer, c: factors[5].pointer,
                                      shape: textShape, into: textMap.pointer)
                assertClose("\(tag) VIS map", visionMap.values, try file.floats("\(prefix).vision_map"), tolerance: 1e-5)
                assertClose("\(tag) TEXT map", textMap.values, try file.floats("\(prefix).text_map"), tolerance: 1e-5)
                let maps = CrossModalPromptFusion.Maps(
                    vision: visionMap.pointer, text: textMap.pointer,
                    visionNorm: norms.isEmpty ? nil : .init(weight: norms[0].pointer, bias: norms[1].pointer),
                    textNorm: norms.isEmpty ? nil : .init(weight: norms[2].pointer, bias: norms[3].pointer))
                // Accumulating gradients start non-zero: a backward that overwrote them would fail.
                let initialVision = randomNormal(visionShape.count, seed: 1, std: 0.01)
                let initialText = randomNormal(textShape.count, seed: 2, std: 0.01)
                let dVisionMap = OwnedFloats(initialVision), dTextMap = OwnedFloats(initialText)
                let initialNorms = normNames.indices.map { randomNormal(norms[$0].count, seed: 3 + UInt64($0), std: 0.01) }
                let dNorms = initialNorms.map { OwnedFloats($0) }
                let gradients = CrossModalPromptFusion.MapGradients(
                    vision: dVisionMap.pointer, text: dTextMap.pointer,
                    visionNorm: dNorms.isEmpty ? nil : .init(weight: dNorms[0].pointer, bias: dNorms[1].pointer),
                    textNorm: dNorms.isEmpty ? nil : .init(weight: dNorms[2].pointer, bias: dNorms[3].pointer))

                let fusion = CrossModalPromptFusion(visionWidth: dv, textWidth: dl, tokens: tokens, fusedLayers: fused,
                                                    momentum: momentum, normalization: normalization, capacity: batch + 1)
                let visualIn = try file.floats("\(prefix).visual"), textualIn = try file.floats("\(prefix).textual")
                let upVisual = try file.floats("\(prefix).up_visual"), upTextual = try file.floats("\(prefix).up_textual")
                let (vBlock, lBlock) = (batch * tokens * dv, batch * tokens * dl)
                var fusedVisual: [Float] = [], fusedTextual: [Float] = []
                let visual = (0..<fused).map { _ in Sequences(batch: batch, count: tokens, width: dv, stride: tokens + 3, fill: 7) }
                let textual = (0..<fused).map { _ in Sequences(batch: batch, count: tokens, width: dl, stride: tokens + 2, fill: 7) }
                for f in 0..<fused {
                    assign(visual[f].rows, Array(visualIn[f * vBlock ..< (f + 1) * vBlock]))
                    assign(textual[f].rows, Array(textualIn[f * lBlock ..< (f + 1) * lBlock]))
                    fusion.forward(layer: f, visual: visual[f].rows, textual: textual[f].rows,
                                   maps: Array(repeating: maps, count: batch), backend: backend)
                    fusedVisual += visual[f].packed
                    fusedTextual += textual[f].packed
                }
                assertClose("\(tag) fused visual rows", fusedVisual, try file.floats("\(prefix).fused_visual"), tolerance: 1e-4)
                assertClose("\(tag) fused textual rows", fusedTextual, try file.floats("\(prefix).fused_textual"), tolerance: 1e-4)

                var dVisual: [Float] = [], dTextual: [Float] = []
                for f in (0..<fused).reversed() {
                    // The upstream gradient arrives in the rows the forward replaced (the sequences reused as gradients).
                    assign(visual[f].rows, Array(upVisual[f * vBlock ..< (f + 1) * vBlock]))
                    assign(textual[f].rows, Array(upTextual[f * lBlock ..< (f + 1) * lBlock]))
                    fusion.backward(layer: f, visual: visual[f].rows, textual: textual[f].rows,
                                    maps: Array(repeating: maps, count: batch),
                                    gradients: Array(repeating: gradients, count: batch), backend: backend)
                    dVisual = visual[f].packed + dVisual
                    dTextual = textual[f].packed + dTextual
                    XCTAssertTrue(visual[f].outside.allSatisfy { $0 == 7 } && textual[f].outside.allSatisfy { $0 == 7 },
                                  "\(tag): rows outside the prompt blocks untouched")
                }
                assertClose("\(tag) dI_v", dVisual, try file.floats("\(prefix).d_visual"), tolerance: 1e-4)
                assertClose("\(tag) dI_l", dTextual, try file.floats("\(prefix).d_textual"), tolerance: 1e-4)

                let dFactors = factors.map { OwnedFloats(zeros: $0.count) }
                let dVision = OwnedFloats(added(dVisionMap.values, to: initialVision))
                let dText = OwnedFloats(added(dTextMap.values, to: initialText))
                CPComposition.backward(dP: dVision.pointer,
                                       a: factors[0].pointer, b: factors[1].pointer, c: factors[2].pointer, shape: visionShape,
                                       dA: dFactors[0].pointer, dB: dFactors[1].pointer, dC: dFactors[2].pointer)
                CPComposition.backward(dP: dText.pointer,
                                       a: factors[3].pointer, b: factors[4].pointer, c: factors[5].pointer, shape: textShape,
                                       dA: dFactors[3].pointer, dB: dFactors[4].pointer, dC: dFactors[5].pointer)
                for (name, gradient) in zip(factorNames, dFactors) {
                    assertClose("\(tag) d\(name)", gradient.values, try file.floats("\(prefix).d_\(name)"), tolerance: 1e-3)
                }
                for (index, name) in normNames.enumerated() {
                    assertClose("\(tag) d\(name)", added(dNorms[index].values, to: initialNorms[index]),
                                try file.floats("\(prefix).d_\(name)"), tolerance: 1e-3)
                }
                withExtendedLifetime((visual, textual, factors, norms, dVision, dText, visionMap, textMap, dNorms)) {}
            }
        }
    }

    /// Samples 0 and 2 of one task, sample 1 of another: the batch equals each sample fused on its own, forward
    /// and backward, and each task's map gradients get only its samples'.
    func testPerSampleMapsEqualOneSampleAtATime() {
        let (fused, tokens, dv, dl, batch) = (2, 3, 6, 5, 3)
        for normalization in CrossModalPromptFusion.Normalization.allCases {
            let mapCounts = [fused * (dl + 1) * dv, fused * (dv + 1) * dl]
            let tasks = (0..<2).map { task in
                (vision: OwnedFloats(randomNormal(mapCounts[0], seed: 10 + UInt64(task), std: 0.3)),
                 text: OwnedFloats(randomNormal(mapCounts[1], seed: 20 + UInt64(task), std: 0.3)),
                 norms: [dv, dv, dl, dl].enumerated().map { OwnedFloats(randomNormal($1, seed: 30 + UInt64(4 * task + $0), std: 0.1).map { $0 + 1 }) })
            }
            func maps(_ task: Int) -> CrossModalPromptFusion.Maps {
                let t = tasks[task]
                return .init(vision: t.vision.pointer, text: t.text.pointer,
                             visionNorm: normalization == .none ? nil : .init(weight: t.norms[0].pointer, bias: t.norms[1].pointer),
                             textNorm: normalization == .none ? nil : .init(weight: t.norms[2].pointer, bias: t.norms[3].pointer))
            }
            let sampleTasks = [0, 1, 0]
            let visualIn = randomNormal(batch * tokens * dv, seed: 40), textualIn = randomNormal(batch * tokens * dl, seed: 41)
            let upVisual = randomNormal(batch * tokens * dv, seed: 42), upTextual = randomNormal(batch * tokens * dl, seed: 43)

            /// Runs `samples` through layer 1 (f = 1) as one batch; returns fused rows, dI and each task's gradients.
            func run(_ samples: [Int], gradients: [(OwnedFloats, OwnedFloats, [OwnedFloats])]) -> [Float] {
                let fusion = CrossModalPromptFusion(visionWidth: dv, textWidth: dl, tokens: tokens, fusedLayers: fused,
                                                    momentum: 0.7, normalization: normalization, capacity: batch)
                let v = OwnedFloats(samples.flatMap { Array(visualIn[$0 * tokens * dv ..< ($0 + 1) * tokens * dv]) })
                let l = OwnedFloats(samples.flatMap { Array(textualIn[$0 * tokens * dl ..< ($0 + 1) * tokens * dl]) })
                let vRows = PromptRows(pointer: v.pointer, batch: samples.count, count: tokens, width: dv, sequenceStride: tokens * dv)
                let lRows = PromptRows(pointer: l.pointer, batch: samples.count, count: tokens, width: dl, sequenceStride: tokens * dl)
                let sampleMaps = samples.map { maps(sampleTasks[$0]) }
                fusion.forward(layer: 1, visual: vRows, textual: lRows, maps: sampleMaps)
                let forward = v.values + l.values
                v.pointer.update(from: samples.flatMap { Array(upVisual[$0 * tokens * dv ..< ($0 + 1) * tokens * dv]) }, count: v.count)
                l.pointer.update(from: samples.flatMap { Array(upTextual[$0 * tokens * dl ..< ($0 + 1) * tokens * dl]) }, count: l.count)
                let sampleGradients = samples.map { sample -> CrossModalPromptFusion.MapGradients in
                    let g = gradients[sampleTasks[sample]]
                    return .init(vision: g.0.pointer, text: g.1.pointer,
                                 visionNorm: normalization == .none ? nil : .init(weight: g.2[0].pointer, bias: g.2[1].pointer),
                                 textNorm: normalization == .none ? nil : .init(weight: g.2[2].pointer, bias: g.2[3].pointer))
                }
                fusion.backward(layer: 1, visual: vRows, textual: lRows, maps: sampleMaps, gradients: sampleGradients)
                return forward + v.values + l.values
            }
            func zeroGradients() -> [(OwnedFloats, OwnedFloats, [OwnedFloats])] {
                (0..<2).map { _ in (OwnedFloats(zeros: mapCounts[0]), OwnedFloats(zeros: mapCounts[1]),
                                    [dv, dv, dl, dl].map { OwnedFloats(zeros: $0) }) }
            }
            let together = zeroGradients(), alone = zeroGradients()
            let batched = run([0, 1, 2], gradients: together)
            let single = (0..<batch).map { run([$0], gradients: alone) }
            // Regroup the single runs' [fused v, fused l, dv, dl] into the batch's layout.
            let sizes = [tokens * dv, tokens * dl, tokens * dv, tokens * dl]
            var expected: [Float] = []
            for (part, size) in sizes.enumerated() {
                let offset = sizes[..<part].reduce(0, +)
                for sample in single { expected += sample[offset ..< offset + size] }
            }
            let label = "per-sample maps, \(normalization)"
            XCTAssertLessThan(relativeError(batched, expected), 1e-6, "\(label): rows and their gradients")
            for task in 0..<2 {
                let pairs = [(together[task].0, alone[task].0), (together[task].1, alone[task].1)]
                    + zip(together[task].2, alone[task].2).map { ($0, $1) }
                for (index, (a, b)) in pairs.enumerated() where normalization == .layerNorm || index < 2 {
                    XCTAssertTrue(b.values.contains { $0 != 0 }, "\(label): task \(task) gradient \(index) is all zeros")
                    XCTAssertLessThan(relativeError(a.values, b.values), 1e-5, "\(label): task \(task) gradient \(index)")
                }
            }
            // Layer 0 of the maps gets nothing from a fusion at layer 1.
            XCTAssertTrue(together[0].0.values[..<(mapCounts[0] / fused)].allSatisfy { $0 == 0 }, "\(label): layer 0 of VIS untouched")
            withExtendedLifetime(tasks) {}
        }
    }
}
