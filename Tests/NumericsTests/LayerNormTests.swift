import XCTest
import Numerics
import TestSupport

final class LayerNormTests: XCTestCase {
    let eps: Float = 1e-5

    struct Output { var y: [Float]; var mean: [Float]; var rstd: [Float] }

    func forward(x: [Float], weight: [Float], bias: [Float], rows: Int, columns: Int) -> Output {
        var out = Output(y: .init(repeating: .nan, count: rows * columns),
                         mean: .init(repeating: .nan, count: rows), rstd: .init(repeating: .nan, count: rows))
        LayerNorm.forward(y: &out.y, mean: &out.mean, rstd: &out.rstd, x: x, weight: weight, bias: bias,
                          rows: rows, columns: columns, eps: eps)
        return out
    }

    /// Output, mean and rstd against a direct two-pass computation in Double. The rows have a large
    /// offset (mean 50, std 2) so a one-pass E[x^2] - E[x]^2 variance in Float would fail.
    func testForwardMatchesTwoPassDouble() {
        let (rows, columns) = (4, 37)
        let x = randomNormal(rows * columns, seed: 1, std: 2).map { $0 + 50 }
        let weight = randomNormal(columns, seed: 2), bias = randomNormal(columns, seed: 3)
        let out = forward(x: x, weight: weight, bias: bias, rows: rows, columns: columns)
        var expected = [Float](repeating: 0, count: rows * columns)
        for n in 0..<rows {
            let row = (0..<columns).map { Double(x[n * columns + $0]) }
            let mean = row.reduce(0, +) / Double(columns)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(columns)
            let rstd = 1 / (variance + Double(eps)).squareRoot()
            XCTAssertEqual(Double(out.mean[n]), mean, accuracy: 1e-5 * abs(mean), "row \(n): mean")
            XCTAssertEqual(Double(out.rstd[n]), rstd, accuracy: 1e-4 * rstd, "row \(n): rstd")
            for c in 0..<columns {
                expected[n * columns + c] = Float((row[c] - mean) * rstd * Double(weight[c]) + Double(bias[c]))
            }
        }
        let error = relativeError(out.y, expected)
        XCTAssertLessThan(error, 1e-4, "LayerNorm output off the two-pass Double reference by \(error)")
    }

    /// With w = 1, b = 0 every row has mean 0 and (biased) variance 1 / (1 + eps / var).
    func testNormalisedRowsHaveZeroMeanUnitVariance() {
        let (rows, columns) = (3, 64)
        let x = randomNormal(rows * columns, seed: 4, std: 3)
        let out = forward(x: x, weight: .init(repeating: 1, count: columns), bias: .init(repeating: 0, count: columns),
                          rows: rows, columns: columns)
        for n in 0..<rows {
            let row = out.y[(n * columns)..<((n + 1) * columns)].map(Double.init)
            let mean = row.reduce(0, +) / Double(columns)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(columns)
            XCTAssertEqual(mean, 0, accuracy: 1e-6, "row \(n): normalised mean")
            XCTAssertEqual(variance, 1, accuracy: 1e-5, "row \(n): normalised variance")
        }
    }

    /// dx, dw, db against central differences, accumulated onto non-zero buffers.
    func testBackwardMatchesFiniteDifferences() {
        let (rows, columns) = (3, 7)
        let x = randomNormal(rows * columns, seed: 5, std: 1.5).map { $0 + 0.5 }
        let weight = randomNormal(columns, seed: 6), bias = randomNormal(columns, seed: 7)
        let r = randomNormal(rows * columns, seed: 8)
        let out = forward(x: x, weight: weight, bias: bias, rows: rows, columns: columns)
        let dx0 = randomNormal(x.count, seed: 9), dw0 = randomNormal(columns, seed: 10), db0 = randomNormal(columns, seed: 11)
        var dx = dx0, dw = dw0, db = db0
        LayerNorm.backward(dx: &dx, dWeight: &dw, dBias: &db, dy: r, x: x, weight: weight,
                           mean: out.mean, rstd: out.rstd, rows: rows, columns: columns)
        func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
            weightedSum(forward(x: x, weight: w, bias: b, rows: rows, columns: columns).y, r)
        }
        let numericalX = numericalGradient(x, step: 1e-2) { loss($0, weight, bias) }
        let numericalW = numericalGradient(weight) { loss(x, $0, bias) }
        let numericalB = numericalGradient(bias) { loss(x, weight, $0) }
        assertGradient("LayerNorm dx", accumulated: dx, initial: dx0, numerical: numericalX, tolerance: 1e-3)
        assertGradient("LayerNorm dw", accumulated: dw, initial: dw0, numerical: numericalW, tolerance: 1e-4)
        assertGradient("LayerNorm db", accumulated: db, initial: db0, numerical: numericalB, tolerance: 1e-4)

        // dWeight and dBias are optional: skipping them leaves dx unchanged.
        var dxOnly = dx0
        LayerNorm.backward(dx: &dxOnly, dWeight: nil, dBias: nil, dy: r, x: x, weight: weight,
                           mean: out.mean, rstd: out.rstd, rows: rows, columns: columns)
        XCTAssertEqual(dxOnly, dx, "dx without dw/db differs from dx with them")
    }

    /// With a skip gradient, dx = skip + what accumulating onto zeros gives, whatever dx held (NaN here), also
    /// when skip is dx itself; the row width (37) has a tail after the eight-lane body.
    func testSkipGradientOverwritesDx() {
        let (rows, columns) = (5, 37)
        let x = randomNormal(rows * columns, seed: 16, std: 2), dy = randomNormal(rows * columns, seed: 17)
        let weight = randomNormal(columns, seed: 18), bias = randomNormal(columns, seed: 19)
        let skip = randomNormal(rows * columns, seed: 20)
        let out = forward(x: x, weight: weight, bias: bias, rows: rows, columns: columns)
        var fromZero = [Float](repeating: 0, count: x.count)
        LayerNorm.backward(dx: &fromZero, dWeight: nil, dBias: nil, dy: dy, x: x, weight: weight,
                           mean: out.mean, rstd: out.rstd, rows: rows, columns: columns)
        let expected = zip(skip, fromZero).map { $0 + $1 }
        var dx = [Float](repeating: .nan, count: x.count)
        LayerNorm.backward(dx: &dx, dWeight: nil, dBias: nil, dy: dy, x: x, weight: weight,
                           mean: out.mean, rstd: out.rstd, rows: rows, columns: columns, skip: skip)
        XCTAssertEqual(dx, expected, "dx with a skip gradient differs from skip + the accumulated gradient")
        var aliased = skip
        aliased.withUnsafeMutableBufferPointer { d in
            LayerNorm.backward(dx: d.baseAddress!, dWeight: nil, dBias: nil, dy: dy, x: x, weight: weight,
                               mean: out.mean, rstd: out.rstd, rows: rows, columns: columns, skip: d.baseAddress!)
        }
        XCTAssertEqual(aliased, expected, "dx aliasing its skip gradient differs from skip + the accumulated gradient")
    }

    /// The row-parallel forward and backward give bit-identical results on 2 threads and on 1.
    func testParallelRowsMatchSerialBitwise() {
        let original = ComputeThreads.kernelThreads
        defer { ComputeThreads.set(original) }
        let (rows, columns) = (257, 768)   // rows * cost far above parallelRows' threshold; odd row count
        let x = randomNormal(rows * columns, seed: 12, std: 2)
        let weight = randomNormal(columns, seed: 13), bias = randomNormal(columns, seed: 14)
        let dy = randomNormal(rows * columns, seed: 15)
        var results: [[[Float]]] = []
        for threads in [2, 1] {
            ComputeThreads.set(threads)
            XCTAssertEqual(ComputeThreads.kernelThreads, threads, "ComputeThreads.set(\(threads)) not applied")
            let out = forward(x: x, weight: weight, bias: bias, rows: rows, columns: columns)
            var dx = [Float](repeating: 0.25, count: x.count)
            var dw = [Float](repeating: 0, count: columns), db = [Float](repeating: 0, count: columns)
            LayerNorm.backward(dx: &dx, dWeight: &dw, dBias: &db, dy: dy, x: x, weight: weight,
                               mean: out.mean, rstd: out.rstd, rows: rows, columns: columns)
            XCTAssertFalse(out.y.contains { $0.isNaN }, "\(threads) threads: some output row was not written")
            results.append([out.y, out.mean, out.rstd, dx, dw, db])
        }
        for (index, name) in ["y", "mean", "rstd", "dx", "dw", "db"].enumerated() {
            let parallel = results[0][index].map(\.bitPattern), serial = results[1][index].map(\.bitPattern)
            XCTAssertEqual(parallel, serial, "LayerNorm \(name): 2 threads differ bitwise from 1 thread")
        }
    }
}
