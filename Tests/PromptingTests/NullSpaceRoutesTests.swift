import XCTest
import CLAPACKE
import CLIP
import Foundation
import Numerics
@testable import Prompting
import TestSupport

/// The two statistics routes on the same forward passes, the merged factor's algebra, and the NSP2 method's
/// hooks before and after it adopts factors.
final class NullSpaceRoutesTests: XCTestCase {
    private let config = smallCLIPConfig
    private let d = 16, prompts = 2

    /// Runs two batches through a VPT-prompted small tower, feeding `layer`'s records to one accumulator of
    /// each route.
    private func collectBothRoutes(layer: Int) throws -> (factored: any NullSpaceStatisticsAccumulator,
                                                          gram: any NullSpaceStatisticsAccumulator, keyWeight: UnsafePointer<Float>, model: CLIPModel) {
        let model = CLIPModel.random(config: config, seed: 41)
        let method = try VPTDeep(config: config.vision, tokens: prompts, initialization: .uniformUnit)
        var layout = ParameterLayout()
        method.declare(into: &layout)
        let parameters = TrainableParameters(layout: layout)
        method.initialize(parameters.values, seed: 42)
        let tower = VisionTower(model: model, capacity: 3, plan: method.visionPlan)
        let keyWeight = UnsafePointer(model.weights["vision_model.encoder.layers.\(layer).self_attn.k_proj.weight"])
        var factored = NullSpaceStatisticsRoute.factored.makeAccumulator(heads: 2, headSize: 8, promptTokens: prompts)
        var gram = NullSpaceStatisticsRoute.gram.makeAccumulator(heads: 2, headSize: 8, promptTokens: prompts)
        for (batch, seed) in [(3, UInt64(43)), (2, 44)] {
            let pixels = OwnedFloats(randomNormal(batch * 3 * 8 * 8, seed: seed))
            tower.forward(pixels: pixels.pointer, prompts: method.visionPrompts(parameters.values), batch: batch)
            let record = tower.attentionRecord(layer: layer, batch: batch)
            try factored.accumulate(record, keyWeight: keyWeight)
            try gram.accumulate(record, keyWeight: keyWeight)
        }
        return (factored, gram, keyWeight, model)
    }

    func testGramRouteGivesTheFactoredRoutesStatistics() throws {
        for layer in 0..<3 {
            let (factored, gramRoute, keyWeight, model) = try collectBothRoutes(layer: layer)
            try withExtendedLifetime(model) {
                XCTAssertEqual(factored.rowsSeen, 5 * 5 * 2, "layer \(layer): 5 images x 5 image tokens x 2 heads")
                XCTAssertEqual(gramRoute.rowsSeen, factored.rowsSeen, "layer \(layer): rows of both routes")
                let f1 = try factored.channelFactor(keyWeight: keyWeight), g1 = try gramRoute.channelFactor(keyWeight: keyWeight)
                XCTAssertEqual(g1.rows, d, "layer \(layer): the Gram route's factor is D x D")
                // The Gram route forms Omega1's rows and their Gram in Float per batch.
                let channelError = maxRelativeDifference(gram(g1.values, columns: d), gram(f1.values, columns: d))
                XCTAssertLessThan(channelError, 1e-5, "layer \(layer): F1^T F1 of the two routes")
                let f2 = try factored.tokenFactor(), g2 = try gramRoute.tokenFactor()
                let tokenError = maxRelativeDifference(gram(g2.values, columns: prompts), gram(f2.values, columns: prompts))
                XCTAssertLessThan(tokenError, 1e-10, "layer \(layer): F2^T F2 of the two routes (both Double)")
            }
        }
    }

    func testFactorOfAGramMatrixReproducesIt() throws {
        let n = 6, rows = 4      // rank 4 < 6: two zero eigenvalues, rounding may make them slightly negative
        let a = randomNormal(rows * n, seed: 51).map(Double.init)
        let g = gram(a, columns: n)
        let factor = try GramNullSpaceStatistics.factor(ofGram: g, dimension: n)
        XCTAssertEqual(factor.rows, n)
        XCTAssertLessThan(maxRelativeDifference(gram(factor.values, columns: n), g), 1e-12, "F^T F = G")
        let norms = (0..<n).map { i in (0..<n).reduce(0.0) { $0 + factor.values[i * n + $1] * factor.values[i * n + $1] } }
        XCTAssertEqual(norms, norms.sorted(by: >), "rows in descending order of eigenvalue")
        XCTAssertLessThan(maxRelativeDifference(norms.map { $0.squareRoot() }, singularValues(a, rows: rows, columns: n) + [0, 0]),
                          1e-7, "row norms are A's singular values")
    }

    /// A merged factor stands for all its rows: the SVD of [stackedRows ; B] is the SVD of [A ; B].
    func testMergedFactorStandsForItsRows() throws {
        let n = 5
        let a = randomNormal(7 * n, seed: 61).map(Double.init), b = randomNormal(3 * n, seed: 62).map(Double.init)
        let (s, vt) = try svd(a, rows: 7, columns: n)
        let factor = try NullSpaceFactor(columns: n, singularValues: s, rightSingularVectors: vt, rowsSeen: 7)
        XCTAssertLessThan(maxRelativeDifference(gram(factor.stackedRows, columns: n), gram(a, columns: n)), 1e-12,
                          "stackedRows^T stackedRows = A^T A")
        let merged = singularValues(factor.stackedRows + b, rows: n + 3, columns: n)
        XCTAssertLessThan(maxRelativeDifference(merged, singularValues(a + b, rows: 10, columns: n)), 1e-12,
                          "[F ; B] has [A ; B]'s singular values")
        XCTAssertThrowsError(try NullSpaceFactor(columns: n, singularValues: s, rightSingularVectors: [1, 2], rowsSeen: 7),
                             "vectors that do not fit the values")
    }

    /// The selection runs on the covariance spectrum s^2, as the official code's SVD of C = Omega^T Omega.
    func testProjectorChoosesTheNullSpaceOnTheSquaredSpectrum() throws {
        // s = 10, 9, 8, 5, 1: second differences 0, -2, -1 -> the bend after s[0] (k = 1);
        // s^2 = 100, 81, 64, 25, 1: 2, -22, 15 -> the bend after 64 (k = 3).
        let s = [10.0, 9, 8, 5, 1], n = 5
        var vt = [Double](repeating: 0, count: n * n)
        for i in 0..<n { vt[i * n + i] = 1 }
        let factor = try NullSpaceFactor(columns: n, singularValues: s, rightSingularVectors: vt, rowsSeen: 9)
        let onSquares = try NullSpaceSelection().startIndex(singularValues: s.map { $0 * $0 })
        let onValues = try NullSpaceSelection().startIndex(singularValues: s)
        XCTAssertEqual([onValues, onSquares], [1, 3], "the example separates the two spectra")
        let projector = try factor.projector(selection: NullSpaceSelection(), eta: 1, scaling: .orthogonal)
        XCTAssertEqual(projector.nullSpaceStart, onSquares, "the null space starts where s^2 says")
    }

    func testMethodProjectsAndAddsLNLossOnlyAfterAdoptingFactors() throws {
        let prompts = try VPTDeep(config: config.vision, tokens: 3, layers: [0, 2], initialization: .uniformUnit)
        let settings = NullSpaceSettings(channelEta: 1, tokenEta: 0.9, scaling: .orthogonal)
        let method = NullSpacePromptTuning(variant: .vpt, prompts: prompts, settings: settings)
        XCTAssertEqual(method.name, "vpt-nsp2")
        var layout = ParameterLayout()
        method.declare(into: &layout)
        let parameters = TrainableParameters(layout: layout)
        method.initialize(parameters.values, seed: 71)
        XCTAssertNil(method.updateTransform, "no projection before the first task's statistics")
        XCTAssertEqual(method.addPromptLoss(values: parameters.values, gradients: parameters.gradients, task: 1), 0, "no L_LN yet")

        let factors = try [0, 2].enumerated().map { index, layer in
            let channel = try randomFactor(rows: 10, columns: d, seed: UInt64(80 + index))
            let token = try randomFactor(rows: 2, columns: 3, seed: UInt64(90 + index))
            return LayerNullSpaceFactors(layer: layer, channel: channel, token: token)
        }
        XCTAssertThrowsError(try method.adopt(Array(factors.prefix(1)), values: parameters.values), "one layer short")
        try method.adopt(factors, values: parameters.values)
        XCTAssertEqual(method.factors, factors)

        // The hook equals PromptUpdateProjection with projectors built from the same factors by hand.
        let update = randomNormal(parameters.count, seed: 72)
        var projected = update
        let transform = try XCTUnwrap(method.updateTransform, "a projection after adopting factors")
        transform(&projected, projected.count)
        let expected = try PromptUpdateProjection(layers: zip(factors, method.slices(in: layout)).map { factor, slice in
            try PromptUpdateProjection.Layer(
                slice: slice,
                tokenProjector: factor.token.projector(selection: settings.tokenSelection, eta: 0.9, scaling: .orthogonal),
                channelProjector: factor.channel.projector(selection: settings.channelSelection, eta: 1, scaling: .orthogonal))
        })
        var reference = update
        expected.apply(.naive, to: &reference, count: reference.count)
        XCTAssertLessThan(relativeError(projected, reference), 1e-5, "the method's hook against the hand-built projection")
        XCTAssertGreaterThan(relativeError(projected, update), 1e-2, "the hook changed the update")

        // L_LN is 0 at the adopted prompts and positive once they move; its gradient is added.
        XCTAssertEqual(method.addPromptLoss(values: parameters.values, gradients: parameters.gradients, task: 1), 0, accuracy: 1e-7)
        for i in 0..<parameters.count { parameters.values.storage[i] *= 1.5 }
        parameters.gradients.zero()
        let loss = method.addPromptLoss(values: parameters.values, gradients: parameters.gradients, task: 1)
        XCTAssertGreaterThan(loss, 0, "prompts scaled by 1.5 change their deviations")
        let gradientNorm = GradientClipping.norm(parameters.gradients.storage, count: parameters.count)
        XCTAssertGreaterThan(gradientNorm, 0, "L_LN's gradient was added")
    }

    /// The factors a run writes read back bit for bit; a missing tensor is named with its file.
    func testFactorTensorsRoundTripAndNameWhatIsMissing() throws {
        let factors = try [3, 5].map { layer in
            // Omega1 and Omega2 have the same rows (one per image query and head): the file keeps one count.
            LayerNullSpaceFactors(layer: layer, channel: try randomFactor(rows: 9, columns: d, seed: UInt64(layer)),
                                  token: try randomFactor(rows: 4, columns: 3, seed: UInt64(layer + 10), rowsSeen: 9))
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("null-space-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("null_space.safetensors")
        var writer = SafetensorsWriter()
        try NullSpaceFactorTensors.add(factors, to: &writer)
        try writer.write(to: url)
        let file = try SafetensorsFile(contentsOf: url)
        XCTAssertEqual(try NullSpaceFactorTensors.read(file, layers: [3, 5]), factors, "bit for bit")
        XCTAssertEqual(file.info("null_space.layer3.channel.right_vectors")?.shape, [9, d])
        XCTAssertThrowsError(try NullSpaceFactorTensors.read(file, layers: [3, 4])) { error in
            XCTAssertTrue("\(error)".contains("null_space.layer4") && "\(error)".contains(url.path),
                          "names the tensor and the file: \(error)")
        }
    }

    // MARK: Helpers

    /// s and V^T of a row-major Double matrix (LAPACKE_dgesdd, thin).
    private func svd(_ matrix: [Double], rows: Int, columns: Int) throws -> (s: [Double], vt: [Double]) {
        var a = matrix
        let r = min(rows, columns)
        var s = [Double](repeating: 0, count: r), u = [Double](repeating: 0, count: rows * r)
        var vt = [Double](repeating: 0, count: r * columns)
        let info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "S")), Int32(rows), Int32(columns), &a,
                                  Int32(columns), &s, &u, Int32(r), &vt, Int32(columns))
        XCTAssertEqual(info, 0, "dgesdd")
        return (s, vt)
    }

    private func randomFactor(rows: Int, columns: Int, seed: UInt64, rowsSeen: Int? = nil) throws -> NullSpaceFactor {
        let (s, vt) = try svd(randomNormal(rows * columns, seed: seed).map(Double.init), rows: rows, columns: columns)
        return try NullSpaceFactor(columns: columns, singularValues: s, rightSingularVectors: vt, rowsSeen: rowsSeen ?? rows)
    }
}
