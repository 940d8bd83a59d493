import XCTest
import Numerics
import TestSupport

final class L2NormalizeTests: XCTestCase {
    func normalize(_ x: [Float], rows: Int, columns: Int) -> (y: [Float], norms: [Float]) {
        var y = [Float](repeating: .nan, count: x.count), norms = [Float](repeating: .nan, count: rows)
        L2Normalize.forward(y: &y, norms: &norms, x: x, rows: rows, columns: columns)
        return (y, norms)
    }

    func testForwardMatchesDouble() {
        let (rows, columns) = (4, 9)
        let x = randomNormal(rows * columns, seed: 1, std: 3)
        let (y, norms) = normalize(x, rows: rows, columns: columns)
        for n in 0..<rows {
            let row = (0..<columns).map { Double(x[n * columns + $0]) }
            let norm = row.map { $0 * $0 }.reduce(0, +).squareRoot()
            XCTAssertEqual(Double(norms[n]), norm, accuracy: 1e-6 * norm, "row \(n): norm")
            var length = 0.0
            for c in 0..<columns {
                XCTAssertEqual(Double(y[n * columns + c]), row[c] / norm, accuracy: 1e-6, "y[\(n), \(c)]")
                length += Double(y[n * columns + c]) * Double(y[n * columns + c])
            }
            XCTAssertEqual(length, 1, accuracy: 1e-6, "row \(n) does not have unit length")
        }
        // A hand case: (3, 4) / 5.
        let (hand, handNorm) = normalize([3, 4], rows: 1, columns: 2)
        XCTAssertEqual(handNorm, [5], "norm of (3, 4)")
        XCTAssertEqual(hand, [0.6, 0.8], "(3, 4) / 5")
    }

    /// dx against central differences of L = sum(y * R), accumulated onto a non-zero buffer.
    func testBackwardMatchesFiniteDifferences() {
        let (rows, columns) = (3, 7)
        let x = randomNormal(rows * columns, seed: 2)
        let r = randomNormal(rows * columns, seed: 3)
        let (y, norms) = normalize(x, rows: rows, columns: columns)
        let dx0 = randomNormal(x.count, seed: 4)
        var dx = dx0
        L2Normalize.backward(dx: &dx, dy: r, y: y, norms: norms, rows: rows, columns: columns)
        let numerical = numericalGradient(x, step: 1e-2) { weightedSum(normalize($0, rows: rows, columns: columns).y, r) }
        assertGradient("L2Normalize dx", accumulated: dx, initial: dx0, numerical: numerical, tolerance: 1e-3)
    }
}
