import CLIP
import Foundation
import Prompting
import TestSupport
import XCTest

/// LPI's kernels against torch autograd (Tests/Fixtures/lpi/lpi.safetensors, written by
/// Tests/Fixtures/make_lpi_fixtures.py): the CP composition (GEMM path and naive reference, forward and every
/// factor's gradient), hierarchical prompt alignment and cross-task prompt alignment in both variants (loss and both
/// modalities' gradients), plus central differences for one gradient of each.
final class LPIKernelTests: XCTestCase {
    private static let tolerance: Float = 1e-4

    private func fixtures() throws -> SafetensorsFile {
        try SafetensorsFile(contentsOf: fixtureURL("lpi/lpi.safetensors"))
    }

    /// Asserts `actual` within `tolerance` (max-normalised, TestSupport's relativeError) of `expected`, printing the error.
    private func assertClose(
        _ name: String, _ actual: [Float], _ expected: [Float], tolerance: Float = LPIKernelTests.tolerance,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(actual.count, expected.count, "\(name): length", file: file, line: line)
        guard actual.count == expected.count else { return }
        let error = relativeError(actual, expected)
        print("\(name): relative error \(error)")
        XCTAssertLessThan(error, tolerance, "\(name): relative error \(error)", file: file, line: line)
    }

    /// The (dims) of fixture tensor `name`.
    private func shape(_ file: SafetensorsFile, _ name: String) throws -> [Int] {
        try XCTUnwrap(file.info(name), "fixture has no tensor \(name)").shape
    }

    // MARK: CP composition

    func testCPCompositionMatchesTorchOnBothShapes() throws {
        let file = try fixtures()
        for name in ["small", "lpi"] {
            let prefix = "cp.\(name)"
            let (aShape, pShape) = (try shape(file, "\(prefix).a"), try shape(file, "\(prefix).p"))
            let shape = CPComposition.Shape(i: pShape[0], j: pShape[1], k: pShape[2], rank: aShape[1])
            let a = OwnedFloats(try file.floats("\(prefix).a"))
            let b = OwnedFloats(try file.floats("\(prefix).b"))
            let c = OwnedFloats(try file.floats("\(prefix).c"))
            let upstream = OwnedFloats(try file.floats("\(prefix).upstream"))
            XCTAssertEqual([a.count, b.count, c.count, upstream.count],
                           [shape.aCount, shape.bCount, shape.cCount, shape.count], "\(prefix): fixture sizes")

            for (path, forward) in [("gemm", CPComposition.forward), ("naive", CPComposition.forwardNaive)] {
                let p = OwnedFloats(randomNormal(shape.count, seed: 1))  // overwritten
                forward(a.pointer, b.pointer, c.pointer, shape, p.pointer)
                assertClose("\(prefix) \(path) P", p.values, try file.floats("\(prefix).p"))
            }
            for (path, backward) in [("gemm", CPComposition.backward), ("naive", CPComposition.backwardNaive)] {
                // Non-zero starting gradients (small, so that subtracting them costs little precision): a backward that
                // overwrote instead of accumulating would fail.
                let initial = [shape.aCount, shape.bCount, shape.cCount].enumerated().map {
                    randomNormal($0.element, seed: UInt64(10 + $0.offset), std: 0.01)
                }
                let dA = OwnedFloats(initial[0]), dB = OwnedFloats(initial[1]), dC = OwnedFloats(initial[2])
                backward(upstream.pointer, a.pointer, b.pointer, c.pointer, shape, dA.pointer, dB.pointer, dC.pointer)
                assertClose("\(prefix) \(path) dA", added(dA.values, to: initial[0]), try file.floats("\(prefix).da"))
                assertClose("\(prefix) \(path) dB", added(dB.values, to: initial[1]), try file.floats("\(prefix).db"))
                assertClose("\(prefix) \(path) dC", added(dC.values, to: initial[2]), try file.floats("\(prefix).dc"))
            }
        }
    }

    func testCPGemmPathMatchesNaiveOnACPFLikeShape() {
        // CPF's weights: (D - 1) layers x (d_in + 1) rows x d_out, here scaled down but with the bias row's odd size.
        let shape = CPComposition.Shape(i: 8, j: 65, k: 48, rank: 4)
        let a = OwnedFloats(randomNormal(shape.aCount, seed: 21, std: 0.5))
        let b = OwnedFloats(randomNormal(shape.bCount, seed: 22, std: 0.5))
        let c = OwnedFloats(randomNormal(shape.cCount, seed: 23, std: 0.5))
        let fast = OwnedFloats(zeros: shape.count), naive = OwnedFloats(zeros: shape.count)
        CPComposition.forward(a: a.pointer, b: b.pointer, c: c.pointer, shape: shape, into: fast.pointer)
        CPComposition.forwardNaive(a: a.pointer, b: b.pointer, c: c.pointer, shape: shape, into: naive.pointer)
        assertClose("CPF-like P, gemm against naive", fast.values, naive.values, tolerance: 1e-5)

        let upstream = OwnedFloats(randomNormal(shape.count, seed: 24))
        var gradients: [[Float]] = []
        for backward in [CPComposition.backward, CPComposition.backwardNaive] {
            let dA = OwnedFloats(zeros: shape.aCount), dB = OwnedFloats(zeros: shape.bCount), dC = OwnedFloats(zeros: shape.cCount)
            backward(upstream.pointer, a.pointer, b.pointer, c.pointer, shape, dA.pointer, dB.pointer, dC.pointer)
            gradients += [dA.values, dB.values, dC.values]
        }
        for (n, name) in ["dA", "dB", "dC"].enumerated() {
            assertClose("CPF-like \(name), gemm against naive", gradients[n], gradients[n + 3], tolerance: 1e-5)
        }
    }

    func testCPSharedFactorGradientMatchesFiniteDifferences() {
        // D1 shared by two compositions (visual and textual, different B and C): the two backwards add into one dA,
        // which must equal the derivative of the sum of both weighted sums.
        let visual = CPComposition.Shape(i: 3, j: 4, k: 6, rank: 2), textual = CPComposition.Shape(i: 3, j: 4, k: 5, rank: 2)
        let a = randomNormal(visual.aCount, seed: 31)
        let bV = OwnedFloats(randomNormal(visual.bCount, seed: 32)), cV = OwnedFloats(randomNormal(visual.cCount, seed: 33))
        let bT = OwnedFloats(randomNormal(textual.bCount, seed: 34)), cT = OwnedFloats(randomNormal(textual.cCount, seed: 35))
        let rV = randomNormal(visual.count, seed: 36), rT = randomNormal(textual.count, seed: 37)

        func loss(_ factor: [Float]) -> Double {
            let owned = OwnedFloats(factor)
            let pV = OwnedFloats(zeros: visual.count), pT = OwnedFloats(zeros: textual.count)
            CPComposition.forward(a: owned.pointer, b: bV.pointer, c: cV.pointer, shape: visual, into: pV.pointer)
            CPComposition.forward(a: owned.pointer, b: bT.pointer, c: cT.pointer, shape: textual, into: pT.pointer)
            return weightedSum(pV.values, rV) + weightedSum(pT.values, rT)
        }
        let initial = randomNormal(visual.aCount, seed: 38)
        let dA = OwnedFloats(initial), scratch = OwnedFloats(zeros: 64)
        let owned = OwnedFloats(a), upstreamV = OwnedFloats(rV), upstreamT = OwnedFloats(rT)
        CPComposition.backward(dP: upstreamV.pointer, a: owned.pointer, b: bV.pointer, c: cV.pointer, shape: visual,
                               dA: dA.pointer, dB: scratch.pointer, dC: scratch.pointer + 16)
        CPComposition.backward(dP: upstreamT.pointer, a: owned.pointer, b: bT.pointer, c: cT.pointer, shape: textual,
                               dA: dA.pointer, dB: scratch.pointer + 32, dC: scratch.pointer + 48)
        assertGradient("CP shared dA", accumulated: dA.values, initial: initial,
                       numerical: numericalGradient(a, loss), tolerance: 1e-3)
    }

    // MARK: Hierarchical prompt alignment

    func testHierarchicalPromptAlignmentMatchesTorchInBothVariants() throws {
        let file = try fixtures()
        for variant in HierarchicalPromptAlignment.Variant.allCases {
            for sharpness in ["sharp", "mild"] {
                let prefix = "hpa.\(variant.rawValue).\(sharpness)"
                let (vShape, tShape) = (try shape(file, "\(prefix).visual"), try shape(file, "\(prefix).textual"))
                let visual = OwnedFloats(try file.floats("\(prefix).visual"))
                let textual = OwnedFloats(try file.floats("\(prefix).textual"))
                let hpa = HierarchicalPromptAlignment(temperature: try file.doubles("\(prefix).temperature")[0], variant: variant)
                let weight: Float = 0.1
                let initialV = randomNormal(visual.count, seed: 41, std: 0.01), initialT = randomNormal(textual.count, seed: 42, std: 0.01)
                let dVisual = OwnedFloats(initialV), dTextual = OwnedFloats(initialT)
                let loss = hpa.loss(visual: visual.pointer, textual: textual.pointer, layers: vShape[0], tokens: vShape[1],
                                    visualWidth: vShape[2], textualWidth: tShape[2],
                                    dVisual: dVisual.pointer, dTextual: dTextual.pointer, weight: weight)
                assertClose("\(prefix) loss", [loss], try file.floats("\(prefix).loss"))
                assertClose("\(prefix) dPV", added(dVisual.values, to: initialV).map { $0 / weight },
                            try file.floats("\(prefix).d_visual"))
                assertClose("\(prefix) dPL", added(dTextual.values, to: initialT).map { $0 / weight },
                            try file.floats("\(prefix).d_textual"))

                let skipped = hpa.loss(visual: visual.pointer, textual: textual.pointer, layers: vShape[0], tokens: vShape[1],
                                       visualWidth: vShape[2], textualWidth: tShape[2], dVisual: nil, dTextual: nil)
                XCTAssertEqual(skipped, loss, "\(prefix): the loss does not depend on which gradients are asked for")
            }
        }
    }

    func testHierarchicalPromptAlignmentGradientMatchesFiniteDifferences() {
        let (layers, tokens, dv, dl) = (3, 4, 6, 5)
        let visual = randomNormal(layers * tokens * dv, seed: 51)
        let textual = OwnedFloats(randomNormal(layers * tokens * dl, seed: 52))
        for variant in HierarchicalPromptAlignment.Variant.allCases {
            let hpa = HierarchicalPromptAlignment(temperature: 0.5, variant: variant)
            let initial = randomNormal(visual.count, seed: 53)
            let dVisual = OwnedFloats(initial), owned = OwnedFloats(visual)
            _ = hpa.loss(visual: owned.pointer, textual: textual.pointer, layers: layers, tokens: tokens,
                         visualWidth: dv, textualWidth: dl, dVisual: dVisual.pointer, dTextual: nil, weight: 1)
            let numerical = numericalGradient(visual) { perturbed in
                let values = OwnedFloats(perturbed)
                return Double(hpa.loss(visual: values.pointer, textual: textual.pointer, layers: layers, tokens: tokens,
                                       visualWidth: dv, textualWidth: dl, dVisual: nil, dTextual: nil))
            }
            assertGradient("HPA \(variant) dPV", accumulated: dVisual.values, initial: initial, numerical: numerical,
                           tolerance: 5e-3)
        }
    }

    // MARK: Cross-task prompt alignment

    func testCrossTaskTargetsThresholdInclusively() throws {
        let file = try fixtures()
        let similarity = try file.floats("cpa.paper.mild.similarity")
        let threshold = try file.floats("cpa.paper.mild.threshold")[0]
        let targets = CrossTaskPromptAlignment.targets(similarity: similarity, taskCount: 4, threshold: threshold)
        XCTAssertEqual(targets, try file.floats("cpa.paper.mild.targets"), "z_ij = [c_ij >= threshold]")
        XCTAssertEqual(targets[3], 1, "c_03 = 0.4 exactly is a positive (eq. 7: greater than or equal)")
        XCTAssertEqual(CrossTaskPromptAlignment.targets(similarity: [1], taskCount: 1, threshold: 0.4), [1],
                       "a task is its own positive")
    }

    func testCrossTaskPromptAlignmentMatchesTorchInBothVariants() throws {
        let file = try fixtures()
        for variant in CrossTaskPromptAlignment.Variant.allCases {
            for label in ["sharp", "mild", "single"] {
                let prefix = "cpa.\(variant.rawValue).\(label)"
                let (vShape, tShape) = (try shape(file, "\(prefix).visual"), try shape(file, "\(prefix).textual"))
                let k = vShape[0]
                let visual = OwnedFloats(try file.floats("\(prefix).visual"))
                let textual = OwnedFloats(try file.floats("\(prefix).textual"))
                let targets = CrossTaskPromptAlignment.targets(similarity: try file.floats("\(prefix).similarity"),
                                                                 taskCount: k, threshold: 0.4)
                XCTAssertEqual(targets, try file.floats("\(prefix).targets"), "\(prefix): targets")
                let cpa = CrossTaskPromptAlignment(temperature: try file.doubles("\(prefix).temperature")[0], variant: variant)
                let weight: Float = 0.1
                let initialV = randomNormal(visual.count, seed: 61, std: 0.01), initialT = randomNormal(textual.count, seed: 62, std: 0.01)
                let dVisual = OwnedFloats(initialV), dTextual = OwnedFloats(initialT)
                let loss = cpa.loss(visual: visual.pointer, visualWidth: vShape[1], textual: textual.pointer,
                                    textualWidth: tShape[1], taskCount: k, targets: targets,
                                    dVisual: dVisual.pointer, dTextual: dTextual.pointer, weight: weight)
                assertClose("\(prefix) loss", [loss], try file.floats("\(prefix).loss"))
                assertClose("\(prefix) dPV", added(dVisual.values, to: initialV).map { $0 / weight },
                            try file.floats("\(prefix).d_visual"))
                assertClose("\(prefix) dPL", added(dTextual.values, to: initialT).map { $0 / weight },
                            try file.floats("\(prefix).d_textual"))
            }
        }
    }

    func testCrossTaskSingleTaskOfficialLossIsTheConstantSelfTerm() {
        // k = 1: only the +inf self score, BCE-with-logits(sigmoid(inf) = 1, 1) = log(1 + e^-1), no gradient.
        let cpa = CrossTaskPromptAlignment(temperature: 0.001, variant: .official)
        let row = OwnedFloats(randomNormal(10, seed: 71)), gradient = OwnedFloats(zeros: 10)
        let loss = cpa.loss(visual: row.pointer, visualWidth: 10, textual: row.pointer, textualWidth: 10, taskCount: 1,
                            targets: [1], dVisual: gradient.pointer, dTextual: nil)
        XCTAssertEqual(Double(loss), log1p(exp(-1.0)), accuracy: 1e-6, "the self term alone")
        XCTAssertEqual(gradient.values.map(abs).max(), 0, "the self term has no gradient")
    }

    func testCrossTaskPromptAlignmentGradientMatchesFiniteDifferences() {
        let (k, n) = (4, 7)
        let targets: [Float] = [1, 1, 0, 0,
                                1, 1, 0, 1,
                                0, 0, 1, 0,
                                0, 1, 0, 1]
        let visual = OwnedFloats(randomNormal(k * n, seed: 81, std: 0.4))
        let textual = randomNormal(k * n, seed: 82, std: 0.4)
        for variant in CrossTaskPromptAlignment.Variant.allCases {
            let cpa = CrossTaskPromptAlignment(temperature: 0.5, variant: variant)
            let initial = randomNormal(textual.count, seed: 83)
            let dTextual = OwnedFloats(initial), owned = OwnedFloats(textual)
            _ = cpa.loss(visual: visual.pointer, visualWidth: n, textual: owned.pointer, textualWidth: n, taskCount: k,
                         targets: targets, dVisual: nil, dTextual: dTextual.pointer, weight: 1)
            let numerical = numericalGradient(textual) { perturbed in
                let values = OwnedFloats(perturbed)
                return Double(cpa.loss(visual: visual.pointer, visualWidth: n, textual: values.pointer, textualWidth: n,
                                       taskCount: k, targets: targets, dVisual: nil, dTextual: nil))
            }
            assertGradient("CPA \(variant) dPL", accumulated: dTextual.values, initial: initial, numerical: numerical,
                           tolerance: 5e-3)
        }
    }
}
