import Foundation

/// A small, fast, seedable random number generator (SplitMix64), identical on every platform and rank,
/// so that a seed names the same numbers everywhere.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / Float(1 << 24))
    }

    /// Standard normal (Box-Muller), Float32.
    public mutating func nextNormal() -> Float {
        let u1 = max(Double(next() >> 11) * (1.0 / Double(1 << 53)), .leastNormalMagnitude)
        let u2 = Double(next() >> 11) * (1.0 / Double(1 << 53))
        return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
    }

    /// Fills `count` floats at `pointer` with N(0, std^2).
    public mutating func fillNormal(_ pointer: UnsafeMutablePointer<Float>, count: Int, std: Float) {
        for i in 0..<count { pointer[i] = std * nextNormal() }
    }

    /// Fills `count` floats at `pointer` uniformly in [low, high).
    public mutating func fillUniform(_ pointer: UnsafeMutablePointer<Float>, count: Int, low: Float, high: Float) {
        for i in 0..<count { pointer[i] = low + (high - low) * nextUnitFloat() }
    }
}
