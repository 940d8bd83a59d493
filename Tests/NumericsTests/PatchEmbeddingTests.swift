import XCTest
import Numerics
import TestSupport

final class PatchEmbeddingTests: XCTestCase {
    // 2 images, 3 channels, 6x6 pixels in 2x2 patches: a 3x3 grid, 9 patches, K = 12, width 5,
    // written behind one class-token row.
    let batch = 2, channels = 3, imageSize = 6, patchSize = 2, width = 5, firstRow = 1
    var grid: Int { imageSize / patchSize }
    var patches: Int { grid * grid }
    var k: Int { channels * patchSize * patchSize }
    var sequenceLength: Int { firstRow + patches }
    let sentinel: Float = -12345

    func forward(_ backend: Gemm.Backend, pixels: [Float], weight: [Float]) -> (y: [Float], columns: [Float]) {
        var y = [Float](repeating: sentinel, count: batch * sequenceLength * width)
        var columns = [Float](repeating: .nan, count: batch * patches * k)
        PatchEmbedding.forward(backend, y: &y, columns: &columns, pixels: pixels, weight: weight, batch: batch,
                               channels: channels, imageSize: imageSize, patchSize: patchSize, width: width,
                               sequenceLength: sequenceLength, firstRow: firstRow)
        return (y, columns)
    }

    /// Against a direct convolution (kernel = stride = patch, no bias) in Double; the class-token rows
    /// are left as they were.
    func testForwardMatchesDirectConvolution() {
        let pixels = randomNormal(batch * channels * imageSize * imageSize, seed: 1)
        let weight = randomNormal(width * k, seed: 2)   // (D, C, patch, patch)
        for backend in [Gemm.Backend.blas, .naive] {
            let (y, _) = forward(backend, pixels: pixels, weight: weight)
            var maxDifference = 0.0
            for b in 0..<batch {
                for d in 0..<width {
                    XCTAssertEqual(y[(b * sequenceLength) * width + d], sentinel, "\(backend) image \(b): class row written")
                }
                for gy in 0..<grid {
                    for gx in 0..<grid {
                        for d in 0..<width {
                            var sum = 0.0
                            for c in 0..<channels {
                                for i in 0..<patchSize {
                                    for j in 0..<patchSize {
                                        let pixel = pixels[((b * channels + c) * imageSize + gy * patchSize + i) * imageSize + gx * patchSize + j]
                                        let w = weight[((d * channels + c) * patchSize + i) * patchSize + j]
                                        sum += Double(pixel) * Double(w)
                                    }
                                }
                            }
                            let row = b * sequenceLength + firstRow + gy * grid + gx
                            maxDifference = max(maxDifference, abs(Double(y[row * width + d]) - sum))
                        }
                    }
                }
            }
            XCTAssertLessThan(maxDifference, 1e-5, "\(backend): patch embedding off the direct convolution by \(maxDifference)")
        }
    }

    /// dW against central differences of L = sum(y * R) over the whole sequence buffer, accumulated
    /// onto a non-zero buffer.
    func testBackwardMatchesFiniteDifferences() {
        let pixels = randomNormal(batch * channels * imageSize * imageSize, seed: 3)
        let weight = randomNormal(width * k, seed: 4)
        let r = randomNormal(batch * sequenceLength * width, seed: 5)
        let dW0 = randomNormal(weight.count, seed: 6)
        for backend in [Gemm.Backend.blas, .naive] {
            let (_, columns) = forward(backend, pixels: pixels, weight: weight)
            var dW = dW0
            PatchEmbedding.backward(backend, dWeight: &dW, dy: r, columns: columns, batch: batch, patches: patches, k: k,
                                    width: width, sequenceLength: sequenceLength, firstRow: firstRow)
            let numerical = numericalGradient(weight) { weightedSum(forward(backend, pixels: pixels, weight: $0).y, r) }
            assertGradient("PatchEmbedding dW \(backend)", accumulated: dW, initial: dW0, numerical: numerical, tolerance: 1e-4)
        }
    }

    /// BLAS against the naive reference for forward and backward, within 1e-5 relative.
    func testBlasMatchesNaive() {
        let pixels = randomNormal(batch * channels * imageSize * imageSize, seed: 7)
        let weight = randomNormal(width * k, seed: 8)
        let dy = randomNormal(batch * sequenceLength * width, seed: 9)
        let dW0 = randomNormal(weight.count, seed: 10)
        var results: [[[Float]]] = []
        for backend in [Gemm.Backend.blas, .naive] {
            let (y, columns) = forward(backend, pixels: pixels, weight: weight)
            var dW = dW0
            PatchEmbedding.backward(backend, dWeight: &dW, dy: dy, columns: columns, batch: batch, patches: patches, k: k,
                                    width: width, sequenceLength: sequenceLength, firstRow: firstRow)
            results.append([y, dW])
        }
        for (index, name) in ["y", "dW"].enumerated() {
            let error = relativeError(results[0][index], results[1][index])
            XCTAssertLessThan(error, 1e-5, "PatchEmbedding \(name): BLAS off naive by \(error)")
        }
    }
}
