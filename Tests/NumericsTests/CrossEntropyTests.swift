import XCTest
import Numerics
import TestSupport

final class CrossEntropyTests: XCTestCase {
    /// -log softmax(logits[n])[t_n] averaged, in Double, from a row accessor.
    func reference(rows: Int, columns: Int, targets: [Int32], logit: (Int, Int) -> Float) -> Double {
        var total = 0.0
        for n in 0..<rows {
            let row = (0..<columns).map { Double(logit(n, $0)) }
            let maximum = row.max()!
            let logSum = maximum + log(row.map { exp($0 - maximum) }.reduce(0, +))
            total += logSum - row[Int(targets[n])]
        }
        return total / Double(rows)
    }

    /// Hand cases: uniform logits give log C; a 2-class row (0, 1) with target 1 gives log(1 + e^-1).
    func testKnownValues() {
        var probabilities = [Float](repeating: 0, count: 8)
        let uniform = CrossEntropy.forward(probabilities: &probabilities, logits: [Float](repeating: 3, count: 8),
                                           targets: [2, 0], rows: 2, columns: 4)
        XCTAssertEqual(Double(uniform), log(4.0), accuracy: 1e-6, "uniform logits over 4 classes")
        XCTAssertEqual(probabilities, [Float](repeating: 0.25, count: 8), "uniform probabilities")

        var p2 = [Float](repeating: 0, count: 2)
        let two = CrossEntropy.forward(probabilities: &p2, logits: [0, 1], targets: [1], rows: 1, columns: 2)
        XCTAssertEqual(Double(two), 0.31326168751822286, accuracy: 1e-7, "CE((0, 1), 1) = log(1 + e^-1)")
        XCTAssertEqual(Double(p2[1]), 1 / (1 + exp(-1.0)), accuracy: 1e-7, "sigmoid(1)")
    }

    /// Plain, strided and transposed layouts against the Double reference; large logits do not overflow.
    func testForwardMatchesDouble() {
        let (rows, columns, stride) = (5, 7, 9)
        let targets: [Int32] = [0, 6, 3, 3, 1]
        for offset: Float in [0, 1000] {
            let x = randomNormal(max(rows, columns) * stride, seed: 1, std: 3).map { $0 + offset }
            var probabilities = [Float](repeating: .nan, count: rows * columns)
            let plain = CrossEntropy.forward(probabilities: &probabilities, logits: x, targets: targets, rows: rows, columns: columns)
            XCTAssertEqual(Double(plain), reference(rows: rows, columns: columns, targets: targets) { x[$0 * columns + $1] },
                           accuracy: 1e-5, "offset \(offset): plain layout")
            let strided = CrossEntropy.forward(probabilities: &probabilities, logits: x, targets: targets, rows: rows,
                                               columns: columns, rowStride: stride)
            XCTAssertEqual(Double(strided), reference(rows: rows, columns: columns, targets: targets) { x[$0 * stride + $1] },
                           accuracy: 1e-5, "offset \(offset): strided layout")
            let transposed = CrossEntropy.forward(probabilities: &probabilities, logits: x, targets: targets, rows: rows,
                                                  columns: columns, rowStride: stride, transposed: true)
            XCTAssertEqual(Double(transposed), reference(rows: rows, columns: columns, targets: targets) { x[$1 * stride + $0] },
                           accuracy: 1e-5, "offset \(offset): transposed layout")
            for n in 0..<rows {
                let sum = (0..<columns).map { Double(probabilities[n * columns + $0]) }.reduce(0, +)
                XCTAssertEqual(sum, 1, accuracy: 1e-6, "offset \(offset): probability row \(n) sums to \(sum)")
            }
        }
    }

    /// dlogits against central differences of dLoss * loss, for the plain, strided and transposed
    /// layouts, accumulated onto a non-zero buffer (whose padding must stay as it was).
    func testBackwardMatchesFiniteDifferences() {
        let (rows, columns, stride) = (5, 7, 9)
        let targets: [Int32] = [0, 6, 3, 3, 1]
        let dLoss: Float = 0.7
        let x = randomNormal(max(rows, columns) * stride, seed: 2, std: 2)
        let d0 = randomNormal(x.count, seed: 3)
        for (name, rowStride, transposed) in [("plain", nil, false), ("strided", stride, false), ("transposed", stride, true)] as [(String, Int?, Bool)] {
            var probabilities = [Float](repeating: 0, count: rows * columns)
            func loss(_ logits: [Float]) -> Double {
                var scratch = [Float](repeating: 0, count: rows * columns)
                return Double(dLoss) * Double(CrossEntropy.forward(probabilities: &scratch, logits: logits, targets: targets,
                                                                   rows: rows, columns: columns, rowStride: rowStride,
                                                                   transposed: transposed))
            }
            _ = CrossEntropy.forward(probabilities: &probabilities, logits: x, targets: targets, rows: rows, columns: columns,
                                     rowStride: rowStride, transposed: transposed)
            var d = d0
            CrossEntropy.backward(dLogits: &d, probabilities: probabilities, targets: targets, rows: rows, columns: columns,
                                  dLoss: dLoss, rowStride: rowStride, transposed: transposed)
            let numerical = numericalGradient(x) { loss($0) }
            assertGradient("CrossEntropy dlogits \(name)", accumulated: d, initial: d0, numerical: numerical, tolerance: 1e-3)
            // Entries the loss does not read (padding) keep their old gradient.
            for i in 0..<x.count where numerical[i] == 0 {
                XCTAssertEqual(d[i], d0[i], "\(name): unread entry \(i) changed")
            }
        }
    }
}
