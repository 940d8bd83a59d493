import XCTest
import Numerics
import TestSupport

final class SoftmaxTests: XCTestCase {
    func softmax(_ x: [Float], rows: Int, columns: Int) -> [Float] {
        var p = [Float](repeating: .nan, count: x.count)
        Softmax.forward(p: &p, x: x, rows: rows, columns: columns)
        return p
    }

    /// Against exp(x) / sum exp(x) in Double.
    func testForwardMatchesDouble() {
        let (rows, columns) = (4, 9)
        let x = randomNormal(rows * columns, seed: 1, std: 3)
        let p = softmax(x, rows: rows, columns: columns)
        for n in 0..<rows {
            let e = (0..<columns).map { exp(Double(x[n * columns + $0])) }
            let sum = e.reduce(0, +)
            for c in 0..<columns {
                XCTAssertEqual(Double(p[n * columns + c]), e[c] / sum, accuracy: 1e-6, "p[\(n), \(c)]")
            }
        }
    }

    /// -infinity entries get probability exactly 0 and the rest is the softmax of the finite entries.
    func testMinusInfinityEntriesGetZero() {
        let x: [Float] = [1, -.infinity, 2, -.infinity,
                          -.infinity, -.infinity, -.infinity, 0.5]
        let p = softmax(x, rows: 2, columns: 4)
        let e1 = exp(1.0), e2 = exp(2.0)
        let expected: [Double] = [e1 / (e1 + e2), 0, e2 / (e1 + e2), 0, 0, 0, 0, 1]
        for i in 0..<8 {
            XCTAssertFalse(p[i].isNaN, "p[\(i)] is NaN")
            XCTAssertEqual(Double(p[i]), expected[i], accuracy: 1e-7, "p[\(i)] with -inf entries")
        }
        // The backward gives masked entries a zero gradient.
        var dx = [Float](repeating: 0, count: 8)
        Softmax.backward(dx: &dx, dp: randomNormal(8, seed: 2), p: p, rows: 2, columns: 4)
        for i in [1, 3, 4, 5, 6] { XCTAssertEqual(dx[i], 0, "masked entry \(i) got gradient \(dx[i])") }
        XCTAssertEqual(dx[7], 0, accuracy: 1e-7, "a row with one live entry has a constant output: zero gradient")
    }

    /// Logits far beyond exp's range (Float exp overflows above ~88) give the softmax of their differences.
    func testLargeLogitsDoNotOverflow() {
        let shifts: [Float] = [1000, -1000, 3e38]
        let base: [Float] = [2, 1, 0, -1]
        let reference = softmax(base, rows: 1, columns: 4)
        for shift in shifts {
            // 3e38 + small is 3e38 in Float: all equal, so the softmax is uniform.
            let x = base.map { $0 + shift }
            let p = softmax(x, rows: 1, columns: 4)
            let expected = shift == 3e38 ? [Float](repeating: 0.25, count: 4) : reference
            XCTAssertFalse(p.contains { !$0.isFinite }, "shift \(shift): non-finite probabilities \(p)")
            XCTAssertLessThan(relativeError(p, expected), 1e-6, "shift \(shift): \(p) against \(expected)")
        }
    }

    /// Strided rows: the padding between rows is neither read nor written.
    func testRowStrideLeavesPaddingAlone() {
        let (rows, columns, stride) = (3, 5, 8)
        var x = randomNormal(rows * stride, seed: 3)
        for n in 0..<rows { for c in columns..<stride { x[n * stride + c] = 1e30 } }   // would dominate if read
        var p = [Float](repeating: -7, count: rows * stride)
        Softmax.forward(p: &p, x: x, rows: rows, columns: columns, rowStride: stride)
        for n in 0..<rows {
            let row = Array(x[(n * stride)..<(n * stride + columns)])
            let expected = softmax(row, rows: 1, columns: columns)
            XCTAssertEqual(Array(p[(n * stride)..<(n * stride + columns)]), expected, "row \(n) strided")
            for c in columns..<stride { XCTAssertEqual(p[n * stride + c], -7, "padding [\(n), \(c)] written") }
        }
    }

    /// Backward against central differences of L = sum(p * R), accumulated onto a non-zero buffer,
    /// also with a masked entry and strided rows.
    func testBackwardMatchesFiniteDifferences() {
        let (rows, columns, stride) = (3, 7, 9)
        var x = randomNormal(rows * stride, seed: 4, std: 1.5)
        x[1 * stride + 2] = -.infinity
        let r = randomNormal(rows * stride, seed: 5)
        func loss(_ x: [Float]) -> Double {
            var p = [Float](repeating: 0, count: x.count)
            Softmax.forward(p: &p, x: x, rows: rows, columns: columns, rowStride: stride)
            return weightedSum(p, r)
        }
        var p = [Float](repeating: 0, count: x.count)
        Softmax.forward(p: &p, x: x, rows: rows, columns: columns, rowStride: stride)
        let dx0 = randomNormal(x.count, seed: 6)
        var dx = dx0
        Softmax.backward(dx: &dx, dp: r, p: p, rows: rows, columns: columns, rowStride: stride)
        var numerical = numericalGradient(x) { loss($0) }
        numerical[1 * stride + 2] = 0   // -inf +- h is -inf: no difference, and the true gradient is 0
        for n in 0..<rows { for c in columns..<stride { numerical[n * stride + c] = 0 } }
        assertGradient("Softmax dx", accumulated: dx, initial: dx0, numerical: numerical, tolerance: 1e-3)
        for n in 0..<rows {
            for c in columns..<stride { XCTAssertEqual(dx[n * stride + c], dx0[n * stride + c], "padding [\(n), \(c)] changed") }
        }
    }

    /// `write: .overwrite` with dx aliasing dp (attention's in-place dS) gives what accumulating onto zeros gives,
    /// over rows of 13 columns (one eight-lane block and a tail).
    func testBackwardOverwriteInPlaceMatchesAccumulate() {
        let (rows, columns) = (3, 13)
        let p = softmax(randomNormal(rows * columns, seed: 11, std: 2), rows: rows, columns: columns)
        let dp = randomNormal(rows * columns, seed: 12)
        var accumulated = [Float](repeating: 0, count: rows * columns)
        Softmax.backward(dx: &accumulated, dp: dp, p: p, rows: rows, columns: columns)
        var inPlace = dp
        inPlace.withUnsafeMutableBufferPointer {
            Softmax.backward(dx: $0.baseAddress!, dp: $0.baseAddress!, p: p, rows: rows, columns: columns, write: .overwrite)
        }
        XCTAssertEqual(inPlace, accumulated, "in-place overwrite differs from accumulating onto zeros")
    }
}
