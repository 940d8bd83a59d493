import Foundation
import XCTest

/// Central-difference gradient of a scalar function of a Float32 buffer.
///
/// ```
/// g[i] = (L(x + h e_i) - L(x - h e_i)) / ((x_i + h) - (x_i - h))
/// ```
/// The perturbation is applied to the Float inputs the kernels take, but the divisor is the step that
/// was really taken after rounding to Float, and `loss` returns a Double (accumulate L in Double), so the
/// only Float error left is the kernel's own rounding.
public func numericalGradient(_ input: [Float], step: Float = 1e-2, _ loss: ([Float]) -> Double) -> [Double] {
    var perturbed = input
    var gradient = [Double](repeating: 0, count: input.count)
    for i in 0..<input.count {
        let original = input[i]
        let up = original + step
        let down = original - step
        perturbed[i] = up
        let lossUp = loss(perturbed)
        perturbed[i] = down
        let lossDown = loss(perturbed)
        perturbed[i] = original
        gradient[i] = (lossUp - lossDown) / (Double(up) - Double(down))
    }
    return gradient
}

/// The test loss every backward is checked with: `L = sum_i y[i] * r[i]`, accumulated in Double,
/// so `dL/dy = r`.
public func weightedSum(_ y: [Float], _ r: [Float]) -> Double {
    precondition(y.count == r.count, "length \(y.count) against \(r.count)")
    var sum = 0.0
    for i in 0..<y.count { sum += Double(y[i]) * Double(r[i]) }
    return sum
}

/// `max_i |analytic[i] - numerical[i]| / max_i |numerical[i]|`.
public func gradientError(_ analytic: [Float], _ numerical: [Double]) -> Double {
    precondition(analytic.count == numerical.count, "length \(analytic.count) against \(numerical.count)")
    var maxDifference = 0.0
    var maxReference = 0.0
    for i in 0..<analytic.count {
        maxDifference = max(maxDifference, abs(Double(analytic[i]) - numerical[i]))
        maxReference = max(maxReference, abs(numerical[i]))
    }
    if !maxDifference.isFinite { return .infinity }
    return maxReference > 0 ? maxDifference / maxReference : maxDifference
}

/// The gradient a `+=` backward added on top of `initial`: `accumulated - initial`.
public func added(_ accumulated: [Float], to initial: [Float]) -> [Float] {
    precondition(accumulated.count == initial.count, "length \(accumulated.count) against \(initial.count)")
    return zip(accumulated, initial).map { $0 - $1 }
}

/// Asserts that a backward's accumulated gradient matches central differences.
///
/// `accumulated` is the buffer after the backward ran on a buffer that held `initial` (non-zero, so a
/// backward that overwrites instead of accumulating fails); the check is on `accumulated - initial`
/// against `numerical`, max-normalised, below `tolerance`. Also fails when the numerical gradient is
/// zero everywhere (the check would prove nothing). Prints the error under `name` so runs can be read.
@discardableResult
public func assertGradient(
    _ name: String, accumulated: [Float], initial: [Float], numerical: [Double], tolerance: Double,
    file: StaticString = #filePath, line: UInt = #line
) -> Double {
    let analytic = added(accumulated, to: initial)
    let error = gradientError(analytic, numerical)
    let scale = numerical.map(abs).max() ?? 0
    print("finite-difference \(name): max relative error \(error) (max |g| \(scale))")
    XCTAssertGreaterThan(scale, 1e-6, "\(name): numerical gradient is zero; the check proves nothing",
                         file: file, line: line)
    XCTAssertLessThan(error, tolerance, "\(name): analytic gradient off central differences by \(error)",
                      file: file, line: line)
    return error
}
