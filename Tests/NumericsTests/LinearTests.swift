import XCTest
import Numerics
import TestSupport

final class LinearTests: XCTestCase {
    // Odd sizes so no dimension can be confused with another.
    let rows = 3, inFeatures = 5, outFeatures = 7

    func forward(_ backend: Gemm.Backend, x: [Float], weight: [Float], bias: [Float]?) -> [Float] {
        var y = [Float](repeating: .nan, count: rows * outFeatures)
        if let bias {
            Linear.forward(backend, y: &y, x: x, weight: weight, bias: bias,
                           rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        } else {
            Linear.forward(backend, y: &y, x: x, weight: weight, bias: nil,
                           rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        }
        return y
    }

    /// y = x W^T + b against a Double triple loop, with and without bias, both backends.
    func testForwardMatchesDirectLoop() {
        let x = randomNormal(rows * inFeatures, seed: 1)
        let weight = randomNormal(outFeatures * inFeatures, seed: 2)
        let bias = randomNormal(outFeatures, seed: 3)
        for useBias in [true, false] {
            var expected = [Float](repeating: 0, count: rows * outFeatures)
            for n in 0..<rows {
                for o in 0..<outFeatures {
                    var sum = useBias ? Double(bias[o]) : 0
                    for i in 0..<inFeatures { sum += Double(x[n * inFeatures + i]) * Double(weight[o * inFeatures + i]) }
                    expected[n * outFeatures + o] = Float(sum)
                }
            }
            for backend in [Gemm.Backend.blas, .naive] {
                let y = forward(backend, x: x, weight: weight, bias: useBias ? bias : nil)
                let error = relativeError(y, expected)
                XCTAssertLessThan(error, 1e-6, "\(backend) bias \(useBias): forward off the direct loop by \(error)")
            }
        }
    }

    /// dx, dW, db against central differences of L = sum(y * R), accumulated onto non-zero buffers.
    func testBackwardMatchesFiniteDifferences() {
        let x = randomNormal(rows * inFeatures, seed: 4)
        let weight = randomNormal(outFeatures * inFeatures, seed: 5)
        let bias = randomNormal(outFeatures, seed: 6)
        let r = randomNormal(rows * outFeatures, seed: 7)
        let dx0 = randomNormal(x.count, seed: 8), dW0 = randomNormal(weight.count, seed: 9), db0 = randomNormal(bias.count, seed: 10)

        for backend in [Gemm.Backend.blas, .naive] {
            var dx = dx0, dW = dW0, db = db0
            Linear.backward(backend, dx: &dx, dWeight: &dW, dBias: &db, dy: r, x: x, weight: weight,
                            rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
            let numericalX = numericalGradient(x) { weightedSum(forward(backend, x: $0, weight: weight, bias: bias), r) }
            let numericalW = numericalGradient(weight) { weightedSum(forward(backend, x: x, weight: $0, bias: bias), r) }
            let numericalB = numericalGradient(bias) { weightedSum(forward(backend, x: x, weight: weight, bias: $0), r) }
            assertGradient("Linear dx \(backend)", accumulated: dx, initial: dx0, numerical: numericalX, tolerance: 1e-4)
            assertGradient("Linear dW \(backend)", accumulated: dW, initial: dW0, numerical: numericalW, tolerance: 1e-4)
            assertGradient("Linear db \(backend)", accumulated: db, initial: db0, numerical: numericalB, tolerance: 1e-4)
        }
    }

    /// Each optional gradient can be skipped without changing the others.
    func testOptionalGradientsAreIndependent() {
        let x = randomNormal(rows * inFeatures, seed: 11)
        let weight = randomNormal(outFeatures * inFeatures, seed: 12)
        let r = randomNormal(rows * outFeatures, seed: 13)
        var dxAll = [Float](repeating: 0, count: x.count), dWAll = [Float](repeating: 0, count: weight.count)
        var dbAll = [Float](repeating: 0, count: outFeatures)
        Linear.backward(dx: &dxAll, dWeight: &dWAll, dBias: &dbAll, dy: r, x: x, weight: weight,
                        rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        var dxOnly = [Float](repeating: 0, count: x.count)
        Linear.backward(dx: &dxOnly, dWeight: nil, dBias: nil, dy: r, x: x, weight: weight,
                        rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        var dWOnly = [Float](repeating: 0, count: weight.count)
        Linear.backward(dx: nil, dWeight: &dWOnly, dBias: nil, dy: r, x: x, weight: weight,
                        rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        var dbOnly = [Float](repeating: 0, count: outFeatures)
        Linear.backward(dx: nil, dWeight: nil, dBias: &dbOnly, dy: r, x: x, weight: weight,
                        rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        XCTAssertEqual(dxOnly, dxAll, "dx alone differs from dx computed with dW and db")
        XCTAssertEqual(dWOnly, dWAll, "dW alone differs from dW computed with dx and db")
        XCTAssertEqual(dbOnly, dbAll, "db alone differs from db computed with dx and dW")
    }

    /// BLAS against the naive reference for the forward and every gradient, within 1e-5 relative.
    func testBlasMatchesNaive() {
        let (rows, inFeatures, outFeatures) = (13, 17, 11)
        let x = randomNormal(rows * inFeatures, seed: 14)
        let weight = randomNormal(outFeatures * inFeatures, seed: 15)
        let bias = randomNormal(outFeatures, seed: 16)
        let dy = randomNormal(rows * outFeatures, seed: 17)
        let dx0 = randomNormal(x.count, seed: 18), dW0 = randomNormal(weight.count, seed: 19), db0 = randomNormal(outFeatures, seed: 20)
        var results: [[[Float]]] = []
        for backend in [Gemm.Backend.blas, .naive] {
            var y = [Float](repeating: .nan, count: rows * outFeatures)
            Linear.forward(backend, y: &y, x: x, weight: weight, bias: bias,
                           rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
            var dx = dx0, dW = dW0, db = db0
            Linear.backward(backend, dx: &dx, dWeight: &dW, dBias: &db, dy: dy, x: x, weight: weight,
                            rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
            results.append([y, dx, dW, db])
        }
        for (index, name) in ["y", "dx", "dW", "db"].enumerated() {
            let error = relativeError(results[0][index], results[1][index])
            XCTAssertLessThan(error, 1e-5, "Linear \(name): BLAS off naive by \(error)")
        }
    }

    /// `dxWrite: .overwrite` gives what accumulating onto zeros gives, whatever dx held (NaN here), on both backends.
    func testOverwriteIgnoresWhatDxHeld() {
        let x = randomNormal(rows * inFeatures, seed: 21), weight = randomNormal(outFeatures * inFeatures, seed: 22)
        let dy = randomNormal(rows * outFeatures, seed: 23)
        for backend in [Gemm.Backend.blas, .naive] {
            var accumulated = [Float](repeating: 0, count: rows * inFeatures)
            Linear.backward(backend, dx: &accumulated, dWeight: nil, dBias: nil, dy: dy, x: x, weight: weight,
                            rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
            var overwritten = [Float](repeating: .nan, count: rows * inFeatures)
            Linear.backward(backend, dx: &overwritten, dWeight: nil, dBias: nil, dy: dy, x: x, weight: weight,
                            rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, dxWrite: .overwrite)
            XCTAssertEqual(overwritten, accumulated, "\(backend): overwrite differs from accumulating onto zeros")
        }
    }

    /// y = x W^T + b + r and y = x W^T + r against the Double loop on both backends, with rows enough (and a width
    /// no multiple of 8) that 2 threads split the initial b + r pass; with the naive GEMM 2 threads give the bits of 1.
    func testResidualIsAddedOnAnyThreads() {
        let original = ComputeThreads.kernelThreads
        defer { ComputeThreads.set(original) }
        let (rows, inFeatures, outFeatures) = (301, 9, 229)
        let x = randomNormal(rows * inFeatures, seed: 24), weight = randomNormal(outFeatures * inFeatures, seed: 25)
        let bias = randomNormal(outFeatures, seed: 26), residual = randomNormal(rows * outFeatures, seed: 27)
        for useBias in [true, false] {
            var expected = [Float](repeating: 0, count: rows * outFeatures)
            for n in 0..<rows {
                for o in 0..<outFeatures {
                    var sum = Double(residual[n * outFeatures + o]) + (useBias ? Double(bias[o]) : 0)
                    for i in 0..<inFeatures { sum += Double(x[n * inFeatures + i]) * Double(weight[o * inFeatures + i]) }
                    expected[n * outFeatures + o] = Float(sum)
                }
            }
            for backend in [Gemm.Backend.blas, .naive] {
                var outputs: [[Float]] = []
                for threads in [1, 2] {
                    ComputeThreads.set(threads)
                    var y = [Float](repeating: .nan, count: rows * outFeatures)
                    bias.withUnsafeBufferPointer { b in
                        Linear.forward(backend, y: &y, x: x, weight: weight, bias: useBias ? b.baseAddress : nil,
                                       residual: residual, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
                    }
                    let error = relativeError(y, expected)
                    XCTAssertLessThan(error, 1e-5, "\(backend) bias \(useBias) \(threads) threads: off the loop by \(error)")
                    outputs.append(y)
                }
                // OpenBLAS splits its own GEMM differently on 2 threads; the naive GEMM runs on one either way.
                if backend == .naive {
                    let differing = zip(outputs[0], outputs[1]).filter { $0.bitPattern != $1.bitPattern }.count
                    XCTAssertEqual(differing, 0, "bias \(useBias): \(differing) values differ between 1 and 2 threads")
                }
            }
        }
    }
}
