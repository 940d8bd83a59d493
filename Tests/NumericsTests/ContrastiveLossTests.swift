import XCTest
import Numerics
import TestSupport

final class ContrastiveLossTests: XCTestCase {
    let count = 5, width = 7

    func loss(_ backend: Gemm.Backend = .blas, image: [Float], text: [Float], count: Int, width: Int, logScale: Float) -> Float {
        let workspace = ContrastiveLoss.Workspace(capacity: count)
        defer { workspace.deallocate() }
        return ContrastiveLoss.forward(backend, workspace: workspace, image: image, text: text,
                                       count: count, width: width, logScale: logScale)
    }

    func normalizedRows(_ count: Int, _ width: Int, seed: UInt64) -> [Float] {
        var x = randomNormal(count * width, seed: seed)
        for n in 0..<count {
            let norm = (0..<width).map { Double(x[n * width + $0]) * Double(x[n * width + $0]) }.reduce(0, +).squareRoot()
            for c in 0..<width { x[n * width + c] = Float(Double(x[n * width + c]) / norm) }
        }
        return x
    }

    /// Double reference: logits = s I T^T, loss = (CE over rows + CE over columns) / 2.
    func reference(image: [Float], text: [Float], count: Int, width: Int, logScale: Float) -> Double {
        let s = exp(Double(logScale))
        var logits = [[Double]](repeating: [Double](repeating: 0, count: count), count: count)
        for i in 0..<count {
            for j in 0..<count {
                var dot = 0.0
                for e in 0..<width { dot += Double(image[i * width + e]) * Double(text[j * width + e]) }
                logits[i][j] = s * dot
            }
        }
        func ce(_ row: [Double], _ target: Int) -> Double {
            let m = row.max()!
            return m + log(row.map { exp($0 - m) }.reduce(0, +)) - row[target]
        }
        var rowsLoss = 0.0, columnsLoss = 0.0
        for i in 0..<count {
            rowsLoss += ce(logits[i], i)
            columnsLoss += ce((0..<count).map { logits[$0][i] }, i)
        }
        return (rowsLoss + columnsLoss) / Double(2 * count)
    }

    /// Hand cases: I = T = identity with s = 1 gives log(1 + e^-1) in both directions; swapped pairs
    /// give log(1 + e); identical normalised embeddings with s = 100 give a loss near 0.
    func testKnownValues() {
        let identity: [Float] = [1, 0, 0, 1]
        let swapped: [Float] = [0, 1, 1, 0]
        XCTAssertEqual(Double(loss(image: identity, text: identity, count: 2, width: 2, logScale: 0)),
                       0.31326168751822286, accuracy: 1e-6, "matched 2x2 pairs, s = 1")
        XCTAssertEqual(Double(loss(image: identity, text: swapped, count: 2, width: 2, logScale: 0)),
                       1.3132616875182228, accuracy: 1e-6, "swapped 2x2 pairs, s = 1")

        // Orthonormal rows: logits = 100 I, loss = log(1 + (N - 1) e^-100), about 0.
        var basis = [Float](repeating: 0, count: count * width)
        for n in 0..<count { basis[n * width + n] = 1 }
        let aligned = loss(image: basis, text: basis, count: count, width: width, logScale: log(100))
        XCTAssertEqual(aligned, 0, accuracy: 1e-6, "identical orthonormal embeddings with s = 100")
        // Random normalised pairs that are identical: the diagonal dominates, loss small but positive.
        let same = normalizedRows(count, width, seed: 1)
        let nearlyZero = loss(image: same, text: same, count: count, width: width, logScale: log(100))
        XCTAssertLessThan(nearlyZero, 0.05, "identical normalised embeddings with s = 100")
        XCTAssertGreaterThanOrEqual(nearlyZero, 0, "a cross-entropy is never negative")
    }

    func testForwardMatchesDouble() {
        let image = normalizedRows(count, width, seed: 2), text = normalizedRows(count, width, seed: 3)
        for logScale: Float in [0, 1.3, log(100)] {
            let expected = reference(image: image, text: text, count: count, width: width, logScale: logScale)
            for backend in [Gemm.Backend.blas, .naive] {
                let value = loss(backend, image: image, text: text, count: count, width: width, logScale: logScale)
                XCTAssertEqual(Double(value), expected, accuracy: 1e-5 * max(1, expected),
                               "\(backend) logScale \(logScale): loss \(value) against Double \(expected)")
            }
        }
    }

    /// dI, dT and dloss/dlogScale against central differences of dLoss * loss, accumulated onto non-zero
    /// buffers, in a workspace larger than the batch.
    func testBackwardMatchesFiniteDifferences() {
        let image = normalizedRows(count, width, seed: 4), text = normalizedRows(count, width, seed: 5)
        let logScale: Float = 1.5, dLoss: Float = 0.8
        let dImage0 = randomNormal(image.count, seed: 6), dText0 = randomNormal(text.count, seed: 7)
        for backend in [Gemm.Backend.blas, .naive] {
            let workspace = ContrastiveLoss.Workspace(capacity: count + 3)
            defer { workspace.deallocate() }
            _ = ContrastiveLoss.forward(backend, workspace: workspace, image: image, text: text,
                                        count: count, width: width, logScale: logScale)
            var dImage = dImage0, dText = dText0
            let dLogScale = ContrastiveLoss.backward(backend, workspace: workspace, dImage: &dImage, dText: &dText,
                                                     image: image, text: text, count: count, width: width,
                                                     logScale: logScale, dLoss: dLoss)
            func scaled(_ value: Float) -> Double { Double(dLoss) * Double(value) }
            let numericalImage = numericalGradient(image) {
                scaled(loss(backend, image: $0, text: text, count: count, width: width, logScale: logScale))
            }
            let numericalText = numericalGradient(text) {
                scaled(loss(backend, image: image, text: $0, count: count, width: width, logScale: logScale))
            }
            let numericalScale = numericalGradient([logScale]) {
                scaled(loss(backend, image: image, text: text, count: count, width: width, logScale: $0[0]))
            }
            assertGradient("ContrastiveLoss dI \(backend)", accumulated: dImage, initial: dImage0,
                           numerical: numericalImage, tolerance: 2e-3)
            assertGradient("ContrastiveLoss dT \(backend)", accumulated: dText, initial: dText0,
                           numerical: numericalText, tolerance: 2e-3)
            assertGradient("ContrastiveLoss dlogScale \(backend)", accumulated: [dLogScale], initial: [0],
                           numerical: numericalScale, tolerance: 2e-3)
        }
    }

    /// BLAS against the naive reference for the loss and every gradient, within 1e-5 relative.
    func testBlasMatchesNaive() {
        let (count, width) = (9, 13)
        let image = normalizedRows(count, width, seed: 8), text = normalizedRows(count, width, seed: 9)
        let dImage0 = randomNormal(image.count, seed: 10), dText0 = randomNormal(text.count, seed: 11)
        var results: [[Float]] = []
        for backend in [Gemm.Backend.blas, .naive] {
            let workspace = ContrastiveLoss.Workspace(capacity: count)
            defer { workspace.deallocate() }
            let value = ContrastiveLoss.forward(backend, workspace: workspace, image: image, text: text,
                                                count: count, width: width, logScale: 2.3)
            var dImage = dImage0, dText = dText0
            let dLogScale = ContrastiveLoss.backward(backend, workspace: workspace, dImage: &dImage, dText: &dText,
                                                     image: image, text: text, count: count, width: width, logScale: 2.3)
            results.append([value, dLogScale] + added(dImage, to: dImage0) + added(dText, to: dText0))
        }
        let names = ["loss", "dlogScale"]
        for (index, name) in names.enumerated() {
            let error = relativeError([results[0][index]], [results[1][index]])
            XCTAssertLessThan(error, 1e-5, "ContrastiveLoss \(name): BLAS \(results[0][index]) off naive \(results[1][index]) by \(error)")
        }
        for (name, range) in [("dI", 2..<(2 + count * width)), ("dT", (2 + count * width)..<results[0].count)] {
            let error = relativeError(Array(results[0][range]), Array(results[1][range]))
            XCTAssertLessThan(error, 1e-5, "ContrastiveLoss \(name): BLAS off naive by \(error)")
        }
    }
}
