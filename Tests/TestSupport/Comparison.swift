import Foundation
import Numerics

/// Relative error as the tests measure it: `max |actual - expected| / max |expected|`
/// (or the plain maximum absolute difference when the reference is all zeros).
public func relativeError(_ actual: [Float], _ expected: [Float]) -> Float {
    precondition(actual.count == expected.count, "length \(actual.count) against \(expected.count)")
    var maxDifference: Float = 0
    var maxReference: Float = 0
    for i in 0..<actual.count {
        maxDifference = max(maxDifference, abs(actual[i] - expected[i]))
        maxReference = max(maxReference, abs(expected[i]))
    }
    if !maxDifference.isFinite { return .infinity }
    return maxReference > 0 ? maxDifference / maxReference : maxDifference
}

/// `count` floats from N(0, std^2), seeded.
public func randomNormal(_ count: Int, seed: UInt64, std: Float = 1) -> [Float] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in std * generator.nextNormal() }
}
