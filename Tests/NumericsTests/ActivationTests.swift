import XCTest
import Numerics
import TestSupport

final class ActivationTests: XCTestCase {
    func apply(_ activation: Activation, _ x: [Float]) -> [Float] {
        var y = [Float](repeating: .nan, count: x.count)
        activation.forward(&y, x, count: x.count)
        return y
    }

    /// Known values (Double references from Python's math.erf / math.exp).
    func testKnownValues() {
        let cases: [(Activation, Float, Double)] = [
            (.quickGELU, 0, 0),
            (.quickGELU, 1, 1 / (1 + exp(-1.702))),
            (.quickGELU, 2, 1.9356586231442083),
            (.quickGELU, -0.5, -0.1496115633936199),
            (.quickGELU, 100, 100),
            (.quickGELU, -100, 0),
            (.gelu, 0, 0),
            (.gelu, 1, 0.8413447460685429),
            (.gelu, -3, -0.00404969409489031),
            (.gelu, -0.5, -0.15426876936299344),
            (.gelu, 10, 10),
            (.gelu, -10, 0),
        ]
        for (activation, x, expected) in cases {
            let y = apply(activation, [x])[0]
            XCTAssertTrue(y.isFinite, "\(activation.rawValue)(\(x)) = \(y) is not finite")
            XCTAssertEqual(Double(y), expected, accuracy: 1e-6 * max(1, abs(expected)),
                           "\(activation.rawValue)(\(x)) = \(y), expected \(expected)")
        }
        XCTAssertEqual(Activation(rawValue: "quick_gelu"), .quickGELU, "raw value quick_gelu")
        XCTAssertEqual(Activation(rawValue: "gelu"), .gelu, "raw value gelu")
    }

    /// Over 37 elements (four eight-lane vectors and a tail of 5), each element against Double, both tails of x
    /// included: the vector lanes and the scalar tail compute the same function.
    func testLanesAndTailMatchDouble() {
        let x = randomNormal(37, seed: 7, std: 4) + [-90, 90, 0]
        let y = apply(.quickGELU, x)
        for (i, v) in x.enumerated() {
            let expected = Double(v) / (1 + exp(-1.702 * Double(v)))
            XCTAssertEqual(Double(y[i]), expected, accuracy: 2e-7 * max(1, abs(expected)), "quick_gelu(\(v)) at \(i)")
        }
    }

    /// The forward may run in place (y aliasing x).
    func testForwardInPlace() {
        for activation in Activation.allCases {
            let x = randomNormal(11, seed: 1, std: 2)
            var buffer = x
            buffer.withUnsafeMutableBufferPointer { activation.forward($0.baseAddress!, $0.baseAddress!, count: $0.count) }
            XCTAssertEqual(buffer, apply(activation, x), "\(activation.rawValue): in-place forward differs")
        }
    }

    /// dx against central differences of L = sum(f(x) * R), accumulated onto a non-zero buffer, over a
    /// range of x that covers both tails.
    func testBackwardMatchesFiniteDifferences() {
        for activation in Activation.allCases {
            let x = randomNormal(31, seed: 2, std: 2.5)
            let r = randomNormal(31, seed: 3)
            let dx0 = randomNormal(31, seed: 4)
            var dx = dx0
            activation.backward(dx: &dx, dy: r, x: x, count: x.count)
            let numerical = numericalGradient(x, step: 1e-2) { weightedSum(apply(activation, $0), r) }
            assertGradient("\(activation.rawValue) dx", accumulated: dx, initial: dx0, numerical: numerical, tolerance: 1e-3)
        }
    }

    /// Derivatives at known points: quick_gelu'(0) = 1/2, gelu'(0) = 1/2, both tend to 1 and 0 in the tails.
    func testDerivativeKnownValues() {
        let cases: [(Activation, Float, Double)] = [
            (.quickGELU, 0, 0.5), (.gelu, 0, 0.5),
            (.quickGELU, 50, 1), (.gelu, 50, 1),
            (.quickGELU, -50, 0), (.gelu, -50, 0),
            // gelu'(1) = Phi(1) + phi(1)
            (.gelu, 1, 0.8413447460685429 + exp(-0.5) / (2 * Double.pi).squareRoot()),
        ]
        for (activation, x, expected) in cases {
            var dx: [Float] = [0]
            activation.backward(dx: &dx, dy: [1], x: [x], count: 1)
            XCTAssertTrue(dx[0].isFinite, "\(activation.rawValue)'(\(x)) = \(dx[0]) is not finite")
            XCTAssertEqual(Double(dx[0]), expected, accuracy: 1e-6, "\(activation.rawValue)'(\(x)) = \(dx[0])")
        }
    }

    /// The threaded blocks give the same bits as one thread (every element is computed alone).
    func testThreadsChangeNoBit() {
        let original = ComputeThreads.kernelThreads
        defer { ComputeThreads.set(original) }
        let x = randomNormal(100_003, seed: 5, std: 3), dy = randomNormal(100_003, seed: 6)
        for activation in Activation.allCases {
            var results: [[Float]] = []
            for threads in [1, 3] {
                ComputeThreads.set(threads)
                var dx = [Float](repeating: 0.5, count: x.count)
                activation.backward(dx: &dx, dy: dy, x: x, count: x.count)
                results.append(apply(activation, x) + dx)
            }
            XCTAssertEqual(results[0], results[1], "\(activation.rawValue): 3 threads change the result")
        }
    }

    /// `write: .overwrite` gives what accumulating onto zeros gives, whatever dx held (NaN here), lanes and tail.
    func testBackwardOverwriteIgnoresWhatDxHeld() {
        let x = randomNormal(37, seed: 8, std: 3), dy = randomNormal(37, seed: 9)
        for activation in Activation.allCases {
            var accumulated = [Float](repeating: 0, count: x.count)
            activation.backward(dx: &accumulated, dy: dy, x: x, count: x.count)
            var overwritten = [Float](repeating: .nan, count: x.count)
            activation.backward(dx: &overwritten, dy: dy, x: x, count: x.count, write: .overwrite)
            XCTAssertEqual(overwritten, accumulated, "\(activation.rawValue): overwrite differs from accumulating onto zeros")
        }
    }
}
