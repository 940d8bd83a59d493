import XCTest
import Numerics

final class VectorExpTests: XCTestCase {
    /// Every lane against e^x in Double over the range where e^x is a normal float, on a grid of 2^20 points
    /// spread over eight lanes, plus the points where the reduction changes n (multiples of ln 2 / 2).
    func testRelativeErrorAgainstDouble() {
        let (low, high) = (-87.0, 88.0)
        let count = 1 << 20
        var worst = 0.0, worstX: Float = 0
        func check(_ x: Float, _ y: Float) {
            let expected = Foundation.exp(Double(x))
            let error = abs(Double(y) - expected) / expected
            if error > worst { (worst, worstX) = (error, x) }
        }
        for start in stride(from: 0, to: count, by: 8) {
            let x = SIMD8<Float>((0..<8).map { Float(low + (high - low) * Double(start + $0) / Double(count - 1)) })
            let y = VectorExp.exp(x)
            for lane in 0..<8 { check(x[lane], y[lane]) }
        }
        for k in -250...254 {
            let x = Float(Double(k) * 0.34657359027997264)
            for nudge in [x.nextDown, x, x.nextUp] { check(nudge, VectorExp.exp(nudge)) }
        }
        XCTAssertLessThan(worst, 1e-7, "worst relative error \(worst) at x = \(worstX)")
    }

    /// exp(0) = 1 exactly; below the clamp and at -infinity exactly 0 (a masked softmax entry); above it finite;
    /// NaN stays NaN; the scalar form is lane 0 of the vector form.
    func testEdges() {
        XCTAssertEqual(VectorExp.exp(Float(0)), 1, "exp(0)")
        for x: Float in [-87.5, -100, -1e30, -.infinity] {
            XCTAssertEqual(VectorExp.exp(x), 0, "exp(\(x)) must be exactly 0")
        }
        for x: Float in [88.5, 1e30, .infinity] {
            let y = VectorExp.exp(x)
            XCTAssertTrue(y.isFinite && y > 1e38, "exp(\(x)) = \(y): expected the finite clamp")
        }
        XCTAssertTrue(VectorExp.exp(Float.nan).isNaN, "exp(NaN) must be NaN")
        let x = SIMD8<Float>(-3, -1, -0.25, 0.1, 0.5, 2, 7, 40)
        let y = VectorExp.exp(x)
        for lane in 0..<8 { XCTAssertEqual(VectorExp.exp(x[lane]), y[lane], "lane \(lane): scalar and vector forms differ") }
    }
}
