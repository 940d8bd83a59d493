import XCTest
import Numerics
import TestSupport

final class SplitMix64Tests: XCTestCase {
    /// The published SplitMix64 sequence for seed 0 (Vigna's splitmix64.c).
    func testReferenceSequence() {
        var generator = SplitMix64(seed: 0)
        let expected: [UInt64] = [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F]
        for (index, value) in expected.enumerated() {
            let got = generator.next()
            XCTAssertEqual(got, value, "output \(index): \(String(got, radix: 16)) against \(String(value, radix: 16))")
        }
    }

    /// Uniforms lie in [0, 1) and normals have mean 0 and variance 1 (to sampling error).
    func testDistributions() {
        var generator = SplitMix64(seed: 42)
        let samples = 100_000
        var uniformSum = 0.0
        for _ in 0..<samples {
            let u = generator.nextUnitFloat()
            XCTAssertTrue(u >= 0 && u < 1, "uniform \(u) outside [0, 1)")
            uniformSum += Double(u)
        }
        XCTAssertEqual(uniformSum / Double(samples), 0.5, accuracy: 0.005, "uniform mean")
        var sum = 0.0, squares = 0.0
        for _ in 0..<samples {
            let z = Double(generator.nextNormal())
            XCTAssertTrue(z.isFinite, "normal sample \(z) is not finite")
            sum += z; squares += z * z
        }
        let mean = sum / Double(samples)
        XCTAssertEqual(mean, 0, accuracy: 0.02, "normal mean")
        XCTAssertEqual(squares / Double(samples) - mean * mean, 1, accuracy: 0.02, "normal variance")

        var fill = [Float](repeating: .nan, count: 1000)
        generator.fillUniform(&fill, count: fill.count, low: -2, high: 3)
        XCTAssertTrue(fill.allSatisfy { $0 >= -2 && $0 < 3 }, "fillUniform outside [-2, 3)")
    }
}
